"""cm_lib.widgets: the functions behind the playground and the explorer, without a browser."""

from __future__ import annotations

import pytest

from cm_lib import widgets as w
from cm_lib.abc import check
from cm_lib.bench import explore as ex


def test_presets_hold_the_lesson_examples_and_every_mistake() -> None:
    presets = w.playground_presets()
    mistakes = [k for k in presets if k.startswith("mistake: ")]
    assert "mistake: Unclosed chord" in mistakes and len(mistakes) == 5
    assert "example: First Steps" in presets
    for name, text in presets.items():
        assert check(text, level="bars").ok == name.startswith("example: "), name


def test_bar_spans_count_bars_like_the_checker() -> None:
    tune = "X:1\nM:4/4\nL:1/4\nK:C\n|C E G c|[CEG]4|\nc B A G|C4|]\n"
    spans = w.bar_spans(tune)
    line5 = tune.splitlines()[4]
    assert [line5[slice(*spans[(5, b)])] for b in (1, 2)] == ["C E G c", "[CEG]4"]
    line6 = tune.splitlines()[5]
    assert [line6[slice(*spans[(6, b)])] for b in (3, 4)] == ["c B A G", "C4"]
    assert len(spans) == 4


@pytest.mark.parametrize(("preset", "marked"), [("mistake: Unclosed chord", "[CEG4"),
                                                ("mistake: Bar too long", "d e d c B"),
                                                ("mistake: Dangling tuplet", "D4 (3")])
def test_the_offending_bar_is_highlighted(preset: str, marked: str) -> None:
    text = w.playground_presets()[preset]
    view = w.playground_view(text)
    assert not view.ok and view.problems
    assert f'<mark class="cm-bad-bar" style="background:#fbb">{marked}</mark>' in view.verdict_html
    p = view.problems[0]
    assert f"line {p['line']}, bar {p['bar']}" in view.verdict_html


def test_a_valid_tune_checks_and_is_engraved() -> None:
    view = w.playground_view(w.playground_presets()["example: First Steps"])
    assert view.ok and "cm-ok" in view.verdict_html and "<mark" not in view.verdict_html
    assert "<svg" in view.score_html and view.notes > 10


def test_prose_is_not_a_tune() -> None:
    view = w.playground_view("Here is a lovely tune for you.")
    assert not view.ok and "cm-bad" in view.verdict_html and "no-tune" in view.verdict_html


def test_audio_html_is_a_wav_player() -> None:
    player = w.audio_html(w.playground_presets()["example: First Steps"])
    assert player.startswith('<audio class="cm-audio" controls src="data:audio/wav;base64,UklGR')


def test_playground_widget_updates_on_edit() -> None:
    box = w.abc_playground("X:1\nM:4/4\nL:1/4\nK:C\nC D E F|G4|]\n")
    choose, text, verdict = box.children[0], box.children[1], box.children[2]
    score = box.children[4]
    assert "cm-ok" in verdict.value and "<svg" in score.value
    text.value = "X:1\nM:4/4\nL:1/4\nK:C\nC D E F G|G4|]\n"
    assert "bar-too-long" in verdict.value and "<mark" in verdict.value
    choose.value = "mistake: Unclosed chord"
    assert "unclosed-chord" in verdict.value


def _view(options: dict[str, str], pred: str, order: int) -> ex.ExplorerView:
    return ex.ExplorerView("p", options, [0.0] * 4, pred, "A", "ppl", order)


def test_follows_content_or_letter() -> None:
    a = _view({"A": "C", "B": "D", "C": "E", "D": "F"}, "A", 0)
    b = _view({"A": "D", "B": "C", "C": "F", "D": "E"}, "B", 1)
    assert ex.follows(a, b) == "the content"
    assert ex.follows(a, _view(b.options, "A", 1)) == "the letter"
    assert ex.follows(a, _view(b.options, "D", 1)) == "neither"
    assert ex.follows(a, _view(a.options, "A", 1)).startswith("both")


@pytest.mark.slow
def test_explorer_scores_a_sample_question_as_the_benchmark_does() -> None:
    from cm_lib.bench.data import load_sample
    from cm_lib.bench.prompts import build_prompt, shuffle_question
    from cm_lib.device import pick_device
    from cm_lib.models import load_model

    model, tok = load_model("tiny", device=pick_device("cpu"))
    q = load_sample()[0]
    view = ex.explore_question(model, tok, q, "ppl", 0)
    assert view.prompt == build_prompt(q) and view.answer == q.answer and len(view.scores) == 4
    assert view.pred == "ABCD"[min(range(4), key=view.scores.__getitem__)]
    flipped = ex.explore_question(model, tok, q, "ppl", 2)
    assert flipped.options == shuffle_question(q, 2).options
    page = w.explorer_html(flipped, view)
    assert "follows <b>" in page and q.stem[:30] in page.replace("&#x27;", "'")
    box = w.question_explorer(model, tok, load_sample()[:3], modes=("ppl", "letter"))
    box.children[0].children[1].value = "letter"
    assert "letter: highest score wins" in box.children[2].value
