"""Check ABC tunes: typed, located problems at two strictness levels (`syntax`, `bars`).

One state machine (a pass over the walker's events, a handler per event kind sharing the pass's state), kept whole
although it passes ~400 lines (tests/test_architecture.py, STATE_MACHINES).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from fractions import Fraction

from cm_lib.abc.duration import NumberTooLargeError
from cm_lib.abc.tune import Tune, split_tunes
from cm_lib.abc.walk import Event, Walker
from cm_lib.errors import AbcError

LEVELS = ("syntax", "bars")

# Every problem code the checker can report, with what it means (for notebooks and docs).
PROBLEM_CODES = {
    "no-tune": "no tune in the text (no X: or K: line)",
    "missing-X": "the tune does not start with an X: field",
    "bad-X": "X: is not a reference number",
    "missing-K": "no K: field ends the header",
    "bad-K": "a K: field (header, body or inline) is not a valid key",
    "bad-M": "an M: field is not a valid meter",
    "bad-L": "an L: field is not a valid unit note length",
    "bad-inline-field": "an inline [X:...] field with an unknown letter",
    "no-notes": "the body has no notes or rests",
    "unknown-symbol": "a character that is not ABC music here",
    "unclosed-quote": "a chord symbol or annotation without its closing quote",
    "unclosed-chord": "a [chord without its closing ]",
    "unopened-chord": "a ] with no chord open",
    "empty-chord": "a chord with no notes",
    "bad-chord": "something other than notes inside a [chord]",
    "unclosed-grace": "grace notes { without their closing }",
    "unopened-grace": "a } with no grace notes open",
    "empty-grace": "grace notes {} with no notes",
    "bad-grace": "something other than notes inside {grace notes}",
    "bad-length": "a note length of zero (A0, A/0)",
    "bad-tuplet": "a tuplet (p:q:r with values out of range",
    "dangling-tuplet": "a tuplet not followed by its notes",
    "bad-broken-rhythm": "> or < not between two notes",
    "dangling-tie": "a tie - not after a note, or with no note after it",
    "unbalanced-slur": "a ) with no slur open, or a ( never closed (warning)",
    "tie-on-rest": "a tie - after a rest (warning: nothing to tie)",
    "decoration-without-note": "a decoration letter not attached to a note",
    "not-music": "a body line that reads as prose: many letters that are neither notes nor attached decorations",
    "bar-too-long": "a bar longer than the meter allows",
    "missing-bar-line": "a bar longer than the meter that runs over a line end with no bar line",
    "bar-too-short": "a bar shorter than the meter (not a pickup or a section's partial bar)",
    "number-too-large": "a number with too many digits in a length, tuplet, meter or unit length",
    "too-many-problems": "more problems than are worth listing (the rest are counted, not listed)",
}

# Defects that music engravers and players tolerate: reported, but the tune stays ok.
WARNING_CODES = frozenset({"unbalanced-slur", "tie-on-rest"})

_INLINE_FIELDS = set("IKLMmNPQRrTUVWw")
_NOTE_LIKE = {"note", "rest", "chord_close", "mrest"}
_AFTER_DECO_OK = {"note", "rest", "mrest", "chord_open", "grace_open", "decochar", "deco", "quote", "bar",
                  "slur_open", "tuplet", "ending"}
_IN_CHORD_OK = {"note", "chord_open", "tie", "decochar", "deco", "unclosed_quote", "other", "slur_open", "slur_close"}
_IN_GRACE_OK = {"note", "grace_open", "chord_open", "chord_close", "tie", "slur_open", "slur_close", "tuplet", "broken",
                "unclosed_quote", "other", "quote", "decochar", "deco"}


@dataclass
class Problem:
    """One problem: a code from PROBLEM_CODES, a message, and where (1-based line in the tune, bar)."""

    code: str
    message: str
    line: int | None = None
    bar: int | None = None
    severity: str = "error"  # "error" or "warning" (WARNING_CODES); only errors make a tune not ok

    def as_dict(self) -> dict:
        """JSON-ready dict."""
        return asdict(self)


@dataclass
class CheckResult:
    """The verdict on one tune: ok when there is no problem."""

    ok: bool
    problems: list[Problem] = field(default_factory=list)
    level: str = "syntax"

    @property
    def codes(self) -> list[str]:
        """The problem codes, in order."""
        return [p.code for p in self.problems]

    @property
    def errors(self) -> list[Problem]:
        """The problems that make the tune not ok."""
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        """Problems reported as warnings (the tune can still be ok)."""
        return [p for p in self.problems if p.severity == "warning"]


@dataclass(slots=True)
class _Bar:
    dur: int | Fraction  # in TICKS
    measure: int | Fraction | None  # in TICKS; None for free meter
    line: int
    number: int
    left_section: bool
    right_section: bool
    only_mrest: bool
    end_line: int = 0


@dataclass
class _Voice:
    measure: int | Fraction | None  # TICKS
    bars: list[_Bar] = field(default_factory=list)
    dur: int | Fraction = 0
    n_elems: int = 0
    n_mrest: int = 0
    line: int = 0
    left_section: bool = True
    overlay: bool = False
    bar_measure: int | Fraction | None = None
    tuplet_left: int = 0
    tuplet_q: int = 1
    tuplet_p: int = 1
    tuplet_line: int = 0
    tuplet_total: int = 0


# Durations are counted in integer ticks (exact for tuplets up to 13 and lengths down to 1/1024):
# Fraction arithmetic was 40% of the checker's time. A non-integral value falls back to a Fraction.
TICKS = 2**10 * 3**4 * 5**2 * 7 * 11 * 13
_TICK_CACHE: dict[Fraction, int | Fraction] = {}
MAX_PROBLEMS = 1000  # per tune; beyond, problems are counted in one `too-many-problems`


def _ticks(value: Fraction) -> int | Fraction:
    try:
        return _TICK_CACHE[value]
    except KeyError:
        pass
    t = value * TICKS
    out = t.numerator if t.denominator == 1 else t
    if len(_TICK_CACHE) < 20000:
        _TICK_CACHE[value] = out
    return out


def _scale(d: int | Fraction, num: int, den: int) -> int | Fraction:
    x = d * num
    if isinstance(x, int) and x % den == 0:
        return x // den
    return Fraction(x, den)


def _is_section(text: str) -> bool:
    return ":" in text or "||" in text or "]" in text or "[" in text or text[-1:].isdigit()


@dataclass(slots=True)
class _Body:
    """The body pass's state between events: the open chord, grace group, slurs, broken rhythm, tie, decoration."""

    v: _Voice  # the current voice
    in_chord: bool = False
    chord_first: int | Fraction | None = None  # TICKS of the chord's first note
    chord_notes: int = 0
    chord_line: int = 0
    in_grace: bool = False
    grace_notes: int = 0
    grace_line: int = 0
    slurs: int = 0
    n_music: int = 0  # notes, rests and multi-bar rests
    broken: tuple[int, int] | None = None  # the factor > or < leaves for the next element
    broken_line: int = 0
    last_added: int | Fraction | None = None  # TICKS the last element added to its bar
    prev_kind: str = ""  # last event kind other than space (quotes and slur ends do not count)
    tie_open: bool = False
    tie_line: int = 0
    pending_deco: tuple[str, int] | None = None  # a decoration letter waiting for its note: (text, line)
    prev_line: int = -1


