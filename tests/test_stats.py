"""cm_lib.stats: Wilson intervals, rates, means with intervals, and the words notebooks print from them."""

from __future__ import annotations

import pytest

from cm_lib.stats import (
    accuracy_interval,
    bootstrap_mean,
    compare_rates,
    format_rate,
    mean_interval,
    paired_change,
    rate,
    rate_of,
    versus_target,
    wilson_interval,
)


def test_wilson_interval_values() -> None:
    lo, hi = wilson_interval(10, 20)
    assert (round(lo, 4), round(hi, 4)) == (0.2993, 0.7007)
    assert wilson_interval(0, 21) == (0.0, pytest.approx(3.841459 / (21 + 3.841459), abs=1e-6))
    assert wilson_interval(21, 21)[0] == pytest.approx(21 / (21 + 3.841459), abs=1e-6)
    lo, hi = wilson_interval(98, 367)
    assert (round(lo, 4), round(hi, 4)) == (0.2244, 0.3145)


def test_rates_carry_n_and_a_wilson_interval() -> None:
    r = rate(17, 20)
    assert (r["k"], r["n"], r["rate"]) == (17, 20, 0.85)
    assert r["ci95"] == [0.6396, 0.9476]
    assert format_rate(r) == "17/20 = 85% [64%, 95%]"
    assert rate(0, 0)["rate"] is None and format_rate(rate(0, 0)) == "n = 0"


def test_versus_target_reads_the_interval_not_the_point() -> None:
    assert versus_target(rate(95, 100), 0.8) == "above"  # [0.888, 0.978]
    assert versus_target(rate(40, 100), 0.8) == "below"
    assert versus_target(rate(9, 10), 0.8) == "not distinguishable from"  # 90% but [0.60, 0.98]


def test_compare_rates_reads_two_intervals() -> None:
    assert compare_rates(rate(18, 20), rate(2, 20)) == "higher than"
    assert compare_rates(rate(2, 20), rate(18, 20)) == "lower than"
    assert compare_rates(rate(10, 20), rate(12, 20)) == "not clearly different from"
    assert compare_rates(rate(0, 0), rate(12, 20)) == "not comparable (n = 0) with"


def test_bootstrap_mean_stays_in_range_and_is_seeded() -> None:
    xs = [1.0] * 18 + [0.0, 0.2]
    normal = mean_interval(xs)
    assert normal["ci95"][1] > 1  # mean ± 1.96 s/√n leaves [0, 1]
    b = bootstrap_mean(xs, seed=3)
    assert b["n"] == 20 and b["mean"] == pytest.approx(0.91) and 0.0 <= b["ci95"][0] < 0.91 < b["ci95"][1] <= 1.0
    spread = [i / 37 for i in range(37)]
    assert bootstrap_mean(xs, seed=3) == b and bootstrap_mean(spread, seed=3) != bootstrap_mean(spread, seed=4)
    assert bootstrap_mean([None, 0.5]) == {"n": 1, "mean": 0.5, "ci95": None}
    assert bootstrap_mean([]) == {"n": 0, "mean": None, "ci95": None}


def test_rate_of_counts_true_among_defined_values() -> None:
    assert rate_of([True, False, None, True]) == rate(2, 3)
    assert rate_of([None, None]) == rate(0, 0) == {"k": 0, "n": 0, "rate": None, "ci95": [0.0, 1.0]}
    assert rate_of([1, 0, 0, 0]) == {"k": 1, "n": 4, "rate": 0.25, "ci95": [round(x, 4) for x in wilson_interval(1, 4)]}


def test_accuracy_interval_counts_questions_not_shuffles() -> None:
    a = accuracy_interval(6, 12, 4)  # 4 questions, 3 shuffles each: 50% with the interval of 2/4
    assert a["accuracy"] == 0.5 and a["n"] == 4 and (a["lo"], a["hi"]) == pytest.approx(wilson_interval(2, 4))
    assert accuracy_interval(0, 0)["n"] == 0 and accuracy_interval(0, 0)["lo"] != accuracy_interval(0, 0)["lo"]  # nan


def test_paired_change_needs_the_same_items() -> None:
    assert paired_change([1.0, 2.0, 3.0], [2.0, 3.0, 5.0]) == mean_interval([1.0, 1.0, 2.0])
    with pytest.raises(ValueError):
        paired_change([1.0], [1.0, 2.0])


def test_old_import_paths_still_reach_the_one_home() -> None:
    import cm_lib.evaluate as ev
    from cm_lib import stats
    from cm_lib.bench import results

    assert results.wilson_interval is stats.wilson_interval  # notebook 01
    for name in ("rate", "format_rate", "compare_rates", "versus_target", "mean_interval", "paired_change",
                 "format_mean", "interval_sign"):  # notebooks 03-05, widgets
        assert getattr(ev, name) is getattr(stats, name), name
