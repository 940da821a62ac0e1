"""One question under one model, scoring mode and option order (notebook 06's question explorer, cm_lib.widgets.explorer):
the prompt exactly as the benchmark scores it, each option's score, and whether a choice follows content or letter."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cm_lib.bench.prompts import shuffle_question
from cm_lib.bench.run import run_questions


@dataclass
class ExplorerView:
    """One question under one model, mode and option order: the prompt as scored and each option's score."""

    prompt: str
    options: dict[str, str]
    scores: list[float]
    pred: str | None
    answer: str
    mode: str
    order: int

    @property
    def correct(self) -> bool:
        """Whether the prediction is the right letter."""
        return self.pred == self.answer

    @property
    def pred_text(self) -> str | None:
        """The content of the predicted option (None when nothing was predicted)."""
        return self.options.get(self.pred) if self.pred else None


def explore_question(model: Any, tokenizer: Any, question: Any, mode: str = "ppl", order: int = 0,
                     seed: int = 0) -> ExplorerView:
    """Score one question through cm_lib.bench.run.run_questions (the benchmark's own path), options in `order`.

    `order` 0 is the original order; 1, 2, ... are the benchmark's seeded shuffles of the options.
    """
    q = shuffle_question(question, order, seed)
    prompts: list[dict[str, Any]] = []
    res = run_questions(model, tokenizer, [q], mode=mode, prompts_out=prompts)
    row = res["predictions"][0]
    return ExplorerView(prompts[0]["prompt"], dict(q.options), list(row["scores"]), row["pred"], row["answer"],
                        mode, order)


def follows(original: ExplorerView, flipped: ExplorerView) -> str:
    """After reordering the options, does the model's choice follow the content, the letter, both or neither?"""
    same_text = original.pred_text is not None and original.pred_text == flipped.pred_text
    same_letter = original.pred is not None and original.pred == flipped.pred
    if same_text and same_letter:
        return "both (the reordering left that option where it was)"
    if same_text:
        return "the content"
    if same_letter:
        return "the letter"
    return "neither"
