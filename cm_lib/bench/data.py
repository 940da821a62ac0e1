"""Benchmark data: the hub's MusicTheoryBench, local JSON/JSONL/Parquet, the shipped sample, a generated set."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from cm_lib.bench.schema import LETTERS, SPLITS, BenchSchemaError, Question, validate_records
from cm_lib.errors import AssetNotFoundError
from cm_lib.paths import atomic_write_text, data_samples_dir, runs_dir

HUB_ID = "m-a-p/MusicTheoryBench"
HUB_REVISION = "main"  # pinned revision (a branch or a commit sha); the sha read is recorded beside the saved copy
HUB_MARKER = "source.json"  # written last beside questions.jsonl: the revision read and the counts
SAMPLE_FILE = "musictheorybench_sample.jsonl"


def _normalise_options(value: Any) -> Any:
    """Hub/parquet options arrive as a dict, a JSON string or a list of four texts."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return value
    if isinstance(value, (list, tuple)) and len(value) == 4:
        return dict(zip(LETTERS, value))
    return value


def records_to_questions(records: list[dict[str, Any]], source: str, split: str | None = None) -> list[Question]:
    """Validate raw records (any supported source) and keep one split (None = all)."""
    if not isinstance(records, list):
        raise BenchSchemaError(f"{source}: expected a list of records, got {type(records).__name__}")
    fixed = [{**r, "options": _normalise_options(r.get("options"))} if isinstance(r, dict) else r for r in records]
    questions = validate_records(fixed, source)
    return [q for q in questions if split is None or q.split == split]


def load_local(path: str | Path, split: str | None = None) -> list[Question]:
    """Questions from a local .json (list), .jsonl or .parquet file in the benchmark schema."""
    path = Path(path)
    if not path.is_file():
        raise AssetNotFoundError(f"benchmark file {path} does not exist")
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        records = []
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError as err:
                    raise BenchSchemaError(f"{path}:{n}: not JSON ({err})") from err
    elif suffix == ".json":
        try:
            records = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise BenchSchemaError(f"{path}: not JSON ({err})") from err
        if isinstance(records, dict):  # {"dev": [...], "test": [...]} is accepted too
            if not all(isinstance(rs, list) and all(isinstance(r, dict) for r in rs) for rs in records.values()):
                raise BenchSchemaError(f"{path}: a split object must map each split to a list of record objects")
            records = [{**r, "split": r.get("split") or k} for k, rs in records.items() for r in rs]
        if not isinstance(records, list):
            raise BenchSchemaError(f"{path}: expected a list of records")
    elif suffix == ".parquet":
        import pyarrow.parquet as pq

        records = pq.read_table(path).to_pylist()
    else:
        raise BenchSchemaError(f"{path}: use .json, .jsonl or .parquet")
    return records_to_questions(records, str(path), split)


def load_sample(split: str | None = None) -> list[Question]:
    """The course's own 26 questions (5 dev, 21 test) in data_samples/; notebook 06."""
    return load_local(data_samples_dir() / SAMPLE_FILE, split)


def hub_copy_dir(revision: str | None = None) -> Path:
    """runs/hub/m-a-p__MusicTheoryBench/<revision>/: where load_hub keeps the questions it read (reused offline)."""
    requested = revision or HUB_REVISION
    return runs_dir() / "hub" / HUB_ID.replace("/", "__") / requested.replace("/", "__")


def load_hub(split: str | None = "test", revision: str | None = None) -> list[Question]:
    """MusicTheoryBench from the Hugging Face Hub at a pinned revision (dev + test), kept under runs/hub for offline reruns."""
    from cm_lib.hub import hub_errors, require_hub, resolve_revision

    folder = hub_copy_dir(revision)
    if (folder / HUB_MARKER).is_file():
        return load_local(folder / "questions.jsonl", split)
    require_hub(f"the dataset {HUB_ID} (no copy saved under runs/hub yet)",
                "--data sample, --data generated or a local file")
    from datasets import load_dataset

    sha = resolve_revision(HUB_ID, revision or HUB_REVISION)
    records: list[dict[str, Any]] = []
    with hub_errors(HUB_ID):
        for name in SPLITS:
            for row in load_dataset(HUB_ID, split=name, revision=sha):
                rec = dict(row)
                rec["split"] = rec.get("split") or name
                records.append(rec)
    questions = records_to_questions(records, HUB_ID)
    save_jsonl(questions, folder / "questions.jsonl")
    counts = {s: sum(q.split == s for q in questions) for s in SPLITS}
    atomic_write_text(folder / HUB_MARKER, json.dumps({"dataset": HUB_ID, "requested_revision": revision or HUB_REVISION,
                                                       "revision": sha, "questions": counts}, indent=2) + "\n")
    return [q for q in questions if split is None or q.split == split]


def generated_questions(n: int = 400, seed: int = 0, kinds: list[str] | None = None, n_dev: int = 5) -> list[Question]:
    """A verifiable set from cm_lib.theory_questions in the benchmark schema: n test + n_dev dev questions; notebook 06.

    Options are the answer and three distractors, shuffled by (seed, index); the answer letter
    follows the correct text. The theory kind is kept as `topic`.
    """
    from cm_lib.theory_questions import generate_questions

    raw = generate_questions(n + n_dev, seed=seed, kinds=kinds)
    out: list[Question] = []
    for i, tq in enumerate(raw):
        texts = [str(tq.answer), *[str(d) for d in tq.distractors]]
        if len(texts) != 4 or len(set(texts)) != 4:
            raise BenchSchemaError(f"generated question {i} ({tq.kind}) needs 3 distinct distractors")
        random.Random(f"gen:{seed}:{i}").shuffle(texts)
        options = dict(zip(LETTERS, texts))
        answer = LETTERS[texts.index(str(tq.answer))]
        out.append(
            Question(
                id=f"gen-{seed}-{i:04d}",
                stem=tq.question,
                options=options,
                subject=tq.subject,
                answer=answer,
                split="dev" if i < n_dev else "test",
                abc_score=tq.abc or "",
                analysis=tq.explanation,
                topic=tq.kind,
                meta=dict(getattr(tq, "meta", {}) or {}),
            )
        )
    return out


def load_questions(data: str, split: str | None = "test", n_generated: int = 400, seed: int = 0) -> list[Question]:
    """Resolve a --data value: hub | sample | generated | sample+generated | a file path; notebook 06."""
    if data == "hub":
        return load_hub(split)
    if data == "sample":
        return load_sample(split)
    if data == "generated":
        qs = generated_questions(n_generated, seed=seed)
        return [q for q in qs if split is None or q.split == split]
    if data == "sample+generated":
        qs = load_sample() + generated_questions(n_generated, seed=seed)
        return [q for q in qs if split is None or q.split == split]
    return load_local(data, split)


def dev_questions(data: str, seed: int = 0) -> list[Question]:
    """The 5 few-shot examples belonging to a --data source (its dev split); notebook 06."""
    if data == "hub":
        return load_hub("dev")
    if data in ("sample", "sample+generated"):
        return load_sample("dev")
    if data == "generated":
        return generated_questions(0, seed=seed)
    dev = load_local(data, "dev")
    return dev if dev else load_sample("dev")


def save_jsonl(questions: list[Question], path: str | Path) -> Path:
    """Write questions as JSONL in the benchmark schema."""
    return atomic_write_text(path, "".join(json.dumps(q.to_record(), ensure_ascii=False) + "\n" for q in questions))
