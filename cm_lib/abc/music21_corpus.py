"""The ABC tunes that ship inside music21's wheel (offline), by collection."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from cm_lib.abc.tune import Tune, read_tunes
from cm_lib.errors import AbcError

# Top-level folder of music21's corpus -> collection name used by the course.
COLLECTIONS = {
    "essenFolksong": "essen",
    "oneills1850": "oneill",
    "airdsAirs": "aird",
    "ryansMammoth": "ryan",
}
MISC = "misc"


def music21_corpus_dir() -> Path:
    """The folder of music21's bundled corpus (notebook 01)."""
    import music21

    return Path(music21.__file__).parent / "corpus"


def music21_abc_files() -> list[Path]:
    """Every .abc file in music21's corpus, sorted by relative path (notebook 01)."""
    root = music21_corpus_dir()
    return sorted(root.rglob("*.abc"), key=lambda p: p.relative_to(root).as_posix())


def collection_of(path: Path) -> str:
    """The collection name (essen, oneill, aird, ryan, misc) of a corpus file (notebook 01)."""
    rel = path.relative_to(music21_corpus_dir())
    return COLLECTIONS.get(rel.parts[0], MISC)


def iter_music21_tunes(collections: list[str] | None = None) -> Iterator[tuple[str, Tune]]:
    """(collection, tune) for every tune of music21's ABC files, in sorted file order (notebook 01)."""
    wanted = set(collections) if collections else None
    if wanted is not None:
        unknown = wanted - set(COLLECTIONS.values()) - {MISC}
        if unknown:
            raise AbcError(f"unknown collection(s) {sorted(unknown)}; known: {sorted([*COLLECTIONS.values(), MISC])}")
    for path in music21_abc_files():
        name = collection_of(path)
        if wanted is not None and name not in wanted:
            continue
        for tune in read_tunes(path):
            yield name, tune
