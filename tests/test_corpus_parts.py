"""The parts of cm_lib.corpus on real tunes: sources, analysis (form, harmoniser, motif), text sources, tasks."""

from __future__ import annotations

import json
import random
import re
from fractions import Fraction

import pytest

from cm_lib.abc import check, parse_tune, pitches
from cm_lib.corpus.analysis import (
    analyse,
    diatonic_chords,
    harmonise,
    motif,
    split_bars,
    summary_text,
    with_chords,
)
from cm_lib.corpus.clean import clean_one, clean_tunes
from cm_lib.corpus.sources import RawTune, bach_chorale_files, chorale_to_abc, load_local, load_music21
from cm_lib.corpus.tasks import TASK_FUNCTIONS, TUNE_TASKS, tasks_for_tune, theory_records
from cm_lib.corpus.textsources import is_music_text, math_problems, music21_doc_texts, package_texts
from cm_lib.paths import data_samples_dir

SIMPLE = """X:1
T:Test
M:4/4
L:1/4
K:C
|: C E G c | F A c A :|
|: G B d B | c G E C :|
"""


@pytest.fixture(scope="module")
def ryan() -> list:
    kept, _ = clean_tunes(load_music21("ryan", 8))
    return kept


def test_ryan_tunes_analysed_exactly(ryan: list) -> None:
    info = analyse(ryan[1].text)  # 7th Regiment -- Reel
    assert (info.title, info.form, len(info.bars), info.key_text, info.meter) == (
        "7th Regiment -- Reel", "AABB", 16, "A major", "2/4")
    assert (info.n_notes, info.lowest, info.highest) == (115, 57, 86)
    assert summary_text(info) == (
        '"7th Regiment -- Reel" is in A major (3 sharps) and 2/4 time. It has 16 bars and 115 notes; its form is '
        "AABB. The melody spans A3 to D6 (29 semitones), starts on A4 and ends on A5. Most notes are sixteenth notes.")
    strathspey = analyse(ryan[0].text)
    assert (strathspey.form, strathspey.key_text, strathspey.meter) == ("AAB", "A minor", "C")
    assert motif(strathspey) == ("(g<e)d>cA2A", 2)


def test_split_bars_and_form_of_a_simple_tune() -> None:
    bars, seps = split_bars(parse_tune(SIMPLE).body)
    assert bars == ["C E G c", "F A c A", "G B d B", "c G E C"]
    assert seps == ["|", ":||:", "|", ":|"]  # end repeat + start repeat across the line break
    assert analyse(SIMPLE).form == "AABB"


def test_harmoniser_picks_the_triad_of_each_bar() -> None:
    info = analyse(SIMPLE)
    assert harmonise(info) == ["C", "F", "G", "C"]
    harmonised = with_chords(info, ["C", "F", "G", "C"])
    assert check(harmonised, level="syntax").ok
    assert re.findall(r'"([^"]+)"', harmonised) == ["C", "F", "G", "C"]
    assert pitches(harmonised) == pitches(SIMPLE)  # chords added, melody untouched
    names = [name for name, _ in diatonic_chords(analyse(SIMPLE.replace("K:C", "K:G")))]
    assert names == ["C", "D", "Em", "G", "Am", "Bm"]


def test_clean_counts_reasons() -> None:
    assert clean_one(RawTune("t", "", "a"))[1] == "empty"
    assert clean_one(RawTune("t", "X:1\nT:no key\nCDEF|\n", "b"))[1] in {"no_K_field", "syntax:missing-K"}
    assert clean_one(RawTune("t", "X:1\nT:short\nK:C\nCDE|\n", "c"))[1] == "too_few_notes"
    tune, reason = clean_one(RawTune("t", "X:7\nT:ok\nN:a note, mail me@example.org\nK:C\nCDEF GABc|\n", "d"))
    assert reason == "" and tune.text.startswith("X:1\n") and "N:" not in tune.text and "@" not in tune.text


def test_every_tune_task_on_real_tunes(ryan: list) -> None:
    counts: dict[str, int] = {}
    for t in ryan:
        info = analyse(t.text)
        for name in TUNE_TASKS:
            rec = TASK_FUNCTIONS[name](info, t.text, random.Random(0))
            if rec is None:
                continue
            counts[name] = counts.get(name, 0) + 1
            json.loads(rec["meta"])
            if name == "form_extraction":
                assert rec["output"] == info.form
            if name == "motif_extraction":
                assert rec["output"].count(json.loads(rec["meta"])["motif"]) >= 1
    assert set(counts) == set(TUNE_TASKS)
    balanced: dict[str, int] = {}
    for t in ryan:
        tasks_for_tune(analyse(t.text), t.text, random.Random(1), balanced, per_tune=2)
    assert sum(balanced.values()) == 2 * len(ryan) and max(balanced.values()) <= 2


