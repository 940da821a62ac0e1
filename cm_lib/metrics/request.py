"""Does an answer obey its request, and did a reader read the request right? (notebooks 04, 05)

A request is judged by the plan it truly asks for (`cm_lib.plan.record_plan` for a corpus record, the
rules reading for free text); an answer is judged on its own text, never repaired:
- key, meter: the tune's K: names the same key (tonic and mode), its M: is the requested meter;
- form: the tune's sections, read from its bar lines as the corpus reads them (a section ends at a repeat
  sign, a double or final bar line; `:|` makes it a repeated one; sections under 2 bars are dropped), have
  the repeats the form letters ask for: AABB -> two repeated sections, ABC -> three plain ones;
- chords: the requested chord symbols (repeats merged) occur in the tune's chord symbols in that order;
- motif: the tune's body starts with the motif (spaces ignored).

Denominators, one rule: every rate counts all the requests that asked for that field (valid: all
requests), whatever the model wrote and whatever the reference answer is; nothing is left out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from cm_lib.abc import check, split_tunes
from cm_lib.abc.chords import chord_symbols, chords_in_order
from cm_lib.corpus.analysis import STRUCTURAL, split_bars
from cm_lib.metrics.validity import valid_bars
from cm_lib.plan.core import Plan, form_sections, same_key
from cm_lib.stats import compare_rates, format_rate, rate

HIT_FIELDS = ("key", "meter", "form", "chords", "motif")  # what a request may ask of a tune, in table order
PLAN_FIELDS_READ = ("key", "meter", "unit", "form", "chords", "motif")  # what a reader's plan is judged on


def tune_sections(abc: str) -> list[tuple[int, bool]]:
    """(bars, repeated) per section of a tune's first voice, read from its bar lines; sections under 2 bars dropped."""
    tunes = split_tunes(abc)
    if not tunes:
        return []
    bars, seps = split_bars(tunes[0].body)
    sections: list[tuple[int, bool]] = []
    count = 0
    for sep in seps:
        count += 1
        if any(s in sep for s in STRUCTURAL) or sep.endswith("2"):
            sections.append((count, ":|" in sep or "::" in sep))
            count = 0
    if count:
        sections.append((count, False))
    return [s for s in sections if s[0] >= 2] or sections


def _header(abc: str) -> dict[str, str]:
    """The M:, L: and K: values of a text's first tune (empty strings where missing; {} without a tune)."""
    tunes = split_tunes(abc)
    return {k: (tunes[0].get(k) or "").strip() for k in ("M", "L", "K")} if tunes else {}


def _body(abc: str) -> str:
    """The tune body after the K: line, without spaces."""
    return "".join(abc.split("\n", 1)[-1].split("K:", 1)[-1].split("\n", 1)[-1].split()) if "K:" in abc else ""


def request_hits(want: Plan, abc: str | None) -> dict[str, bool]:
    """Per field the request asks for (key, meter, form, chords, motif): does the tune obey it? No tune obeys nothing."""
    asked = want.fields()
    hits: dict[str, bool] = {}
    head = _header(abc) if abc else {}
    for name in HIT_FIELDS:
        if name not in asked:
            continue
        if not abc or not head:
            hits[name] = False
        elif name == "key":
            hits[name] = same_key(head.get("K"), want.key)
        elif name == "meter":
            hits[name] = head.get("M") == want.meter
        elif name == "form":
            hits[name] = [rep for _, rep in tune_sections(abc)] == form_sections(want.form or "")
        elif name == "chords":
            hits[name] = chords_in_order(list(want.chords), chord_symbols(abc))
        else:
            hits[name] = _body(abc).startswith("".join((want.motif or "").split()).rstrip("|"))
    return hits


def request_compliance(wants: Sequence[Plan], tunes: Sequence[str | None], tasks: Sequence[str] | None = None) -> dict:
    """Valid (syntax, bars) and obeyed fields of answers to requests: rate() dicts with n and 95% intervals, per task too.

    `tunes` are the answers' ABC (None: no tune). `compliant` = bars-valid and every requested field obeyed.
    """
    if len(wants) != len(tunes):
        raise ValueError(f"{len(wants)} requests but {len(tunes)} answers")
    names = list(tasks) if tasks is not None else ["request"] * len(wants)
    rows = []
    for want, abc, task in zip(wants, tunes, names):
        syntax = bool(abc) and check(abc, "syntax").ok
        bars = bool(abc) and valid_bars(abc)
        hits = request_hits(want, abc)
        rows.append({"task": task, "syntax": syntax, "bars": bars, "hits": hits,
                     "compliant": bars and all(hits.values())})
    return {**_rates(rows), "per_task": {t: _rates([r for r in rows if r["task"] == t]) for t in dict.fromkeys(names)},
            "rows": rows}


