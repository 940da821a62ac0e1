"""Novelty against the training set (notebook 05): unseen n-grams and nearest-neighbour copies.

- Tokens: for each note after the first in a voice, ``(interval from the previous note, its duration)``
  with the interval clipped to ±40 semitones and the duration on a grid of 48 per whole note (so
  transposing a tune leaves its tokens unchanged). An n-gram is n successive tokens of one voice.
- ``novelty_4gram = |G(t) \\ G(train)| / |G(t)|`` over the *distinct* 4-grams G of the tune and of
  the whole training set: 0 = every 4-gram was seen in training, 1 = none was. None if fewer than 5 notes.
- Nearest neighbour: similarity = Jaccard of the sets of interval 5-grams (the corpus builder's
  de-duplication shingles, ``cm_lib.corpus.dedup.shingles``), found with its MinHash LSH (64 hashes,
  16 bands of 4) and exact on the candidates; equal interval sequences (a transposed copy) count 1.0.
  ``copy_rate`` of a tune is True when ``nn_similarity ≥ COPY_THRESHOLD = 0.8`` (the paper's "≥ 80%
  overlap"); its mean over a set is the set's copy rate. LSH finds a pair at similarity 0.8 with
  probability 1 - (1 - 0.8⁴)¹⁶ ≈ 0.9998, at 0.5 with ≈ 0.64: below ~0.5 ``nn_similarity`` may read 0.
"""

from __future__ import annotations

import io
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from cm_lib.corpus.dedup import BANDS, NUM_PERM, interval_signature, jaccard, minhash, perms, shingles
from cm_lib.errors import AbcError, AssetNotFoundError
from cm_lib.metrics.events import Note, TuneData, read_tune
from cm_lib.paths import atomic_write_bytes

NGRAM = 4
INDEX_VERSION = 1  # bump when tokens, shingles or the file layout change
COPY_THRESHOLD = 0.8
DURATION_GRID = 48
_IV_BASE = 82  # intervals -40..40 (+41) and one spare
_DUR_BASE = 128
_TOKEN_BASE = _IV_BASE * _DUR_BASE


@lru_cache(maxsize=1)
def _hash_perms() -> tuple[np.ndarray, np.ndarray]:
    return perms()


def tokens(melody: Sequence[Note]) -> np.ndarray:
    """(interval, duration) tokens of one voice's notes as int64 codes (see the module docstring)."""
    if len(melody) < 2:
        return np.zeros(0, dtype=np.int64)
    midi = np.array([n.midi for n in melody], dtype=np.int64)
    dur = np.array([min(round(float(n.duration) * DURATION_GRID), _DUR_BASE - 1) for n in melody[1:]], dtype=np.int64)
    iv = np.clip(np.diff(midi), -40, 40) + 41
    return iv * _DUR_BASE + dur


def ngrams(data: TuneData, n: int = NGRAM) -> np.ndarray:
    """Distinct n-gram codes (sorted int64) of the tune's tokens, over each voice."""
    parts = []
    for mel in data.melodies():
        tok = tokens(mel)
        if len(tok) < n:
            continue
        codes = np.zeros(len(tok) - n + 1, dtype=np.int64)
        for k in range(n):
            codes = codes * _TOKEN_BASE + tok[k: len(tok) - n + 1 + k]
        parts.append(codes)
    return np.unique(np.concatenate(parts)) if parts else np.zeros(0, dtype=np.int64)


