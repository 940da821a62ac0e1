"""Validity at three levels (notebook 05): our checker's `syntax` and `bars`, and an independent parser.

- ``valid_syntax``: ``cm_lib.abc.check(abc, "syntax").ok`` — no error-level problem in the tune's tokens.
- ``valid_bars``: ``cm_lib.abc.check(abc, "bars").ok`` — also every bar lasts what the meter asks
  (pickups, section-partial bars and endings allowed) — **and** the tune declares a meter the bars can be
  counted against (an M: line that is not ``none``). ABC reads a missing M: as free meter, which the
  checker cannot fault; a generated tune that lost its M: line would otherwise pass for free (most "bar-valid"
  samples of one early composer had lost it: benchmarks/README.md, "Tokenizer and view").
- ``valid_parser``: a parser that shares no code with ours accepts the tune. Default engine
  ``abc2midi`` (bundled in symusic, the faster): valid when it reports no ``Error`` line and the score
  has at least one note (it exits 0 on errors, so its messages are read from the file descriptors).
  Engine ``abc2xml`` (bundled in abctoolkit, several times slower): valid when it writes MusicXML that an XML
  parser loads and that holds at least one ``<note>``.
abc2midi is stricter than ABC 2.1: on held-out tunes of the small corpus it reports errors for some
(a decoration before a slur ``~(``, a fermata on a bar line ``H|]``, digits in quotes read as chord
names, ``>`` between notes of unequal length) that abc2xml converts. Compare a
model's rate with the real tunes' rate under the same engine, or use abc2xml for the final table.
"""

from __future__ import annotations

import os
import tempfile
import threading
import xml.etree.ElementTree as ET

from cm_lib.abc import Tune, check, check_tune, split_tunes
from cm_lib.abc.keys import parse_meter
from cm_lib.metrics.events import TuneData
from cm_lib.render import run_abc2xml

PARSERS = ("abc2midi", "abc2xml")
BAR_CODES = frozenset({"bar-too-long", "missing-bar-line", "bar-too-short"})  # what `bars` adds to `syntax`
_FD_LOCK = threading.Lock()


def valid_syntax(abc: str) -> bool:
    """Whether our checker finds no error at the `syntax` level."""
    return check(abc, "syntax").ok


def countable_meter(tune: Tune) -> bool:
    """Whether the tune's header declares a meter whose bars can be counted (M: present, not `none`, readable)."""
    value = tune.get("M")
    if value is None:
        return False
    try:
        return parse_meter(value) is not None
    except ValueError:
        return False


def valid_bars(abc: str) -> bool:
    """Whether our checker finds no error at the `bars` level (bar durations against the meter) and the tune declares a countable meter."""
    tunes = split_tunes(abc)
    return bool(tunes) and countable_meter(tunes[0]) and check(abc, "bars").ok


def checker_levels(data: TuneData) -> tuple[bool, bool]:
    """(valid_syntax, valid_bars) from the one bars-level check the adapter ran: the bars level reports
    every syntax problem plus the bar-duration codes in BAR_CODES, so syntax-valid = no other error."""
    codes = data.error_codes
    if codes is None:
        result = check_tune(data.tune, "bars")
        codes = [p.code for p in result.errors]
    return not any(c not in BAR_CODES for c in codes), not codes and countable_meter(data.tune)


def abc2midi_messages(abc: str) -> tuple[int, list[str]]:
    """(number of notes, abc2midi's output lines) for `abc`, via symusic's bundled abc2midi."""
    import symusic

    with _FD_LOCK, tempfile.TemporaryFile(mode="w+b") as log:
        saved = os.dup(1), os.dup(2)
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            score = symusic.Score.from_abc(abc)
            n_notes = sum(len(track.notes) for track in score.tracks)
        except Exception as err:  # noqa: BLE001 - a parser that gives up counts as "not valid"
            n_notes = 0
            os.write(2, f"Error: {err}\n".encode())
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
        log.seek(0)
        lines = log.read().decode("utf-8", errors="replace").splitlines()
    return n_notes, lines


def valid_parser(abc: str, engine: str = "abc2midi") -> bool:
    """Whether an independent parser (`abc2midi` or `abc2xml`, see the module docstring) accepts the tune."""
    if engine == "abc2midi":
        n_notes, lines = abc2midi_messages(abc)
        return n_notes > 0 and not any(line.lstrip().startswith("Error") for line in lines)
    if engine == "abc2xml":
        xml, _log = run_abc2xml(abc)  # render owns the abc2xml call (lock, stderr capture)
        if not xml:
            return False
        try:
            root = ET.fromstring(xml)
        except ET.ParseError:
            return False
        return root.find(".//note") is not None
    raise ValueError(f"unknown parser {engine!r}; choose from {PARSERS}")
