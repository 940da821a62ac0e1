"""Build a MusicPile-style corpus: sources -> clean -> dedup -> augment -> tasks -> mix -> save_to_disk."""

from __future__ import annotations

import hashlib
import json
import random
import shutil
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from cm_lib.corpus.sources import MUSIC21_COLLECTIONS, RawTune, check_licence, load_scores, source_info

BUILDER_VERSION = 4  # 4: minor keys harmonised with the harmonic minor dominant
# MusicPile's token shares (ChatMusician paper, table 1).
PAPER_SHARES: dict[str, float] = {
    "general": 0.647, "scores": 0.184, "music_verbal": 0.104, "math": 0.041, "code": 0.024,
}
CATEGORIES = list(PAPER_SHARES)
SPLITS = ("train", "validation", "test")
PRETRAIN_COLUMNS = ["id", "text", "src", "category"]
SFT_COLUMNS = ["instruction", "input", "output", "src", "id", "task", "meta"]


@dataclass(frozen=True)
class CorpusPreset:
    """Sizes of one corpus build (presets are data, see PRESETS)."""

    name: str
    tunes_per_collection: int | None  # None: every tune of each music21 collection
    bach_chorales: int | None  # 0: none, None: all 408
    augment_keys: int  # transposed copies per tune (0: off)
    tasks_per_tune: int
    theory_questions: int
    max_math: int
    max_general_chars: int
    shares: tuple[tuple[str, float], ...] = tuple(PAPER_SHARES.items())
    dedup_threshold: float = 0.6
    validation_frac: float = 0.05
    test_frac: float = 0.05


PRESETS: dict[str, CorpusPreset] = {
    "smoke": CorpusPreset("smoke", 30, 4, 1, 2, 39, 20, 40_000),
    "small": CorpusPreset("small", 700, 40, 1, 2, 1000, 3000, 2_000_000),
    "full": CorpusPreset("full", None, None, 0, 1, 1300, 3000, 3_000_000),
}


@dataclass
class CorpusStats:
    """Every figure of a build (also written to stats.json and the dataset card)."""

    settings: dict[str, Any]
    inputs: dict[str, int] = field(default_factory=dict)  # raw tunes per source
    kept: dict[str, int] = field(default_factory=dict)  # after cleaning and dedup, per source
    rejections: dict[str, int] = field(default_factory=dict)  # reason -> count
    duplicates: dict[str, int] = field(default_factory=dict)  # exact / transposed
    clusters: dict[str, Any] = field(default_factory=dict)  # near-duplicate clusters (count, sizes, examples)
    augmentation: dict[str, Any] = field(default_factory=dict)
    pretrain: dict[str, dict[str, int]] = field(default_factory=dict)  # split -> category -> records
    chars: dict[str, int] = field(default_factory=dict)  # category -> characters (all splits)
    shares: dict[str, float] = field(default_factory=dict)  # category -> our share of characters
    sft: dict[str, dict[str, int]] = field(default_factory=dict)  # split -> task -> records
    licences: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for stats.json."""
        return asdict(self)


def get_preset(name: str) -> CorpusPreset:
    """A preset by name (smoke, small, full)."""
    from cm_lib.errors import AssetNotFoundError

    if name not in PRESETS:
        raise AssetNotFoundError(f"unknown corpus preset {name!r}; choose from {sorted(PRESETS)}")
    return PRESETS[name]


def default_sources(preset: CorpusPreset) -> list[str]:
    """The offline score sources of a preset: music21's collections (+ Bach chorales)."""
    names = [f"music21:{c}" for c in MUSIC21_COLLECTIONS]
    return names + (["bach"] if preset.bach_chorales != 0 else [])


def public_name(name: str) -> str:
    """A source name safe for artefacts: `local:/abs/path/folder` -> `local:folder` (no absolute paths)."""
    return f"local:{Path(name.split(':', 1)[1]).name}" if name.startswith("local:") else name


def split_of(key: str, seed: int, preset: CorpusPreset) -> str:
    """Deterministic split of a cluster or document key."""
    h = int(hashlib.sha1(f"{seed}:{key}".encode()).hexdigest()[:8], 16) / 16**8
    if h < preset.validation_frac:
        return "validation"
    if h < preset.validation_frac + preset.test_frac:
        return "test"
    return "train"


