"""The composer track (notebook 03): the composer's view of a tune, the character-level `composer` preset,
and a CPT run that trains on that view."""

from __future__ import annotations

from pathlib import Path

import pytest

from cm_lib.abc import check, split_tunes
from cm_lib.corpus.composer import composer_header, composer_text, header_prompt
from cm_lib.paths import data_samples_dir


def test_composer_view_keeps_the_body_and_reduces_the_header() -> None:
    text = (data_samples_dir() / "basics.abc").read_text(encoding="utf-8")
    tune = split_tunes(text)[0]
    viewed = composer_text(tune.text)
    assert viewed == ("X:1\nM:4/4\nL:1/8\nK:G\n|:G2 B2 d2 B2|c2 e2 d4|B2 G2 A2 B2|A6 D2|\n"
                      "G2 B2 d2 g2|f2 d2 e2 c2|B2 A2 G2 F2|G8:|\n")
    assert viewed.startswith(composer_header("4/4", "1/8", "G")) and check(viewed, "bars").ok
    assert composer_text(viewed) == viewed  # the view of a viewed tune is itself
    titled = composer_text(tune.text, title=True)
    assert titled == viewed.replace("X:1\n", "X:1\nT:First Steps\n", 1)
    assert composer_header("6/8", "1/8", "Em", "Jig") == "X:1\nT:Jig\nM:6/8\nL:1/8\nK:Em\n"


@pytest.mark.parametrize("text, why", [
    ("X:1\nT:No unit\nM:4/4\nK:G\nG2B2 d2B2|c2e2 d4|\n", "no L:"),
    ("X:1\nM:4/4\nL:1/8\nK:G\nG2B2 d2B2|c2e2 d2|G8|\n", "a bar too short"),
    ("X:1\nM:4/4\nL:1/8\nK:G\nV:1\nG8|G8|\nV:2\nD8|D8|\n", "two voices"),
    ("X:1\nM:4/4\nL:1/8\nK:G\n", "no body"),
    ("X:1\nM:4/4\nL:1/8\nK:G\nG8|\n\nX:2\nM:4/4\nL:1/8\nK:G\nG8|\n", "two tunes"),
])
def test_composer_view_leaves_out_what_it_should_not_learn(text: str, why: str) -> None:
    assert composer_text(text) is None, why


def test_header_view_is_the_composers_header_alone() -> None:
    """SmolLM2's header SFT (notebook 04) answers with the header the composer's prompts have, and nothing else."""
    from cm_lib.errors import CourseError
    from cm_lib.train.trainer import text_view

    tune = split_tunes((data_samples_dir() / "basics.abc").read_text(encoding="utf-8"))[0]
    assert header_prompt(tune.text) == "X:1\nM:4/4\nL:1/8\nK:G\n"
    assert composer_text(tune.text).startswith(header_prompt(tune.text))
    # a tune the composer's view leaves out (a bar too short) still has a header a request can be answered with
    assert header_prompt("X:1\nT:Air\nM:3/4\nL:1/4\nK:Dmix\nD2|D3|\n") == "X:1\nM:3/4\nL:1/4\nK:Dmix\n"
    assert header_prompt("X:1\nT:No unit\nM:4/4\nK:G\nG8|\n") is None and header_prompt("no tune here") is None
    assert text_view("header") is header_prompt
    with pytest.raises(CourseError, match="'composer', 'header'"):
        text_view("bars")


def test_two_voice_sample_is_left_out() -> None:
    text = (data_samples_dir() / "two_voices.abc").read_text(encoding="utf-8")
    assert all(composer_text(t.text) is None for t in split_tunes(text))


def test_composer_preset_reads_characters() -> None:
    from cm_lib.models import load_model

    net, tok = load_model("composer")
    assert len(tok) == 259 and sum(p.numel() for p in net.parameters()) == 837_120
    tune = "X:1\nM:6/8\nL:1/8\nK:D\n|:dAF \"D\"A2d|fed e2c:|\n"
    ids = tok(tune)["input_ids"]
    assert ids[0] == tok.bos_token_id and len(ids) == len(tune) + 1  # one token per character, after <s>
    assert tok.decode(ids[1:]) == tune


def test_cpt_trains_on_the_composer_view(tmp_path: Path) -> None:
    from cm_lib.corpus import ensure_corpus
    from cm_lib.errors import CourseError
    from cm_lib.train import build_trainer, load_split, train_cpt

    corpus = ensure_corpus("smoke")
    scores = [r["text"] for r in load_split(corpus, "pretrain") if r["category"] == "scores"]
    kept = [composer_text(t) for t in scores]
    trainer, settings = build_trainer("cpt", "composer", corpus, tmp_path / "cpt", hardware="cpu-smoke", max_steps=1,
                                      lora=False, categories=("scores",), view="composer")
    assert settings["view"] == "composer"
    assert settings["rows"] == sum(k is not None for k in kept) and 0 < settings["rows"] < len(scores)
    del trainer
    sft, sft_settings = build_trainer("sft", "composer", corpus, tmp_path / "sft", hardware="cpu-smoke", max_steps=1,
                                      lora=False, tasks=("key_meter_conditioned",), view="composer")
    answers = [r["completion"] for r in sft.train_dataset]
    assert sft_settings["view"] == "composer" and answers
    assert all(a.lstrip().startswith("X:1\n") and "\nM:" in a and "R:" not in a.split("K:")[0] for a in answers)
    # the answers' header is the pre-training header, without a title (SFT_ANSWER_TITLES)
    assert all(a.lstrip().startswith("X:1\nM:") and "\nT:" not in a.split("K:")[0] for a in answers)
    del sft
    with pytest.raises(CourseError, match="unknown view"):
        train_cpt("composer", corpus, out=tmp_path / "bad", hardware="cpu-smoke", max_steps=1, view="prose")
    assert not (tmp_path / "bad").exists()
