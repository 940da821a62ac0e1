"""Build a MusicPile-style corpus: sources -> clean -> dedup -> augment -> tasks -> mix -> save_to_disk (the folder it
writes, its marker and reading it back: cm_lib.corpus.store)."""

from __future__ import annotations

import hashlib
import json
import random
import shutil
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Any

from cm_lib.corpus.sources import RawTune, check_licence, load_scores, source_info
from cm_lib.corpus.spec import (
    BUILDER_VERSION,
    CATEGORIES,
    MARKER,
    PRETRAIN_COLUMNS,
    SFT_COLUMNS,
    SPLITS,
    CorpusPreset,
    CorpusStats,
    corpus_preset,
    default_sources,
)
from cm_lib.corpus.store import check_out_dir, corpus_is_current, publish_build
from cm_lib.errors import UsageError
from cm_lib.paths import fresh_sibling_dir, stage_dir


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
    """Raw tunes of every score source, in order; notebook 02."""
    raws: list[RawTune] = []
    for name in sources:
        if name == "bach":
            raws += load_scores(name, preset.bach_chorales)
        elif name.startswith("music21:"):
            raws += load_scores(name, preset.tunes_per_collection)
        else:
            raws += load_scores(name)
    return raws


def count_inputs(score_names: list[str], raws: list[RawTune]) -> dict[str, int]:
    """Raw tunes per score source, a source that yielded none included (warned); UsageError if none yields any."""
    import sys

    counts = Counter(r.src for r in raws)
    inputs = {public_name(n): counts.get(public_name(n), 0) for n in score_names}
    inputs.update({src: n for src, n in counts.items() if src not in inputs})
    empty = [src for src, n in inputs.items() if n == 0]
    for src in empty:
        print(f"warning: source {src} yielded no tune (no .abc file, or no X:/K: tune in its files)", file=sys.stderr)
    if score_names and not raws:
        raise UsageError(f"no score source yielded any tune ({', '.join(empty)}): nothing to build a corpus from")
    return inputs


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

    extra = list(sources or [])
    names = default_sources(preset) + [s for s in extra if s not in default_sources(preset)]
    check_licence(names, allow_restricted)  # before any data access
    hub = [n for n in names if source_info(n).kind == "hub"]
    score_names = [n for n in names if n not in hub]
    stats = CorpusStats(settings={
        "preset": preset.name, "seed": seed, "sources": [public_name(n) for n in names], "allow_restricted": allow_restricted,
        "builder_version": BUILDER_VERSION, "preset_values": preset_values(preset),
    })
    stats.licences = {public_name(n): source_info(n).licence for n in names}
    for name in ["stdlib-docs", "package-docs", "stdlib-code", "generated-math", "generated-theory"]:
        stats.licences[name] = source_info(name).licence
    hub_rows = hub_samples(preset, hub, seed, allow_restricted, stats, progress)  # first: offline, fail fast

    # 1. sources -> clean
    raws = collect_raw(score_names, preset)
    stats.inputs = count_inputs(score_names, raws)
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
    # 5. text categories sized by MusicPile's shares relative to the score characters (hub presets: the sample's)
    if not preset.hub:
        add_text_categories(pretrain, preset, seed)
    add_hub_rows(pretrain, sft, hub_rows, seed, preset)
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


def add_text_categories(pretrain: dict[str, list[dict]], preset: CorpusPreset, seed: int) -> None:
    """General, code, math and music-verbal texts, sized by MusicPile's shares relative to the score characters."""
    from cm_lib.corpus.textsources import (
        math_problems,
        music21_doc_texts,
        package_texts,
        pydoc_topic_texts,
        stdlib_texts,
    )

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


HUB_SOURCE_RECORDS = {"smoke": 50}  # records sampled for a hub dataset passed as --source (default 1000)


def preset_values(preset: CorpusPreset) -> dict[str, Any]:
    """The preset's fields for stats.json (`hub` only when set, so offline builds write what they always wrote)."""
    values = asdict(preset)
    if not values["hub"]:
        values.pop("hub")
    return values


def hub_samples(preset: CorpusPreset, hub_sources: list[str], seed: int, allow_restricted: bool,
                stats: CorpusStats, progress: bool = False) -> dict[str, list[dict]]:
    """Records of the preset's hub samples (and of hub datasets passed as sources), recorded in stats.hub."""
    from cm_lib.corpus.hub import sample_hub_dataset

    requests = dict(preset.hub)
    for name in hub_sources:
        requests.setdefault(name, HUB_SOURCE_RECORDS.get(preset.name, 1000))
    rows: dict[str, list[dict]] = {}
    for name, n in requests.items():
        sample = sample_hub_dataset(name, n, seed=seed, allow_restricted=allow_restricted, progress=progress)
        rows[name] = sample.records()
        stats.licences[name] = source_info(name).licence
        stats.hub[name] = sample.summary()
    return rows


def add_hub_rows(pretrain: dict[str, list[dict]], sft: dict[str, list[dict]], hub_rows: dict[str, list[dict]],
                 seed: int, preset: CorpusPreset) -> None:
    """Hub sample records into the splits: MusicPile text as pretraining rows, MusicPile-sft pairs as SFT rows."""
    from cm_lib.corpus.hub import corpus_records

    for name, rows in hub_rows.items():
        pre, pairs = corpus_records(name, rows)
        for rec in pre:
            pretrain[split_of(rec["id"], seed, preset)].append(rec)
        for rec in pairs:
            sft[split_of(rec["id"], seed, preset)].append(rec)


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
    allow_restricted: bool = False, progress: bool = True, overwrite: bool = False,
) -> CorpusStats:
    """Build the corpus into out_dir (pretrain/, sft/, README.md, stats.json); same seed, same bytes; notebook 02.

    The build is written to a sibling temporary folder and moved into place when complete; `out_dir`
    must be new, empty or a previous build (else UsageError, unless `overwrite`).
    """
    from cm_lib.corpus.card import write_card

    p = corpus_preset(preset)
    out = check_out_dir(Path(out_dir), overwrite)  # before any work
    pretrain, sft, stats = build_records(p, seed, sources, allow_restricted, progress)
    tmp = fresh_sibling_dir(out)
    try:
        _save(pretrain, PRETRAIN_COLUMNS, tmp / "pretrain")  # no bar: saving takes a second (six
        _save(sft, SFT_COLUMNS, tmp / "sft")  # splits would print six "Saving the dataset" bars)
        (tmp / "stats.json").write_text(json.dumps(stats.as_dict(), indent=2, sort_keys=True) + "\n")
        write_card(tmp / "README.md", stats)
        (tmp / MARKER).write_text(json.dumps(stats.settings, indent=2, sort_keys=True) + "\n")
        publish_build(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return stats


def ensure_corpus(preset: str = "small", seed: int = 0, out_dir: Path | None = None) -> Path:
    """The corpus folder for (preset, seed), built only if missing, unfinished or built with other settings; notebook 02."""
    out = Path(out_dir) if out_dir is not None else stage_dir("corpus") / preset
    if not corpus_is_current(out, preset, seed):
        build_corpus(out, preset=preset, seed=seed)
    return out
