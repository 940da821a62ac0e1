"""The rules reader (notebooks 04, 05): a request's plan read by patterns, and the plan a corpus record truly asks for.

`rules_plan(text)` first matches the request's instruction against the course's own request templates
(cm_lib.corpus.tasks.TEMPLATES, turned into regular expressions: exact on them), then falls back to
generic patterns (a key with its mode, a meter such as 6/8, form letters, a chord line, an ABC opening).
It is a baseline for the SFT'd SmolLM2 reader, and what the studio's form fills in directly.

`record_plan(record)` is the truth for a corpus record: the fields its `meta` says it asked for (plus
the motif's unit length, in which its notes are written). Nothing here repairs a reader's plan.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from cm_lib.chat import record_prompt
from cm_lib.corpus.tasks import GENERATION_TASKS, TEMPLATES, record_meta
from cm_lib.errors import UsageError
from cm_lib.plan.core import PLAN_FIELDS, Plan, make_plan, plan_text

_MODES = "major|minor|dorian|mixolydian|phrygian|lydian|locrian|aeolian|ionian"
_GROUPS = {
    "key": rf"(?P<key>[A-G](?:#|b)? (?:{_MODES}))",
    "meter": r"(?P<meter>\S+?)",
    "form": r"(?P<form>[A-Z]+)",
    "chords": r"(?P<chords>.+?)",
    "title": r"(?P<title>.*?)",
}


@lru_cache(maxsize=1)
def template_patterns() -> list[tuple[str, re.Pattern[str]]]:
    """(task, compiled pattern) for every template of the generation tasks: the template text, each {field} a group."""
    out = []
    for task in GENERATION_TASKS:
        for template in TEMPLATES[task]:
            pattern = re.escape(template)
            for name, group in _GROUPS.items():
                pattern = pattern.replace(re.escape("{" + name + "}"), group, 1)
            out.append((task, re.compile(pattern)))
    return out


_KEY_WORDS = re.compile(rf"\b([A-G])(?:\s*(#|b|♯|♭|-sharp|-flat| sharp| flat))?[ -]({_MODES})\b", re.IGNORECASE)
_METER = re.compile(r"(?<![\d/])(\d{1,2}/\d{1,2})(?![\d/])")
_METER_WORDS = {"common time": "C", "cut time": "C|", "alla breve": "C|"}
_FORM = re.compile(r"\b(A[A-H]{1,7})\b")
_CHORD = r"[A-G][#b]?(?:m|7|m7|maj7|dim|aug|sus4|6|m6|9)?"
_CHORD_LINE = re.compile(rf"(?<![\w\"])(\"?{_CHORD}\"?(?:\s*[|,;-]?\s*\"?{_CHORD}\"?){{1,}})(?![\w\"])")
_HEADER_LINE = re.compile(r"^\s*([A-Za-z]):\s*(.*?)\s*$")


def _fragment(text: str) -> tuple[dict[str, str], str | None]:
    """(header fields, body) of an ABC fragment in the request: lines from an X:/M:/L:/K: field on; body None without one."""
    lines = text.replace("\r\n", "\n").split("\n")
    start = next((i for i, line in enumerate(lines) if re.match(r"^\s*[XMLK]:", line)), None)
    if start is None:
        return {}, None
    fields: dict[str, str] = {}
    body: list[str] = []
    in_body = False
    for line in lines[start:]:
        m = _HEADER_LINE.match(line)
        if not in_body and m:
            fields.setdefault(m.group(1), m.group(2))
            in_body = m.group(1) == "K"
            continue
        if line.strip():
            in_body = True
            body.append(line.strip())
    return fields, " ".join(body) or None


def _key_in_words(text: str) -> str | None:
    m = _KEY_WORDS.search(text)
    if not m:
        return None
    acc = {"#": "#", "♯": "#", "-sharp": "#", " sharp": "#", "b": "b", "♭": "b", "-flat": "b", " flat": "b"}.get(
        (m.group(2) or "").lower(), "")
    return f"{m.group(1).upper()}{acc} {m.group(3).lower()}"


def _meter_in_words(text: str) -> str | None:
    m = _METER.search(text)
    if m:
        return m.group(1)
    low = text.lower()
    return next((v for k, v in _METER_WORDS.items() if k in low), None)


def _chords_in_words(text: str) -> list[str]:
    m = re.search(r"(?i)(?:chord|progression|changes|harmony)[^:]*:\s*(.+)", text)
    if not m:
        return []
    found = _CHORD_LINE.search(m.group(1))
    return re.findall(_CHORD, found.group(1)) if found else []


def rules_plan(text: str) -> Plan:
    """The plan of a request's text: its instruction against the course's templates, else generic patterns (notebook 04)."""
    fields, body = _fragment(text)
    instruction = text.strip().split("\n", 1)[0].strip()
    for task, pattern in template_patterns():
        m = pattern.fullmatch(instruction)
        if not m:
            continue
        got = m.groupdict()
        if task == "motif_continuation":
            return make_plan(key=fields.get("K"), meter=fields.get("M"), unit=fields.get("L"), motif=body)
        chords = [c.strip() for c in got["chords"].split("|")] if got.get("chords") else None
        return make_plan(key=got.get("key"), meter=got.get("meter"), form=got.get("form"), chords=chords)
    prose = text if body is None else text[: text.find("\n")] if "\n" in text else text
    form = _FORM.search(prose) if re.search(r"(?i)\b(form|structure|sections?|parts?)\b", prose) else None
    return make_plan(key=_key_in_words(prose) or fields.get("K"), meter=_meter_in_words(prose) or fields.get("M"),
                     unit=fields.get("L") if body else None, form=form.group(1) if form else None,
                     chords=_chords_in_words(prose), motif=body)


def record_plan(record: Mapping[str, Any]) -> Plan:
    """The plan a corpus record asks for, from its `meta` (the truth a reader is judged against); notebook 04.

    A motif record asks for "the same key and meter" as its opening: the opening's M:, L: and K: as the request
    shows them (the unit length too: the motif's notes are written in it). The corpus' opening header keeps only
    the first word of a key field ("K:E Minor" -> "K:E", `TuneInfo.fragment_header`), so for 31 of 581 motif
    records this differs from `meta["key"]`: the request is judged by what it says.
    """
    meta = record_meta(record)
    key, meter, unit = meta.get("key"), meta.get("meter"), None
    if meta.get("motif"):  # "the same key and meter" as the opening: its header as the request shows it
        head = _fragment(str(record.get("input") or ""))[0]
        key, meter, unit = head.get("K") or key, head.get("M") or meter, head.get("L")
    chords = meta.get("chords") if isinstance(meta.get("chords"), list) else None
    return make_plan(key=key, meter=meter, unit=unit, form=meta.get("form"), chords=chords, motif=meta.get("motif"))


def request_text(record: Mapping[str, Any]) -> str:
    """The request as a reader sees it: the instruction, then the input (cm_lib.chat.record_prompt)."""
    return record_prompt(record)


REPHRASED_FILE = "rephrased_requests.jsonl"  # cm_lib/data: hand-written requests no template produced (held out)


def load_requests(path: Any) -> list[dict[str, Any]]:
    """Requests from a JSON-lines file, one {"request": text} a line, optionally "task" and "expected" plan fields.

    Returns {"request", "task", "expected"} dicts ("expected": a Plan via make_plan, or None); a line that is not
    such an object is a UsageError naming the line.
    """
    p = Path(path)
    if not p.is_file():
        raise UsageError(f"no requests file at {p}")
    out = []
    for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise UsageError(f"{p}:{n}: not JSON ({err.msg})") from None
        if not isinstance(row, dict) or not isinstance(row.get("request"), str) or not row["request"].strip():
            raise UsageError(f'{p}:{n}: each line must be an object with a "request" text, e.g. {{"request": "..."}}')
        expected = row.get("expected")
        if expected is not None:
            unknown = sorted(set(expected) - set(PLAN_FIELDS)) if isinstance(
                expected, dict) else ["(not an object)"]
            if unknown:
                raise UsageError(f"{p}:{n}: unknown expected plan field(s) {unknown}")
            expected = make_plan(**expected)
        out.append({"request": row["request"], "task": row.get("task"), "expected": expected})
    return out


def rephrased_requests() -> list[dict[str, Any]]:
    """The hand-written rephrasings of the generation requests, with the plan each asks for (held out of training); notebook 04."""
    from importlib import resources

    return load_requests(resources.files("cm_lib") / "data" / REPHRASED_FILE)


def plan_answer(record: Mapping[str, Any]) -> str | None:
    """The plan a generation record asks for, as the reader answers it (plan_text); None when it asks nothing (notebook 04).

    A view of the whole record, not of its answer: the plan comes from what the request asks (`record_plan`).
    """
    return plan_text(record_plan(record)) or None


plan_answer.reads_record = True  # type: ignore[attr-defined]  # cm_lib.train.trainer passes the record, not its answer
