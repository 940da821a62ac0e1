"""Corpus builds never leave a half-build taken as complete and never delete a user's files (issue 9)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import cm_lib.corpus.build as build
from cm_lib.cli import main
from cm_lib.corpus import is_complete, load_corpus, read_stats
from cm_lib.corpus.sources import load_local, load_scores
from cm_lib.corpus.spec import MARKER, SPLITS, CorpusStats, corpus_preset
from cm_lib.errors import AssetNotFoundError, UsageError
from cm_lib.paths import data_samples_dir

OURS = {"pretrain", "sft", "stats.json", "README.md", MARKER}


def _tiny_records(preset, seed=0, sources=None, allow_restricted=False, progress=False):
    """What build_records returns, for one record per split (so a test builds in a second)."""
    pre = {s: [{"id": f"p-{s}-{seed}", "text": f"text {s} {seed}", "src": "t", "category": "general"}] for s in SPLITS}
    sft = {s: [{"instruction": "i", "input": "", "output": "o", "src": "t", "id": f"s-{s}-{seed}", "task": "t",
                "meta": "{}"}] for s in SPLITS}
    settings = {"preset": preset.name, "seed": seed, "sources": [], "allow_restricted": False,
                "builder_version": build.BUILDER_VERSION}
    return pre, sft, CorpusStats(settings=settings)


@pytest.fixture
def tiny(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(build, "build_records", _tiny_records)


def test_interrupted_rebuild_keeps_the_previous_build(tmp_path: Path, tiny, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "c"
    build.build_corpus(out, preset="smoke", seed=1, progress=False)
    real_save = build._save

    def save_then_interrupt(records, columns, path, progress=False):
        if path.name == "sft":
            raise KeyboardInterrupt
        real_save(records, columns, path, progress)

    monkeypatch.setattr(build, "_save", save_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        build.build_corpus(out, preset="smoke", seed=2, progress=False)
    assert is_complete(out) and read_stats(out)["settings"]["seed"] == 1
    pretrain, sft = load_corpus(out)
    assert pretrain["train"][0]["id"] == "p-train-1" and len(sft["test"]) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c"]  # no temporary folder left behind


def test_a_folder_without_the_marker_is_not_a_finished_build(tmp_path: Path, tiny,
                                                             capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "c"
    build.build_corpus(out, preset="smoke", seed=0, progress=False)
    (out / MARKER).unlink()  # e.g. interrupted while its entries were being moved into place
    with pytest.raises(AssetNotFoundError, match="not a finished corpus build"):
        read_stats(out)
    with pytest.raises(AssetNotFoundError):
        load_corpus(out)
    assert main(["corpus", "stats", str(out)]) == 2
    assert "not a finished corpus build" in capsys.readouterr().err
    assert build.ensure_corpus("smoke", seed=0, out_dir=out) == out and is_complete(out)  # rebuilt


def test_build_refuses_a_users_folder_and_overwrite_keeps_other_files(tmp_path: Path, tiny,
                                                                      capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "README.md").write_text("my notes\n")
    (out / "stats.json").write_text('{"mine": true}\n')
    assert main(["corpus", "build", "--out", str(out), "--preset", "smoke", "--quiet"]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert (out / "README.md").read_text() == "my notes\n" and sorted(p.name for p in out.iterdir()) == [
        "README.md", "stats.json"]
    (out / "keep.txt").write_text("keep me\n")
    assert main(["corpus", "build", "--out", str(out), "--preset", "smoke", "--quiet", "--overwrite"]) == 0
    assert (out / "keep.txt").read_text() == "keep me\n" and {p.name for p in out.iterdir()} == OURS | {"keep.txt"}
    assert main(["corpus", "build", "--out", str(out), "--preset", "smoke", "--quiet"]) == 0  # ours now: no flag
    assert (out / "keep.txt").exists()


def test_out_that_is_a_file_is_refused_before_the_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture) -> None:
    def no_build(*args, **kwargs):
        raise AssertionError("the build started")

    monkeypatch.setattr(build, "build_records", no_build)
    target = tmp_path / "file.txt"
    target.write_text("x")
    assert main(["corpus", "build", "--out", str(target), "--preset", "smoke"]) == 2
    assert "is a file" in capsys.readouterr().err and target.read_text() == "x"
    with pytest.raises(UsageError, match="is a file"):
        build.build_corpus(target, preset="smoke")


def test_local_source_skips_a_symlink_loop_and_a_fifo_and_reads_the_rest(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    folder = tmp_path / "mytunes"
    folder.mkdir()
    (folder / "good.abc").write_text((data_samples_dir() / "basics.abc").read_text())
    os.symlink("loop.abc", folder / "loop.abc")  # a link to itself
    os.symlink(".", folder / "again")  # a folder link back to the folder
    os.mkfifo(folder / "pipe.abc")  # reading it would block forever
    tunes = load_local(folder)
    assert tunes and {t.ref.split("#")[0] for t in tunes} == {"good.abc"}
    err = capsys.readouterr().err
    assert "skipped loop.abc: Too many levels of symbolic links" in err and "skipped pipe.abc: not a regular file" in err


def test_local_file_source_works(tmp_path: Path) -> None:
    path = data_samples_dir() / "basics.abc"
    tunes = load_scores(f"local:{path}")
    assert tunes and {t.src for t in tunes} == {"local:basics.abc"}
    assert [t.ref for t in tunes] == [f"basics.abc#{i}" for i in range(len(tunes))]
    assert build.public_name(f"local:{path}") == "local:basics.abc"
    with pytest.raises(AssetNotFoundError, match="cannot be read"):
        load_scores(f"local:{tmp_path / 'missing'}")


def test_a_source_without_tunes_is_counted_warned_and_alone_refused(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture) -> None:
    empty, binary = tmp_path / "empty", tmp_path / "binary"
    empty.mkdir()
    binary.mkdir()
    (binary / "noise.abc").write_bytes(bytes(range(256)) * 4)
    (binary / "image.png").write_bytes(b"\x89PNG\r\n")
    names = [f"local:{empty}", f"local:{binary}"]
    with pytest.raises(UsageError, match="no score source yielded any tune"):
        build.count_inputs(names, build.collect_raw(names, corpus_preset("smoke")))
    assert capsys.readouterr().err.count("yielded no tune") == 2
    names = ["music21:ryan", *names]
    inputs = build.count_inputs(names, build.collect_raw(names, corpus_preset("smoke")))
    assert inputs == {"music21:ryan": 30, "local:empty": 0, "local:binary": 0}
    assert "source local:empty yielded no tune" in capsys.readouterr().err
    assert json.dumps(inputs)  # goes to stats.json as it is
