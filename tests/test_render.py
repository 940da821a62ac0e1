"""cm_lib.render: real engraving (counts read from verovio's SVG), MIDI, audio and the render CLI."""

from __future__ import annotations

import io
import itertools
import re
import warnings
import wave
from pathlib import Path

import numpy as np
import pytest

from cm_lib import render
from cm_lib.errors import AbcError
from cm_lib.paths import data_samples_dir


def tunes_of(name: str) -> list[str]:
    """The tunes of a data_samples file, split on X: lines (independent of cm_lib.abc)."""
    text = (data_samples_dir() / name).read_text()
    return ["X:" + part for part in re.split(r"^X:", text, flags=re.M)[1:]]


def counts(abc: str) -> tuple[int, int, int]:
    """(notes, staves, measures) of the engraved score."""
    picture = render.svg(abc)
    return render.note_count(picture), render.staff_count(picture), render.measure_count(picture)


def midi_notes(abc: str) -> list[int]:
    """Notes per MIDI track."""
    pm = render._pretty_midi(render.midi_bytes(abc))
    return [len(inst.notes) for inst in pm.instruments]


def test_basics_engraving_and_midi() -> None:
    (abc,) = tunes_of("basics.abc")
    assert counts(abc) == (26, 1, 8)
    assert midi_notes(abc) == [52]  # |: ... :| is played twice


def test_chords_count_every_chord_note() -> None:
    (abc,) = tunes_of("chords.abc")
    # 22 written notes: 16 single notes + [DFA] + [D2F2A2]; chord symbols are not notes.
    assert counts(abc) == (22, 1, 8)
    assert midi_notes(abc) == [22]
    assert render.svg(abc).count('class="harm"') == 8  # eight chord symbols drawn


@pytest.mark.parametrize("index", [0, 1], ids=["V-blocks", "inline-V"])
def test_two_voices_each_on_its_own_staff(index: int) -> None:
    abc = tunes_of("two_voices.abc")[index]
    assert counts(abc) == (24, 2, 4)
    assert midi_notes(abc) == [12, 12]


def test_verovio_alone_would_fail_both_cases() -> None:
    """The reason for the abc2xml route: verovio's own ABC import loses voices and bar-less notes."""
    import verovio

    verovio.enableLog(verovio.LOG_OFF)
    tk = verovio.toolkit()
    tk.loadData(tunes_of("barless.abc")[0])
    assert render.note_count(tk.renderToSVG(1)) == 0
    assert render.note_count(render.svg(tunes_of("barless.abc")[0])) == 8


def test_barless_model_output_renders() -> None:
    short, reel = tunes_of("barless.abc")
    assert counts(short)[0] == 8
    assert counts(reel)[0] == 42
    assert render.note_count(render.svg("GABc dedB")) == 8  # no header at all


def test_corpus_tunes_match_music21_note_counts() -> None:
    """Independent check on real tunes: notes engraved == pitches music21 reads (38 of the first 40 O'Neill tunes)."""
    from music21 import converter

    from cm_lib.abc import iter_music21_tunes

    agree = 0
    for _, tune in itertools.islice(iter_music21_tunes(["oneill"]), 40):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            score = converter.parse(tune.text, format="abc")
        expected = sum(len(n.pitches) for n in score.flatten().notes)
        agree += render.note_count(render.svg(tune.text)) == expected
    assert agree >= 38


@pytest.mark.parametrize("text", ["", "   \n", "X:1\nT:empty\nK:C\n", "%%%%"])
def test_unrenderable_text_raises_abc_error(text: str) -> None:
    with pytest.raises(AbcError, match="render"):
        render.svg(text)


def test_music21_fallback_when_abc2xml_gives_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(render, "run_abc2xml", lambda abc: (None, "-- abc2xml: syntax error"))
    assert counts(tunes_of("basics.abc")[0]) == (26, 1, 8)
    with pytest.raises(AbcError, match="abc2xml: syntax error"):
        render.svg("X:1\nK:C\n")