def _id(prefix: str, key: str) -> str:
    return f"{prefix}-{hashlib.sha1(key.encode()).hexdigest()[:12]}"


def _progress(items: list, desc: str, enabled: bool) -> Any:
    if not enabled:
        return items
    from tqdm.auto import tqdm

    return tqdm(items, desc=desc, unit="tune")


def collect_raw(sources: list[str], preset: CorpusPreset) -> list[RawTune]:
    """Raw tunes of every score source, in order."""
    raws: list[RawTune] = []
    for name in sources:
        if name == "bach":
            raws += load_scores(name, preset.bach_chorales)
        elif name.startswith("music21:"):
            raws += load_scores(name, preset.tunes_per_collection)
        else:
            raws += load_scores(name)
    return raws


def build_records(
    preset: CorpusPreset, seed: int = 0, sources: list[str] | None = None, allow_restricted: bool = False,
    progress: bool = False,
) -> tuple[dict[str, list[dict]], dict[str, list[dict]], CorpusStats]:
    """All pretrain and SFT records by split, plus the stats (nothing written)."""
    from cm_lib.corpus.analysis import analyse, summary_text
    from cm_lib.corpus.augment import augment
    from cm_lib.corpus.clean import clean_tunes
    from cm_lib.corpus.dedup import deduplicate
    from cm_lib.corpus.tasks import TUNE_TASKS, tasks_for_tune, theory_records
    from cm_lib.corpus.textsources import (
        math_problems,
        music21_doc_texts,
        package_texts,
        pydoc_topic_texts,
        stdlib_texts,
    )

    extra = list(sources or [])
    names = default_sources(preset) + [s for s in extra if s not in default_sources(preset)]
    check_licence(names, allow_restricted)  # before any data access
    hub = [n for n in names if source_info(n).kind == "hub"]
    score_names = [n for n in names if n not in hub]
    stats = CorpusStats(settings={
        "preset": preset.name, "seed": seed, "sources": [public_name(n) for n in names], "allow_restricted": allow_restricted,
        "builder_version": BUILDER_VERSION, "preset_values": asdict(preset),
    })
    stats.licences = {public_name(n): source_info(n).licence for n in names}
    for name in ["stdlib-docs", "package-docs", "stdlib-code", "generated-math", "generated-theory"]:
        stats.licences[name] = source_info(name).licence
    hub_rows: dict[str, list[dict]] = {}
    for name in hub:
        from cm_lib.corpus.sources import iter_hub_musicpile

        hub_rows[name] = list(iter_hub_musicpile(name, limit=1000 if preset.name != "smoke" else 50))

    # 1. sources -> clean
    raws = collect_raw(score_names, preset)
    stats.inputs = dict(Counter(r.src for r in raws))
    kept, rejected = clean_tunes(raws, progress=progress)
    stats.rejections = dict(sorted(rejected.items()))
    # 2. dedup -> clusters
    dd = deduplicate(kept, threshold=preset.dedup_threshold)
    stats.duplicates = {"exact": len(dd.exact_duplicates), "transposed": len(dd.transposed_duplicates)}
    sizes = sorted((len(v) for v in dd.clusters.values()), reverse=True)
    stats.clusters = {
        "near_duplicate_clusters": len(dd.clusters), "tunes_in_clusters": sum(sizes),
        "largest": sizes[:10], "examples": [dd.clusters[k] for k in sorted(dd.clusters)[:5]],
        "exact_pairs": [list(p) for p in dd.exact_duplicates],
        "transposed_pairs": [list(p) for p in dd.transposed_duplicates],
        "threshold": preset.dedup_threshold,
    }
    tunes = dd.kept
    stats.kept = dict(Counter(t.src for t in tunes))
    # 3. augmentation (copies share the original's cluster, hence its split)
    copies, aug_rejected = augment(tunes, preset.augment_keys, seed)
    stats.augmentation = {"keys_per_tune": preset.augment_keys, "copies": len(copies),
                          "rejections": dict(sorted(aug_rejected.items()))}
    split = {t.cluster: split_of(t.cluster, seed, preset) for t in tunes}

    pretrain: dict[str, list[dict]] = {s: [] for s in SPLITS}
    sft: dict[str, list[dict]] = {s: [] for s in SPLITS}
    for t in [*tunes, *copies]:
        pretrain[split[t.cluster]].append({"id": _id("score", t.ref_id), "text": t.text, "src": t.src,
                                           "category": "scores"})
    # 4. analysis -> SFT tasks and tune summaries (music-verbal)
    counts: dict[str, int] = {}
    forms: dict[str, str] = {}
    for t in _progress([*tunes, *copies], "analyse + tasks", progress):
        try:
            info = analyse(t.text, form=forms.get(t.augmented_from))  # copies reuse the original's form
        except Exception:  # noqa: BLE001 - counted below
            rejected["analysis_error"] += 1
            continue
        rng = random.Random(f"{seed}:{t.ref_id}")
        if t.semitones:  # transposed copies: generation tasks only, one each
            recs = tasks_for_tune(info, t.text, rng, counts, 1, ["form_conditioned", "key_meter_conditioned"])
        else:
            forms[t.ref_id] = info.form
            recs = tasks_for_tune(info, t.text, rng, counts, preset.tasks_per_tune, TUNE_TASKS)
            pretrain[split[t.cluster]].append({"id": _id("summary", t.ref_id), "text": summary_text(info),
                                               "src": "generated-theory", "category": "music_verbal"})
        for rec in recs:
            rec.update(src=t.src, id=_id("sft", f"{t.ref_id}:{rec['task']}"))
            sft[split[t.cluster]].append(rec)
    stats.rejections = dict(sorted(rejected.items()))
    for i, rec in enumerate(theory_records(preset.theory_questions, seed)):
        key = f"theory:{seed}:{i}"
        rec.update(src="generated-theory", id=_id("sft", key))
        sft[split_of(key, seed, preset)].append(rec)
        text = f"Question: {rec['instruction']}\n" + (f"{rec['input']}" if rec["input"] else "") + \
            f"Answer: {rec['output']}"
        pretrain[split_of(key, seed, preset)].append({"id": _id("theory", key), "text": text,
                                                      "src": "generated-theory", "category": "music_verbal"})
    # 5. text categories sized by MusicPile's shares relative to the score characters
    shares = dict(preset.shares)
    score_chars = sum(len(r["text"]) for s in SPLITS for r in pretrain[s] if r["category"] == "scores")
    target = {c: int(score_chars * shares[c] / shares["scores"]) for c in shares}
    target["general"] = min(target["general"], preset.max_general_chars)
    verbal_chars = sum(len(r["text"]) for s in SPLITS for r in pretrain[s] if r["category"] == "music_verbal")
    docs = []
    if verbal_chars < target["music_verbal"]:
        docs += music21_doc_texts(target["music_verbal"] - verbal_chars)
    general_pool = pydoc_topic_texts() + package_texts(max_docs=100_000)
    docs += [d for d in general_pool if d.category == "music_verbal"]
    general = _take([d for d in general_pool if d.category == "general"], target["general"])
    g_missing = target["general"] - sum(len(d.text) for d in general)
    std_general, std_code = stdlib_texts(max(g_missing, 0), target["code"])  # top-level stdlib modules
    docs += general + _take(std_general, max(g_missing, 0)) + _take(std_code, target["code"])
    n_math = min(preset.max_math, max(1, target["math"] // 180))
    docs += math_problems(n_math, seed)
    for d in docs:
        key = f"{d.src}/{d.ref}"
        pretrain[split_of(key, seed, preset)].append({"id": _id(d.category, key), "text": d.text, "src": d.src,
                                                      "category": d.category})
    for name, rows in hub_rows.items():
        for row in rows:
            if name.endswith("-sft"):
                sft[split_of(row["id"], seed, preset)].append(row)
            else:
                cat = "scores" if "X:" in row["text"] and "K:" in row["text"] else "general"
                pretrain[split_of(row["id"], seed, preset)].append({**row, "category": cat})
    # 6. order, stats
    for s in SPLITS:
        random.Random(f"{seed}:{s}:pretrain").shuffle(pretrain[s])
        random.Random(f"{seed}:{s}:sft").shuffle(sft[s])
        stats.pretrain[s] = dict(sorted(Counter(r["category"] for r in pretrain[s]).items()))
        stats.sft[s] = dict(sorted(Counter(r["task"] for r in sft[s]).items()))
    chars = Counter()
    for s in SPLITS:
        for r in pretrain[s]:
            chars[r["category"]] += len(r["text"])
    stats.chars = {c: chars.get(c, 0) for c in CATEGORIES}
    total = sum(stats.chars.values()) or 1
    stats.shares = {c: round(stats.chars[c] / total, 4) for c in CATEGORIES}
    ids = [r["id"] for s in SPLITS for r in pretrain[s]] + [r["id"] for s in SPLITS for r in sft[s]]
    assert len(ids) == len(set(ids)), "record ids must be unique"
    return pretrain, sft, stats


def _take(docs: list, budget: int) -> list:
    out, size = [], 0
    for d in docs:
        if size >= budget:
            break
        out.append(d)
        size += len(d.text)
    return out


def _save(records: dict[str, list[dict]], columns: list[str], path: Path, progress: bool = False) -> None:
    import datasets
    from datasets import Dataset, DatasetDict, Features, Value

    features = Features({c: Value("string") for c in columns})
    dd = DatasetDict({s: Dataset.from_dict({c: [r[c] for r in records[s]] for c in columns}, features=features)
                      for s in SPLITS})
    was_enabled = datasets.is_progress_bar_enabled()
    if not progress:
        datasets.disable_progress_bars()
    try:
        dd.save_to_disk(str(path))
    finally:
        if was_enabled:
            datasets.enable_progress_bars()


def build_corpus(
    out_dir: Path, preset: str = "small", seed: int = 0, sources: list[str] | None = None,
    allow_restricted: bool = False, progress: bool = True,
) -> CorpusStats:
    """Build the corpus into out_dir (pretrain/, sft/, README.md, stats.json); same seed, same bytes."""
    from cm_lib.corpus.card import write_card

    p = get_preset(preset)
    pretrain, sft, stats = build_records(p, seed, sources, allow_restricted, progress)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for sub in ("pretrain", "sft"):
        if (out_dir / sub).exists():
            shutil.rmtree(out_dir / sub)
    _save(pretrain, PRETRAIN_COLUMNS, out_dir / "pretrain", progress)
    _save(sft, SFT_COLUMNS, out_dir / "sft", progress)
    (out_dir / "stats.json").write_text(json.dumps(stats.as_dict(), indent=2, sort_keys=True) + "\n")
    write_card(out_dir / "README.md", stats)
    return stats


def read_stats(path: Path) -> dict[str, Any]:
    """stats.json of a built corpus folder."""
    return json.loads((Path(path) / "stats.json").read_text())


def ensure_corpus(preset: str = "small", seed: int = 0, out_dir: Path | None = None) -> Path:
    """The corpus folder for (preset, seed), built only if missing or built with other settings."""
    from cm_lib.paths import stage_dir

    out = Path(out_dir) if out_dir is not None else stage_dir("corpus") / preset
    try:
        s = read_stats(out)["settings"]
        ok = (s.get("preset") == preset and s.get("seed") == seed and s.get("builder_version") == BUILDER_VERSION
              and (out / "pretrain").is_dir() and (out / "sft").is_dir())
    except (OSError, ValueError, KeyError):
        ok = False
    if not ok:
        build_corpus(out, preset=preset, seed=seed)
    return out


def load_corpus(path: Path) -> tuple[Any, Any]:
    """(pretrain, sft) DatasetDicts of a built corpus folder."""
    from datasets import load_from_disk

    from cm_lib.errors import AssetNotFoundError

    path = Path(path)
    if not (path / "pretrain").is_dir() or not (path / "sft").is_dir():
        raise AssetNotFoundError(f"{path} is not a built corpus (run `python -m cm_lib corpus build --out {path}`)")
    return load_from_disk(str(path / "pretrain")), load_from_disk(str(path / "sft"))
