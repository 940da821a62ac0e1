"""cm_lib.metrics over sets: novelty index (hand-worked and against brute force), distributions
(mgeval overlap/KL, Jensen–Shannon), summaries with Wilson intervals, the corpus reference set."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import numpy as np
import pytest

from cm_lib.abc import iter_music21_tunes, transpose
from cm_lib.corpus.dedup import jaccard, shingles
from cm_lib.metrics import COPY_THRESHOLD, NoveltyIndex, compare_sets, read_tune, summarize, tune_metrics
from cm_lib.metrics.distributions import jensen_shannon, overlap_and_kl, tune_features
from cm_lib.stats import wilson_interval

SCALE = "X:1\nT:Scale\nM:4/4\nL:1/8\nK:C\nCDEF GABc|]\n"  # intervals 2 2 1 2 2 2 1, all eighths
OTHER = "X:2\nT:Other\nM:4/4\nL:1/8\nK:C\nCECE GEGE|CECE GEGE|]\n"


def test_novelty_by_hand() -> None:
    index = NoveltyIndex.build([SCALE, OTHER], ids=["scale", "other"])
    assert len(index) == 2
    # SCALE's 4-grams of (interval, eighth): 2212 2122 1222 2221; a transposition has the same ones
    up = read_tune(transpose(SCALE, 7))
    assert index.novelty(up) == 0.0
    assert index.nearest(up) == (1.0, "scale")  # equal interval sequence: a transposed copy
    m = index.metrics(up)
    assert m["copy_rate"] is True and m["novelty_4gram"] == 0.0 and COPY_THRESHOLD == 0.8
    # a quarter note D changes the first token (2, quarter): 1 of its 4 distinct 4-grams is new
    assert index.novelty(read_tune("X:3\nL:1/8\nK:C\nCD2EF GABc|]\n")) == pytest.approx(1 / 4)
    # a descending line: none of its 4-grams (-1 -2 -2 -2 ...) occurs in training
    assert index.novelty(read_tune("X:4\nL:1/8\nK:C\ncBAG FEDC|]\n")) == 1.0
    assert index.novelty(read_tune("X:5\nL:1/8\nK:C\nCDE|]\n")) is None  # two tokens: no 4-gram
    assert NoveltyIndex.build(["no tune here"]).skipped == 1


@pytest.fixture(scope="module")
def corpus_texts() -> list[str]:
    return [t.text for _, t in itertools.islice(iter_music21_tunes(), 0, 4000, 10) if t.body.count("|") > 8][:300]


def test_index_save_and_load(tmp_path: Path) -> None:
    from cm_lib.errors import AssetNotFoundError

    index = NoveltyIndex.build([SCALE, OTHER], ids=["scale", "other"])
    back = NoveltyIndex.load(index.save(tmp_path / "i.npz"))
    up = read_tune(transpose(SCALE, 3))
    assert back.metrics(up) == index.metrics(up) and back.ids == ["scale", "other"]
    assert [p.name for p in tmp_path.iterdir()] == ["i.npz"]
    (tmp_path / "bad.npz").write_text("not numpy")
    with pytest.raises(AssetNotFoundError, match="not a novelty index"):
        NoveltyIndex.load(tmp_path / "bad.npz")


def test_nearest_neighbour_matches_brute_force(corpus_texts: list[str]) -> None:
    train = corpus_texts[:250]
    index = NoveltyIndex.build(train)
    sets = [shingles([n.midi for n in read_tune(t, bars=False).notes]) for t in train]
    queries = [t + "\nc2 d2 e2 f2|]\n" for t in train[:25]]  # one bar appended: a near copy, not an exact one
    for q in queries:
        d = read_tune(q)
        sim, _ = index.nearest(d)
        own = shingles([n.midi for n in d.notes])
        brute = max(jaccard(own, s) for s in sets)
        assert sim <= brute + 1e-9
        if brute >= COPY_THRESHOLD:
            assert sim == pytest.approx(brute)
    found = [index.nearest(read_tune(q))[0] for q in queries]
    assert sum(s >= COPY_THRESHOLD for s in found) >= 20
    # unseen real tunes are mostly novel
    unseen = [index.novelty(read_tune(t)) for t in corpus_texts[250:]]
    assert np.mean([u for u in unseen if u is not None]) > 0.2


def test_jensen_shannon_by_hand() -> None:
    assert jensen_shannon(np.array([1, 0]), np.array([0, 1])) == pytest.approx(1.0)
    assert jensen_shannon(np.array([2, 2]), np.array([1, 1])) == pytest.approx(0.0)
    # P = (1/2, 1/2), Q = (1, 0), M = (3/4, 1/4): ½(½log2(2/3) + ½log2 2) + ½ log2(4/3)
    want = 0.5 * (0.5 * math.log2(2 / 3) + 0.5) + 0.5 * math.log2(4 / 3)
    assert jensen_shannon(np.array([0.5, 0.5]), np.array([1.0, 0.0])) == pytest.approx(want)


def test_overlap_and_kl() -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(0, 1, 400)
    oa, kl = overlap_and_kl(a, a)
    assert oa == pytest.approx(1.0) and kl == pytest.approx(0.0, abs=1e-12)
    oa_far, kl_far = overlap_and_kl(a, a + 20)
    assert oa_far < 0.01 and kl_far > 5
    oa_near, _ = overlap_and_kl(a, rng.normal(0.5, 1, 400))
    assert 0.6 < oa_near < 0.9  # two unit normals 0.5 apart overlap by 2Φ(-0.25) ≈ 0.80


def test_features_by_hand() -> None:
    f = tune_features(read_tune("X:1\nM:4/4\nL:1/4\nK:C\nC E G c-|c4|]\n"))
    pc = np.zeros(12)
    pc[[0, 4, 7]] = [0.5, 0.25, 0.25]
    assert np.allclose(f["pitch_class"], pc)
    iv = np.zeros(25)
    iv[[12 + 4, 12 + 3, 12 + 5]] = 1 / 3
    assert np.allclose(f["interval"], iv)
    assert f["note_length"][7] == pytest.approx(3 / 4) and f["note_length"][-1] == pytest.approx(1 / 4)  # 5/4: other
    assert f["bar_count"].tolist() == [2.0]


def test_compare_sets(corpus_texts: list[str]) -> None:
    real = [read_tune(t) for t in corpus_texts[:120]]
    same = compare_sets(real[:60], real[60:])
    scales = [read_tune(transpose(SCALE, k % 12)) for k in range(30)]
    far = compare_sets(scales, real[60:])
    for name in ("pitch_class", "interval", "note_length", "bar_count"):
        assert same[name]["n_generated"] == 60 and same[name]["n_reference"] == 60
        assert same[name]["overlap_area"] > far[name]["overlap_area"], name
        assert same[name]["jsd"] < far[name]["jsd"], name
    assert far["interval"]["jsd"] > 0.3 and same["interval"]["jsd"] < 0.1
    assert compare_sets(real[:1], real)["pitch_class"]["overlap_area"] is None


def test_summary_with_wilson_intervals() -> None:
    rows = [{"valid_syntax": True, "pitch_range": 12}, {"valid_syntax": True, "pitch_range": 7},
            {"valid_syntax": False, "pitch_range": None}, {"valid_syntax": True}, {"valid_syntax": None}]
    s = summarize(rows)
    assert s["n_tunes"] == 5
    r = s["rates"]["valid_syntax"]
    assert (r["k"], r["n"], r["rate"]) == (3, 4, 0.75)
    assert r["ci95"] == [round(x, 4) for x in wilson_interval(3, 4)]
    assert s["means"]["pitch_range"] == {"n": 2, "mean": 9.5, "std": 2.5, "min": 7.0, "max": 12.0}
    assert s["rates"]["copy_rate"]["n"] == 0 and s["rates"]["copy_rate"]["rate"] is None


@pytest.fixture(scope="module")
def smoke_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from cm_lib.corpus import build_corpus

    out = tmp_path_factory.mktemp("metrics_corpus") / "smoke"
    build_corpus(out, preset="smoke", seed=0, progress=False)
    return out


def test_a_metric_reads_a_corpus_and_never_builds_one(tmp_path: Path, smoke_corpus: Path) -> None:
    from cm_lib.errors import AssetNotFoundError
    from cm_lib.metrics import reference_tunes, training_index

    missing = tmp_path / "nothing"
    for read in (reference_tunes, training_index):
        with pytest.raises(AssetNotFoundError, match=r"python -m cm_lib corpus build --preset smoke --seed 0 --out"):
            read("smoke", 0, missing)
    assert not missing.exists()  # nothing was built
    with pytest.raises(AssetNotFoundError, match="seed 1"):  # a corpus of other settings is not read as this one
        reference_tunes("smoke", 1, smoke_corpus)


def test_reference_and_training_sets_from_the_corpus(smoke_corpus: Path) -> None:
    from cm_lib.corpus import load_corpus
    from cm_lib.metrics import corpus_tunes, reference_tunes, training_index

    ref = reference_tunes("smoke", 0, smoke_corpus)
    pretrain, _ = load_corpus(smoke_corpus)
    assert ref == [r["text"] for r in pretrain["test"] if r["category"] == "scores"] and ref
    from cm_lib.paths import stage_dir

    index = training_index("smoke", 0, smoke_corpus)
    assert len(index) == len(corpus_tunes("train", "smoke", 0, smoke_corpus))
    cached = list(stage_dir("metrics").glob("novelty-*.npz"))
    assert len(cached) == 1  # saved once, loaded the next time
    again = training_index("smoke", 0, smoke_corpus)
    assert again.ids == index.ids and np.array_equal(again.ngram_codes, index.ngram_codes)
    assert again.buckets == index.buckets and again.signatures == index.signatures
    train_ids = {r["id"] for r in pretrain["train"]}
    for text in corpus_tunes("train", "smoke", 0, smoke_corpus)[:5]:  # a training tune is its own copy
        m = tune_metrics(text, index=index, parser=None)
        assert m["copy_rate"] is True and m["nn_similarity"] == 1.0 and m["nn_id"] in train_ids
        assert m["novelty_4gram"] == 0.0


def test_metrics_cli_reference_and_train_from_the_corpus(smoke_corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from cm_lib.cli import main

    sample = Path(__file__).resolve().parent.parent / "data_samples" / "mistakes.abc"
    assert main(["metrics", str(sample), "--reference", "corpus", "--train", "corpus", "--preset", "smoke",
                 "--corpus-dir", str(smoke_corpus), "--parser", "none"]) == 0
    lines = capsys.readouterr().out.splitlines()
    summary = json.loads(lines[-1])["summary"]
    assert len(lines) == 6 and summary["reference"]["n_tunes"] > 1 and summary["train"]["n_tunes"] > 1
    assert summary["distributions"]["interval"]["n_generated"] >= 2
    assert 0 <= summary["distributions"]["interval"]["jsd"] <= 1


def test_nearest_exact_searches_every_tune() -> None:
    index = NoveltyIndex.build([SCALE, OTHER], ids=["scale", "other"])
    assert index.nearest_exact(read_tune(transpose(SCALE, 7))) == (1.0, "scale")
    # CDEF GAB: 5-grams of intervals shared with SCALE's 3 (2 2 1 2 2, 2 1 2 2 2): Jaccard 2/3
    sim, nn = index.nearest_exact(read_tune("X:3\nL:1/8\nK:C\nCDEF GAB|]\n"))
    assert nn == "scale" and sim == pytest.approx(2 / 3)
    assert NoveltyIndex.build([]).nearest_exact(read_tune(SCALE)) == (0.0, None)
