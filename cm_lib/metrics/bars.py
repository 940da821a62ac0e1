"""Bar-duration consistency (notebook 05): how many full bars last exactly what the meter asks.

For each voice with a meter, the *candidate* bars are all bars except: the first bar when it is shorter
than the meter (a pickup), the last bar when it is shorter (the final bar completing the pickup), and
bars holding only multi-bar rests (Z), which last the meter by definition. Also allowed: a short bar
that ends a section together with the short bar that starts the next one when their durations add up
to the meter (``A2 :| |: B``), and a short bar ending a section that completes the tune's pickup
(pickup ``G`` in 4/4, section ending ``A3 :|``). Then

    bar_consistency = #(candidate bars with duration == meter) / #(candidate bars)

pooled over voices (``bar_consistency_per_voice`` gives each voice's own ratio). None when there is no
candidate bar (free meter, no bars).
"""

from __future__ import annotations

from cm_lib.metrics.events import Bar, TuneData


def _voice_counts(bars: list[Bar]) -> tuple[int, int]:
    """(full bars matching the meter, candidate bars) of one voice."""
    ok = total = 0
    n = len(bars)
    first = bars[0] if bars else None
    pickup = first.duration if first and first.measure is not None and first.duration < first.measure else 0
    for i, b in enumerate(bars):
        if b.measure is None or b.only_mrest:
            continue
        if b.duration < b.measure and (i == 0 or i == n - 1):
            continue  # pickup / final bar
        total += 1
        if b.duration == b.measure:
            ok += 1
            continue
        if b.duration < b.measure:
            if b.right_section and pickup and b.duration + pickup == b.measure:
                ok += 1  # a section's last bar completing the tune's pickup
                continue
            nxt = bars[i + 1] if i + 1 < n else None
            prv = bars[i - 1] if i > 0 else None
            if (nxt is not None and b.right_section and nxt.measure == b.measure
                    and b.duration + nxt.duration == b.measure):
                ok += 1
            elif (prv is not None and prv.right_section and prv.measure == b.measure
                  and prv.duration + b.duration == b.measure):
                ok += 1
    return ok, total


def bar_consistency_per_voice(data: TuneData) -> dict[str, float | None]:
    """Voice -> share of its candidate bars whose duration equals the meter (None: no candidate)."""
    out: dict[str, float | None] = {}
    for vid, bars in data.bars.items():
        ok, total = _voice_counts(bars)
        out[vid] = ok / total if total else None
    return out


def bar_consistency(data: TuneData) -> float | None:
    """Share of candidate bars (all voices) whose duration equals the meter; None when there is none."""
    ok = total = 0
    for bars in data.bars.values():
        a, b = _voice_counts(bars)
        ok, total = ok + a, total + b
    return ok / total if total else None
