"""Instruction (SFT) tasks modelled on MusicPile-sft, built from analysed tunes and cm_lib.theory_questions.

Each task function returns a record dict (instruction, input, output, task, meta) or None when the
tune does not suit it. Templates vary with the seed. Generation tasks output a complete tune (X:1 ...);
tasks whose compliance can be checked keep the requested attributes in `meta` (a JSON string).
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Mapping
from typing import Any

from cm_lib.corpus.analysis import TuneInfo, harmonise, motif, summary_text, with_chords

GENERATION_TASKS = ["chord_conditioned", "form_conditioned", "motif_continuation", "key_meter_conditioned"]
ANALYSIS_TASKS = ["harmonisation", "motif_extraction", "form_extraction", "key_analysis", "meter_analysis",
                  "tune_summary"]
TUNE_TASKS = GENERATION_TASKS + ANALYSIS_TASKS
TASKS = [*TUNE_TASKS, "theory_qa"]

TEMPLATES: dict[str, list[str]] = {
    "chord_conditioned": [
        "Compose a melody in {key} and {meter} over this chord progression, one chord per bar: {chords}",
        "Write a tune in ABC notation that follows the chords {chords} (one per bar). Use {key}, {meter} time.",
        "Here is a chord progression: {chords}. Create a {meter} melody in {key} that fits it, with the chord "
        "symbols written in.",
    ],
    "form_conditioned": [
        "Compose a tune in {key} and {meter} time with the musical form {form}.",
        "Write a {meter} melody in {key} whose sections follow the form {form}.",
        "Create an ABC tune with form {form}, in {key}, meter {meter}.",
    ],
    "motif_continuation": [
        "Continue this opening into a complete tune in the same key and meter.",
        "Develop the following motif into a full melody.",
        "Here are the first bars of a tune. Complete it.",
    ],
    "key_meter_conditioned": [
        "Write a tune titled \"{title}\" in {key} and {meter} time.",
        "Compose a {meter} melody in {key} called \"{title}\".",
        "Create an original tune in ABC notation: title \"{title}\", key {key}, meter {meter}.",
    ],
    "harmonisation": [
        "Harmonise this melody: add one chord symbol per bar.",
        "Add chord symbols to the following tune (one per bar, diatonic triads).",
        "Write chords for this melody in ABC notation.",
    ],
    "motif_extraction": [
        "Which one-bar motif is repeated most often in this tune?",
        "Extract the most frequent bar-long motif of the melody below.",
        "Find the motif (one bar) that recurs most in this tune.",
    ],
    "form_extraction": [
        "What is the musical form of this tune? Answer with section letters such as AABB.",
        "Describe the form of the following melody using letters (A, B, ...).",
        "Analyse the structure of this tune and give its form.",
    ],
    "key_analysis": [
        "In which key is this tune?",
        "Identify the key (tonic and mode) of the following melody.",
        "What key is this tune written in?",
    ],
    "meter_analysis": [
        "What is the time signature of this tune?",
        "Identify the meter of the following melody.",
        "Which meter is this tune in?",
    ],
    "tune_summary": [
        "Summarise this tune: key, meter, form, range and rhythm.",
        "Describe the following melody in a few sentences.",
        "Give a short musical analysis of this tune.",
    ],
}


def _record(task: str, instruction: str, inp: str, output: str, meta: dict) -> dict:
    return {"instruction": instruction, "input": inp, "output": output, "task": task,
            "meta": json.dumps(meta, sort_keys=True)}


REQUEST_FIELDS = ("key", "meter", "form", "chords", "motif")  # what a generation task's `meta` may ask for


def record_meta(record: Mapping[str, Any]) -> dict:
    """The record's `meta` as a dict (empty when missing or not JSON)."""
    meta = record.get("meta") or {}
    if isinstance(meta, str):
        try:
            meta = json.loads(meta) if meta.strip() else {}
        except json.JSONDecodeError:
            meta = {}
    return meta if isinstance(meta, dict) else {}


def requested(record: Mapping[str, Any]) -> dict[str, str]:
    """The key/meter/form/chords/motif an SFT record asks for (its `meta`, as make_record wrote it); chords as 'A D A'."""
    meta = record_meta(record)
    out = {k: str(meta[k]) for k in ("key", "meter", "form") if meta.get(k)}
    if isinstance(meta.get("chords"), list) and meta["chords"]:
        out["chords"] = " ".join(str(c) for c in meta["chords"])
    if meta.get("motif"):
        out["motif"] = str(meta["motif"])
    return out


def make_record(task: str, instruction: str, inp: str, output: str, meta: dict) -> dict:
    """One SFT record in the corpus schema (meta as sorted JSON), as every task writes it; notebook 02's exercise."""
    return _record(task, instruction, inp, output, meta)


def _fill(rng: random.Random, task: str, **values: str) -> str:
    return rng.choice(TEMPLATES[task]).format(**values)


def _base_meta(info: TuneInfo) -> dict:
    return {"key": info.key_text, "meter": info.meter}


