"""cm_lib.abc: pitches, durations, transposition and description, on snippets and corpus tunes."""

from __future__ import annotations

import random
from fractions import Fraction

import pytest

from cm_lib.abc import check, describe, durations, iter_music21_tunes, notes, pitches, read_tunes, transpose
from cm_lib.errors import AbcError
from cm_lib.paths import data_samples_dir

H = "X:1\nM:4/4\nL:1/8\n"


def test_pitches_key_signature_and_bar_scoped_accidentals() -> None:
    # F is sharp in G; ^F/=F carry to the end of the bar only; chord -> top note; tie not repeated
    assert pitches(H + "K:G\nF^F=F F [FA]2 f-|f ^c c|c C, c'|") == [66, 66, 65, 65, 69, 78, 73, 73, 72, 48, 84]
    assert pitches(H + "K:Bb\nB E ^^C __D|") == [70, 63, 62, 60]
    assert pitches(H + "K:Ador\nF c [K:F#m] c G|") == [66, 72, 73, 68]  # A dorian has F#
    assert pitches(H + "K:C\n{^g}a g|") == [81, 80]  # grace notes are not sounded, their accidental carries
    assert pitches(H + "K:HP\nF C|") == [66, 61]
    assert pitches(H + "K:D exp ^g\nF G|") == [65, 68]


def test_durations_with_broken_rhythm_tuplets_and_ties() -> None:
    text = H + "K:C\nA>B (3ABc [CE]2 z A-|A/ B//|"
    assert durations(text) == [Fraction(3, 16), Fraction(1, 16)] + [Fraction(1, 12)] * 3 + [
        Fraction(1, 4), Fraction(1, 8) + Fraction(1, 16), Fraction(1, 32)]
    assert [(n.bar, n.line, n.tied) for n in notes(text)][-3:] == [(1, 5, False), (2, 5, True), (2, 5, False)]


def test_note_bars_are_numbered_like_the_checker() -> None:
    text = H + "K:C\nA8|\n|B8||Z2|z8|c8|]"
    assert [(n.midi, n.bar) for n in notes(text)] == [(69, 1), (71, 2), (72, 5)]
    assert [(p.code, p.bar) for p in check(text.replace("c8", "c9"), "bars").problems] == [("bar-too-long", 5)]


def test_pitches_per_voice() -> None:
    blocks, inline = read_tunes(data_samples_dir() / "two_voices.abc")
    for tune in (blocks, inline):
        assert pitches(tune.text, voice="1") == [65, 69, 72, 69, 70, 74, 72, 69, 65, 67, 64, 65]
        assert pitches(tune.text, voice="2") == [41, 48, 53, 48, 46, 50, 48, 53, 50, 48, 48, 41]


EXACT = [
    ("K:G", 'GABc d^cd=c|"Am7/G"A2 "D7"d2 "^fine"g4|', 2, "K:A", 'ABcd e^de=d|"Bm7/A"B2 "E7"e2 "^fine"a4|'),
    ("K:G", 'GABc d^cd=c|"Am7/G"A2 "D7"d2 "^fine"g4|', -1, "K:Gb", 'GABc d=cd_c|"Abm7/Gb"A2 "Db7"d2 "^fine"g4|'),
    ("K:Dmix", "DEFG A=Bc^c|", 7, "K:Amix", "ABcd e^fg^g|"),
    ("K:Em", "E^DEF G2 _B2|", 2, "K:F#m", "F^EFG A2 =c2|"),
    ("K:F#m", "F^EFA c2 =c2|", -1, "K:Fm", "F=EFA c2 _c2|"),
    ("K:Bb", "B,DF_A =B4|", 2, "K:C", "CEG_B ^c4|"),
    ("K:none", "C^D_EF ^^G2 __B2|", 2, "K:none", "D^E=FG ^^A2 _c2|"),
    ("K:HP", "A,B,CD EFGA|", 2, "K:Emix", "B,C^DE FGAB|"),
    ("K:Ador", "A2 [K:C] c2 [K:Am] ^G2|", 2, "K:Bdor", "B2 [K:D] d2 [K:Bm] ^A2|"),
    ("K:C", "[CEG]2 [^F=A_c]2 {^g}a2 c'2|", 7, "K:G", "[GBd]2 [^c=e_g]2 {^d'}e'2 g'2|"),
    ("K:E phr clef=bass", "E,F,G,A,|", 3, "K:G phr clef=bass", "G,A,B,C|"),
]


