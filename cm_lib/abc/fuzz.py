"""Seeded fuzzing of the ABC layer: mutated corpus tunes through every public reader, exceptions sorted.

Mutations (`mutate`, `hostile`): 1-4 character edits in ABC's own alphabet, numbers with up to thousands
of digits, deep nesting of ( [ { and quotes, line-ending changes, random bytes decoded as a file would
be, stray fields. `run_fuzz` sends each input through a set of targets (`ABC_TARGETS`: every public
function of cm_lib.abc that reads ABC; cm_lib.metrics.fuzz adds notebook 05's metrics) and sorts what
they raise: the library's own errors (CourseError: AbcError and its kin) are expected, anything else is
a *foreign* exception, a bug. A checker verdict of `internal-error` (an exception check() caught), a
cleaning that is not idempotent and a transposition that writes a key the checker rejects (where the
input's keys were valid) count as foreign too. tests/test_abc_fuzz.py and benchmarks/abc_fuzz.py
run it.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from cm_lib.abc.check import LEVELS, check, check_all, check_tune, classify, measure_bars
from cm_lib.abc.clean import clean_tune
from cm_lib.abc.describe import describe
from cm_lib.abc.pitch import durations, notes, pitches
from cm_lib.abc.transpose import MAX_SEMITONES, transpose
from cm_lib.abc.tune import decode_abc_bytes, parse_tune, split_tunes
from cm_lib.abc.walk import is_chord_symbol, walk, walk_text
from cm_lib.errors import CourseError

ALPHABET = "ABCDEFGabcdefgzxZ^_=,'/0123456789|:[]{}()<>-.~!+\"%\\ \nHTuvKLMVX&$`y#;"
FIELDS = ["[K:", "[M:", "[L:", "[V:", "\nV:", "\nK:", "\nM:", "\nL:", "\nX:", "\nT:", "\nW:", "\nw:", "[I:", " %"]
# Values that fields take (and mistake), for `hostile`'s stray fields and key/meter/unit edits
FIELD_VALUES = ["=G", "_D", "^f", "", "none", "HP", "Hp", "C#lyd", "Fbloc", "G clef=bass", "D exp ^g", "Am =c", "Bass",
                "C|", "2+3/8", "(2+2)/4", "0/4", "4/0", "1/0", "3/", "/8", "1/3", "7/8", "12/8"]
SEED_CHARS = 500  # each seed tune is cut to its first 500 characters


class FuzzPropertyError(AssertionError):
    """A property every input must keep was broken (cleaning not idempotent, a checker `internal-error`)."""


def mutate(text: str, rng: random.Random) -> str:
    """Insert, delete, swap or replace 1-4 characters, using ABC's own alphabet."""
    chars = list(text)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(4)
        i = rng.randrange(len(chars) + 1)
        if op == 0 or not chars:
            chars.insert(i, rng.choice(ALPHABET))
        elif op == 1:
            del chars[min(i, len(chars) - 1)]
        elif op == 2 and len(chars) > 1:
            j = min(i, len(chars) - 2)
            chars[j], chars[j + 1] = chars[j + 1], chars[j]
        else:
            chars[min(i, len(chars) - 1)] = rng.choice(ALPHABET)
    return "".join(chars)


def _insert(text: str, piece: str, rng: random.Random) -> str:
    i = rng.randrange(len(text) + 1)
    return text[:i] + piece + text[i:]


def hostile(text: str, rng: random.Random) -> str | bytes:
    """One of the harsher mutations; bytes for a byte-level one (decoded as a file would be)."""
    op = rng.randrange(6)
    if op == 0:  # a number with many digits, where lengths, tuplets, meters and units take one
        digits = "".join(rng.choice("0123456789") for _ in range(rng.choice([10, 40, 400, 5000])))
        return _insert(text, rng.choice(["A", "z", "(", "(3:", "Z", "]", "[M:", "[L:1/", "A/", ""]) + digits, rng)
    if op == 1:  # deep nesting
        return _insert(text, rng.choice("([{\"!") * rng.choice([50, 500, 2000]), rng)
    if op == 2:  # line endings
        return text.replace("\n", rng.choice(["\r\n", "\r", "\n\n", "\n \n", "\\\n"]))
    if op == 3:  # stray fields
        return _insert(text, rng.choice(FIELDS) + mutate("G2 x", rng) + rng.choice(["]", "\n", ""]), rng)
    data = bytearray(text.encode("utf-8"))
    for _ in range(rng.randint(1, 8)):
        data.insert(rng.randrange(len(data) + 1), rng.randrange(256))
    if op == 5 and rng.random() < 0.2:
        data = bytearray(text.encode(rng.choice(["utf-16-le", "utf-16", "latin-1", "cp437"]), errors="replace"))
    return bytes(data)


def field_edit(text: str, rng: random.Random) -> str:
    """A K:, M: or L: field (header line or inline) given a value that is odd, invalid or absurd."""
    name = rng.choice("KKKML")
    value = rng.choice(FIELD_VALUES) if rng.random() < 0.7 else mutate(rng.choice(FIELD_VALUES) or "G", rng)
    lines = text.split("\n")
    header = [i for i, line in enumerate(lines) if line.startswith(f"{name}:")]
    if header and rng.random() < 0.5:
        lines[rng.choice(header)] = f"{name}:{value}"
        return "\n".join(lines)
    return _insert(text, rng.choice([f"[{name}:{value}]", f"\n{name}:{value}\n"]), rng)


