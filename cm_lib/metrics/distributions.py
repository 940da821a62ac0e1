"""Generated vs real tunes as distributions (notebook 05): mgeval's protocol plus Jensen–Shannon divergence.

Features of one tune (sounding notes, tied continuations merged):
- ``pitch_class``: 12-bin histogram of pitch classes, normalised to sum 1;
- ``interval``: 25-bin histogram of melodic intervals clipped to -12..+12 semitones, normalised;
- ``note_length``: histogram over NOTE_LENGTHS (whole notes) plus one "other" bin, normalised;
- ``bar_count``: the number of bars of the first voice (one number);
- ``tonic_pitch_class``: 12-bin histogram of pitch classes counted from the declared tonic (K:; C when the
  key is none or unreadable), normalised: 0 = tonic, 7 = fifth, so tunes in different keys line up.
mgeval (Yang & Lerch 2018): for a feature, the *intra-set* distances of the generated set G are the
Euclidean distances between all pairs of its tunes, the *inter-set* distances those between every tune
of G and every tune of the reference set R. Each set of distances is smoothed into a density with a
Gaussian kernel (Scott's bandwidth h = σ·n^(-1/5)) on a common grid of GRID_POINTS points; then
``overlap_area = ∫ min(p_intra, p_inter)`` (1 = G is as varied, relative to R, as R-to-G distances
suggest; 0 = disjoint) and ``kl = Σ p_intra log(p_intra / p_inter)`` (nats, on the grid). The same is
reported for R's own intra-set distances (``reference_overlap_area``, ``reference_kl``). At most
MAX_PAIRS distances per set are used (a fixed-seed sample).
``jsd``: Jensen–Shannon divergence (bits, 0..1) between the pooled feature histograms of G and R
(the mean of the tunes' normalised histograms; for bar counts, the histogram of the counts), JSD(P, Q)
= ½ KL(P‖M) + ½ KL(Q‖M), M = ½ (P + Q).
``jsd_interval``: that JSD between a set G and a reference R, corrected for its bias, with a 95% interval
from a seeded bootstrap over tunes. A plug-in JSD is biased upwards on finite sets (two samples of one
distribution rarely give 0), and its bootstrap replicates are biased further by about as much, so
(Efron & Tibshirani 1993, *An Introduction to the Bootstrap*, ch. 10 and 13): each of N_BOOT replicates
draws len(G) tunes of G and len(R) tunes of R with replacement and takes the JSD θ* of the pooled
draws; with θ̂ the plug-in JSD, ``value = 2θ̂ − median(θ*)`` and ``ci95 = [2θ̂ − q97.5(θ*), 2θ̂ − q2.5(θ*)]``
(the *basic* bootstrap interval), both clipped to the JSD's range [0, 1]. Two samples of real tunes
then give a value near 0 with an interval reaching 0; ``plug_in`` keeps θ̂ (what ``compare_sets`` reports).
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

import numpy as np

from cm_lib.metrics.events import TuneData
from cm_lib.metrics.key import tonic_pitch_class

NOTE_LENGTHS = tuple(Fraction(x) for x in
                     ("1/32", "1/16", "1/12", "3/32", "1/8", "1/6", "3/16", "1/4", "1/3", "3/8", "1/2", "3/4", "1"))
FEATURES = ("pitch_class", "interval", "note_length", "bar_count")
GRID_POINTS = 512
MAX_PAIRS = 5000
N_BOOT = 1000
_LENGTH_INDEX = {d: i for i, d in enumerate(NOTE_LENGTHS)}


def _normalise(h: np.ndarray) -> np.ndarray:
    s = h.sum()
    return h / s if s > 0 else h


def tune_features(data: TuneData) -> dict[str, np.ndarray]:
    """The four features of one tune (see the module docstring)."""
    pc = np.zeros(12)
    lengths = np.zeros(len(NOTE_LENGTHS) + 1)
    for n in data.notes:
        pc[n.midi % 12] += 1
        lengths[_LENGTH_INDEX.get(n.duration, len(NOTE_LENGTHS))] += 1
    tonic = tonic_pitch_class(data.key.tonic) if data.key is not None and data.key.tonic else 0
    iv = np.zeros(25)
    for mel in data.melodies():
        for a, b in zip(mel, mel[1:]):
            iv[int(np.clip(b.midi - a.midi, -12, 12)) + 12] += 1
    first = data.voices[0]
    n_bars = len(data.bars.get(first, [])) or len({n.bar for n in data.melody(first)})
    return {"pitch_class": _normalise(pc), "interval": _normalise(iv), "note_length": _normalise(lengths),
            "bar_count": np.array([float(n_bars)]), "tonic_pitch_class": _normalise(np.roll(pc, -tonic))}


def _pairs(x: np.ndarray, y: np.ndarray | None, rng: np.random.Generator) -> np.ndarray:
    """Euclidean distances of all pairs within x (y None) or between x and y, at most MAX_PAIRS sampled."""
    if y is None:
        i, j = np.triu_indices(len(x), 1)
    else:
        i, j = (a.ravel() for a in np.meshgrid(np.arange(len(x)), np.arange(len(y)), indexing="ij"))
    if len(i) > MAX_PAIRS:
        pick = rng.choice(len(i), MAX_PAIRS, replace=False)
        i, j = i[pick], j[pick]
    other = x if y is None else y
    return np.linalg.norm(x[i] - other[j], axis=1)


def kde(samples: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Gaussian kernel density of `samples` on `grid` (Scott's bandwidth), normalised to sum 1 on the grid."""
    s = np.asarray(samples, dtype=float)
    sd = s.std(ddof=1) if len(s) > 1 else 0.0
    span = float(grid[-1] - grid[0]) or 1.0
    h = sd * len(s) ** (-1 / 5) if sd > 0 else span / 100
    dens = np.zeros(len(grid))
    for chunk in np.array_split(s, max(1, len(s) // 1000)):
        dens += np.exp(-0.5 * ((grid[None, :] - chunk[:, None]) / h) ** 2).sum(axis=0)
    total = dens.sum()
    return dens / total if total > 0 else np.full(len(grid), 1 / len(grid))


def overlap_and_kl(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """(overlap area, KL(a‖b) in nats) of the kernel densities of two distance samples."""
    lo, hi = float(min(a.min(), b.min())), float(max(a.max(), b.max()))
    pad = (hi - lo) * 0.1 or 0.5
    grid = np.linspace(lo - pad, hi + pad, GRID_POINTS)
    p, q = kde(a, grid), kde(b, grid)
    oa = float(np.minimum(p, q).sum())
    mask = p > 0
    kl = float(np.sum(p[mask] * np.log(p[mask] / np.maximum(q[mask], 1e-12))))
    return oa, kl


def jensen_shannon(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen–Shannon divergence in bits of two histograms (each normalised first)."""
    p, q = _normalise(np.asarray(p, float)), _normalise(np.asarray(q, float))
    m = (p + q) / 2

    def kl(x: np.ndarray) -> float:
        mask = x > 0
        return float(np.sum(x[mask] * np.log2(x[mask] / m[mask])))

    return max(0.0, 0.5 * kl(p) + 0.5 * kl(q))


def _jsd_rows(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """`jensen_shannon` of each row of p against the same row of q (bits)."""
    p = p / np.maximum(p.sum(axis=1, keepdims=True), 1e-300)
    q = q / np.maximum(q.sum(axis=1, keepdims=True), 1e-300)
    m = (p + q) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        kp = np.where(p > 0, p * np.log2(p / m), 0.0).sum(axis=1)
        kq = np.where(q > 0, q * np.log2(q / m), 0.0).sum(axis=1)
    return np.maximum(0.0, 0.5 * kp + 0.5 * kq)


def jsd_interval(generated: np.ndarray, reference: np.ndarray, seed: int | np.random.SeedSequence = 0,
                 n_boot: int = N_BOOT) -> dict:
    """{"value", "ci95", "plug_in", "n", "n_reference"}: bias-corrected JSD (bits) of two sets' pooled
    histograms (one row per tune) with a seeded basic-bootstrap 95% interval over tunes (module docstring);
    value and ci95 None below 2 tunes in either set."""
    g, r = np.asarray(generated, float), np.asarray(reference, float)
    out: dict = {"value": None, "ci95": None, "plug_in": None, "n": len(g), "n_reference": len(r)}
    if len(g) < 2 or len(r) < 2:
        return out
    rng = np.random.default_rng(seed)
    pg = rng.multinomial(len(g), np.full(len(g), 1 / len(g)), size=n_boot) @ g
    pr = rng.multinomial(len(r), np.full(len(r), 1 / len(r)), size=n_boot) @ r
    reps = _jsd_rows(pg, pr)
    theta = jensen_shannon(g.mean(axis=0), r.mean(axis=0))
    q_lo, q_mid, q_hi = np.percentile(reps, [2.5, 50, 97.5])

    def clip(x: float) -> float:
        return float(min(1.0, max(0.0, x)))

    out.update(value=clip(2 * theta - q_mid), ci95=[clip(2 * theta - q_hi), clip(2 * theta - q_lo)], plug_in=theta)
    return out


def _pooled(feature: str, rows: np.ndarray, other: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if feature != "bar_count":
        return rows.mean(axis=0), other.mean(axis=0)
    top = int(max(rows.max(), other.max())) + 1
    return (np.bincount(rows[:, 0].astype(int), minlength=top).astype(float),
            np.bincount(other[:, 0].astype(int), minlength=top).astype(float))


def compare_sets(generated: Sequence[TuneData], reference: Sequence[TuneData], seed: int = 0) -> dict[str, dict]:
    """Feature -> overlap_area, kl, reference_overlap_area, reference_kl, jsd (None where a set has < 2 tunes)."""
    rng = np.random.default_rng(seed)
    fg = [tune_features(d) for d in generated if d.notes]
    fr = [tune_features(d) for d in reference if d.notes]
    out: dict[str, dict] = {}
    for name in FEATURES:
        row: dict = {"n_generated": len(fg), "n_reference": len(fr)}
        if len(fg) < 2 or len(fr) < 2:
            row.update(overlap_area=None, kl=None, reference_overlap_area=None, reference_kl=None, jsd=None)
            out[name] = row
            continue
        g = np.stack([f[name] for f in fg])
        r = np.stack([f[name] for f in fr])
        inter = _pairs(g, r, rng)
        oa, kl = overlap_and_kl(_pairs(g, None, rng), inter)
        roa, rkl = overlap_and_kl(_pairs(r, None, rng), inter)
        pg, pr = _pooled(name, g, r)
        row.update(overlap_area=round(oa, 4), kl=round(kl, 4), reference_overlap_area=round(roa, 4),
                   reference_kl=round(rkl, 4), jsd=round(jensen_shannon(pg, pr), 4))
        out[name] = row
    return out
