"""Tune analysis for the music-verbal data: bars, form (repeats + melodic similarity), a simple
diatonic harmoniser, the most repeated motif and a textual summary, all computed from the ABC."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING

from cm_lib.abc.chords import QUOTED_SYMBOL_RE

if TYPE_CHECKING:
    from cm_lib.abc.describe import TuneDescription

# Bar lines, longest first; a volta number directly after a bar line belongs to the separator.
BAR_RE = re.compile(r"(:\|\]|\|\]|\[\||\|\||\|:|:\||::|\|[12]?|\[[12])")
STRUCTURAL = {":|]", "|]", "[|", "||", "|:", ":|", "::"}
DURATION_NAMES = {
    Fraction(1, 16): "sixteenth notes", Fraction(1, 8): "eighth notes", Fraction(3, 16): "dotted eighths",
    Fraction(1, 4): "quarter notes", Fraction(3, 8): "dotted quarters", Fraction(1, 2): "half notes",
    Fraction(1, 1): "whole notes", Fraction(3, 4): "dotted halves",
}
TEMPLATE_BASE = "X:1\nL:{L}\nM:{M}\nK:{K}\n"


def has_chord_names(body: str) -> bool:
    """True when a tune body holds a quoted chord name such as "G" or "Em7" (`abc.chords.QUOTED_SYMBOL_RE`); notebook 02.

    What the harmony tasks need: stricter than `abc.describe`'s `has_chord_symbols`, which counts every quoted
    string that is not an annotation ("^text", "_text", ...), so a quoted "Allegro" is a chord symbol there but
    not a chord name here. The search runs over the raw body, so text between two quoted annotations
    (`">"G2">"`) counts too (22 of music21's 12,978 tunes); reading each quoted text instead
    (`abc.chords.quoted_chord_names`) changes what the corpus holds, so it waits for a BUILDER_VERSION bump.
    """
    return bool(QUOTED_SYMBOL_RE.search(body))


@dataclass
class TuneInfo:
    """What the tasks need to know about one tune: `abc.describe`'s facts plus bars, form and harmony flags.

    title, meter, unit, n_notes, lowest and highest come from `description` (a `TuneDescription`), with
    the defaults a task prompt needs ("Untitled", 4/4, 1/8, C major) where the tune leaves them out.
    """

    title: str
    key_field: str
    key_text: str  # "G major", "A dorian"
    key_mode: str
    sharps: int
    meter: str
    unit: str
    header: str  # the header lines (X..K) of the tune
    bars: list[str] = field(default_factory=list)  # bar contents of a single-voice body (no separators)
    separators: list[str] = field(default_factory=list)
    n_notes: int = 0
    lowest: int = 0
    highest: int = 0
    common_duration: str = ""
    form: str = "A"
    has_chords: bool = False  # has_chord_names(body): a quoted chord name, not any quoted string
    single_voice: bool = True  # at most one declared voice (V: fields), whatever the notes say
    simple_body: bool = True  # no inline fields, decorations or annotations that the harmoniser avoids
    first_pitch: int = 0
    last_pitch: int = 0
    description: TuneDescription | None = None  # abc.describe(text): the facts shared with `abc describe`

    @property
    def fragment_header(self) -> str:
        """Header for a short ABC fragment of this tune (X:1, L, M, K)."""
        return TEMPLATE_BASE.format(L=self.unit, M=self.meter, K=self.key_field)


def split_bars(body: str) -> tuple[list[str], list[str]]:
    """Bar contents and the bar line after each (the body joined into one line)."""
    joined = " ".join(line.strip().rstrip("\\").strip() for line in body.splitlines() if line.strip())
    parts = BAR_RE.split(joined)
    bars, seps = [], []
    for i in range(0, len(parts), 2):
        content = parts[i].strip()
        sep = parts[i + 1] if i + 1 < len(parts) else ""
        if content:
            bars.append(content)
            seps.append(sep)
        elif seps and sep:  # two bar lines in a row, e.g. "|" at a line end and "|" starting the next
            prev = seps[-1]
            seps[-1] = sep if prev == "|" else prev if sep == "|" else prev + sep
    return bars, seps


def _shingle_set(p: list[int], n: int = 3) -> set[tuple[int, ...]]:
    iv = [b - a for a, b in zip(p, p[1:])]
    return {tuple(iv[i:i + n]) for i in range(len(iv) - n + 1)}


def similar(a: list[int], b: list[int], threshold: float = 0.5) -> bool:
    """Two melodic passages count as the same section (transposition-invariant interval 3-grams)."""
    if a[:8] and a[:8] == b[:8]:
        return True
    sa, sb = _shingle_set(a), _shingle_set(b)
    if not sa or not sb:
        return False
    return len(sa & sb) / len(sa | sb) >= threshold


def detect_form(info: TuneInfo, max_letters: int = 8) -> str:
    """Form letters from repeat signs and section bar lines, else from 4-bar phrases (e.g. "AABB")."""
    from cm_lib.abc import pitches

    sections: list[tuple[list[str], bool]] = []
    current: list[str] = []
    for bar, sep in zip(info.bars, info.separators):
        current.append(bar)
        if any(s in sep for s in STRUCTURAL) or sep.endswith("2"):
            repeated = ":|" in sep or "::" in sep
            sections.append((current, repeated))
            current = []
    if current:
        sections.append((current, False))
    # first-ending bars ([1) belong to the repeated section; drop tiny sections (pickups, endings)
    sections = [s for s in sections if len(s[0]) >= 2] or sections
    if len(sections) == 1 and len(info.bars) >= 8:
        size = 4 if len(info.bars) <= 16 else 8
        sections = [(info.bars[i:i + size], False) for i in range(0, len(info.bars), size)]
        sections = [s for s in sections if len(s[0]) >= 2]
    letters: list[str] = []
    reps: list[list[int]] = []
    for bars, repeated in sections:
        try:
            melody = pitches(info.fragment_header + " | ".join(bars) + " |]\n")
        except Exception:  # noqa: BLE001 - a passage we cannot read gets its own letter
            melody = []
        label = next((chr(65 + k) for k, ref in enumerate(reps) if melody and similar(melody, ref)), None)
        if label is None:
            reps.append(melody)
            label = chr(64 + len(reps))
        letters.extend([label] * (2 if repeated else 1))
    return "".join(letters[:max_letters]) or "A"


def analyse(text: str, form: str | None = None) -> TuneInfo:
    """Key, meter, bars, range, rhythm and form of a cleaned tune, built on `abc.describe`; notebook 02.

    Pass `form` if already known (transposed copies reuse their original's form).
    """
    from cm_lib.abc import describe, notes, parse_tune
    from cm_lib.abc.keys import parse_key

    desc = describe(text)
    tune = parse_tune(text)
    key_field = (desc.key or "C").strip()
    try:
        sharps = parse_key(key_field).sharps
        tonic, mode = desc.tonic or "C", desc.mode or "major"
    except ValueError:
        tonic, mode, sharps = "C", "major", 0
    lines = text.splitlines()
    k_line = next((i for i, line in enumerate(lines) if line.startswith("K:")), len(lines) - 1)
    header = "\n".join(lines[: k_line + 1])
    info = TuneInfo(
        title=(desc.title or "Untitled").strip(), key_field=key_field.split()[0] if key_field else "C",
        key_text=f"{tonic} {mode}", key_mode=mode, sharps=sharps, meter=(desc.meter or "4/4").strip(),
        unit=(desc.unit_length or "1/8").strip(), header=header, description=desc,
    )
    info.single_voice = len(tune.voices()) <= 1
    info.has_chords = has_chord_names(tune.body)
    info.simple_body = not re.search(r'["!{\[][A-Za-z]:|"|!|\+', tune.body) and "K:" not in tune.body
    if info.single_voice:
        info.bars, info.separators = split_bars(tune.body)
    if desc.n_notes:
        events = [n for n in notes(text) if not n.tied]
        info.n_notes, info.lowest, info.highest = desc.n_notes, desc.lowest or 0, desc.highest or 0
        info.first_pitch, info.last_pitch = events[0].midi, events[-1].midi
        common = Counter(n.duration for n in events).most_common(1)[0][0]
        info.common_duration = DURATION_NAMES.get(common, f"notes of {common} whole")
    if form is not None:
        info.form = form
    elif info.single_voice and info.bars:
        info.form = detect_form(info)
    return info


def tune_attributes(abc: str) -> dict[str, str] | None:
    """Key ('G major'), meter and form of a tune as `analyse` reads them (the corpus's answers, a model's tunes); None if unreadable."""
    try:
        info = analyse(abc)
    except Exception:  # noqa: BLE001 - a model's broken output must count as non-compliant, not crash
        return None
    return {"key": info.key_text, "meter": info.meter, "form": info.form}


def diatonic_chords(info: TuneInfo) -> list[tuple[str, set[int]]]:
    """(chord name, pitch classes) of the major and minor triads of the tune's key signature."""
    from cm_lib.abc.keys import LETTER_SEMITONE, LETTERS, signature

    sig = signature(info.sharps)
    degrees = [(letter, (LETTER_SEMITONE[letter] + sig.get(letter, 0)) % 12) for letter in LETTERS]
    chords = []
    for i, (letter, root) in enumerate(degrees):
        third, fifth = degrees[(i + 2) % 7][1], degrees[(i + 4) % 7][1]
        q3, q5 = (third - root) % 12, (fifth - root) % 12
        if q5 != 7 or q3 not in (3, 4):
            continue  # diminished or augmented: skipped by this simple harmoniser
        acc = {1: "#", -1: "b"}.get(sig.get(letter, 0), "")
        chords.append((letter + acc + ("m" if q3 == 3 else ""), {root, third, fifth}))
    return chords


def harmonise(info: TuneInfo) -> list[str] | None:
    """One chord symbol per bar (the triad covering most of the bar's note time), or None (notebook 02).

    Candidates are the major and minor triads of the key signature; in a minor key also the harmonic
    minor's dominant V (major, with the leading tone), preferred to the natural minor's v when the
    bar allows either. A chord whose tone is contradicted by the bar is not chosen: in minor, a bar
    holding the leading tone (F# in G minor) rules out chords with the subtonic (F: Dm, Bb, F), and
    a bar holding the subtonic rules out V; likewise the raised and lowered sixth (E / Eb in G minor).
    """
    from cm_lib.abc import notes
    from cm_lib.abc.keys import LETTER_SEMITONE

    if not (info.single_voice and info.simple_body and info.bars) or info.key_mode == "none":
        return None
    chords = diatonic_chords(info)
    tonic_name = info.key_text.split()[0] + ("m" if info.key_mode == "minor" else "")
    minor = info.key_mode == "minor"
    clashes: list[tuple[int, int]] = []  # (pitch class in the bar, pitch class a chord must then avoid)
    harmonic_v = None
    if minor:
        letter = info.key_text.split()[0]
        t = (LETTER_SEMITONE[letter[0]] + letter.count("#") - letter.count("b")) % 12
        dominant = [c for c in chords if c[1] == {(t + 7) % 12, (t + 10) % 12, (t + 2) % 12}]
        if dominant:  # the natural minor's v -> add the harmonic minor's V (same root, major third)
            harmonic_v = dominant[0][0][:-1]
            chords = chords + [(harmonic_v, {(t + 7) % 12, (t + 11) % 12, (t + 2) % 12})]
        for raised in (11, 9):  # leading tone vs subtonic, raised vs lowered sixth
            clashes += [((t + raised) % 12, (t + raised - 1) % 12), ((t + raised - 1) % 12, (t + raised) % 12)]
    chosen: list[str] = []
    for bar in info.bars:
        try:
            events = [n for n in notes(info.fragment_header + bar + " |]\n") if not n.tied]
        except Exception:  # noqa: BLE001
            return None
        if not events:
            chosen.append(chosen[-1] if chosen else tonic_name)
            continue
        weight: Counter = Counter()
        for n in events:
            weight[n.midi % 12] += float(n.duration)
        first = events[0].midi % 12
        forbidden = {avoid for present, avoid in clashes if weight[present] > 0}
        allowed = [(name, pcs) for name, pcs in chords if not pcs & forbidden] or chords

        previous = chosen[-1] if chosen else ""
        scores = [
            sum(weight[p] for p in pcs) + (0.1 if first in pcs else 0.0)
            + (0.05 if name == tonic_name else 0.0) + (0.02 if name == previous else 0.0)
            + (0.01 if name == harmonic_v else 0.0)
            for name, pcs in allowed
        ]
        chosen.append(allowed[scores.index(max(scores))][0])
    return chosen


def with_chords(info: TuneInfo, chords: list[str]) -> str:
    """The tune's text with one chord symbol at the start of each bar; notebook 02."""
    out = []
    for bar, sep, chord in zip(info.bars, info.separators, chords):
        out.append(f'"{chord}"{bar} {sep}')
    lines, line = [], ""
    for i, piece in enumerate(out):
        line += piece + " "
        if (i + 1) % 4 == 0:
            lines.append(line.strip())
            line = ""
    if line.strip():
        lines.append(line.strip())
    return info.header + "\n" + "\n".join(lines) + "\n"


def motif(info: TuneInfo) -> tuple[str, int] | None:
    """The most repeated bar of the tune (ignoring spaces) and how often it occurs, if any repeats."""
    counts = Counter(re.sub(r"\s+", "", b) for b in info.bars if len(re.findall(r"[A-Ga-g]", b)) >= 3)
    if not counts:
        return None
    best, n = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0]
    return (best, n) if n >= 2 else None


def summary_text(info: TuneInfo) -> str:
    """A textual summary of a tune: key, meter, form, size, range and rhythm; notebook 02."""
    from cm_lib.abc.keys import midi_name

    sig = ("no sharps or flats" if info.sharps == 0 else
           f"{abs(info.sharps)} {'sharp' if info.sharps > 0 else 'flat'}{'s' if abs(info.sharps) > 1 else ''}")
    parts = [f'"{info.title}" is in {info.key_text} ({sig}) and {info.meter} time.']
    if info.bars:
        parts.append(f"It has {len(info.bars)} bars and {info.n_notes} notes; its form is {info.form}.")
    else:
        parts.append(f"It has {info.n_notes} notes.")
    if info.n_notes:
        parts.append(
            f"The melody spans {midi_name(info.lowest)} to {midi_name(info.highest)} "
            f"({info.highest - info.lowest} semitones), starts on {midi_name(info.first_pitch)} and ends on "
            f"{midi_name(info.last_pitch)}. Most notes are {info.common_duration}."
        )
    return " ".join(parts)