class _Checker:
    def __init__(self, tune: Tune, level: str) -> None:
        self.tune = tune
        self.bars = level == "bars"
        self.problems: list[Problem] = []
        self.n_dropped = 0
        self.walker = Walker(tune)
        self.voices: dict[str, _Voice] = {}
        # ticks by id() of the walker's duration objects: the walker caches them, so they stay alive and
        # equal lengths share one object; hashing a Fraction per note was a fifth of the checker's time
        self.ticks_of: dict[int, tuple[Fraction, int | Fraction]] = {}

    def ticks(self, duration: Fraction) -> int | Fraction:
        key = id(duration)
        try:
            return self.ticks_of[key][1]
        except KeyError:
            value = _ticks(duration)
            self.ticks_of[key] = (duration, value)  # keep the object alive while its id is a key
            return value

    def add(self, code: str, message: str, line: int | None = None, bar: int | None = None) -> None:
        if len(self.problems) >= MAX_PROBLEMS:
            self.n_dropped += 1
            return
        self.problems.append(Problem(code, message, line, bar, "warning" if code in WARNING_CODES else "error"))

    def _field_error(self, name: str, err: ValueError, line: int | None) -> None:
        code = "number-too-large" if isinstance(err, NumberTooLargeError) else f"bad-{name}"
        self.add(code, str(err), line)

    # -- header -------------------------------------------------------------------------
    def header(self) -> None:
        t = self.tune
        field_line = {}
        for i, line in enumerate(t.text.split("\n", t.header_lines)[: t.header_lines]):
            if len(line) > 1 and line[1] == ":":
                field_line.setdefault(line[0], i + 1)
        if not t.fields or t.fields[0][0] != "X":
            self.add("missing-X", "the tune does not start with an X: field", 1)
        elif not t.fields[0][1].split("%")[0].strip().isdigit():
            self.add("bad-X", f"X:{t.fields[0][1]} is not a reference number", 1)
        if t.key is None or t.fields[-1][0] != "K":
            self.add("missing-K", "no K: field ends the header", max(t.header_lines, 1))
        for name, _value, err in self.walker.header_errors:
            self._field_error(name, err, field_line.get(name))

    # -- voices -------------------------------------------------------------------------
    def voice(self) -> _Voice:
        state = self.walker.current
        v = self.voices.get(state.id)
        if v is None:
            v = _Voice(None if state.meter is None else _ticks(state.meter))
            self.voices[state.id] = v
        return v

    def close_bar(self, v: _Voice, text: str, line: int) -> None:
        section = _is_section(text)
        if v.n_elems == 0:
            v.left_section = v.left_section or section
            if v.bars and section:
                v.bars[-1].right_section = True
            return
        v.bars.append(
            _Bar(v.dur, v.bar_measure, v.line, len(v.bars) + 1, v.left_section, section,
                 v.n_mrest == v.n_elems, line)
        )
        v.dur = 0
        v.n_elems = v.n_mrest = 0
        v.left_section = section
        v.overlay = False

    # -- body ---------------------------------------------------------------------------
    def body(self) -> None:
        """One pass over the body's events: per line, then one handler per event kind (HANDLERS), then the open groups."""
        b = _Body(self.voice())
        handler_of = HANDLERS.get
        for ev in self.walker:
            kind = ev.kind
            if kind == "voice":
                b.v = self.voice()
                continue
            line = ev.line
            if line != b.prev_line:
                self._new_line(b, line)
            if b.pending_deco is not None:
                self._after_decoration(b, kind)
            if kind == "space":
                continue
            handler = handler_of(kind)
            if handler is not None and handler(self, b, ev, line):
                continue  # the handler reported the event as misplaced, or it is transparent for what follows
            if b.in_chord or b.in_grace:
                self._inside_groups(b, ev, kind, line)
            if kind != "slur_close" and kind != "quote":
                b.prev_kind = kind
        self._end_of_body(b)

    def _new_line(self, b: _Body, line: int) -> None:
        """A chord or grace group may not run over a line end."""
        if b.in_chord:
            self.add("unclosed-chord", "chord [ not closed on its line", b.chord_line, len(b.v.bars) + 1)
            b.in_chord = False
        if b.in_grace:
            self.add("unclosed-grace", "grace notes { not closed on their line", b.grace_line, len(b.v.bars) + 1)
            b.in_grace = False
        b.prev_line = line

    def _after_decoration(self, b: _Body, kind: str) -> None:
        """A decoration letter must be followed by what it decorates."""
        if kind not in _AFTER_DECO_OK:
            self.add("decoration-without-note", f"decoration {b.pending_deco[0]!r} is not followed by a note",
                     b.pending_deco[1], len(b.v.bars) + 1)
        b.pending_deco = None

    def _inside_groups(self, b: _Body, ev: Event, kind: str, line: int) -> None:
        """What a [chord] or {grace group} may not hold closes it with a problem."""
        if b.in_chord and kind not in _IN_CHORD_OK:
            self.add("bad-chord", f"{ev.text!r} inside a chord", line, len(b.v.bars) + 1)
            b.in_chord = False
        if b.in_grace and kind not in _IN_GRACE_OK:
            self.add("bad-grace", f"{ev.text!r} inside grace notes", line, len(b.v.bars) + 1)
            b.in_grace = False

    # Handlers, one per event kind (HANDLERS below): True means "skip the checks after the event" (a misplaced
    # event already reported, or one transparent for what follows, such as a tie or a field line).
    def _note(self, b: _Body, ev: Event, line: int) -> bool:
        v = b.v
        b.n_music += 1
        ln = self.ticks(ev.duration)
        if ev.length is None:
            self.add("bad-length", f"note {ev.text!r} has length zero", line, len(v.bars) + 1)
        b.tie_open = False
        if b.in_chord:
            b.chord_notes += 1
            if b.chord_first is None:
                b.chord_first = ln
        elif b.in_grace:
            b.grace_notes += 1
        else:
            self._open_bar(v, line)
            b.last_added = self._element(v, ln, b.broken)
            b.broken = None
        return False

    def _rest(self, b: _Body, ev: Event, line: int) -> bool:
        v = b.v
        b.n_music += 1
        ln = self.ticks(ev.duration)
        if ev.length is None:
            self.add("bad-length", f"rest {ev.text!r} has length zero", line, len(v.bars) + 1)
        if b.in_chord or b.in_grace:
            self.add("bad-chord" if b.in_chord else "bad-grace", f"rest {ev.text!r} inside a chord or grace",
                     line, len(v.bars) + 1)
            return True
        self._open_bar(v, line)
        b.last_added = self._element(v, ln, b.broken)
        b.broken = None
        return False

    def _mrest(self, b: _Body, ev: Event, line: int) -> bool:
        v = b.v
        b.n_music += 1
        if b.in_chord or b.in_grace:
            self.add("bad-chord" if b.in_chord else "bad-grace", f"{ev.text!r} inside a chord or grace",
                     line, len(v.bars) + 1)
            return True
        self._open_bar(v, line)
        v.n_elems += 1
        v.n_mrest += 1
        if v.measure is not None and not v.overlay:
            v.dur += v.measure * ev.count
        b.last_added = None
        return False

    def _chord_open(self, b: _Body, ev: Event, line: int) -> bool:
        if b.in_chord:
            self.add("bad-chord", "[ inside a chord", line, len(b.v.bars) + 1)
            return True
        b.in_chord, b.chord_first, b.chord_notes, b.chord_line = True, None, 0, line
        return False

    def _chord_close(self, b: _Body, ev: Event, line: int) -> bool:
        v = b.v
        if not b.in_chord:
            self.add("unopened-chord", "] with no chord open", line, len(v.bars) + 1)
            return True
        b.in_chord = False
        if b.chord_notes == 0:
            self.add("empty-chord", "chord with no notes", line, len(v.bars) + 1)
            return True
        ln = ev.length
        if ln is None:
            self.add("bad-length", "chord has length zero", line, len(v.bars) + 1)
            ln = Fraction(1)
        if b.in_grace:
            b.grace_notes += 1
            return True
        self._open_bar(v, line)
        first = b.chord_first if b.chord_first is not None else _ticks(self.walker.current.unit)
        b.last_added = self._element(v, _scale(first, ln.numerator, ln.denominator), b.broken)
        b.broken = None
        return False

    def _grace_open(self, b: _Body, ev: Event, line: int) -> bool:
        if b.in_grace or b.in_chord:
            self.add("bad-grace", "{ inside grace notes or a chord", line, len(b.v.bars) + 1)
            return True
        b.in_grace, b.grace_notes, b.grace_line = True, 0, line
        return False

    def _grace_close(self, b: _Body, ev: Event, line: int) -> bool:
        if not b.in_grace:
            self.add("unopened-grace", "} with no grace notes open", line, len(b.v.bars) + 1)
            return True
        b.in_grace = False
        if b.grace_notes == 0:
            self.add("empty-grace", "grace notes {} with no notes", line, len(b.v.bars) + 1)
        return False

    def _bar(self, b: _Body, ev: Event, line: int) -> bool:
        v = b.v
        if b.in_chord or b.in_grace:
            self.add("unclosed-chord" if b.in_chord else "unclosed-grace",
                     f"bar line inside a {'chord' if b.in_chord else 'grace group'}", line, len(v.bars) + 1)
            b.in_chord = b.in_grace = False
        if b.broken is not None:
            self.add("bad-broken-rhythm", "broken rhythm with no note after it", b.broken_line, len(v.bars) + 1)
            b.broken = None
        if v.tuplet_left and v.tuplet_left == v.tuplet_total:
            self.add("dangling-tuplet", "tuplet followed by a bar line instead of its notes",
                     v.tuplet_line, len(v.bars) + 1)
            v.tuplet_left = 0
        self.close_bar(v, ev.text, line)
        b.last_added = None
        return False

    def _ending(self, b: _Body, ev: Event, line: int) -> bool:
        v = b.v
        v.left_section = True
        if v.bars and v.n_elems == 0:
            v.bars[-1].right_section = True
        return False

    def _tuplet(self, b: _Body, ev: Event, line: int) -> bool:
        v = b.v
        if not ev.valid:
            self.add("bad-tuplet", f"tuplet {ev.text!r} out of range", line, len(v.bars) + 1)
            return True
        v.tuplet_left = v.tuplet_total = ev.r
        v.tuplet_q, v.tuplet_p = ev.q, ev.p
        v.tuplet_line = line
        return False

    def _broken(self, b: _Body, ev: Event, line: int) -> bool:
        v = b.v
        if b.prev_kind not in _NOTE_LIKE or b.last_added is None:
            self.add("bad-broken-rhythm", f"{ev.text!r} does not follow a note", line, len(v.bars) + 1)
            return True
        den = 2 ** len(ev.text)
        big = 2 * den - 1  # > : 3/2, >> : 7/4, >>> : 15/8 ; the other note gets 1/den
        if ev.text[0] == ">":
            extra, b.broken = _scale(b.last_added, big - den, den), (1, den)
        else:
            extra, b.broken = _scale(b.last_added, 1 - den, den), (big, den)
        if not v.overlay:
            v.dur += extra
        b.broken_line = line
        b.last_added = None
        return False

    def _tie(self, b: _Body, ev: Event, line: int) -> bool:
        if b.prev_kind == "rest":
            self.add("tie-on-rest", "tie - after a rest", line, len(b.v.bars) + 1)
        elif b.prev_kind not in ("note", "chord_close", "broken"):
            self.add("dangling-tie", "tie - not after a note", line, len(b.v.bars) + 1)
        else:
            b.tie_open, b.tie_line = True, line
        return True  # a tie is transparent for what follows (A-<B, A>-B)

    def _slur_open(self, b: _Body, ev: Event, line: int) -> bool:
        b.slurs += 1
        return False

    def _slur_close(self, b: _Body, ev: Event, line: int) -> bool:
        if b.slurs == 0:
            self.add("unbalanced-slur", ") with no slur open", line, len(b.v.bars) + 1)
        else:
            b.slurs -= 1
        return False

    def _decochar(self, b: _Body, ev: Event, line: int) -> bool:
        b.pending_deco = (ev.text, line)
        return False

    def _field(self, b: _Body, ev: Event, line: int) -> bool:
        if ev.kind == "field" and ev.name not in _INLINE_FIELDS:
            self.add("bad-inline-field", f"[{ev.name}:...] is not an inline field", line)
        elif ev.error is not None:
            self._field_error(ev.name, ev.error, line)
        elif ev.name == "M":
            meter = self.walker.current.meter
            b.v.measure = None if meter is None else _ticks(meter)
        return ev.kind == "fieldline"  # a field line does not change prev_kind

    def _too_large(self, b: _Body, ev: Event, line: int) -> bool:
        self.add("number-too-large", f"{ev.text[:20]!r}: {ev.message}", line, len(b.v.bars) + 1)
        return False

    def _unclosed_quote(self, b: _Body, ev: Event, line: int) -> bool:
        self.add("unclosed-quote", "chord symbol or annotation without its closing quote", line, len(b.v.bars) + 1)
        return False

    def _overlay(self, b: _Body, ev: Event, line: int) -> bool:
        b.v.overlay = True
        return False

    def _other(self, b: _Body, ev: Event, line: int) -> bool:
        self.add("unknown-symbol", f"unexpected {ev.text!r}", line, len(b.v.bars) + 1)
        return False

    def _end_of_body(self, b: _Body) -> None:
        """What is still open when the body ends: a decoration, chord, grace group, broken rhythm, tie, tuplet, slur."""
        add, v = self.add, b.v
        last = self.tune.text.count("\n") + 1
        if b.pending_deco is not None:
            add("decoration-without-note", f"decoration {b.pending_deco[0]!r} is not followed by a note",
                b.pending_deco[1], len(v.bars) + 1)
        if b.in_chord:
            add("unclosed-chord", "chord [ not closed", b.chord_line, len(v.bars) + 1)
        if b.in_grace:
            add("unclosed-grace", "grace notes { not closed", b.grace_line, len(v.bars) + 1)
        if b.broken is not None:
            add("bad-broken-rhythm", "broken rhythm with no note after it", b.broken_line, len(v.bars) + 1)
        if b.tie_open:
            add("dangling-tie", "tie - with no note after it", b.tie_line, len(v.bars) + 1)
        for vid, voice in self.voices.items():
            if voice.tuplet_left:
                add("dangling-tuplet", f"tuplet in voice {vid} not followed by its notes", voice.tuplet_line,
                    len(voice.bars) + 1)
        if b.slurs:
            add("unbalanced-slur", f"{b.slurs} slur(s) ( never closed", last)
        if b.n_music == 0 and self.tune.key is not None:
            add("no-notes", "the tune has no notes or rests", last)

    @staticmethod
    def _open_bar(v: _Voice, line: int) -> None:
        """Record where the current bar starts and its meter, at its first element."""
        if v.n_elems == 0:
            v.line = line
            v.bar_measure = v.measure

    def _element(self, v: _Voice, dur: int | Fraction, broken: tuple[int, int] | None) -> int | Fraction:
        if v.tuplet_left:
            dur = _scale(dur, v.tuplet_q, v.tuplet_p)
            v.tuplet_left -= 1
        if broken is not None:
            dur = _scale(dur, broken[0], broken[1])
        if not v.overlay:
            v.dur += dur
        v.n_elems += 1
        return dur

    # -- bars level -----------------------------------------------------------------------
    def finish_bars(self) -> None:
        for vid, v in self.voices.items():
            if v.n_elems:
                self.close_bar(v, "|]", self.tune.header_lines + self.tune.body.count("\n") + 1)
            bars = v.bars
            if not bars:
                continue
            first = bars[0]
            pickup = first.dur if first.measure is not None and first.dur < first.measure else 0
            label = f" in voice {vid}" if len(self.voices) > 1 else ""
            for i, b in enumerate(bars):
                if b.measure is None or b.only_mrest or b.dur == b.measure:
                    continue
                if b.dur > b.measure:
                    spans = b.end_line > b.line
                    self.add("missing-bar-line" if spans else "bar-too-long",
                             f"bar {b.number}{label} lasts {_whole(b.dur)} of a whole note; the meter asks for "
                             f"{_whole(b.measure)}{' (it runs over a line end that has no bar line)' if spans else ''}",
                             b.line, b.number)
                    continue
                if i == 0:
                    continue
                completes = pickup and b.dur + pickup == b.measure
                if i == len(bars) - 1 and (completes or b.right_section):
                    if completes or b.dur == pickup or (bars[i - 1].right_section and _pair(bars[i - 1], b)):
                        continue
                if b.right_section or b.left_section or (i + 1 < len(bars) and bars[i + 1].left_section):
                    if completes or b.dur == pickup:
                        continue
                    if b.left_section and _pair(bars[i - 1], b):
                        continue
                    # a new section's own pickup after a complete bar: "D2||(g/f)|eAA ..." (idiomatic)
                    if (b.left_section and not b.right_section and i + 1 < len(bars)
                            and bars[i - 1].dur == bars[i - 1].measure):
                        continue
                    if i + 1 < len(bars) and (b.right_section or bars[i + 1].left_section) and _pair(b, bars[i + 1]):
                        continue
                self.add("bar-too-short", f"bar {b.number}{label} lasts {_whole(b.dur)} of a whole note; the meter asks for "
                         f"{_whole(b.measure)}", b.line, b.number)