def chord_conditioned(info: TuneInfo, text: str, rng: random.Random) -> dict | None:
    """Chords -> a melody over them (the output tune carries the chord symbols); notebook 04."""
    chords = harmonise(info) if not info.has_chords else None
    if not chords:
        return None
    out = with_chords(info, chords)
    prog = " | ".join(chords)
    return _record("chord_conditioned", _fill(rng, "chord_conditioned", key=info.key_text, meter=info.meter,
                                              chords=prog), "", out, {**_base_meta(info), "chords": chords})


def form_conditioned(info: TuneInfo, text: str, rng: random.Random) -> dict | None:
    """Form (e.g. AABB) -> a tune with that form; notebook 04."""
    if not info.bars or len(info.form) < 2:
        return None
    return _record("form_conditioned", _fill(rng, "form_conditioned", key=info.key_text, meter=info.meter,
                                             form=info.form), "", text, {**_base_meta(info), "form": info.form})


def motif_continuation(info: TuneInfo, text: str, rng: random.Random) -> dict | None:
    """The first two bars -> the whole tune; notebook 04."""
    if len(info.bars) < 6:
        return None
    opening = " | ".join(info.bars[:2]) + " |"
    return _record("motif_continuation", _fill(rng, "motif_continuation"),
                   info.fragment_header + opening + "\n", text,
                   {**_base_meta(info), "motif": opening, "motif_bars": info.bars[:2]})


def key_meter_conditioned(info: TuneInfo, text: str, rng: random.Random) -> dict | None:
    """Title, key and meter -> a tune; notebook 04."""
    return _record("key_meter_conditioned", _fill(rng, "key_meter_conditioned", key=info.key_text,
                                                  meter=info.meter, title=info.title), "", text,
                   {**_base_meta(info), "title": info.title})


def harmonisation(info: TuneInfo, text: str, rng: random.Random) -> dict | None:
    """A melody -> the same melody with chord symbols."""
    chords = harmonise(info) if not info.has_chords else None
    if not chords:
        return None
    return _record("harmonisation", _fill(rng, "harmonisation"), text, with_chords(info, chords),
                   {**_base_meta(info), "chords": chords})


def motif_extraction(info: TuneInfo, text: str, rng: random.Random) -> dict | None:
    """A tune -> its most repeated bar."""
    found = motif(info)
    if not found:
        return None
    bar, count = found
    out = f"The motif {bar} occurs {count} times:\n{info.fragment_header}{bar} |]\n"
    return _record("motif_extraction", _fill(rng, "motif_extraction"), text, out,
                   {"motif": bar, "count": count})


def form_extraction(info: TuneInfo, text: str, rng: random.Random) -> dict | None:
    """A tune -> its form letters."""
    if not info.bars:
        return None
    return _record("form_extraction", _fill(rng, "form_extraction"), text, info.form, {"form": info.form})


def key_analysis(info: TuneInfo, text: str, rng: random.Random) -> dict | None:
    """A tune -> its key; notebook 04."""
    if info.key_mode == "none":
        return None
    return _record("key_analysis", _fill(rng, "key_analysis"), text, info.key_text, {"key": info.key_text})


def meter_analysis(info: TuneInfo, text: str, rng: random.Random) -> dict | None:
    """A tune -> its meter."""
    return _record("meter_analysis", _fill(rng, "meter_analysis"), text, info.meter, {"meter": info.meter})


def tune_summary(info: TuneInfo, text: str, rng: random.Random) -> dict | None:
    """A tune -> a textual summary."""
    return _record("tune_summary", _fill(rng, "tune_summary"), text, summary_text(info),
                   {**_base_meta(info), "form": info.form})


TASK_FUNCTIONS: dict[str, Callable[[TuneInfo, str, random.Random], dict | None]] = {
    "chord_conditioned": chord_conditioned, "form_conditioned": form_conditioned,
    "motif_continuation": motif_continuation, "key_meter_conditioned": key_meter_conditioned,
    "harmonisation": harmonisation, "motif_extraction": motif_extraction, "form_extraction": form_extraction,
    "key_analysis": key_analysis, "meter_analysis": meter_analysis, "tune_summary": tune_summary,
}


def tasks_for_tune(info: TuneInfo, text: str, rng: random.Random, counts: dict[str, int],
                   per_tune: int = 2, tasks: list[str] | None = None) -> list[dict]:
    """Up to `per_tune` records for a tune, preferring the tasks used least so far (balanced mix)."""
    names = list(tasks or TUNE_TASKS)
    rng.shuffle(names)
    names.sort(key=lambda n: counts.get(n, 0))
    out = []
    for name in names:
        if len(out) >= per_tune:
            break
        rec = TASK_FUNCTIONS[name](info, text, rng)
        if rec is not None:
            counts[name] = counts.get(name, 0) + 1
            out.append(rec)
    return out


def theory_records(n: int, seed: int = 0) -> list[dict]:
    """Theory Q&A records from cm_lib.theory_questions (answers computed with music21)."""
    from cm_lib.theory_questions import generate_questions

    out = []
    for q in generate_questions(n, seed=seed):
        out.append(_record("theory_qa", q.question, q.abc or "", f"{q.answer}. {q.explanation}",
                           {"kind": q.kind, "subject": q.subject, "answer": q.answer}))
    return out
