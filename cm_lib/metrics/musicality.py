"""What a model adds over a sampler that knows only the grammar (notebook 05): music measures of tune sets.

A plan-bound grammar makes every answer valid and compliant, so validity cannot tell a trained model from a
sampler that picks uniformly among the tokens the grammar allows. The music can. For each labelled set of
tunes and a reference set of held-out real tunes, `musicality_table` gives (formulas in the modules named):
- ``interval_jsd``, ``pitch_class_jsd``: Jensen–Shannon divergence (bits) of the set's pooled melodic-
  interval histogram, and of its pitch classes counted from each tune's tonic, to the reference's
  (`distributions.jsd_interval`: bias-corrected, basic-bootstrap 95% interval over tunes; 0 = as real);
- ``chord_tone_ratio`` (`chords`), ``stepwise_share`` (`pitch_stats`), ``repeated_bar_rate`` (`structure`):
  per-tune values, reported as their mean with a percentile-bootstrap 95% interval over tunes
  (`cm_lib.stats.bootstrap_mean`: the interval stays within the measure's range);
- ``motif_recurs`` (`structure`): whether the opening motif recurs, as k/n with a Wilson 95% interval.
Bootstraps are seeded per (seed, set label, measure), so a row does not change when other sets are added.
Real tunes rarely carry chord symbols (music21's corpus has none), so the reference's chord-tone ratio is
taken under the course harmoniser's chords (`corpus.analysis.harmonise`, one triad per bar), the very
answers the corpus's chord tasks train on; `harmonise` does the same for named sets (e.g. held-out real
tunes given as a set). A set that is mostly the reference itself is refused: its divergence would be 0 by
construction; give real tunes held out from the reference instead, whose divergence is the sampling floor.
`musicality_reading` states, from the numbers, whether a model is closer to the real tunes than the
grammar-only sampler on interval JSD and chord-tone ratio with 95% intervals that do not overlap.
"""

from __future__ import annotations

import zlib
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import numpy as np

from cm_lib.errors import AbcError
from cm_lib.metrics.chords import chord_tone_ratio, parse_chord
from cm_lib.metrics.distributions import N_BOOT, jsd_interval, tune_features
from cm_lib.metrics.events import TuneData, read_tune
from cm_lib.metrics.pitch_stats import stepwise_share
from cm_lib.metrics.structure import motif_recurs, repetition
from cm_lib.stats import bootstrap_mean, format_rate, rate_of

# (key, label, kind): kind "jsd" (lower is closer to real), "mean" or "rate" (closer = nearer the reference's)
MEASURES: tuple[tuple[str, str, str], ...] = (
    ("interval_jsd", "interval JSD to real (bits)", "jsd"),
    ("pitch_class_jsd", "pitch-class JSD to real (bits, from the tonic)", "jsd"),
    ("chord_tone_ratio", "chord-tone ratio (duration-weighted)", "mean"),
    ("stepwise_share", "stepwise motion (share of intervals)", "mean"),
    ("repeated_bar_rate", "repeated-bar rate", "mean"),
    ("motif_recurs", "opening motif recurs", "rate"),
)
REFERENCE_LABEL = "real (reference)"
FLOOR = ("interval_jsd", "chord_tone_ratio")
_LABELS = {key: label for key, label, _ in MEASURES}
_FEATURES = {"interval_jsd": "interval", "pitch_class_jsd": "tonic_pitch_class"}


def _harmonised(text: str) -> str | None:
    """The tune with one course-harmoniser chord per bar, or None when the harmoniser declines."""
    from cm_lib.corpus.analysis import analyse, harmonise, with_chords

    try:
        info = analyse(text, form="")  # the form is not needed: skip its detection
        chords = harmonise(info)
    except (AbcError, ValueError, IndexError):
        return None
    return with_chords(info, chords) if chords else None


def tune_musicality(abc: str | None, harmonise: bool = False) -> dict[str, Any] | None:
    """Per-tune measures and the two histograms of the first tune in `abc`; None when there is no readable tune.

    With harmonise=True a tune without a readable chord symbol gets its chord-tone ratio under the course
    harmoniser's chords (None where the harmoniser declines).
    """
    try:
        data = read_tune(abc or "")
    except AbcError:
        return None
    out: dict[str, Any] = {
        "chord_tone_ratio": chord_tone_ratio(data),
        "stepwise_share": stepwise_share(data),
        "repeated_bar_rate": repetition(data)["repeated_bar_rate"],
        "motif_recurs": motif_recurs(data),
        "features": tune_features(data) if data.notes else None,
        "harmonised": False,
    }
    if harmonise and not _has_readable_chord(data):
        text = _harmonised(data.tune.text)
        harmonised = read_tune(text) if text else None
        out["chord_tone_ratio"] = chord_tone_ratio(harmonised) if harmonised else None
        out["harmonised"] = out["chord_tone_ratio"] is not None
    return out


