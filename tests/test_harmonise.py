"""The harmoniser in minor keys: the harmonic minor's dominant, and no chord the bar's notes contradict."""

from __future__ import annotations

import pytest

from cm_lib.abc import clean_tune, iter_music21_tunes, notes
from cm_lib.abc.keys import LETTER_SEMITONE
from cm_lib.corpus.analysis import analyse, harmonise

G_MINOR = "X:1\nT:g\nM:4/4\nL:1/8\nK:Gm\nG2B2 d2B2|A2^F2 D4|G2B2 c2e2|d2=F2 B,4|A2^F2 G4|]\n"
CHORD_TONES = {  # pitch classes of the chord symbols the tests meet
    "Gm": {7, 10, 2}, "D": {2, 6, 9}, "Dm": {2, 5, 9}, "Cm": {0, 3, 7}, "Bb": {10, 2, 5}, "Eb": {3, 7, 10},
    "F": {5, 9, 0}, "C": {0, 4, 7}, "G": {7, 11, 2}, "Am": {9, 0, 4}, "Em": {4, 7, 11}, "B": {11, 3, 6},
    "Bm": {11, 2, 6},
}


def test_g_minor_leading_tone_bars_get_d_major() -> None:
    chords = harmonise(analyse(G_MINOR))
    assert chords == ["Gm", "D", "Cm", "Bb", "D"]
    assert "Dm" not in chords  # the old harmoniser wrote Dm over A ^F D


def test_subtonic_bar_rules_out_the_major_dominant() -> None:
    tune = "X:1\nT:g\nM:4/4\nL:1/8\nK:Gm\nG2B2 d2B2|A2=F2 D4|G8|]\n"
    chords = harmonise(analyse(tune))
    assert chords[1] != "D"  # F natural in the bar contradicts D major's F#
    assert chords[1] in {"Dm", "F", "Bb"}


def test_e_minor_uses_b_major_and_respects_the_raised_sixth() -> None:
    tune = "X:1\nT:e\nM:6/8\nL:1/8\nK:Em\nEFG B2B|AGF ^D3|EFG B2e|dBA G3|B^cd e3|]\n"
    chords = harmonise(analyse(tune))
    assert chords == ["Em", "B", "Em", "G", "Em"]


def test_major_keys_are_unchanged() -> None:
    tune = "X:1\nT:c\nM:4/4\nL:1/8\nK:C\nC2E2 G2E2|F2A2 c2A2|G2B2 d2B2|c8|]\n"
    assert harmonise(analyse(tune)) == ["C", "F", "G", "C"]


def _minor_tunes(n: int) -> list[str]:
    out = []
    for _, t in iter_music21_tunes(["oneill"]):
        key = (t.key or "").split()
        if key and key[0].endswith("m") and not key[0].endswith("maj"):
            out.append(clean_tune(t.text))
        if len(out) >= n:
            break
    return out


@pytest.fixture(scope="module")
def minor_tunes() -> list[str]:
    return _minor_tunes(40)


def test_real_minor_tunes_never_pair_the_leading_tone_with_the_subtonic(minor_tunes: list[str]) -> None:
    checked = dominant_major = 0
    for text in minor_tunes:
        info = analyse(text)
        chords = harmonise(info)
        if not chords or info.key_mode != "minor":
            continue
        letter = info.key_text.split()[0]
        t = (LETTER_SEMITONE[letter[0]] + letter.count("#") - letter.count("b")) % 12
        for bar, chord in zip(info.bars, chords):
            pcs = {n.midi % 12 for n in notes(info.fragment_header + bar + " |]\n") if not n.tied}
            tones = CHORD_TONES.get(chord)
            if tones is None or not pcs:
                continue
            checked += 1
            if (t + 11) % 12 in pcs:  # the leading tone sounds in this bar
                assert (t + 10) % 12 not in tones, (info.title, bar, chord)
            if (t + 10) % 12 in pcs:
                assert (t + 11) % 12 not in tones, (info.title, bar, chord)
            assert tones & pcs, (info.title, bar, chord)  # the chord shares a note with its bar
            dominant_major += tones == {(t + 7) % 12, (t + 11) % 12, (t + 2) % 12}
    assert checked >= 100
    assert dominant_major >= 1