# Event kind -> its handler; kinds not listed (quote, deco, ...) only pass through the group checks.
HANDLERS: dict[str, Callable[[_Checker, _Body, Event, int], bool]] = {
    "note": _Checker._note, "rest": _Checker._rest, "mrest": _Checker._mrest,
    "chord_open": _Checker._chord_open, "chord_close": _Checker._chord_close,
    "grace_open": _Checker._grace_open, "grace_close": _Checker._grace_close,
    "bar": _Checker._bar, "ending": _Checker._ending, "tuplet": _Checker._tuplet, "broken": _Checker._broken,
    "tie": _Checker._tie, "slur_open": _Checker._slur_open, "slur_close": _Checker._slur_close,
    "decochar": _Checker._decochar, "field": _Checker._field, "fieldline": _Checker._field,
    "too_large": _Checker._too_large, "unclosed_quote": _Checker._unclosed_quote, "overlay": _Checker._overlay,
    "other": _Checker._other,
}


def _whole(ticks: int | Fraction) -> Fraction:
    return Fraction(ticks) / TICKS


def _pair(a: _Bar, b: _Bar) -> bool:
    return a.measure is not None and a.measure == b.measure and a.dur + b.dur == a.measure


_PROSE_CODES = ("decoration-without-note", "unknown-symbol")