def _has_readable_chord(data: TuneData) -> bool:
    return any(parse_chord(c) is not None for v in data.chord_symbols.values() for c in v)


def _seed(seed: int, label: str, measure: str) -> np.random.SeedSequence:
    return np.random.SeedSequence([seed, zlib.crc32(label.encode()), zlib.crc32(measure.encode())])


def _row(label: str, tunes: Sequence[dict | None], ref_features: Mapping[str, np.ndarray] | None, seed: int,
         n_boot: int) -> dict[str, Any]:
    """One table row from per-tune results (`ref_features` None: the reference's own row)."""
    row: dict[str, Any] = {"set": label, "n_tunes": len(tunes), "reference": ref_features is None,
                           "n_harmonised": sum(bool(t and t["harmonised"]) for t in tunes)}
    feats = [t["features"] for t in tunes if t and t["features"] is not None]
    for key, _label, kind in MEASURES:
        if kind == "jsd":
            if ref_features is None:
                row[key] = None
                continue
            name = _FEATURES[key]
            mine = np.stack([f[name] for f in feats]) if feats else np.zeros((0, len(ref_features[name][0])))
            row[key] = jsd_interval(mine, ref_features[name], _seed(seed, label, key), n_boot)
        elif kind == "mean":
            row[key] = bootstrap_mean([t[key] if t else None for t in tunes], _seed(seed, label, key), 2 * n_boot)
        else:
            row[key] = rate_of([t[key] if t else None for t in tunes])
    return row


def musicality_table(sets: Mapping[str, Sequence[str | None]], reference: Sequence[str], seed: int = 0,
                     harmonise: Collection[str] = (), harmonise_reference: bool = True,
                     n_boot: int = N_BOOT) -> list[dict[str, Any]]:
    """One row per labelled set, then the reference's own row: every measure of MEASURES with its 95% interval.

    `harmonise` names sets whose chord-less tunes are measured under the course harmoniser's chords (real
    tunes); `harmonise_reference` does it for the reference. ValueError for a set that is mostly the reference.
    """
    ref_texts = set(reference)
    for label, tunes in sets.items():
        if label == REFERENCE_LABEL:
            raise ValueError(f"{REFERENCE_LABEL!r} is the reference's own row; give the set another label")
        shared = sum(t in ref_texts for t in tunes if t)
        if tunes and shared * 2 > len(tunes):
            raise ValueError(f"set {label!r} shares {shared} of its {len(tunes)} tunes with the reference: compare "
                             "real tunes held out from the reference instead")
    ref = [tune_musicality(t, harmonise_reference) for t in reference]
    ref_feats = [t["features"] for t in ref if t and t["features"] is not None]
    if len(ref_feats) < 2:
        raise ValueError(f"the reference has {len(ref_feats)} readable tunes with notes; it needs at least 2")
    ref_features = {name: np.stack([f[name] for f in ref_feats]) for name in _FEATURES.values()}
    rows = [_row(label, [tune_musicality(t, label in harmonise) for t in tunes], ref_features, seed, n_boot)
            for label, tunes in sets.items()]
    rows.append(_row(REFERENCE_LABEL, ref, None, seed, n_boot))
    return rows


def _interval(d: Mapping[str, Any] | None) -> tuple[float, float] | None:
    if not d or not d.get("n") or d.get("ci95") is None:
        return None
    lo, hi = d["ci95"]
    return float(lo), float(hi)


def _point(kind: str, d: Mapping[str, Any]) -> float | None:
    return d.get("value") if kind == "jsd" else d.get("mean") if kind == "mean" else d.get("rate")