@pytest.mark.parametrize(("key", "body", "n", "new_key", "new_body"), EXACT)
def test_transpose_exact(key: str, body: str, n: int, new_key: str, new_body: str) -> None:
    out = transpose(f"{H}{key}\n{body}\n", n)
    assert out == f"{H}{new_key}\n{new_body}\n"
    assert pitches(out) == [p + n for p in pitches(f"{H}{key}\n{body}")]


def test_transpose_keeps_other_text_and_handles_several_tunes() -> None:
    text = "% file comment\nX:1\nT:One\nK:D\nw: la la\nDF A2|]\n\nX:2\nT:Two\nK:Am\n\"^Segno\"A c e2|]\n"
    out = transpose(text, -2)
    assert out == "% file comment\nX:1\nT:One\nK:C\nw: la la\nCE G2|]\n\nX:2\nT:Two\nK:Gm\n\"^Segno\"G B d2|]\n"
    with pytest.raises(AbcError):
        transpose("no music here", 2)


def test_transpose_round_trip_and_exact_shift_on_corpus_tunes() -> None:
    tunes = [t for _, t in iter_music21_tunes()]
    rng = random.Random(1234)
    sample = rng.sample(tunes, 240)
    n_checked = 0
    for i, tune in enumerate(sample):
        original = pitches(tune.text)
        for n in (1, -2, 5, 7, -12)[i % 3: i % 3 + 3]:
            moved = transpose(tune.text, n)
            assert pitches(moved) == [p + n for p in original], (tune.source, tune.index, n)
            assert pitches(transpose(moved, -n)) == original, (tune.source, tune.index, n)
            if check(tune.text).ok:
                assert check(moved).ok, (tune.source, tune.index, n, check(moved).problems)
            n_checked += 1
    assert n_checked == 720


def test_describe_sample_and_corpus_tune() -> None:
    basics = read_tunes(data_samples_dir() / "basics.abc")[0]
    d = describe(basics.text)
    assert d.as_dict() == {
        "title": "First Steps", "key": "G", "tonic": "G", "mode": "major", "meter": "4/4", "unit_length": "1/8",
        "n_bars": 8, "n_notes": 26, "lowest": 62, "highest": 79, "lowest_name": "D4", "highest_name": "G5",
        "range_semitones": 17, "n_voices": 1, "has_repeats": True, "has_chord_symbols": False,
    }
    two = describe(read_tunes(data_samples_dir() / "two_voices.abc")[1].text)
    assert (two.n_voices, two.n_bars, two.n_notes, two.lowest_name, two.highest_name) == (2, 4, 24, "F2", "D5")
    ryan = next(t for name, t in iter_music21_tunes(["ryan"]))
    r = describe(ryan.text)
    assert (r.key, r.tonic, r.mode, r.meter, r.has_chord_symbols, r.has_repeats) == ("Am", "A", "minor", "C", True, True)
    with pytest.raises(AbcError):
        describe("")


def test_transpose_by_zero_is_identity_and_steps_compose_on_corpus() -> None:
    n = 0
    for i, (_, tune) in enumerate(iter_music21_tunes()):
        if i % 50:
            continue
        assert transpose(tune.text, 0) == tune.text, (tune.source, tune.index)
        octave = transpose(tune.text, 12)
        assert pitches(transpose(transpose(tune.text, 5), 7)) == pitches(octave), (tune.source, tune.index)
        assert octave.count("K:") == tune.text.count("K:") and transpose(octave, -12) == tune.text
        n += 1
    assert n == 260


@pytest.mark.parametrize(("key", "body", "line"), [
    ("=G", "ABcd efga|]", 5), ("G", "AB[K:_D]cd efga|]", 6), ("G", "AB\nK:^f\ncd|]", 7), ("", "ABcd|]", 5)])
def test_a_key_the_checker_rejects_cannot_be_transposed(key: str, body: str, line: int) -> None:
    text = f"X:1\nT:t\nM:4/4\nL:1/8\nK:{key}\n{body}\n"
    assert [(p.code, p.line) for p in check(text).problems] == [("bad-K", line)]
    for n in (-13, -3, 0, 1, 2, 5, 12):  # before: a bare ValueError for some shifts, K:=A (no such key) for others
        with pytest.raises(AbcError, match=f"^line {line}: cannot transpose a tune whose key is invalid"):
            transpose(text, n)


def test_clef_and_explicit_accidentals_in_keys_still_transpose() -> None:
    text = "X:1\nT:t\nM:4/4\nL:1/8\nK:G clef=bass middle=d\nAB[K:D =c]cd|]\n"
    out = transpose(text, 2)
    assert out.split("\n")[4:6] == ["K:A clef=bass middle=d", "Bc[K:E =d]de|]"]
    assert pitches(out) == [p + 2 for p in pitches(text)] and check(out).ok
