"""One source per vocabulary: the CLI's choices come from the library's tuples; one chord-symbol grammar."""

from __future__ import annotations

import argparse
import re

import pytest

from cm_lib.abc import LEVELS, transpose
from cm_lib.abc.chords import (
    QUALITIES,
    QUOTED_SYMBOL_RE,
    WRITTEN_QUALITIES,
    chord_symbols,
    is_chord_name,
    parse_chord_symbol,
    quoted_chord_names,
    written_symbol_pattern,
)
from cm_lib.cli import build_parser


def _choices(*path: str) -> list:
    """The choices of the option named last in `path`, e.g. ("abc", "check", "--level")."""
    parser = build_parser()
    for name in path[:-1]:
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = sub.choices[name]
    action = next(a for a in parser._actions if path[-1] in a.option_strings)
    return list(action.choices)


def test_cli_choices_are_the_librarys_vocabularies() -> None:
    from cm_lib.generate.constrain import MODES
    from cm_lib.metrics.validity import PARSERS

    assert _choices("abc", "check", "--level") == list(LEVELS)
    assert _choices("generate", "--constrain") == list(MODES) == ["none", *LEVELS]
    assert _choices("metrics", "--parser") == [*PARSERS, "none"]


def test_the_grammar_reads_every_quality_it_writes() -> None:
    for quality in WRITTEN_QUALITIES:
        chord = parse_chord_symbol(f"F#{quality}/A")
        assert chord is not None and (chord.root, chord.quality, chord.bass) == ("F#", quality, "A")
        assert chord.intervals == QUALITIES[quality]
        assert re.fullmatch(written_symbol_pattern(), f'"Bb{quality}"')
    assert not re.fullmatch(written_symbol_pattern(), '"Bbm7b5"')  # read, never written


def test_the_written_pattern_is_the_one_constrained_decoding_uses() -> None:
    from cm_lib.generate.constrain import CHORD_SYMBOL_RE

    assert written_symbol_pattern() == CHORD_SYMBOL_RE  # the lead points constrain.py at abc.chords


@pytest.mark.parametrize(("text", "chord"), [
    ("G", True), ("Em7", True), ("D/F#", True), ("(A7)", True), ("Gm7b5", True), ("Cadd9", True), ("Bb13", True),
    ("Allegro", False), ("N.C.", False), ("^text", False), ("Da Capo", False), ("H", False), ("", False),
])
def test_chord_names(text: str, chord: bool) -> None:
    assert is_chord_name(text) is chord


def test_chord_symbols_and_quoted_names_read_quoted_texts_only() -> None:
    tune = 'X:1\nT:"Am" in the title\nM:3/4\nK:A\n"^Allegro""A"E AG | "Da Capo" "D/F#"F2 EF |]\n'
    assert chord_symbols(tune) == ["A", "D/F#"]  # the body only; annotations and words are not chords
    assert quoted_chord_names('"G"A"^x"B"Em"') == ["G", "Em"]
    assert QUOTED_SYMBOL_RE.search('x "Gmaj7/B" y') and not QUOTED_SYMBOL_RE.search('"Allegro" "N.C."')


def test_transpose_moves_root_and_bass_of_the_grammars_symbols_only() -> None:
    head = "X:1\nM:4/4\nL:1/4\nK:C\n"
    out = transpose(head + '"C/E"C "(G7)"G "Am7b5"A "Allegro"c |]\n', 2)
    assert '"D/F#"' in out and '"(A7)"' in out and '"Bm7b5"' in out and '"Allegro"' in out
