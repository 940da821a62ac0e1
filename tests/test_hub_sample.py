"""MusicPile samples from the simulated hub (tests/hubsim): seeded, not the first rows, shares, licence gate, reuse."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from cm_lib.corpus.hub import SAMPLE_MARKER, load_saved_sample, musicpile_category, quotas, sample_hub_dataset
from cm_lib.errors import HubUnavailableError, LicenceError, UsageError

PILE = "m-a-p/MusicPile"


@pytest.fixture
def runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh runs/ folder: samples are saved under runs/hub."""
    monkeypatch.setenv("CM_RUNS_DIR", str(tmp_path / "runs"))
    return tmp_path / "runs"


def _dataset_rows() -> list[dict]:
    from hubsim.fixtures import musicpile_records

    return musicpile_records()


def test_sample_is_seeded_spread_and_gated(hub_server, runs: Path) -> None:
    rows = _dataset_rows()
    a = sample_hub_dataset(PILE, 64, seed=0)
    ids = [r["id"] for r in a.records()]
    assert a.kept == len(ids) == len(set(ids)) == 64 and a.revision == hub_server.server.commit_sha("datasets", PILE)
    # not the first N rows: the fixture's files are sorted by source (its first 300 rows are all irishman)
    assert sorted(ids) != [r["id"] for r in rows[:64]] and len(a.by_src) >= 5
    assert set(a.by_src) <= {r["src"] for r in rows} - {"irishman"}
    assert a.refused.get("irishman", 0) > 0 and a.read == a.kept + a.refused["irishman"]
    by_id = {r["id"]: r for r in rows}
    assert all(by_id[r["id"]] == r for r in a.records())  # the dataset's own schema and values
    # same seed: the saved sample; a new folder with the same seed draws the same records; another seed differs
    assert sample_hub_dataset(PILE, 64, seed=0).path == a.path
    again = sample_hub_dataset(PILE, 64, seed=0, revision=a.revision)  # other key (the sha), drawn again
    assert again.path != a.path and [r["id"] for r in again.records()] == ids
    other = sample_hub_dataset(PILE, 64, seed=1)
    assert len(set(ids) & {r["id"] for r in other.records()}) < 32


def test_default_mix_follows_the_dataset_and_shares_fix_it(hub_server, runs: Path,
                                                          capsys: pytest.CaptureFixture) -> None:
    rows = [r for r in _dataset_rows() if r["src"] != "irishman"]
    truth = {k: v / len(rows) for k, v in Counter(r["src"] for r in rows).items()}
    s = sample_hub_dataset(PILE, 300, seed=3)
    got = {k: v / s.kept for k, v in s.by_src.items()}
    assert max(abs(got.get(k, 0) - truth[k]) for k in truth) < 0.08, (got, truth)
    fixed = sample_hub_dataset(PILE, 60, seed=3, shares={"code": 1, "gsm8k": 1, "wikipedia": 2})
    assert fixed.by_src == {"code": 15, "gsm8k": 15, "wikipedia": 30}
    counts = json.loads((fixed.path / "counts.json").read_text())
    assert counts["quotas"] == {"code": 15, "gsm8k": 15, "wikipedia": 30} and sum(counts["skipped_by_shares"].values()) > 0
    by_cat = sample_hub_dataset(PILE, 50, seed=3, shares={"scores": 0.2, "general": 0.8})
    cats = Counter(musicpile_category(r["src"], r["text"]) for r in by_cat.records())
    assert cats == {"scores": 10, "general": 40} and "irishman" not in by_cat.by_src
    assert quotas(7, {"a": 1, "b": 1, "c": 1}) == {"a": 3, "b": 2, "c": 2}
    short = sample_hub_dataset(PILE, 100, seed=3, shares={"code": 1})  # the fixture holds 60 `code` records
    assert short.short and short.by_src == {"code": 60} and short.read == 1200
    assert "warning: 60 of 100 records" in capsys.readouterr().err and "**short**" in (short.path / "README.md").read_text()


def test_licence_gate_and_its_escape(hub_server, runs: Path) -> None:
    with pytest.raises(LicenceError, match="irishman"):
        sample_hub_dataset(PILE, 10, shares={"irishman": 1})
    kept = sample_hub_dataset(PILE, 120, seed=5, allow_restricted=True)
    assert kept.by_src.get("irishman", 0) > 10 and kept.refused == {}
    sft = sample_hub_dataset("m-a-p/MusicPile-sft", 40, seed=0)
    assert "irishman" not in sft.by_src and sft.refused["irishman"] > 0
    assert set(sft.records()[0]) == {"instruction", "input", "output", "src", "id"}
    card = (sft.path / "README.md").read_text()
    assert "refused" in card and "The Session" in card and sft.revision in card
    for bad in ({"n": 0}, {"n": True}, {"shares": {"code": -1}}, {"shares": {"code": 0}}, {"dataset": "MusicPile"}):
        with pytest.raises(UsageError):
            sample_hub_dataset(**{"dataset": PILE, "n": 5, **bad})


def test_saved_sample_is_reused_offline_and_missing_one_is_one_line(hub_server, runs: Path) -> None:
    first = sample_hub_dataset(PILE, 32, seed=7)
    n_requests = len(hub_server.server.state.log)
    with hub_server.offline():
        again = sample_hub_dataset(PILE, 32, seed=7)
        assert again == first and again.records() == first.records()
        with pytest.raises(HubUnavailableError) as err:
            sample_hub_dataset(PILE, 33, seed=7)
    assert len(hub_server.server.state.log) == n_requests  # offline: the hub was never asked
    message = str(err.value)
    assert "\n" not in message and "HF_HUB_OFFLINE" in message and "m-a-p/MusicPile" in message
    assert sorted(p.name for p in (runs / "hub" / "m-a-p__MusicPile").iterdir()) == [first.path.name]


def test_interrupted_sample_leaves_nothing_that_looks_complete(hub_server, runs: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    import cm_lib.corpus.card as card
    import cm_lib.corpus.hub as hub

    def interrupted(counts: dict) -> str:  # records.jsonl and counts.json are written by now, the marker is not
        raise KeyboardInterrupt

    monkeypatch.setattr(card, "render_sample_card", interrupted)
    with pytest.raises(KeyboardInterrupt):
        sample_hub_dataset(PILE, 8, seed=11)
    folder = hub.sample_folder(PILE, 8, seed=11)
    assert load_saved_sample(folder) is None and not folder.exists()
    assert list(folder.parent.iterdir()) == []  # no temporary folder left either
    monkeypatch.undo()
    monkeypatch.setenv("CM_RUNS_DIR", str(runs))
    assert sample_hub_dataset(PILE, 8, seed=11).kept == 8 and (folder / SAMPLE_MARKER).is_file()


def test_cli_sample(hub_server, runs: Path, capsys: pytest.CaptureFixture) -> None:
    from cm_lib.cli import main

    assert main(["corpus", "sample", "-n", "20", "--seed", "2", "--share", "code=1", "--share", "pile=1",
                 "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "20 of 20 records kept" in out and "irishman" in out and str(runs) in out
    assert main(["corpus", "sample", "-n", "5", "--share", "code"]) == 2
    assert "--share takes SRC=WEIGHT" in capsys.readouterr().err
    assert main(["corpus", "sample", "--dataset", "m-a-p/NoSuchSet", "-n", "5"]) == 2
    assert "not found on the hub" in capsys.readouterr().err
