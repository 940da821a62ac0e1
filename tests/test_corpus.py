"""cm_lib.corpus on real data (music21's ABC corpus): determinism, schemas, licence gate, dedup, leakage."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from cm_lib.abc import check, pitches, transpose
from cm_lib.cli import main as cli_main
from cm_lib.corpus import TASKS, build_corpus, ensure_corpus, load_corpus, read_stats
from cm_lib.corpus.clean import clean_tunes
from cm_lib.corpus.dedup import deduplicate, interval_signature, near_duplicate_pairs
from cm_lib.corpus.sources import RawTune, load_music21
from cm_lib.corpus.tasks import GENERATION_TASKS

PLANT_SHIFT = 5


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A local folder holding a transposed copy of the first O'Neill tune (which the smoke preset reads)."""
    folder = tmp_path_factory.mktemp("plant") / "mytunes"
    folder.mkdir()
    original = load_music21("oneill", 1)[0]
    shifted = transpose(original.text, PLANT_SHIFT)
    (folder / "planted.abc").write_text(shifted)
    return folder, f"music21:oneill/{original.ref}"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, planted: tuple[Path, str]) -> Path:
    out = tmp_path_factory.mktemp("corpus") / "a"
    build_corpus(out, preset="smoke", seed=0, sources=[f"local:{planted[0]}"], progress=False)
    return out


def test_rebuild_is_byte_identical(built: Path, planted: tuple[Path, str], tmp_path: Path) -> None:
    other = tmp_path / "b"
    build_corpus(other, preset="smoke", seed=0, sources=[f"local:{planted[0]}"], progress=False)
    files_a = sorted(p.relative_to(built) for p in built.rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(other) for p in other.rglob("*") if p.is_file())
    assert files_a == files_b and len(files_a) >= 16
    for rel in files_a:
        assert (built / rel).read_bytes() == (other / rel).read_bytes(), rel
    for rel in files_a:
        if rel.suffix in (".json", ".md"):
            text = (built / rel).read_text()
            assert str(planted[0]) not in text and "/tmp" not in text and not re.search(r"20\d\d-\d\d-\d\d", text)


def test_schemas_and_splits(built: Path) -> None:
    pretrain, sft = load_corpus(built)
    assert set(pretrain) == set(sft) == {"train", "validation", "test"}
    for split in pretrain.values():
        assert split.column_names == ["id", "text", "src", "category"]
    for split in sft.values():
        assert split.column_names == ["instruction", "input", "output", "src", "id", "task", "meta"]
    ids = [i for s in pretrain.values() for i in s["id"]] + [i for s in sft.values() for i in s["id"]]
    assert len(ids) == len(set(ids))
    cats = {c for s in pretrain.values() for c in s["category"]}
    assert cats == {"scores", "music_verbal", "general", "code", "math"}
    held_out = pretrain["validation"].filter(lambda r: r["category"] == "general")
    assert len(held_out) >= 1 and all(len(t) >= 200 for t in held_out["text"])


def test_every_task_present_and_generation_outputs_are_valid_tunes(built: Path) -> None:
    _, sft = load_corpus(built)
    rows = [r for s in sft.values() for r in s]
    assert {r["task"] for r in rows} == set(TASKS)
    for r in rows:
        meta = json.loads(r["meta"])
        assert r["instruction"].strip() and r["output"].strip()
        if r["task"] in GENERATION_TASKS:
            assert r["output"].startswith("X:1\n"), r
            assert check(r["output"], level="syntax").ok, r["output"]
            assert "key" in meta and "meter" in meta
            assert f"M:{meta['meter']}" in r["output"]
        if r["task"] == "form_conditioned":
            assert meta["form"] in r["instruction"]
        if r["task"] == "chord_conditioned":
            symbols = re.findall(r'"([^"]+)"', r["output"].split("\nK:", 1)[1].split("\n", 1)[1])
            assert symbols == meta["chords"]
        if r["task"] == "motif_continuation":
            assert r["input"].startswith("X:1\n") and meta["motif_bars"][0] in r["output"]
        if r["task"] == "theory_qa":
            assert r["output"].startswith(meta["answer"] + ".")
        if r["task"] == "key_analysis":
            assert r["output"] == meta["key"]