def _merge_prose(problems: list[Problem]) -> list[Problem]:
    """Replace three or more prose-like problems on one line by a single `not-music` problem."""
    per_line = Counter(p.line for p in problems if p.code in _PROSE_CODES)
    prose = {line for line, n in per_line.items() if n >= 3}
    if not prose:
        return problems
    out = [p for p in problems if not (p.code in _PROSE_CODES and p.line in prose)]
    for line in sorted(prose, key=lambda x: x or 0):
        bar = next(p.bar for p in problems if p.line == line and p.code in _PROSE_CODES)
        out.append(Problem("not-music", f"line reads as text, not ABC music ({per_line[line]} stray symbols)",
                           line, bar))
    return out


@dataclass(frozen=True)
class BarMeasure:
    """One bar of a voice as the bars-level checker measures it (durations in whole notes) (notebook 05)."""

    number: int  # 1-based within its voice
    line: int  # line of its first note or rest
    duration: Fraction  # tuplets, broken rhythm, chords and multi-bar rests applied; overlays (&) not added
    measure: Fraction | None  # the meter in force at its first element; None for free meter or no M:
    only_mrest: bool  # holds only multi-bar rests (Z)
    left_section: bool  # the bar line before it ends a section (repeat, ||, |], [|, ending) or it starts the tune
    right_section: bool  # the bar line after it ends a section


