"""What a corpus build is: presets, categories, splits, columns, the stats record, the completion marker.

Shared by the builder (`build.py`) and the dataset card (`card.py`); holds no logic that reads data.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from cm_lib.errors import AssetNotFoundError

# A cache-key input of `ensure_corpus`: bump it whenever a change alters what a build writes.
# 4: a completion marker (MARKER) is written last; empty score sources are listed in stats.inputs.
BUILDER_VERSION = 5  # 5: minor keys harmonised with the harmonic minor's dominant (4: atomic builds)
MARKER = ".cm_corpus_complete.json"  # written last: a folder without it is not a finished build
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
    """Sizes of one corpus build (presets are data, see CORPUS_PRESETS)."""

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
    # (hub dataset, records): seeded, licence-filtered samples (cm_lib.corpus.hub) that replace the offline text
    # categories; empty for the offline presets.
    hub: tuple[tuple[str, int], ...] = ()


CORPUS_PRESETS: dict[str, CorpusPreset] = {
    "smoke": CorpusPreset(name="smoke", tunes_per_collection=30, bach_chorales=4, augment_keys=1, tasks_per_tune=2,
                          theory_questions=39, max_math=20, max_general_chars=40_000),
    "small": CorpusPreset(name="small", tunes_per_collection=700, bach_chorales=40, augment_keys=1,
                          tasks_per_tune=2, theory_questions=1000, max_math=3000, max_general_chars=2_000_000),
    "full": CorpusPreset(name="full", tunes_per_collection=None, bach_chorales=None, augment_keys=0,
                         tasks_per_tune=1, theory_questions=1300, max_math=3000, max_general_chars=3_000_000),
    # The GPU track (online): pretraining text sampled from MusicPile, SFT pairs from MusicPile-sft beside the
    # course's own checkable tasks (built from the offline scores, sized like smoke / small / full).
    "musicpile-smoke": CorpusPreset(name="musicpile-smoke", tunes_per_collection=30, bach_chorales=4, augment_keys=1,
                                    tasks_per_tune=2, theory_questions=39, max_math=0, max_general_chars=0,
                                    hub=(("m-a-p/MusicPile", 64), ("m-a-p/MusicPile-sft", 64))),
    "musicpile-t4": CorpusPreset(name="musicpile-t4", tunes_per_collection=700, bach_chorales=40, augment_keys=1,
                                 tasks_per_tune=2, theory_questions=1000, max_math=0, max_general_chars=0,
                                 hub=(("m-a-p/MusicPile", 4_000), ("m-a-p/MusicPile-sft", 4_000))),
    "musicpile-a100": CorpusPreset(name="musicpile-a100", tunes_per_collection=None, bach_chorales=None,
                                   augment_keys=0, tasks_per_tune=1, theory_questions=1300, max_math=0,
                                   max_general_chars=0,
                                   hub=(("m-a-p/MusicPile", 20_000), ("m-a-p/MusicPile-sft", 20_000))),
}


def corpus_preset(name: str) -> CorpusPreset:
    """A corpus preset by name (smoke, small, full; musicpile-smoke/-t4/-a100 online); taught in notebook 02."""
    if name not in CORPUS_PRESETS:
        raise AssetNotFoundError(f"unknown corpus preset {name!r}; choose from {sorted(CORPUS_PRESETS)}")
    return CORPUS_PRESETS[name]


def music21_collections() -> list[str]:
    """The music21 collections a build reads by default, as `cm_lib.abc.music21_corpus` names them."""
    from cm_lib.abc.music21_corpus import COLLECTIONS, MISC  # lazy: keeps `python -m cm_lib --help` light

    return [*COLLECTIONS.values(), MISC]


def default_sources(preset: CorpusPreset) -> list[str]:
    """The offline score sources of a preset: music21's collections (+ Bach chorales); notebook 02."""
    names = [f"music21:{c}" for c in music21_collections()]
    return names + (["bach"] if preset.bach_chorales != 0 else [])


@dataclass
class CorpusStats:
    """Every figure of a build (also written to stats.json and the dataset card)."""

    settings: dict[str, Any]
    inputs: dict[str, int] = field(default_factory=dict)  # raw tunes per score source (0: it yielded none)
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
    hub: dict[str, dict[str, Any]] = field(default_factory=dict)  # hub dataset -> its sample (revision, counts)

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for stats.json (`hub` only when the build sampled the hub)."""
        out = asdict(self)
        if not out["hub"]:
            out.pop("hub")
        return out
