"""SFT answers against their requests (notebooks 04/05): validity, and key/meter/form/chords/motif obeyed.

A record's request is what the corpus wrote in its `meta` (`cm_lib.corpus.tasks.requested`); the answer's
key, meter and form are measured as the corpus measured its own answers (`cm_lib.corpus.analysis.tune_attributes`);
chord symbols are read with the one chord-symbol grammar (`cm_lib.abc.chords`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from cm_lib.abc import check
from cm_lib.abc.chords import chord_symbols, chords_in_order
from cm_lib.corpus.analysis import tune_attributes
from cm_lib.corpus.tasks import REQUEST_FIELDS, requested
from cm_lib.stats import format_rate, rate

COMPLIANCE_FIELDS = REQUEST_FIELDS  # every field a record may request is scored


def _norm(value: Any) -> str:
    """Compare-friendly text: lower case, no spaces."""
    return "".join(str(value).lower().split())


def _sections(form: str) -> int:
    """Number of sections of a form string ('AABB' -> 4)."""
    return sum(ch.isalpha() for ch in str(form))


def _body(abc: str) -> str:
    """The tune body after the K: line, without spaces."""
    return "".join(abc.split("\n", 1)[-1].split("K:", 1)[-1].split("\n", 1)[-1].split()) if "K:" in abc else ""


def _answer_is_tune(record: Mapping[str, Any]) -> bool:
    """Whether the reference answer of a record is an ABC tune (generation-type tasks)."""
    from cm_lib.generate import extract_abc

    out = record.get("output") or record.get("completion") or ""
    return extract_abc(str(out)) is not None and "K:" in str(out)


def _hits(want: Mapping[str, str], abc: str | None, got: Mapping[str, str] | None) -> dict[str, bool]:
    """Per requested attribute: obeyed? (form: same number of sections; chords: in order; motif: the tune starts with it)."""
    hits = {}
    for k, v in want.items():
        if not abc:
            hits[k] = False
        elif k == "chords":
            hits[k] = chords_in_order(v.split(), chord_symbols(abc))
        elif k == "motif":
            hits[k] = _body(abc).startswith("".join(v.split()).rstrip("|"))
        elif k == "form":
            hits[k] = bool(got) and _sections(got["form"]) == _sections(v)
        else:
            hits[k] = bool(got) and _norm(got[k]) == _norm(v)
    return hits


def sft_compliance(records: Sequence[Mapping[str, Any]], generations: Sequence[str],
                   level: str = "syntax") -> dict:
    """Validity of generated tunes (cm_lib.abc.check) and how often requested key/meter/form/chords/motif are obeyed.

    Rates come as fractions (`valid_rate`, `key_rate`, ...) and with counts and Wilson 95% intervals
    (`valid`, `key`, ... as rate() dicts), overall and per task type. Form counts as obeyed when the
    tune has the requested number of sections.
    """
    from cm_lib.generate import extract_abc
    from cm_lib.metrics.validity import valid_bars

    if len(records) != len(generations):
        raise ValueError(f"{len(records)} records but {len(generations)} generations")
    tune_n = valid = 0
    asked = {k: 0 for k in COMPLIANCE_FIELDS}
    obeyed = {k: 0 for k in COMPLIANCE_FIELDS}
    all_ok = with_request = 0
    per_task: dict[str, dict[str, int]] = {}
    rows = []
    for rec, gen in zip(records, generations):
        task = str(rec.get("task", "?"))
        stats = per_task.setdefault(task, {"n": 0, "valid": 0, "compliant": 0, "requests": 0,
                                           **{f"{k}_asked": 0 for k in COMPLIANCE_FIELDS},
                                           **{f"{k}_obeyed": 0 for k in COMPLIANCE_FIELDS}})
        stats["n"] += 1
        if not _answer_is_tune(rec):
            rows.append({"task": task, "tune_task": False})
            continue
        tune_n += 1
        abc = extract_abc(gen or "")
        ok = bool(abc) and (valid_bars(abc) if level == "bars" else check(abc, level).ok)
        valid += ok
        stats["valid"] += ok
        want = requested(rec)
        got = tune_attributes(abc) if abc else None
        hits = _hits(want, abc, got)
        for k, hit in hits.items():
            asked[k] += 1
            obeyed[k] += hit
            stats[f"{k}_asked"] += 1
            stats[f"{k}_obeyed"] += hit
        if want:
            with_request += 1
            stats["requests"] += 1
            compliant = ok and all(hits.values())
            all_ok += compliant
            stats["compliant"] += compliant
        rows.append({"task": task, "tune_task": True, "valid": ok, "requested": want, "got": got, "hits": hits})
    frac = lambda a, b: round(a / b, 4) if b else None  # noqa: E731
    return {
        "n": len(records), "tune_tasks": tune_n, "valid_rate": frac(valid, tune_n),
        **{f"{k}_rate": frac(obeyed[k], asked[k]) for k in COMPLIANCE_FIELDS},
        "compliance_rate": frac(all_ok, with_request),
        "valid": rate(valid, tune_n), **{k: rate(obeyed[k], asked[k]) for k in COMPLIANCE_FIELDS},
        "compliant": rate(all_ok, with_request), "per_task": per_task, "rows": rows,
    }


def compliance_table(scores: Mapping[str, Mapping[str, Any]]) -> list[dict]:
    """Rows (model, task, measure, k/n = rate [95% interval]) of several sft_compliance results, per task type."""
    out = []
    for model, sc in scores.items():
        for task, st in sc["per_task"].items():
            row = {"model": model, "task": task, "valid": format_rate(rate(st["valid"], st["n"]))}
            for k in COMPLIANCE_FIELDS:
                if st[f"{k}_asked"]:
                    row[k] = format_rate(rate(st[f"{k}_obeyed"], st[f"{k}_asked"]))
            row["all requested"] = format_rate(rate(st["compliant"], st["requests"]))
            out.append(row)
    return out