def measure_bars(tune: Tune) -> tuple[CheckResult, dict[str, list[BarMeasure]]]:
    """`check_tune(tune, "bars")` and, from the same pass, each voice's bars as it measured them (notebook 05)."""
    checker, result = _run(tune, "bars")
    bars = {
        vid: [BarMeasure(b.number, b.line, _whole(b.dur), None if b.measure is None else _whole(b.measure),
                         b.only_mrest, b.left_section, b.right_section) for b in v.bars]
        for vid, v in checker.voices.items() if v.bars
    }
    return result, bars


def check_tune(tune: Tune, level: str = "syntax") -> CheckResult:
    """Check one parsed tune at `level` ("syntax" or "bars"); never raises on bad text (notebook 01)."""
    return _run(tune, level)[1]


def _run(tune: Tune, level: str) -> tuple[_Checker, CheckResult]:
    if level not in LEVELS:
        raise AbcError(f"unknown level {level!r}; choose from {LEVELS}")
    checker = _Checker(tune, level)
    try:
        checker.header()
        checker.body()
        if level == "bars":
            checker.finish_bars()
    except Exception as err:  # noqa: BLE001 - check() must never raise; a bug shows as a problem
        checker.add("internal-error", f"{type(err).__name__}: {err}")
    if checker.n_dropped:
        checker.problems.append(Problem("too-many-problems", f"{checker.n_dropped} more problems not listed",
                                        tune.text.count("\n") + 1))
    problems = sorted(_merge_prose(checker.problems), key=lambda p: (p.line or 0))
    return checker, CheckResult(not any(p.severity == "error" for p in problems), problems, level)


def check(text: str, level: str = "syntax") -> CheckResult:
    """Check the first tune of `text` at `level`; a text with no tune gets a `no-tune` problem (notebook 01)."""
    if level not in LEVELS:
        raise AbcError(f"unknown level {level!r}; choose from {LEVELS}")
    tunes = split_tunes(text)
    if not tunes:
        return CheckResult(False, [Problem("no-tune", "no tune in the text (no X: or K: line)", None, None)], level)
    return check_tune(tunes[0], level)


def check_all(text: str, level: str = "syntax") -> list[tuple[Tune, CheckResult]]:
    """Check every tune of `text`; [] when there is none (notebook 01)."""
    return [(t, check_tune(t, level)) for t in split_tunes(text)]


def classify(results: Iterable[CheckResult]) -> Counter:
    """Counter of problem codes over many results (each tune counts once per code) (notebook 01)."""
    counts: Counter = Counter()
    for r in results:
        counts.update(set(r.codes))
    return counts