def test_mutated_tunes_render_or_raise_abc_error() -> None:
    """40 randomly damaged tunes: each renders (SVG and MIDI) or raises AbcError, nothing else."""
    import random

    base = (data_samples_dir() / "chords.abc").read_text() + (data_samples_dir() / "two_voices.abc").read_text()
    alphabet = "[]{}()|:^_=,'/<>-~.\"!+%&\\0123456789abcdefgABCDEFGzxKLMVX \n"
    rng = random.Random(0)
    rendered = 0
    for _ in range(40):
        chars = list(base)
        for _ in range(rng.randint(1, 30)):
            j = rng.randrange(len(chars))
            op = rng.random()
            if op < 0.4:
                del chars[j]
            elif op < 0.8:
                chars.insert(j, rng.choice(alphabet))
            else:
                chars[j] = rng.choice(alphabet)
        text = "".join(chars)
        try:
            render.svg(text)
            render.midi_bytes(text)
            rendered += 1
        except AbcError:
            pass
    assert rendered >= 30


def test_musicxml_has_two_parts_for_two_voices() -> None:
    xml = render.abc_to_musicxml(tunes_of("two_voices.abc")[1])
    assert xml.count("<score-part ") == 2


def test_audio_is_sound_of_the_right_length(tmp_path: Path) -> None:
    (abc,) = tunes_of("chords.abc")
    pm = render._pretty_midi(render.midi_bytes(abc))
    wav = render.audio(abc, sample_rate=16000)
    assert wav.dtype == np.float32
    assert len(wav) == round((pm.get_end_time() + render.TAIL_SECONDS) * 16000)
    # 8 bars of 3 beats at Q:1/4=96, less the final one-beat rest: the last note ends at beat 23
    assert pm.get_end_time() == pytest.approx(23 * 60 / 96, abs=0.01)
    assert 0.05 < float(np.sqrt(np.mean(wav**2))) and float(np.abs(wav).max()) <= 0.91
    # sound in every second of the tune (no silent gaps), not just somewhere
    seconds = wav[: int(pm.get_end_time()) * 16000].reshape(-1, 16000)
    assert (np.abs(seconds).max(axis=1) > 0.05).all()
    path = render.write_wav(abc, tmp_path / "x.wav", sample_rate=16000)
    with wave.open(str(path)) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()) == (1, 2, 16000, len(wav))


def test_sine_fallback_when_no_soundfont(monkeypatch: pytest.MonkeyPatch) -> None:
    (abc,) = tunes_of("basics.abc")
    monkeypatch.setattr(render, "soundfont_path", lambda: None)
    wav = render.audio(abc, sample_rate=8000)
    end = render._pretty_midi(render.midi_bytes(abc)).get_end_time()
    assert end == pytest.approx(16 * 4 * 60 / 100, abs=0.01)  # 2 x 8 bars of 4/4 at Q:1/4=100
    assert len(wav) == round((end + render.TAIL_SECONDS) * 8000)
    assert float(np.abs(wav).max()) == pytest.approx(0.9, abs=1e-3)


def test_show_displays_score_and_audio(monkeypatch: pytest.MonkeyPatch) -> None:
    from IPython.display import HTML, Audio

    shown: list = []
    monkeypatch.setattr("IPython.display.display", lambda obj: shown.append(obj))
    render.show(tunes_of("basics.abc")[0], title="First <Steps>")
    assert isinstance(shown[0], HTML) and "First &lt;Steps&gt;" in shown[0].data and "<svg" in shown[0].data
    assert isinstance(shown[1], Audio)
    shown.clear()
    render.show("", audio=True)
    assert len(shown) == 1 and "cannot render" in shown[0].data


def test_side_by_side_html() -> None:
    a, b = tunes_of("two_voices.abc")
    page = render.side_by_side_html([a, b], ["blocks", "inline"])
    assert page.count("<h4>") == 2 and "display:flex" in page
    assert page.count(f"max-height:{render.MAX_SCORE_HEIGHT}px") == 2  # a long score scrolls in its box
    assert render.note_count(page) == 48
    with pytest.raises(ValueError):
        render.side_by_side_html([a, b], ["only one"])


# --- CLI -------------------------------------------------------------------------------------


def cli(*args: str) -> tuple[int, str, str]:
    """Run `python -m cm_lib abc render ...` in-process; returns (exit code, stdout, stderr)."""
    import contextlib

    from cm_lib.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(["abc", "render", *args])
        except SystemExit as exc:  # argparse usage errors
            code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