def _rates(rows: Sequence[Mapping[str, Any]]) -> dict:
    out = {"n": len(rows), "syntax": rate(sum(r["syntax"] for r in rows), len(rows)),
           "bars": rate(sum(r["bars"] for r in rows), len(rows))}
    for name in HIT_FIELDS:
        asked = [r["hits"][name] for r in rows if name in r["hits"]]
        out[name] = rate(sum(asked), len(asked))
    out["compliant"] = rate(sum(r["compliant"] for r in rows), len(rows))
    return out


COMPLIANCE_COLUMNS = ("syntax", "bars", *HIT_FIELDS, "compliant")


def compliance_row(result: Mapping[str, Any]) -> dict[str, str]:
    """One table row of a request_compliance result: 'k/n = r% [lo, hi]' per column ('—' where nothing was asked)."""
    return {c: format_rate(result[c]) if result[c]["n"] else "—" for c in COMPLIANCE_COLUMNS}


def _same(field: str, a: Plan, b: Plan) -> bool:
    if field == "key":
        return same_key(a.key, b.key)
    return a.fields().get(field) == b.fields().get(field)


def plan_accuracy(read: Sequence[Plan], truth: Sequence[Plan]) -> dict:
    """How well a reader read requests: per field the truth asks for, read right (k/n, 95% interval); exact plans; invented fields.

    `invented` counts requests where the reader fixed a field the request leaves free (a wrong field too).
    """
    if len(read) != len(truth):
        raise ValueError(f"{len(read)} plans read but {len(truth)} true plans")
    out: dict[str, Any] = {"n": len(truth)}
    for name in PLAN_FIELDS_READ:
        pairs = [(r, t) for r, t in zip(read, truth) if name in t.fields()]
        out[name] = rate(sum(_same(name, r, t) for r, t in pairs), len(pairs))
    invented = sum(any(f not in t.fields() for f in r.fields()) for r, t in zip(read, truth))
    exact = sum(all(_same(f, r, t) for f in PLAN_FIELDS_READ) for r, t in zip(read, truth))
    out["exact"] = rate(exact, len(truth))
    out["invented"] = rate(invented, len(truth))
    return out


def compliance_reading(results: Mapping[str, Mapping[str, Any]], bound: str, alone: str) -> str:
    """Markdown lines read from request_compliance results: which rows obey each field in every answer, and how the
    plan-bound row `bound` stands to the model alone (`alone`) by their 95% intervals (notebook 04)."""
    lines = []
    for name in HIT_FIELDS:
        asked = {label: r[name] for label, r in results.items() if r[name]["n"]}
        if not asked:
            continue
        full = [label for label, r in asked.items() if r["k"] == r["n"]]
        b, a = results[bound][name], results[alone][name]
        lines.append(f"- **{name}** (n = {b['n']}): {format_rate(b)} with {bound}, {compare_rates(b, a)} {alone} "
                     f"({format_rate(a)}); every answer obeys it in: {', '.join(full) if full else 'no row'}.")
    b, a = results[bound]["bars"], results[alone]["bars"]
    lines.append(f"- **bars-valid**: {format_rate(b)} with {bound}, {compare_rates(b, a)} {alone} ({format_rate(a)}).")
    return "\n".join(lines)


ACCURACY_COLUMNS = (*PLAN_FIELDS_READ, "exact", "invented")


def accuracy_row(acc: Mapping[str, Any]) -> dict[str, str]:
    """One table row of a plan_accuracy result ('—' for a field no request asked for)."""
    return {c: format_rate(acc[c]) if acc[c]["n"] else "—" for c in ACCURACY_COLUMNS}


def accuracy_reading(before: Mapping[str, Any], after: Mapping[str, Any], what: str) -> str:
    """One markdown line per field: the reader's accuracy after SFT against before, by their 95% intervals (notebook 04)."""
    parts = [f"{name} {format_rate(after[name])} ({compare_rates(after[name], before[name])} "
             f"{format_rate(before[name])} before)" for name in (*PLAN_FIELDS_READ, "exact") if after[name]["n"]]
    return f"- **{what}**: " + "; ".join(parts) + "."