def random_shift(rng: random.Random) -> int:
    """A transposition interval: small, large, the limits, or far beyond them (AbcError)."""
    return rng.choice([rng.randint(-12, 12), rng.randint(-200, 200), rng.choice([-10**30, 10**30, 0, 127, -127])])


def fuzz_inputs(seeds: Sequence[str], n: int, rng: random.Random) -> Iterator[str | bytes]:
    """`n` mutants of the seed tunes (cut to SEED_CHARS): 1-4 character edits, harsher ones, odd K:/M:/L: values."""
    for k in range(n):
        seed = seeds[k % len(seeds)][:SEED_CHARS]
        kind = k % 6
        yield hostile(seed, rng) if kind in (0, 3) else field_edit(seed, rng) if kind == 5 else mutate(seed, rng)


Target = Callable[[str, random.Random], object]


def _check(text: str, rng: random.Random) -> object:
    for level in LEVELS:
        result = check(text, level)
        if "internal-error" in result.codes:
            raise FuzzPropertyError(f"check(..., {level!r}): {result.problems}")
    return result


def _clean(text: str, rng: random.Random) -> object:
    once = clean_tune(text)
    if clean_tune(once) != once:
        raise FuzzPropertyError("clean_tune is not idempotent")
    return once


def _tunes(text: str, rng: random.Random) -> object:
    tunes = split_tunes(text)
    results = [check_tune(t, rng.choice(LEVELS)) for t in tunes[:3]]
    classify(results)
    check_all(text, "bars")
    for tune in tunes[:3]:
        events = list(walk(tune))
        for ev in events:
            if ev.kind == "quote":
                is_chord_symbol(ev.text)
        result, _bars = measure_bars(tune)
        if "internal-error" in result.codes:
            raise FuzzPropertyError(f"measure_bars: {result.problems}")
    return tunes


def _notes(text: str, rng: random.Random) -> object:
    voices = {ev.voice for ev in walk(parse_tune(text)) if ev.kind == "voice"}
    voice = rng.choice([None, "1", *sorted(voices)])
    return notes(text, voice), pitches(text), durations(text, voice)


def _transpose(text: str, rng: random.Random) -> object:
    shift = random_shift(rng) if rng.random() < 0.5 else rng.randint(-MAX_SEMITONES, MAX_SEMITONES)
    out = transpose(text, shift)
    if "bad-K" in check(out).codes and "bad-K" not in check(text).codes:
        raise FuzzPropertyError(f"transpose by {shift} wrote a key the checker rejects")
    return out


# Every public function of cm_lib.abc that reads ABC text (file readers via decode_abc_bytes, run on byte inputs).
ABC_TARGETS: dict[str, Target] = {
    "check": _check,
    "clean_tune": _clean,
    "split_tunes/check_tune/classify/check_all/walk/measure_bars": _tunes,
    "parse_tune": lambda text, rng: parse_tune(text),
    "walk_text": lambda text, rng: list(walk_text(text)),
    "describe": lambda text, rng: describe(text),
    "notes/pitches/durations": _notes,
    "transpose": _transpose,
}


@dataclass
class Foreign:
    """One foreign exception: which target raised what on which input."""

    target: str
    error: str  # "ValueError: empty K: field"
    input: str


@dataclass
class FuzzReport:
    """What a fuzz run saw: inputs, calls, the library's own errors by target, foreign exceptions, the slowest input."""

    inputs: int = 0
    calls: int = 0
    library_errors: Counter = field(default_factory=Counter)
    foreign: list[Foreign] = field(default_factory=list)
    slowest_seconds: float = 0.0  # CPU time of all targets on one input
    slowest_input: str = ""
    seconds: float = 0.0

    @property
    def foreign_kinds(self) -> Counter:
        """(target, exception type) -> how many inputs raised it."""
        return Counter((f.target, f.error.split(":", 1)[0]) for f in self.foreign)


def run_fuzz(inputs: Iterable[str | bytes], targets: dict[str, Target], rng: random.Random,
             keep: int = 50) -> FuzzReport:
    """Each input (bytes: decoded first, as a file would be) through every target; the first `keep` foreign inputs kept whole."""
    report = FuzzReport()
    start = time.perf_counter()
    for raw in inputs:
        report.inputs += 1
        t0 = time.process_time()  # CPU time: other jobs on the machine must not make an input look slow
        shown = raw if isinstance(raw, str) else repr(raw)
        text = raw if isinstance(raw, str) else _call(report, "decode_abc_bytes", decode_abc_bytes, raw, shown, keep)
        if isinstance(text, str):
            for name, target in targets.items():
                _call(report, name, target, text, shown, keep, rng)
        took = time.process_time() - t0
        if took > report.slowest_seconds:
            report.slowest_seconds, report.slowest_input = took, shown
    report.seconds = time.perf_counter() - start
    return report


def _call(report: FuzzReport, name: str, fn: Callable[..., object], arg: object, shown: str, keep: int,
          *more: object) -> object:
    """fn(arg, *more), or None after recording what it raised: the library's error (expected) or a foreign one."""
    report.calls += 1
    try:
        return fn(arg, *more)
    except CourseError:
        report.library_errors[name] += 1
    except Exception as err:  # noqa: BLE001 - the point of the fuzz: anything else is a bug, recorded
        detail = f"{type(err).__name__}: {err}"[:300]
        report.foreign.append(Foreign(name, detail, shown if len(report.foreign) < keep else shown[:200]))
    return None
