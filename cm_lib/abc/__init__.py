"""ABC notation as data: split, clean, walk, check, transpose and describe tunes (notebooks 01 and 02).

`walk(tune)` yields a tune body's typed, located events (cm_lib.abc.walk); the checker, the pitch
and duration readers, transposition and description are built on it, and so should new readers be.
"""

from cm_lib.abc.check import (
    LEVELS,
    PROBLEM_CODES,
    CheckResult,
    Problem,
    check,
    check_all,
    check_tune,
    classify,
)
from cm_lib.abc.clean import DEFAULT_DROP_FIELDS, clean_tune
from cm_lib.abc.describe import TuneDescription, describe
from cm_lib.abc.duration import MAX_DIGITS, NumberTooLargeError, length_of, tuplet_time
from cm_lib.abc.music21_corpus import collection_of, iter_music21_tunes, music21_abc_files, music21_corpus_dir
from cm_lib.abc.pitch import NoteEvent, durations, notes, pitches
from cm_lib.abc.transpose import transpose
from cm_lib.abc.tune import Tune, decode_abc_bytes, parse_tune, read_abc_file, read_tunes, split_tunes
from cm_lib.abc.walk import (
    EVENT_KINDS,
    Bar,
    ChordEnd,
    Event,
    Field,
    MultiRest,
    Note,
    Rest,
    TooLarge,
    Tuplet,
    VoiceChange,
    VoiceState,
    Walker,
    is_chord_symbol,
    walk,
    walk_text,
)

__all__ = [
    "DEFAULT_DROP_FIELDS",
    "EVENT_KINDS",
    "LEVELS",
    "MAX_DIGITS",
    "PROBLEM_CODES",
    "Bar",
    "CheckResult",
    "ChordEnd",
    "Event",
    "Field",
    "MultiRest",
    "Note",
    "NoteEvent",
    "NumberTooLargeError",
    "Problem",
    "Rest",
    "TooLarge",
    "Tune",
    "TuneDescription",
    "Tuplet",
    "VoiceChange",
    "VoiceState",
    "Walker",
    "check",
    "check_all",
    "check_tune",
    "classify",
    "clean_tune",
    "collection_of",
    "decode_abc_bytes",
    "describe",
    "durations",
    "is_chord_symbol",
    "iter_music21_tunes",
    "length_of",
    "music21_abc_files",
    "music21_corpus_dir",
    "notes",
    "parse_tune",
    "pitches",
    "read_abc_file",
    "read_tunes",
    "split_tunes",
    "transpose",
    "tuplet_time",
    "walk",
    "walk_text",
]