def test_theory_records_keep_the_answer() -> None:
    recs = theory_records(13, seed=2)
    assert len({json.loads(r["meta"])["kind"] for r in recs}) == 13
    for r in recs:
        assert r["output"].startswith(json.loads(r["meta"])["answer"] + ". ")


def test_bach_chorale_converted_to_multivoice_abc() -> None:
    abc = chorale_to_abc(bach_chorale_files()[0])
    assert abc.startswith("X:1\nT:BWV 1.6\n")
    assert check(abc, level="syntax").ok
    assert len(parse_tune(abc).voices()) == 5  # horn + SATB
    assert len(bach_chorale_files()) >= 400


def test_local_source_reads_every_tune_of_a_folder() -> None:
    raws = load_local(data_samples_dir())
    n_expected = sum(len(re.findall(r"^X:", p.read_text(), re.M)) for p in data_samples_dir().glob("*.abc"))
    assert len(raws) == n_expected == 11
    assert all(r.src == "local:data_samples" and "#" in r.ref for r in raws)


def test_text_sources_and_music_filter() -> None:
    assert is_music_text("note " * 11 + "word " * 100)
    assert not is_music_text("note " * 10 + "word " * 10)  # count must exceed 10
    assert not is_music_text("note " * 11 + "word " * 3000)  # share must exceed 0.5%
    docs = music21_doc_texts(20_000)
    assert docs and all(is_music_text(d.text) and d.category == "music_verbal" for d in docs)
    pkgs = package_texts(max_docs=50)
    assert pkgs and all(re.search(r"MIT|BSD|Apache|PSF|Python|ISC|MPL|CC0|Unlicense|Zlib", d.licence, re.I)
                        for d in pkgs)


def test_math_problems_answers_are_right() -> None:
    for doc in math_problems(40, seed=3):
        text = doc.text
        if m := re.search(r"compute \((\d+) \+ (\d+)\) x (\d+)\.", text):
            a, b, c = map(int, m.groups())
            assert text.endswith(f"Answer: {(a + b) * c}")
        elif m := re.search(r"add the fractions (\S+) and (\S+)\.", text):
            assert text.endswith(f"Answer: {Fraction(m.group(1)) + Fraction(m.group(2))}")
        elif m := re.search(r"solve (\d+)x \+ (-?\d+) = (-?\d+) for x", text):
            a, b, c = map(int, m.groups())
            assert text.endswith(f"Answer: x = {(c - b) // a}") and (c - b) % a == 0
        else:
            beats, bpm = map(int, re.search(r"has (\d+) quarter-note beats at (\d+)", text).groups())
            assert text.endswith(f"Answer: {float(Fraction(beats * 60, bpm)):g} seconds")


def test_default_music21_sources_leave_out_the_gated_nottingham_file() -> None:
    from cm_lib.abc import iter_music21_tunes
    from cm_lib.corpus.sources import load_music21

    shipped = sum(1 for _, t in iter_music21_tunes(["misc"]) if "nottingham" in t.source)
    assert shipped == 2  # music21 10.5.1 ships reelsa-c.abc (Nottingham Music Database, GPL-3.0)
    misc = load_music21("misc")
    assert len(misc) == 216 - shipped
    assert not any("reelsa" in r.ref for r in misc)


def test_analyse_is_built_on_describe_and_names_its_stricter_chord_rule(ryan: list) -> None:
    from cm_lib.abc import describe
    from cm_lib.corpus.analysis import has_chord_names

    for t in ryan:
        info, desc = analyse(t.text), describe(t.text)
        assert info.description == desc
        assert (info.title, info.meter, info.n_notes, info.lowest, info.highest) == (
            desc.title, desc.meter, desc.n_notes, desc.lowest, desc.highest)
    annotated = SIMPLE.replace("C E G c", '"Allegro"C E G c')
    assert describe(annotated).has_chord_symbols and not analyse(annotated).has_chords
    chorded = SIMPLE.replace("C E G c", '"Em7"C E G c')
    assert describe(chorded).has_chord_symbols and analyse(chorded).has_chords and has_chord_names('"D/F#"A')
