"""Checks for notebook 02 (build a MusicPile subset): a new instruction task, a planted duplicate, the
paper's music-term filter."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

from cm_lib.exercises._common import call, verdict


def _verdict(name: str, ok: bool, good: str, hint: str) -> bool:
    return verdict(f"nb02.{name}", ok, good, hint)


def _sample_tunes(n: int = 8) -> list[str]:
    """Cleaned real tunes (O'Neill's and Essen) for the checks."""
    from cm_lib.corpus.clean import clean_tunes
    from cm_lib.corpus.sources import load_music21

    kept, _ = clean_tunes(load_music21("oneill", n // 2) + load_music21("essen", n // 2))
    return [t.text for t in kept]


def check_range_task(task_fn: Callable[..., dict | None]) -> bool:
    """A `range_analysis` task: the corpus record schema, output naming lowest and highest note and the semitones."""
    from cm_lib.abc import describe
    from cm_lib.corpus.analysis import analyse

    name = "range_task"
    made = 0
    for text in _sample_tunes():
        rec, err = call(task_fn, analyse(text), text, random.Random(0))
        if err:
            return _verdict(name, False, "", err)
        if rec is None:
            continue
        if not isinstance(rec, dict) or not {"instruction", "input", "output", "task", "meta"} <= set(rec):
            return _verdict(name, False, "", "return a dict with instruction, input, output, task and meta "
                            "(cm_lib.corpus.tasks.make_record builds one)")
        if rec["task"] != "range_analysis":
            return _verdict(name, False, "", f"task is {rec['task']!r}: name it 'range_analysis'")
        try:
            json.loads(rec["meta"])
        except (TypeError, ValueError):
            return _verdict(name, False, "", "meta must be a JSON string (json.dumps(...))")
        d = describe(text)
        out = str(rec["output"])
        if f"{d.range_semitones} semitones" not in out:
            return _verdict(name, False, "", f"the output should say '{d.range_semitones} semitones' for this tune: "
                            f"{out!r}")
        missing = [n for n in (d.lowest_name, d.highest_name) if n not in out]
        if missing:
            return _verdict(name, False, "", f"name the lowest and highest notes ({d.lowest_name} and "
                            f"{d.highest_name} here, midi_name(info.lowest) ...); missing {missing}: {out!r}")
        if rec["input"].strip() != text.strip():
            return _verdict(name, False, "", "put the tune in `input` so the model can see it")
        made += 1
    return _verdict(name, made >= 6, f"your task produced {made} correct records",
                    f"only {made} correct records: it should work for (almost) every tune")


def planted_duplicate_puzzle(seed: int = 0) -> list[str]:
    """Eight real tunes; one is a transposed copy of another (find which)."""
    from cm_lib.abc import transpose

    tunes = _sample_tunes(10)[:7]
    rng = random.Random(seed)
    src = rng.randrange(len(tunes))
    copy = transpose(tunes[src], rng.choice([-5, -3, 2, 4]))
    pos = rng.randrange(len(tunes) + 1)
    tunes.insert(pos, copy)
    out = []
    for i, text in enumerate(tunes):  # neutral titles: the melody, not the title, must give the copy away
        lines = [ln for ln in text.splitlines() if not ln.startswith("T:")]
        lines.insert(1, f"T:Tune {i}")
        out.append("\n".join(lines) + "\n")
    return out


def _puzzle_answer(seed: int = 0) -> set[int]:
    from cm_lib.abc import pitches
    from cm_lib.corpus.dedup import interval_signature

    tunes = planted_duplicate_puzzle(seed)
    sigs = [interval_signature(pitches(t)) for t in tunes]
    return {i for i, s in enumerate(sigs) if sigs.count(s) > 1}


PUZZLE_SEEDS = (0, 1, 2, 3)


def check_find_duplicate(find_pair: Callable[[list[str]], Any]) -> bool:
    """`find_pair(tunes)` returns the two indices holding the same melody, on puzzles of several seeds."""
    name = "find_duplicate"
    for seed in PUZZLE_SEEDS:  # a different puzzle each time: reading one by eye does not pass
        got, err = call(find_pair, planted_duplicate_puzzle(seed))
        if err:
            return _verdict(name, False, "", err)
        try:
            pair = {int(x) for x in got}
        except (TypeError, ValueError):
            return _verdict(name, False, "", f"return two indices, e.g. (2, 5); you returned {got!r}")
        truth = _puzzle_answer(seed)
        if pair != truth:
            return _verdict(name, False, "", f"for planted_duplicate_puzzle({seed}) you returned {sorted(pair)}, but "
                            f"the copy pair is another one. Compare interval sequences "
                            "(cm_lib.corpus.dedup.interval_signature(pitches(t))), not the notes: a transposed copy "
                            "has other notes but the same intervals")
    return _verdict(name, True, f"right on {len(PUZZLE_SEEDS)} different puzzles: one interval sequence, two keys", "")


def check_music_filter(is_music: Callable[[str], bool]) -> bool:
    """The paper's rule: music-glossary words occur > 10 times and make up > 0.5% of the words."""
    from cm_lib.corpus.textsources import is_music_text, music21_doc_texts, pydoc_topic_texts

    docs = [d.text for d in pydoc_topic_texts()[:40]] + [d.text for d in music21_doc_texts(40_000)]
    docs += ["note " * 11 + "word " * 3000, "scale chord " * 6 + "text " * 100]  # share / count edge cases
    if not callable(is_music):
        return _verdict("music_filter", False, "", "pass your function is_music (no parentheses)")
    wrong = []
    for d in docs:
        got, err = call(is_music, d)
        if err:
            return _verdict("music_filter", False, "", err)
        if bool(got) != is_music_text(d):
            wrong.append(d)
    if wrong:
        return _verdict("music_filter", False, "", f"{len(wrong)} of {len(docs)} documents classified differently; first: "
                        f"{wrong[0][:80]!r}... count glossary words (MUSIC_GLOSSARY, lower-cased words) and "
                        "require count > 10 AND count / words > 0.005")
    return _verdict("music_filter", True, f"all {len(docs)} documents classified like the paper's rule", "")
