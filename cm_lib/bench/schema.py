"""The MusicTheoryBench record schema (hub fields + an optional `topic`) and its validation."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from cm_lib.errors import CourseError

LETTERS = ("A", "B", "C", "D")
SUBJECTS = ("knowledge", "reasoning")
SPLITS = ("dev", "test")
HINT = (
    "Read the following questions from the four options (A, B, C and D) given in each question. "
    "Choose the best option."
)


class BenchSchemaError(CourseError, ValueError):
    """A benchmark record that does not follow the MusicTheoryBench schema."""


@dataclass(frozen=True)
class Question:
    """One four-option question: the hub's fields, plus `topic` for per-topic breakdowns."""

    id: str | int  # the dataset's own type: the hub's ids are integers, ours strings
    stem: str
    options: dict[str, str]
    subject: str
    answer: str
    split: str = "test"
    abc_score: str = ""
    analysis: str = ""
    instruction: str = HINT
    topic: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def answer_text(self) -> str:
        """The text of the correct option."""
        return self.options[self.answer]

    def with_options(self, options: dict[str, str], answer: str) -> Question:
        """A copy with other options and answer letter (used by shuffling)."""
        return replace(self, options=dict(options), answer=answer)

    def to_record(self) -> dict[str, Any]:
        """A plain dict in the file schema (JSON-serialisable)."""
        rec = asdict(self)
        if not rec["meta"]:
            rec.pop("meta")
        return rec


_REQUIRED = ("id", "stem", "options", "subject", "answer")


def validate_record(rec: dict[str, Any], where: str = "record") -> Question:
    """Check one record against the schema and return it as a Question (BenchSchemaError if bad)."""
    if not isinstance(rec, dict):
        raise BenchSchemaError(f"{where}: expected an object, got {type(rec).__name__}")
    missing = [k for k in _REQUIRED if rec.get(k) in (None, "")]
    if missing:
        raise BenchSchemaError(f"{where}: missing field(s) {', '.join(missing)}")
    qid = rec["id"]
    if isinstance(qid, bool) or not isinstance(qid, (str, int)):
        raise BenchSchemaError(f"{where}: id must be a string or an integer (got {type(qid).__name__})")
    options = rec["options"]
    if not isinstance(options, dict) or sorted(options) != list(LETTERS):
        raise BenchSchemaError(f"{where}: options must be an object with exactly the keys A, B, C, D")
    if any(not isinstance(v, str) or not v.strip() for v in options.values()):
        raise BenchSchemaError(f"{where}: every option needs a non-empty text")
    if len({v.strip() for v in options.values()}) != 4:
        raise BenchSchemaError(f"{where}: the four options must be different")
    answer = str(rec["answer"]).strip()
    if answer not in LETTERS:
        raise BenchSchemaError(f"{where}: answer must be one of A, B, C, D (got {rec['answer']!r})")
    subject = str(rec["subject"]).strip().lower()
    if subject not in SUBJECTS:
        raise BenchSchemaError(f"{where}: subject must be knowledge or reasoning (got {rec['subject']!r})")
    split = str(rec.get("split") or "test").strip()
    if split not in SPLITS:
        raise BenchSchemaError(f"{where}: split must be dev or test (got {split!r})")
    return Question(
        id=qid,
        stem=str(rec["stem"]),
        options={k: str(options[k]) for k in LETTERS},
        subject=subject,
        answer=answer,
        split=split,
        abc_score=str(rec.get("abc_score") or ""),
        analysis=str(rec.get("analysis") or ""),
        instruction=str(rec.get("instruction") or HINT),
        topic=str(rec.get("topic") or ""),
        meta=_meta(rec.get("meta"), where),
    )


def _meta(value: Any, where: str) -> dict[str, Any]:
    """`meta`: absent, an object, or a JSON string holding an object (as in the corpus's SFT records)."""
    if value in (None, ""):
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise BenchSchemaError(f"{where}: meta must be an object or a JSON object string (got {value[:40]!r})") from None
    if not isinstance(value, dict):
        raise BenchSchemaError(f"{where}: meta must be an object (got {type(value).__name__})")
    return dict(value)


def validate_records(records: list[dict[str, Any]], source: str = "data") -> list[Question]:
    """Validate many records; ids must be unique."""
    questions = [validate_record(r, f"{source}[{i}]") for i, r in enumerate(records)]
    seen: set[str] = set()
    for q in questions:
        if q.id in seen:
            raise BenchSchemaError(f"{source}: duplicate id {q.id!r}")
        seen.add(q.id)
    return questions