@dataclass
class NoveltyIndex:
    """Training-set n-grams and MinHash LSH buckets of interval 5-gram shingles."""

    ngram_codes: np.ndarray
    shingle_sets: list[np.ndarray]
    ids: list[str]
    buckets: dict[tuple, list[int]] = field(default_factory=dict)
    signatures: dict[str, int] = field(default_factory=dict)  # interval signature -> first tune
    n: int = NGRAM
    skipped: int = 0  # training texts with no tune in them

    @classmethod
    def build(cls, texts: Iterable[str], ids: Sequence[str] | None = None, n: int = NGRAM) -> NoveltyIndex:
        """Index training tunes (ABC texts); `ids` names them in `nearest` results (default: their position)."""
        hash_perms = _hash_perms()
        rows = NUM_PERM // BANDS
        grams: list[np.ndarray] = []
        sets: list[np.ndarray] = []
        names: list[str] = []
        buckets: dict[tuple, list[int]] = defaultdict(list)
        signatures: dict[str, int] = {}
        skipped = 0
        for i, text in enumerate(texts):
            try:
                data = read_tune(text, bars=False)
            except AbcError:
                skipped += 1
                continue
            k = len(sets)
            grams.append(ngrams(data, n))
            melody = [x.midi for x in data.notes]
            sh = shingles(melody)
            sets.append(sh)
            names.append(str(ids[i]) if ids is not None else str(i))
            if len(melody) > 1:
                signatures.setdefault(interval_signature(melody), k)
            if len(sh) >= 3:
                sig = minhash(sh, hash_perms)
                for band in range(BANDS):
                    buckets[(band, *sig[band * rows:(band + 1) * rows].tolist())].append(k)
        codes = np.unique(np.concatenate(grams)) if grams else np.zeros(0, dtype=np.int64)
        return cls(codes, sets, names, dict(buckets), signatures, n, skipped)

    def save(self, path: str | Path) -> Path:
        """Write the index to one .npz file (numpy arrays only, no pickle), atomically."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        lengths = np.array([len(x) for x in self.shingle_sets], dtype=np.int64)
        flat = np.concatenate(self.shingle_sets) if self.shingle_sets else np.zeros(0, dtype=np.int64)
        sig_keys = np.array(list(self.signatures), dtype=np.str_)
        sig_vals = np.array(list(self.signatures.values()), dtype=np.int64)
        buf = io.BytesIO()
        np.savez(buf, version=np.array([INDEX_VERSION, self.n, self.skipped]), ngram_codes=self.ngram_codes,
                 shingle_lengths=lengths, shingles=flat, ids=np.array(self.ids, dtype=np.str_),
                 signature_keys=sig_keys, signature_values=sig_vals)
        return atomic_write_bytes(path, buf.getvalue())

    @classmethod
    def load(cls, path: str | Path) -> NoveltyIndex:
        """An index written by `save`; AssetNotFoundError if missing or from another index version."""
        path = Path(path)
        try:
            z = np.load(path, allow_pickle=False)
            version, n, skipped = (int(x) for x in z["version"])
        except (OSError, KeyError, ValueError) as err:
            raise AssetNotFoundError(f"{path}: not a novelty index ({err})") from None
        if version != INDEX_VERSION:
            raise AssetNotFoundError(f"{path}: novelty index version {version}, expected {INDEX_VERSION}")
        ends = np.cumsum(z["shingle_lengths"])
        sets = np.split(z["shingles"], ends[:-1]) if len(ends) else []
        hash_perms = _hash_perms()
        rows = NUM_PERM // BANDS
        buckets: dict[tuple, list[int]] = defaultdict(list)
        for k, sh in enumerate(sets):
            if len(sh) >= 3:
                sig = minhash(sh, hash_perms)
                for band in range(BANDS):
                    buckets[(band, *sig[band * rows:(band + 1) * rows].tolist())].append(k)
        signatures = dict(zip(z["signature_keys"].tolist(), z["signature_values"].tolist()))
        return cls(z["ngram_codes"], list(sets), z["ids"].tolist(), dict(buckets), signatures, n, skipped)

    def __len__(self) -> int:
        return len(self.shingle_sets)

    def novelty(self, data: TuneData) -> float | None:
        """Share of the tune's distinct n-grams that no training tune has."""
        g = ngrams(data, self.n)
        if not len(g):
            return None
        codes = self.ngram_codes
        if not len(codes):
            return 1.0
        pos = np.minimum(np.searchsorted(codes, g), len(codes) - 1)  # codes are sorted: binary search
        return float(np.count_nonzero(codes[pos] != g) / len(g))

    def nearest(self, data: TuneData) -> tuple[float, str | None]:
        """(similarity, id) of the most similar training tune; (0.0, None) when LSH finds no candidate."""
        melody = [x.midi for x in data.notes]
        if len(melody) > 1:
            exact = self.signatures.get(interval_signature(melody))
            if exact is not None:
                return 1.0, self.ids[exact]
        sh = shingles(melody)
        if len(sh) < 3:
            return 0.0, None
        sig = minhash(sh, _hash_perms())
        rows = NUM_PERM // BANDS
        candidates: set[int] = set()
        for band in range(BANDS):
            candidates.update(self.buckets.get((band, *sig[band * rows:(band + 1) * rows].tolist()), ()))
        best, best_id = 0.0, None
        for k in sorted(candidates):
            s = jaccard(sh, self.shingle_sets[k])
            if s > best:
                best, best_id = s, self.ids[k]
        return best, best_id

    def nearest_exact(self, data: TuneData) -> tuple[float, str | None]:
        """(similarity, id) of the most similar training tune by exact Jaccard over every tune (slow; LSH finds only >~ 0.5)."""
        sh = shingles([x.midi for x in data.notes])
        if not self.shingle_sets or not len(sh):
            return 0.0, None
        sims = [jaccard(sh, other) for other in self.shingle_sets]
        best = max(range(len(sims)), key=sims.__getitem__)
        return float(sims[best]), self.ids[best]

    def metrics(self, data: TuneData) -> dict:
        """novelty_4gram (for n=4; else novelty_<n>gram), nn_similarity, nn_id and copy_rate of one tune."""
        sim, nn_id = self.nearest(data)
        return {f"novelty_{self.n}gram": self.novelty(data), "nn_similarity": round(sim, 4), "nn_id": nn_id,
                "copy_rate": bool(sim >= COPY_THRESHOLD) if data.notes else None}
