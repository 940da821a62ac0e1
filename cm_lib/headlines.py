"""Each stage's headline numbers, read from the figures the notebooks record (runs/summary/<stage>.json), as rows.

`cm_lib.course.format_summary` puts them in one table in runs/summary.md: a person reads that table, machines read
the JSON files. Each stage (the notebook's number: 01-06) has one function that picks its headline figures; a figure
whose keys a summary lacks is left out, and keys no function reads never reach the table.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from cm_lib.stats import format_mean, format_rate

Row = tuple[str, str]  # (figure, value)


def _is_rate(d: Any) -> bool:
    return isinstance(d, Mapping) and {"k", "n", "rate", "ci95"} <= set(d)


def _is_mean(d: Any) -> bool:
    return isinstance(d, Mapping) and {"mean", "ci95"} <= set(d)


def _get(d: Any, *path: str) -> Any:
    """d[path[0]][path[1]]..., or None where a key is missing."""
    for key in path:
        if not isinstance(d, Mapping) or key not in d:
            return None
        d = d[key]
    return d


def _pct(x: Any) -> str | None:
    return f"{100 * x:.1f}%" if isinstance(x, (int, float)) else None


def _rates(d: Mapping[str, Any], names: tuple[str, ...], labels: Mapping[str, str] | None = None) -> str | None:
    """'key 12/80 = 15% [9%, 24%]; meter ...' for the rate() dicts of `names` that `d` holds."""
    parts = [f"{(labels or {}).get(n, n)} {format_rate(d[n])}" for n in names if _is_rate(d.get(n))]
    return "; ".join(parts) or None


def _runs(s: Mapping[str, Any], runs: tuple[tuple[str, str], ...]) -> str | None:
    """'composer SFT 120 steps in 620 s; ...' from <prefix>_steps and <prefix>_seconds."""
    parts = [f"{label} {s[p + '_steps']} steps in {s[p + '_seconds']:.0f} s" for p, label in runs
             if isinstance(s.get(p + "_steps"), int) and isinstance(s.get(p + "_seconds"), (int, float))]
    return "; ".join(parts) or None


def _abc(s: Mapping[str, Any]) -> list[tuple[str, str | None]]:
    checked, tunes = s.get("checked_tunes"), s.get("corpus_tunes")
    tokens, per = s.get("tokens_per_tune_smollm2"), s.get("chars_per_token_smollm2")
    syntax, bars = _pct(s.get("syntax_pass_rate")), _pct(s.get("bars_pass_rate"))
    return [
        ("tunes checked", f"{checked:,} of the corpus's {tunes:,}" if isinstance(checked, int) and isinstance(tunes, int)
         else None),
        ("pass the checker: syntax / bars", f"{syntax} / {bars}" if syntax and bars else None),
        ("SmolLM2 tokens per tune", f"{tokens:.0f} ({per:.2f} characters a token)"
         if isinstance(tokens, (int, float)) and isinstance(per, (int, float)) else None),
    ]


def _corpus(s: Mapping[str, Any]) -> list[tuple[str, str | None]]:
    kept, seen = s.get("tunes_kept"), s.get("tunes_in")
    extra = ", ".join(f"{s[k]:,} {w}" for k, w in (("rejected", "rejected"), ("duplicates_removed", "duplicates removed"))
                      if isinstance(s.get(k), int))
    pre, sft = _get(s, "pretrain_records", "train"), _get(s, "sft_records", "train")
    return [
        ("tunes kept", f"{kept:,} of {seen:,}" + (f" ({extra})" if extra else "")
         if isinstance(kept, int) and isinstance(seen, int) else None),
        ("training records: pre-training / SFT", f"{pre:,} / {sft:,}" if isinstance(pre, int) and isinstance(sft, int)
         else None),
        ("ABC share of the characters", _pct(_get(s, "shares_chars", "scores"))),
    ]


def _change(before_after: Any, change: Any) -> str | None:
    if not _is_mean(change):
        return None
    head = (f"{before_after[0]:.3f} -> {before_after[1]:.3f}, " if isinstance(before_after, list)
            and len(before_after) == 2 else "")
    return f"{head}change {format_mean(change, 3)} (n = {change.get('n')})"


def _cpt(s: Mapping[str, Any]) -> list[tuple[str, str | None]]:
    loss = s.get("composer_loss")
    return [
        ("composer's samples", _rates(s.get("composer_generation") or {}, ("syntax", "bars", "ended"),
                                      {"syntax": "syntax-valid", "bars": "bars-valid"})),
        ("composer's samples, constrain='bars'", _rates(s.get("composer_bars_constrained") or {}, ("bars",),
                                                        {"bars": "bars-valid"})),
        ("composer's training loss", f"{loss[0]:.2f} -> {loss[1]:.2f}" if isinstance(loss, list) and len(loss) == 2
         else None),
        ("SmolLM2 bits/char on held-out ABC", _change(s.get("abc_bits_per_char"), s.get("abc_change"))),
        ("SmolLM2 bits/char on English prose (forgetting)", _change(s.get("prose_bits_per_char"), s.get("prose_change"))),
        ("training", _runs(s, (("composer", "composer"), ("cpt", "SmolLM2 LoRA")))),
    ]


_SFT_RESULT = re.compile(r"^(?P<label>.+)_(?P<measure>valid|syntax|key|meter|copy_test_saved)$")
# Trained answers only: not the baselines (before SFT, the base model, CPT alone) nor the reader's header-only answers.
_HEADLINE = re.compile(r"after SFT|\+ ?SFT|reads|grammar|constrain")


def _sft(s: Mapping[str, Any]) -> list[tuple[str, str | None]]:
    by_label: dict[str, dict[str, Any]] = {}
    for key, value in s.items():
        m = _SFT_RESULT.match(key)
        if m and _HEADLINE.search(m["label"]) and not m["label"].startswith("reader"):
            by_label.setdefault(m["label"], {})[m["measure"]] = value
    rows: list[tuple[str, str | None]] = []
    for label, measures in by_label.items():
        if "key" in measures:
            rows.append((f"{label}: requests obeyed", _rates(measures, ("valid", "syntax", "key", "meter"),
                                                             {"valid": "valid ABC", "syntax": "valid ABC"})))
    copies = [f"{label} {format_mean(m['copy_test_saved'])}" for label, m in by_label.items()
              if _is_mean(m.get("copy_test_saved"))]
    rows.append(("copy test: nats saved on a repeated string", "; ".join(copies) or None))
    rows.append(("training", _runs(s, (("composer_sft", "composer SFT"), ("sft", "SmolLM2 LoRA SFT"),
                                       ("reader", "SmolLM2 header SFT")))))
    return rows


def _generate(s: Mapping[str, Any]) -> list[tuple[str, str | None]]:
    rows: list[tuple[str, str | None]] = []
    for mode, r in (s.get("constrained") or {}).items():
        if isinstance(r, Mapping):
            rows.append((f"composer's tunes, constrain='{mode}'", _rates(
                r, ("valid_syntax", "valid_bars"), {"valid_syntax": "syntax-valid", "valid_bars": "bars-valid"})))
    for label, r in (s.get("requests") or {}).items():
        if isinstance(r, Mapping):
            rows.append((f"requests, {label}", _rates(r, ("key", "meter", "compliant"),
                                                      {"compliant": "every request obeyed"})))
    jsd = s.get("jsd_sft_vs_real")
    if isinstance(jsd, Mapping) and jsd:
        rows.append(("JSD of the SFT composer's tunes vs real ones (0: same distribution)",
                     ", ".join(f"{k} {v:.3f}" for k, v in jsd.items() if isinstance(v, (int, float))) or None))
    copies = [f"{m} {format_rate(r['copy'])}" for m, r in (s.get("memorisation") or {}).items()
              if isinstance(r, Mapping) and _is_rate(r.get("copy"))]
    rows.append(("copies of a training tune", "; ".join(copies) or None))
    return rows


def _bench(s: Mapping[str, Any]) -> list[tuple[str, str | None]]:
    acc, ci = s.get("ppl_accuracy") or {}, s.get("ppl_ci95") or {}
    parts = []
    for model, by in acc.items():
        overall, lohi = _get(by, "overall"), _get(ci, model, "overall")
        if isinstance(overall, (int, float)) and isinstance(lohi, list) and len(lohi) == 2:
            parts.append(f"{model} {100 * overall:.0f}% [{100 * lohi[0]:.0f}%, {100 * lohi[1]:.0f}%]")
    n, shuffles = s.get("n_test"), s.get("shuffles")
    of = f" ({n} questions" + (f" x {shuffles} orders" if isinstance(shuffles, int) and shuffles > 1 else "") + ")" \
        if isinstance(n, int) else ""
    gen, gen_n = s.get("generated_overall"), s.get("generated_n")
    topics = s.get("topics_above_baselines")
    return [
        ("MusicTheoryBench accuracy, ppl mode" + of, "; ".join(parts) or None),
        ("generated questions, accuracy", f"{100 * gen:.0f}% of {gen_n}" if isinstance(gen, (int, float))
         and isinstance(gen_n, int) else None),
        ("topics above every baseline", (", ".join(map(str, topics)) or "none") if isinstance(topics, list) else None),
    ]


STAGES: dict[str, tuple[str, Callable[[Mapping[str, Any]], list[tuple[str, str | None]]]]] = {
    "01": ("01 ABC", _abc), "02": ("02 corpus", _corpus), "03": ("03 CPT", _cpt),
    "04": ("04 SFT", _sft), "05": ("05 generation", _generate), "06": ("06 MusicTheoryBench", _bench),
}


def headline_rows(stage: str, summary: Mapping[str, Any]) -> list[Row]:
    """(figure, value) rows of one stage's summary (e.g. stage "03_cpt"); [] for a stage without headlines."""
    picked = STAGES.get(stage[:2])
    if picked is None or not isinstance(summary, Mapping):
        return []
    return [(figure, value) for figure, value in picked[1](summary) if value]


def headlines_table(summaries: Mapping[str, Mapping[str, Any]]) -> str:
    """One markdown table of every stage's headline numbers (runs/summary.md); a stage without any names its JSON."""
    lines = ["| stage | figure | value |", "|---|---|---|"]
    for stage, summary in summaries.items():
        rows = headline_rows(stage, summary)
        name = STAGES[stage[:2]][0] if stage[:2] in STAGES else stage
        if not rows:
            rows = [("(no headline figures)", f"runs/summary/{stage}.json")]
        lines += [f"| {name} | {figure} | {value.replace('|', '/')} |" for figure, value in rows]
    return "\n".join(lines)