def test_cli_writes_svg_midi_wav(tmp_path: Path) -> None:
    src = data_samples_dir() / "two_voices.abc"
    code, out, _ = cli(str(src), "--index", "1", "--svg", str(tmp_path / "a.svg"),
                       "--midi", str(tmp_path / "a.mid"), "--wav", str(tmp_path / "a.wav"))
    assert code == 0
    assert "24 notes, 2 staves, 4 measures" in out
    assert render.staff_count((tmp_path / "a.svg").read_text()) == 2
    assert (tmp_path / "a.mid").read_bytes().startswith(b"MThd")
    assert (tmp_path / "a.wav").stat().st_size > 44


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["/nonexistent/x.abc"], "no such file"),
        ([str(Path(__file__).parent.parent / "data_samples" / "basics.abc"), "--index", "5"], "out of range"),
        ([str(Path(__file__).parent.parent / "data_samples" / "basics.abc"), "--index", "-1"], "out of range"),
    ],
)
def test_cli_bad_input_exit_2_without_traceback(args: list[str], message: str) -> None:
    code, _, err = cli(*args)
    assert code == 2
    assert message in err and "Traceback" not in err


def test_cli_summary_without_outputs() -> None:
    code, out, _ = cli(str(data_samples_dir() / "basics.abc"))
    assert (code, out.strip()) == (0, f"{data_samples_dir() / 'basics.abc'}#0: 26 notes, 1 staff, 8 measures")


def test_cli_unrenderable_tune_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.abc"
    bad.write_text("X:1\nT:nothing\nK:C\n")
    code, _, err = cli(str(bad))
    assert code == 2 and "cannot render" in err


def test_every_staff_gets_a_clef_even_when_the_abc_names_none() -> None:
    """abc2xml omits the default treble clef; without it verovio draws no clef and misplaces key signatures."""
    from cm_lib.abc import iter_music21_tunes

    texts = [tune.text for _, (_, tune) in zip(range(3), iter_music21_tunes(["oneill"]))]
    texts += tunes_of("two_voices.abc") + tunes_of("barless.abc")
    for text in texts:
        drawing = render.svg(text)
        assert len(re.findall(r'class="clef', drawing)) >= render.staff_count(drawing) >= 1  # one per staff per system
    xml = render.abc_to_musicxml(tunes_of("two_voices.abc")[0])
    assert "<sign>F</sign>" in xml and xml.count("<clef>") == 2  # the named bass clef kept, a treble added
    assert render.add_default_clefs(xml) == xml


def test_pathological_abc_is_refused_before_abc2xml() -> None:
    """A line of 3,000 "[" took abc2xml 18 s (10,000: > 90 s); now refused at once with the reason."""
    import time

    start = time.process_time()
    with pytest.raises(AbcError, match="syntax errors"):
        render.abc_to_musicxml("X:1\nK:C\n" + "[" * 3000 + "\n")
    with pytest.raises(AbcError, match="characters"):
        render.svg("X:1\nK:C\n" + "A|" * (render.MAX_RENDER_CHARS // 2 + 1) + "\n")
    assert time.process_time() - start < 5


def test_outputs_are_written_whole_or_not_at_all(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from cm_lib.paths import atomic_write_bytes

    target = tmp_path / "mine.svg"
    target.write_text("the user's file")

    def full_disk(fd: int) -> None:
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as m:
        m.setattr(os, "fsync", full_disk)
        with pytest.raises(OSError):
            atomic_write_bytes(target, b"<svg/>")
    assert target.read_text() == "the user's file" and sorted(p.name for p in tmp_path.iterdir()) == ["mine.svg"]
    bad = tmp_path / "bad.abc"
    bad.write_text("X:1\nT:nothing\nK:C\n")
    code, _, err = cli(str(bad), "--svg", str(target))  # unrenderable: the named output is not touched
    assert code == 2 and target.read_text() == "the user's file"
    src = data_samples_dir() / "basics.abc"
    code, _, err = cli(str(src), "--svg", str(tmp_path / "a.svg"), "--midi", str(tmp_path / "no" / "a.mid"))
    assert code == 2 and "cannot write" in err and "Traceback" not in err
    assert render.staff_count((tmp_path / "a.svg").read_text()) == 1  # the SVG written before is whole
    code, _, err = cli(str(src), "--wav", str(tmp_path))
    assert code == 2 and "is a directory" in err
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
