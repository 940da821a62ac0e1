"""Sentences for notebooks, computed from results and their intervals (notebooks 03, 04)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cm_lib.stats import format_mean, interval_sign


def reliance_reading(name: str, r: Mapping[str, Any]) -> str:
    """One sentence on a prompt_reliance() result, read from its interval (notebook 04)."""
    gain, side = r["gain"], interval_sign(r["gain"])
    lo, hi = gain["ci95"]
    if side == "positive":
        text = f"reads its request: the right one saves {format_mean(gain)} bits per header-value token"
    elif side == "negative":
        text = f"is *misled* by its request ({format_mean(gain)} bits per header-value token)"
    else:
        text = (f"shows no sign of reading its request: the right one saves {gain['mean']:.2f} bits per header-value "
                f"token, 95% interval [{lo:.2f}, {hi:.2f}], which includes 0")
    return f"The **{name}** {text} (n = {r['n']})."


def copy_reading(name: str, c: Mapping[str, Any]) -> str:
    """One sentence on a copy_test() result: copies (second copy under half the first's cost), a little, or not (notebook 04)."""
    first, second = c["first_copy_nats"]["mean"], c["second_copy_nats"]["mean"]
    if interval_sign(c["saved"]) != "positive":
        text = (f"does not copy: {second:.2f} nats per token for the second copy against {first:.2f}, "
                f"a saving of {format_mean(c['saved'])}")
    elif second < 0.5 * first:
        text = f"copies: the second copy costs {second:.2f} nats per token against {first:.2f} for the first"
    else:
        text = f"copies a little: {second:.2f} nats per token for the second copy against {first:.2f}"
    return f"The **{name}** {text} (n = {c['n']} strings)."


def runs_reading(measured: Mapping[str, Mapping[str, int]], n: int | Mapping[str, int],
                 own: Mapping[str, Mapping[str, Any]], own_label: str = "your run") -> tuple[dict[str, dict[str, str]], str]:
    """Your run's rates beside the same recipe trained again (other seeds, other CPUs): a table and a computed reading (notebooks 03, 04).

    `measured` maps a run's label to {measure: successes}, each out of `n` (one n, or one per measure);
    `own` maps the same measures to rate() dicts. A measure's span is the lowest to highest measured rate;
    the reading says whether your rate lies in it, beside the width of one run's 95% interval, and names
    the measures whose span is wider than that interval (there one run cannot tell two recipes apart).
    """
    measures = list(own)
    count = {m: int(n if isinstance(n, int) else n[m]) for m in measures}
    table = {label: {m: f"{r[m]}/{count[m]}" for m in measures} for label, r in measured.items()}
    table[own_label] = {m: f"{own[m]['k']}/{own[m]['n']}" for m in measures}
    lines, wide = [], []
    for m in measures:
        rates = [100 * r[m] / count[m] for r in measured.values()]
        lo, hi, mine = min(rates), max(rates), own[m]
        span = f"the {len(rates)} runs span {lo:.0f}-{hi:.0f}% (n = {count[m]} each)"
        if not mine["n"]:
            lines.append(f"- **{m}**: {span}; yours has n = 0.")
            continue
        width = 100 * (mine["ci95"][1] - mine["ci95"][0])
        pct = 100 * mine["k"] / mine["n"]  # not the rounded mine["rate"]: 1/18 must match a measured 1/18
        inside = "inside" if lo - 1e-9 <= pct <= hi + 1e-9 else "outside"
        lines.append(f"- **{m}**: {span}; one run's 95% interval is {width:.0f} points wide; yours, "
                     f"{mine['k']}/{mine['n']} = {pct:.0f}%, is {inside} the span.")
        if hi - lo > width:
            wide.append(m)
    lines.append(f"- The runs spread wider than one run's interval for: {', '.join(wide)}." if wide else
                 "- For every measure the runs spread less than one run's interval.")
    return table, "\n".join(lines)