def test_rejections_and_duplicates_account_for_every_input(built: Path, planted: tuple[Path, str]) -> None:
    stats = read_stats(built)
    n_in = sum(stats["inputs"].values())
    rejected = sum(v for k, v in stats["rejections"].items() if k != "analysis_error")
    assert n_in == sum(stats["kept"].values()) + rejected + sum(stats["duplicates"].values())
    assert stats["inputs"]["local:mytunes"] == 1
    # the planted transposed copy is caught as a duplicate of the original O'Neill tune
    assert stats["duplicates"]["transposed"] >= 1
    assert ["local:mytunes/planted.abc#0", planted[1]] in stats["clusters"]["transposed_pairs"]
    assert "local:mytunes" not in stats["kept"]
    card = (built / "README.md").read_text()
    assert "non-commercial" in card and "python -m cm_lib corpus build --out DIR --preset smoke --seed 0" in card


def test_no_melody_leaks_across_splits(built: Path) -> None:
    pretrain, _ = load_corpus(built)
    melodies, split_of = [], []
    for name, split in pretrain.items():
        for row in split:
            if row["category"] == "scores":
                melodies.append(pitches(row["text"]))
                split_of.append(name)
    sigs: dict[str, str] = {}
    for mel, name in zip(melodies, split_of):
        assert sigs.setdefault(interval_signature(mel), name) == name
    for i, j, _ in near_duplicate_pairs(melodies, threshold=0.6):
        assert split_of[i] == split_of[j]
    # augmentation: every split holds transposed copies next to their originals
    assert len(sigs) < len(melodies)


def test_planted_transposed_and_near_duplicates_are_caught() -> None:
    raws = load_music21("ryan", 12)
    base = raws[3]
    lines = base.text.splitlines()
    last = max(i for i, ln in enumerate(lines) if ln and not re.match(r"^[A-Za-z]:", ln))
    lines[last] = re.sub(r"[A-G]", lambda m: m.group(0).lower(), lines[last], count=2)  # two notes an octave up
    planted = [
        RawTune("plant", transpose(base.text, -3), "transposed"),
        RawTune("plant", base.text.replace("T:", "T:Copy of ", 1).replace(" ", "  "), "exact"),
        RawTune("plant", "\n".join(lines) + "\n", "variant"),
    ]
    kept, rejected = clean_tunes(raws + planted)
    result = deduplicate(kept)
    original = f"music21:ryan/{base.ref}"
    assert ("plant/transposed", original) in result.transposed_duplicates
    assert ("plant/exact", original) in result.exact_duplicates
    cluster = {t.ref_id: t.cluster for t in result.kept}
    assert cluster["plant/variant"] == cluster[original]
    assert len(result.kept) + result.n_removed + sum(rejected.values()) == len(raws) + 3


def test_licence_gate_exits_2_before_any_work(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    for name in ("thesession", "irishman"):
        out = tmp_path / name
        assert cli_main(["corpus", "build", "--out", str(out), "--preset", "smoke", "--source", name]) == 2
        assert "refused" in capsys.readouterr().err
        assert not out.exists()


def test_hub_source_fails_fast_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    out = tmp_path / "hub"
    assert cli_main(["corpus", "build", "--out", str(out), "--preset", "smoke", "--source", "m-a-p/MusicPile"]) == 2
    assert "HF_HUB_OFFLINE" in capsys.readouterr().err
    assert cli_main(["corpus", "sources"]) == 0
    assert "thesession" in capsys.readouterr().out


def test_ensure_corpus_reuses_a_matching_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import cm_lib.corpus.build as build

    calls: list[tuple] = []

    def fake_build(out: Path, preset: str, seed: int) -> None:
        calls.append((preset, seed))
        (out / "pretrain").mkdir(parents=True)
        (out / "sft").mkdir()
        settings = {"preset": preset, "seed": seed, "builder_version": build.BUILDER_VERSION}
        (out / "stats.json").write_text(json.dumps({"settings": settings}))
        (out / build.MARKER).write_text(json.dumps(settings))  # what a finished build writes last

    monkeypatch.setattr(build, "build_corpus", fake_build)
    out = tmp_path / "c"
    assert ensure_corpus("smoke", seed=1, out_dir=out) == out
    assert ensure_corpus("smoke", seed=1, out_dir=out) == out
    assert calls == [("smoke", 1)]
    ensure_corpus("smoke", seed=2, out_dir=tmp_path / "d")
    assert calls == [("smoke", 1), ("smoke", 2)]