def format_cell(kind: str, d: Mapping[str, Any] | None) -> str:
    """One table cell: '0.041 [0.030, 0.055] (n = 100)' (JSD), '0.62 [0.58, 0.66] (n = 100)', '31/100 = 31% [23%, 41%]'."""
    if d is None:
        return "— (the reference)"
    if kind == "rate":
        return format_rate(d)
    digits = 3 if kind == "jsd" else 2
    value, n = _point(kind, d), d["n"]
    if value is None or d.get("ci95") is None:
        return f"n = {n}" + (f": {value:.{digits}f}" if value is not None else "")
    lo, hi = d["ci95"]
    return f"{value:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}] (n = {n})"


def musicality_cells(rows: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, str]]:
    """{set: {measure label: cell}} of `musicality_table` rows: `pd.DataFrame(...)` shows measures x sets."""
    out: dict[str, dict[str, str]] = {}
    for row in rows:
        cells = {"tunes": str(row["n_tunes"])}
        cells.update({label: format_cell(kind, row[key]) for key, label, kind in MEASURES})
        if row["n_harmonised"]:
            cells[_LABELS["chord_tone_ratio"]] += f", chords by the harmoniser in {row['n_harmonised']}"
        out[row["set"]] = cells
    return out


def compare(kind: str, model: Mapping[str, Any] | None, baseline: Mapping[str, Any] | None,
            target: float | None) -> str:
    """'closer', 'further' or 'not distinguishable': where `model` stands to `baseline` against real tunes,
    by 95% intervals that do not overlap (JSD: lower is closer; otherwise nearer `target`, the reference's
    value); 'not measurable' when an interval or the target is missing."""
    a, b = _interval(model), _interval(baseline)
    if a is None or b is None or (kind != "jsd" and target is None):
        return "not measurable"
    if a[1] >= b[0] and b[1] >= a[0]:
        return "not distinguishable"
    if kind == "jsd":
        return "closer" if a[1] < b[0] else "further"
    distance_a, distance_b = abs(_point(kind, model) - target), abs(_point(kind, baseline) - target)
    return "closer" if distance_a < distance_b else "further"


def musicality_reading(rows: Sequence[Mapping[str, Any]], model: str, baseline: str = "grammar-only") -> str:
    """Markdown lines read from `musicality_table` rows: is `model` closer to real tunes than `baseline` on
    interval JSD and chord-tone ratio, with non-overlapping 95% intervals (the floor), and on the rest?"""
    by_set = {r["set"]: r for r in rows}
    missing = [s for s in (model, baseline) if s not in by_set]
    if missing:
        return f"No reading: no row for {', '.join(repr(s) for s in missing)} (rows: {', '.join(by_set)})."
    ref = next((r for r in rows if r.get("reference")), None)
    m, b = by_set[model], by_set[baseline]
    verdicts: dict[str, str] = {}
    lines = []
    for key, label, kind in MEASURES:
        target = _point(kind, ref[key]) if ref is not None and kind != "jsd" and ref[key] else None
        verdicts[key] = compare(kind, m[key], b[key], target)
        if key in FLOOR:
            harmonised = ref is not None and key == "chord_tone_ratio" and ref["n_harmonised"]
            chords = " (chords by the course harmoniser)" if harmonised else ""
            real = "" if kind == "jsd" else (f"; real tunes{chords} {format_cell(kind, ref[key])}"
                                             if target is not None else "; no real value to compare with")
            lines.append(f"- **{label}**: {model} {format_cell(kind, m[key])} is **{_words(verdicts[key])}** "
                         f"{baseline} {format_cell(kind, b[key])}{real}.")
    met = all(verdicts[k] == "closer" for k in FLOOR)
    names = _LABELS
    head = (f"**Floor met**: {model} is closer to real tunes than {baseline} on interval JSD and chord-tone ratio, "
            "with 95% intervals that do not overlap." if met else
            f"**Floor not met**: {model} is not closer to real tunes than {baseline} on "
            + " and ".join(names[k] for k in FLOOR if verdicts[k] != "closer")
            + " with 95% intervals that do not overlap.")
    others = {v: [names[k] for k, _, _ in MEASURES if k not in FLOOR and verdicts[k] == v]
              for v in ("closer", "further", "not distinguishable", "not measurable")}
    rest = "; ".join(f"{v}: {', '.join(ks)}" for v, ks in others.items() if ks)
    lines.append(f"- Other measures, {model} against {baseline} (closer to real tunes or not): {rest}.")
    return "\n".join([head, *lines])


def _words(verdict: str) -> str:
    return {"closer": "closer to real tunes than", "further": "further from real tunes than",
            "not distinguishable": "not distinguishable from", "not measurable": "not comparable with"}[verdict]
