"""Checks for notebook 02 (build a MusicPile subset): a new instruction task, a planted duplicate, the
paper's music-term filter."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any


def _verdict(ok: bool, good: str, hint: str) -> bool:
    """Print ✅ good or ❌ hint; return ok."""
    print(f"✅ {good}" if ok else f"❌ {hint}")
    return ok


def _sample_tunes(n: int = 8) -> list[str]:
    """Cleaned real tunes (O'Neill's and Essen) for the checks."""
    from cm_lib.corpus.clean import clean_tunes
    from cm_lib.corpus.sources import load_music21

    kept, _ = clean_tunes(load_music21("oneill", n // 2) + load_music21("essen", n // 2))
    return [t.text for t in kept]


def check_range_task(task_fn: Callable[..., dict | None]) -> bool:
    """A `range_analysis` task: record schema as in cm_lib.corpus.tasks, output naming the range in semitones."""
    from cm_lib.abc import pitches
    from cm_lib.corpus.analysis import analyse

    made = 0
    for text in _sample_tunes():
        try:
            rec = task_fn(analyse(text), text, random.Random(0))
        except Exception as err:  # noqa: BLE001 - report any student error
            return _verdict(False, "", f"your function raised {type(err).__name__}: {err}")
        if rec is None:
            continue
        if not isinstance(rec, dict) or not {"instruction", "input", "output", "task", "meta"} <= set(rec):
            return _verdict(False, "", "return a dict with instruction, input, output, task and meta (use _record)")
        if rec["task"] != "range_analysis":
            return _verdict(False, "", f"task is {rec['task']!r}: name it 'range_analysis'")
        try:
            json.loads(rec["meta"])
        except (TypeError, ValueError):
            return _verdict(False, "", "meta must be a JSON string (json.dumps(...))")
        span = max(pitches(text)) - min(pitches(text))
        if f"{span} semitones" not in rec["output"]:
            return _verdict(False, "", f"the output should say '{span} semitones' for this tune: {rec['output']!r}")
        if rec["input"].strip() != text.strip():
            return _verdict(False, "", "put the tune in `input` so the model can see it")
        made += 1
    return _verdict(made >= 6, f"your task produced {made} correct records", "it should work for (almost) every tune")


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


def check_planted_duplicate(answer: Any, seed: int = 0) -> bool:
    """The pair of indices (i, j) in planted_duplicate_puzzle(seed) that hold the same melody."""
    try:
        pair = {int(x) for x in answer}
    except (TypeError, ValueError):
        return _verdict(False, "", "answer with two indices, e.g. (2, 5)")
    truth = _puzzle_answer(seed)
    if pair == truth:
        return _verdict(True, f"tunes {sorted(truth)} share one interval sequence: a transposed duplicate", "")
    return _verdict(False, "", "compare interval sequences (cm_lib.corpus.dedup.interval_signature(pitches(t))), "
                    "not the notes: a transposed copy has other notes but the same intervals")


def check_music_filter(is_music: Callable[[str], bool]) -> bool:
    """The paper's rule: music-glossary words occur > 10 times and make up > 0.5% of the words."""
    from cm_lib.corpus.textsources import is_music_text, music21_doc_texts, pydoc_topic_texts

    docs = [d.text for d in pydoc_topic_texts()[:40]] + [d.text for d in music21_doc_texts(40_000)]
    docs += ["note " * 11 + "word " * 3000, "scale chord " * 6 + "text " * 100]  # share / count edge cases
    wrong = [d for d in docs if bool(is_music(d)) != is_music_text(d)]
    if wrong:
        return _verdict(False, "", f"{len(wrong)} of {len(docs)} documents classified differently; first: "
                        f"{wrong[0][:80]!r}... count glossary words (MUSIC_GLOSSARY, lower-cased words) and "
                        "require count > 10 AND count / words > 0.005")
    return _verdict(True, f"all {len(docs)} documents classified like the paper's rule", "")
