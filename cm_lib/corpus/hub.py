"""MusicPile and MusicPile-sft from the hub: a seeded, licence-filtered sample, saved under runs/hub and reused offline.

A sample is drawn at a pinned revision (its commit sha resolved through the hub API and recorded): `datasets`
resolves the split's parquet files from the dataset card, their row groups are read in a seeded random order
(ranged reads over huggingface_hub's HfFileSystem, only what the sample needs) and their records shuffled in
buffers, so the sample spans the dataset rather than its first rows, even when its files are sorted by source.
Each record's `src` passes the licence gate (`sources.hub_record_source`: IrishMAN/The Session-derived records
are refused unless `allow_restricted`), and optional `shares` fix the mix per `src` value, or per category when
every key is one (e.g. the paper's `PAPER_SHARES`; a record's category comes from its `src`, see
`musicpile_category`). What was kept is written to runs/hub/<dataset>/<key>/ (records.jsonl, counts.json,
README.md card), the marker last; a later call with the same arguments reuses it without the hub, offline too.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import sys
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cm_lib.errors import LicenceError, UsageError
from cm_lib.paths import fresh_sibling_dir, runs_dir

# The revision each dataset is read at when none is given (a branch or a commit sha). The sha actually read is
# resolved through the hub API at sample time and recorded in the sample's card; reruns reuse that sample.
HUB_DATASET_REVISIONS: dict[str, str] = {"m-a-p/MusicPile": "main", "m-a-p/MusicPile-sft": "main"}
HUB_SFT_TASK = "musicpile-sft"  # the `task` of MusicPile-sft pairs in a corpus (their `meta` is empty)
SAMPLE_MARKER = ".cm_hub_sample_complete.json"  # written last: a folder without it is not a finished sample
SAMPLE_FILES = ("records.jsonl", "counts.json", "README.md")
SAMPLE_VERSION = 1  # a key input: bump when the sampling procedure changes what a sample holds
BUFFER_FACTOR, BUFFER_MIN, BUFFER_MAX = 8, 1_000, 100_000  # shuffle buffer: 8n records (whole row groups)
READ_FACTOR = 20  # stop after reading READ_FACTOR x n + a buffer (shares that a dataset cannot fill)
# MusicPile's `src` -> the paper's categories (lowercased substrings, first match wins; ABC text counts as scores).
CATEGORY_PATTERNS: tuple[tuple[str, str], ...] = (
    ("irishman", "scores"), ("kern", "scores"), ("jsb", "scores"), ("chorale", "scores"), ("abc", "scores"),
    ("score", "scores"), ("knowledge", "music_verbal"), ("summary", "music_verbal"), ("music", "music_verbal"),
    ("gsm8k", "math"), ("math", "math"), ("code", "code"), ("github", "code"),
)


@dataclass(frozen=True)
class HubSample:
    """A saved sample of a hub dataset: where it lies, what it holds, what the licence gate refused."""

    dataset: str  # e.g. "m-a-p/MusicPile"
    revision: str  # the commit sha actually read
    seed: int
    path: Path  # runs/hub/<dataset>/<key>/ with records.jsonl, counts.json, README.md and the marker
    kept: int  # records written
    by_src: dict[str, int]  # kept records per `src`
    refused: dict[str, int]  # records refused by the licence gate, per `src`
    requested_revision: str = "main"
    split: str = "train"
    n: int = 0  # records asked for (kept < n: the dataset ran out, see `short`)
    read: int = 0  # records streamed to draw the sample
    short: bool = False
    licences: dict[str, str] = field(default_factory=dict)  # per `src`

    def records(self) -> list[dict]:
        """The kept records, in the dataset's own schema."""
        with (self.path / "records.jsonl").open(encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.strip()]

    def summary(self) -> dict[str, Any]:
        """What a corpus build records of this sample (stats.json `hub`): revision, counts, licences, folder."""
        root = runs_dir()
        return {
            "revision": self.revision, "requested_revision": self.requested_revision, "seed": self.seed,
            "n": self.n, "kept": self.kept, "read": self.read, "short": self.short, "by_src": self.by_src,
            "refused": self.refused, "licences": self.licences,
            "sample": self.path.relative_to(root).as_posix() if self.path.is_relative_to(root) else self.path.name,
        }


