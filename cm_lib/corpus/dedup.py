"""De-duplication: exact (normalised text), transposed copies (same interval sequence) and near-duplicate
melodies (MinHash over interval n-grams, so invariant to transposition); clusters drive the splits."""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from cm_lib.corpus.clean import CleanTune

NGRAM = 5
NUM_PERM = 64
BANDS = 16
PRIME = (1 << 31) - 1
_HEADER = re.compile(r"^[A-Za-z+]:.*$", re.M)
_SPACE = re.compile(r"\s+")


@dataclass
class DedupResult:
    """Kept tunes (cluster ids set), removed duplicates and the clusters found."""

    kept: list[CleanTune]
    exact_duplicates: list[tuple[str, str]] = field(default_factory=list)  # (removed ref, kept ref)
    transposed_duplicates: list[tuple[str, str]] = field(default_factory=list)
    clusters: dict[str, list[str]] = field(default_factory=dict)  # cluster id -> refs of kept members (size > 1)

    @property
    def n_removed(self) -> int:
        """Number of tunes removed as exact or transposed duplicates."""
        return len(self.exact_duplicates) + len(self.transposed_duplicates)


def normalised_body(text: str) -> str:
    """The tune without header lines and whitespace: the key for exact duplicates."""
    lines = [ln for ln in text.splitlines() if not _HEADER.match(ln) or ln.startswith(("K:", "M:", "L:"))]
    return _SPACE.sub("", "\n".join(lines))


def intervals(pitches: list[int]) -> list[int]:
    """Successive melodic intervals in semitones (transposition-invariant)."""
    return [b - a for a, b in zip(pitches, pitches[1:])]


def interval_signature(pitches: list[int]) -> str:
    """A short hash of the whole interval sequence: equal for a melody and its transpositions; notebook 02."""
    return hashlib.sha1(",".join(map(str, intervals(pitches))).encode()).hexdigest()[:16]


def shingles(pitches: list[int], n: int = NGRAM) -> np.ndarray:
    """Hashed interval n-grams (unique, sorted, < 2**31) of a melody."""
    iv = np.clip(np.asarray(intervals(pitches), dtype=np.int64), -40, 40) + 41
    if len(iv) < n:
        return np.zeros(0, dtype=np.int64)
    codes = np.zeros(len(iv) - n + 1, dtype=np.int64)
    for k in range(n):
        codes = codes * 83 + iv[k: len(iv) - n + 1 + k]
    return np.unique(codes % PRIME)


def perms(seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """The NUM_PERM (a, b) hash permutations that `minhash` applies, drawn from `seed` (notebook 02)."""
    rng = np.random.default_rng(seed)
    return rng.integers(1, PRIME, NUM_PERM, dtype=np.int64), rng.integers(0, PRIME, NUM_PERM, dtype=np.int64)


def minhash(sh: np.ndarray, perms: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """MinHash signature (NUM_PERM values) of a shingle set."""
    a, b = perms
    return ((sh[:, None] * a[None, :] + b[None, :]) % PRIME).min(axis=0)


def jaccard(x: np.ndarray, y: np.ndarray) -> float:
    """Jaccard similarity of two sorted unique shingle arrays."""
    if len(x) == 0 or len(y) == 0:
        return 0.0
    inter = len(np.intersect1d(x, y, assume_unique=True))
    return inter / (len(x) + len(y) - inter)


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, i: int, j: int) -> None:
        ri, rj = self.find(i), self.find(j)
        if ri != rj:
            self.parent[max(ri, rj)] = min(ri, rj)


def near_duplicate_pairs(melodies: list[list[int]], threshold: float = 0.6) -> list[tuple[int, int, float]]:
    """(i, j, jaccard) for melodies whose interval n-gram sets overlap at least `threshold` (MinHash LSH)."""
    hash_perms = perms()
    sets = [shingles(m) for m in melodies]
    rows = NUM_PERM // BANDS
    buckets: dict[tuple, list[int]] = defaultdict(list)
    for i, sh in enumerate(sets):
        if len(sh) < 3:
            continue
        sig = minhash(sh, hash_perms)
        for band in range(BANDS):
            buckets[(band, *sig[band * rows:(band + 1) * rows].tolist())].append(i)
    candidates: set[tuple[int, int]] = set()
    for members in buckets.values():
        if 1 < len(members) <= 200:
            for x in range(len(members)):
                for y in range(x + 1, len(members)):
                    candidates.add((members[x], members[y]))
    pairs = []
    for i, j in sorted(candidates):
        sim = jaccard(sets[i], sets[j])
        if sim >= threshold:
            pairs.append((i, j, round(sim, 4)))
    return pairs


def deduplicate(tunes: list[CleanTune], threshold: float = 0.6, progress: bool = False) -> DedupResult:
    """Drop exact and transposed copies (keep the first), cluster near-duplicate melodies of the rest; notebook 02."""
    result = DedupResult(kept=[])
    by_text: dict[str, CleanTune] = {}
    by_interval: dict[str, CleanTune] = {}
    for tune in tunes:
        key = normalised_body(tune.text)
        if key in by_text:
            result.exact_duplicates.append((tune.ref_id, by_text[key].ref_id))
            continue
        sig = interval_signature(tune.pitches)
        if sig in by_interval:
            result.transposed_duplicates.append((tune.ref_id, by_interval[sig].ref_id))
            continue
        by_text[key] = tune
        by_interval[sig] = tune
        result.kept.append(tune)
    kept = result.kept
    uf = _UnionFind(len(kept))
    for i, j, _ in near_duplicate_pairs([t.pitches for t in kept], threshold):
        uf.union(i, j)
    groups: dict[int, list[int]] = defaultdict(list)
    for i in range(len(kept)):
        groups[uf.find(i)].append(i)
    for root, members in groups.items():
        cid = "c" + hashlib.sha1(kept[root].ref_id.encode()).hexdigest()[:10]
        for i in members:
            kept[i].cluster = cid
        if len(members) > 1:
            result.clusters[cid] = [kept[i].ref_id for i in members]
    return result
