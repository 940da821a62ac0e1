"""ABC notation as data: split, clean, check, transpose and describe tunes."""

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
from cm_lib.abc.music21_corpus import collection_of, iter_music21_tunes, music21_abc_files, music21_corpus_dir
from cm_lib.abc.pitch import NoteEvent, durations, notes, pitches
from cm_lib.abc.transpose import transpose
from cm_lib.abc.tune import Tune, decode_abc_bytes, parse_tune, read_abc_file, read_tunes, split_tunes

__all__ = [
    "DEFAULT_DROP_FIELDS",
    "LEVELS",
    "PROBLEM_CODES",
    "CheckResult",
    "NoteEvent",
    "Problem",
    "Tune",
    "TuneDescription",
    "check",
    "check_all",
    "check_tune",
    "classify",
    "clean_tune",
    "collection_of",
    "decode_abc_bytes",
    "describe",
    "durations",
    "iter_music21_tunes",
    "music21_abc_files",
    "music21_corpus_dir",
    "notes",
    "parse_tune",
    "pitches",
    "read_abc_file",
    "read_tunes",
    "split_tunes",
    "transpose",
]