def musicpile_category(src: str, text: str = "") -> str:
    """The paper's category of a MusicPile record (scores, music_verbal, math, code, general) from its `src`."""
    key = str(src).lower()
    for pattern, category in CATEGORY_PATTERNS:
        if pattern in key:
            return category
    return "scores" if "X:" in text and "K:" in text else "general"


def corpus_records(dataset: str, rows: list[dict]) -> tuple[list[dict], list[dict]]:
    """A sample's rows as corpus records: text -> pretraining rows with a category; instruction pairs -> SFT rows."""
    prefix = dataset.split("/")[-1].lower()
    pretrain: list[dict] = []
    sft: list[dict] = []
    for row in rows:
        rid = f"{prefix}-{row.get('id')}"
        src = f"{dataset}:{row.get('src', '')}"
        if "instruction" in row:  # MusicPile-sft: ChatMusician's chat format is applied at training time
            sft.append({"instruction": str(row.get("instruction") or ""), "input": str(row.get("input") or ""),
                        "output": str(row.get("output") or ""), "src": src, "id": rid, "task": HUB_SFT_TASK,
                        "meta": "{}"})
        else:
            text = str(row.get("text") or "")
            pretrain.append({"id": rid, "text": text, "src": src,
                             "category": musicpile_category(str(row.get("src", "")), text)})
    return pretrain, sft


def _check_args(dataset: str, n: int, shares: Mapping[str, float] | None, allow_restricted: bool) -> dict | None:
    from cm_lib.corpus.sources import hub_record_source

    if not isinstance(dataset, str) or dataset.count("/") != 1:
        raise UsageError(f"dataset must be a hub id like m-a-p/MusicPile, not {dataset!r}")
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise UsageError(f"n must be a positive number of records, not {n!r}")
    if shares is None:
        return None
    clean = {str(k): float(v) for k, v in shares.items()}
    if not clean or any(v < 0 for v in clean.values()) or sum(clean.values()) <= 0:
        raise UsageError(f"shares must be non-negative weights with a positive sum, not {dict(shares)!r}")
    for key, weight in clean.items():
        info = hub_record_source(dataset, key)
        if weight > 0 and not info.trainable and not allow_restricted:
            raise LicenceError(f"shares ask for `src` {key!r}, which the licence gate refuses ({info.licence}); "
                               "pass allow_restricted=True (--allow-restricted) only if you hold permission")
    return clean


def quotas(n: int, shares: Mapping[str, float]) -> dict[str, int]:
    """Records per key for a sample of n: shares normalised, rounded by largest remainder (they sum to n)."""
    total = sum(shares.values())
    exact = {k: n * v / total for k, v in shares.items() if v > 0}
    out = {k: int(x) for k, x in exact.items()}
    for k in sorted(exact, key=lambda k: (out[k] - exact[k], k))[: n - sum(out.values())]:
        out[k] += 1
    return out


def _key(dataset: str, split: str, n: int, seed: int, revision: str, shares: dict | None,
         allow_restricted: bool) -> str:
    blob = json.dumps([SAMPLE_VERSION, dataset, split, n, seed, revision, shares, allow_restricted], sort_keys=True)
    return f"{split}-n{n}-seed{seed}-{hashlib.sha1(blob.encode()).hexdigest()[:10]}"


def sample_folder(dataset: str, n: int, seed: int = 0, revision: str | None = None,
                  shares: Mapping[str, float] | None = None, allow_restricted: bool = False,
                  split: str = "train") -> Path:
    """Where `sample_hub_dataset` saves (and looks for) a sample with these arguments (nothing is read)."""
    clean = _check_args(dataset, n, shares, allow_restricted)
    requested = revision or HUB_DATASET_REVISIONS.get(dataset, "main")
    return runs_dir() / "hub" / dataset.replace("/", "__") / _key(dataset, split, n, seed, requested, clean,
                                                                   allow_restricted)


def load_saved_sample(path: Path) -> HubSample | None:
    """The finished sample saved in `path` (its marker written last), else None."""
    path = Path(path)
    if not (path / SAMPLE_MARKER).is_file():
        return None
    try:
        c = json.loads((path / "counts.json").read_text(encoding="utf-8"))
        return HubSample(dataset=c["dataset"], revision=c["revision"], seed=c["seed"], path=path, kept=c["kept"],
                         by_src=dict(c["by_src"]), refused=dict(c["refused"]),
                         requested_revision=c["requested_revision"], split=c["split"], n=c["n"], read=c["read"],
                         short=c["short"], licences=dict(c["licences"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def sample_hub_dataset(dataset: str, n: int, seed: int = 0, revision: str | None = None,
                       shares: Mapping[str, float] | None = None, allow_restricted: bool = False,
                       split: str = "train", progress: bool = False) -> HubSample:
    """A seeded, licence-filtered sample of n records of a hub dataset, saved under runs/ and reused offline."""
    from cm_lib.hub import hub_errors, require_hub, resolve_revision

    clean = _check_args(dataset, n, shares, allow_restricted)
    requested = revision or HUB_DATASET_REVISIONS.get(dataset, "main")
    folder = sample_folder(dataset, n, seed, revision, shares, allow_restricted, split)
    saved = load_saved_sample(folder)
    if saved is not None:
        return saved
    require_hub(f"the dataset {dataset} (a sample of {n} records, seed {seed}, not saved under "
                f"runs/hub/{folder.parent.name}/{folder.name})",
                "an offline corpus preset (smoke, small, full) or run once online to save the sample")
    sha = resolve_revision(dataset, requested)
    with hub_errors(f"sampling {dataset}"):
        rows, counts = _draw(dataset, split, n, seed, sha, clean, allow_restricted, progress)
    counts.update(requested_revision=requested, seed=seed, shares=clean, allow_restricted=allow_restricted)
    _write(folder, rows, counts)
    if counts["short"]:
        print(f"warning: {counts['kept']} of {n} records of {dataset} kept after reading {counts['read']}: the "
              f"dataset ran out, or the shares ask for more than it holds (see {folder / 'README.md'})",
              file=sys.stderr)
    sample = load_saved_sample(folder)
    assert sample is not None
    return sample


def row_groups(files: list[str]) -> list[tuple[str, int, int]]:
    """(file, row group, rows) of every row group of the parquet files (only their footers are read)."""
    import pyarrow.parquet as pq
    from huggingface_hub import HfFileSystem

    fs = HfFileSystem()
    out = []
    for file in files:
        with fs.open(file, "rb") as fh:
            meta = pq.ParquetFile(fh).metadata
        out += [(file, i, meta.row_group(i).num_rows) for i in range(meta.num_row_groups)]
    return out


def read_row_group(file: str, index: int) -> list[dict]:
    """The records of one row group of a hub parquet file (ranged reads; the file is not downloaded)."""
    import pyarrow.parquet as pq
    from huggingface_hub import HfFileSystem

    with HfFileSystem().open(file, "rb") as fh:
        return pq.ParquetFile(fh).read_row_group(index).to_pylist()


def split_files(dataset: str, split: str, sha: str) -> list[str]:
    """The parquet files (hf:// URLs at `sha`) of a split, as `datasets` resolves the dataset card's configs."""
    import datasets
    from datasets import load_dataset_builder

    was_enabled = datasets.is_progress_bar_enabled()
    datasets.disable_progress_bars()
    try:
        builder = load_dataset_builder(dataset, revision=sha)
    finally:
        if was_enabled:
            datasets.enable_progress_bars()
    files = list((builder.config.data_files or {}).get(split, []))
    if not files:
        raise UsageError(f"{dataset} has no split {split!r} (splits: {', '.join(builder.config.data_files or {})})")
    if not all(str(f).endswith(".parquet") for f in files):
        raise UsageError(f"{dataset}: only parquet datasets can be sampled (files: {files[0]} ...)")
    return [str(f) for f in files]


def seeded_records(groups: list[tuple[str, int, int]], n: int, seed: int) -> Iterator[dict]:
    """Records in a seeded random order: row groups in a shuffled order, their records shuffled in buffers.

    Buffers of about BUFFER_FACTOR x n records (whole row groups) are read and shuffled in turn, so the first n
    records mix many row groups spread over the dataset even when its files are sorted by source, and a sample
    of n reads about that many records, not the dataset.
    """
    rng = random.Random(f"hub-sample:{seed}")
    order = list(groups)
    rng.shuffle(order)
    target = max(BUFFER_MIN, min(BUFFER_MAX, BUFFER_FACTOR * n))
    pos = 0
    while pos < len(order):
        buffer: list[dict] = []
        while pos < len(order) and len(buffer) < target:
            file, index, _ = order[pos]
            buffer += read_row_group(file, index)
            pos += 1
        rng.shuffle(buffer)
        yield from buffer


def _draw(dataset: str, split: str, n: int, seed: int, sha: str, shares: dict | None, allow_restricted: bool,
          progress: bool) -> tuple[list[dict], dict[str, Any]]:
    """Read row groups in a seeded order, gate each record, fill the quotas; the kept rows and the counts."""
    from cm_lib.corpus.sources import hub_record_source
    from cm_lib.corpus.spec import CATEGORIES

    files = split_files(dataset, split, sha)
    groups = row_groups(files)
    want = quotas(n, shares) if shares else None
    by_category = bool(shares) and all(k in CATEGORIES for k in shares)
    kept_rows: list[dict] = []
    by_key: Counter = Counter()
    by_src: Counter = Counter()
    refused: Counter = Counter()
    skipped: Counter = Counter()
    licences: dict[str, str] = {}
    read = 0
    max_read = READ_FACTOR * n + BUFFER_MAX
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=n, desc=f"sample {dataset}", unit="record")
    try:
        for row in seeded_records(groups, n, seed):
            read += 1
            src = str(row.get("src", ""))
            info = hub_record_source(dataset, src)
            licences.setdefault(src, info.licence)
            if not info.trainable and not allow_restricted:
                refused[src] += 1
            else:
                key = musicpile_category(src, str(row.get("text", ""))) if by_category else src
                if want is not None and by_key[key] >= want.get(key, 0):
                    skipped[src] += 1
                else:
                    kept_rows.append(row)
                    by_key[key] += 1
                    by_src[src] += 1
                    if bar is not None:
                        bar.update(1)
            if len(kept_rows) >= n or read >= max_read:
                break
    finally:
        if bar is not None:
            bar.close()
    buffer = max(BUFFER_MIN, min(BUFFER_MAX, BUFFER_FACTOR * n))
    counts = {
        "dataset": dataset, "split": split, "revision": sha, "n": n, "kept": len(kept_rows), "read": read,
        "short": len(kept_rows) < n, "buffer_size": buffer, "by_src": dict(sorted(by_src.items())),
        "refused": dict(sorted(refused.items())), "skipped_by_shares": dict(sorted(skipped.items())),
        "quotas": want, "licences": dict(sorted(licences.items())), "sample_version": SAMPLE_VERSION,
        "files": len(files), "row_groups": len(groups), "rows": sum(g[2] for g in groups),
        "method": f"parquet row groups ({len(groups)} in {len(files)} files, pyarrow over huggingface_hub's "
                  f"HfFileSystem at the commit) read in a seeded order, records shuffled in buffers of {buffer}",
    }
    return kept_rows, counts


def _write(folder: Path, rows: list[dict], counts: dict[str, Any]) -> None:
    """Write the sample into a sibling temporary folder (marker last), then rename it into place."""
    from cm_lib.corpus.card import render_sample_card

    tmp = fresh_sibling_dir(folder)
    try:
        with (tmp / "records.jsonl").open("w", encoding="utf-8") as f:
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
        (tmp / "counts.json").write_text(json.dumps(counts, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        (tmp / "README.md").write_text(render_sample_card(counts), encoding="utf-8")
        (tmp / SAMPLE_MARKER).write_text(json.dumps({k: counts[k] for k in ("dataset", "revision", "kept")}) + "\n")
        if folder.exists():  # an unfinished sample of ours (no marker): replace only our files
            foreign = [p.name for p in folder.iterdir() if p.name not in (*SAMPLE_FILES, SAMPLE_MARKER)]
            if foreign:
                raise UsageError(f"{folder} holds files cm_lib did not write ({', '.join(sorted(foreign))}); "
                                 "move them away to sample again")
            for name in SAMPLE_FILES:
                (folder / name).unlink(missing_ok=True)
            folder.rmdir()
        os.replace(tmp, folder)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
