"""The composer's studio without its widgets (notebook 05): which format a model is asked in, one tune sampled for
a request, and how the tune measures against it. The request, its plan and its prompt are cm_lib.plan.studio; the
widgets cm_lib.widgets.studio.

The prompt format is never guessed from a model's name: the caller says it, or the model's training record does
(`chat_format`: a cm_lib SFT run trained it on the chat format; a preset, hub model or CPT run continues a header).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cm_lib.chat import eos_marker
from cm_lib.generate.core import extract_abc
from cm_lib.generate.sampling import COMPOSER_SAMPLING, sample_batch
from cm_lib.metrics import tune_metrics
from cm_lib.metrics.request import request_hits
from cm_lib.plan.core import Plan, plan_sources
from cm_lib.plan.studio import studio_plan, studio_prompt
from cm_lib.train.state import trained_stage


def chat_format(source: Any) -> bool:
    """Whether a model is asked in the chat format: its folder (a path, or a loaded (model, tokenizer) pair's
    `name_or_path`) was written by a cm_lib SFT run (`cm_lib.train.state.trained_stage`)."""
    if isinstance(source, tuple) and source:
        source = getattr(source[0], "name_or_path", None)
    return isinstance(source, (str, Path)) and bool(str(source)) and trained_stage(source) == "sft"


@dataclass
class StudioSample:
    """One tune sampled for a request: the prompt as given, the raw continuation, the tune, and the run's cost."""

    prompt: str
    raw: str
    abc: str
    chat: bool
    plan: Plan | None  # the plan bound by the grammar (None without one)
    stop: str
    tokens: int
    seconds: float

    @property
    def sources(self) -> dict[str, str]:
        """Who decided each part of the tune: 'plan' (bound by the grammar) or 'model' (cm_lib.plan.core.plan_sources)."""
        return plan_sources(self.plan)


def studio_sample(model: Any, tokenizer: Any, request: Mapping[str, Any], temperature: float = 0.8,
                  constrain: str = "bars", seed: int = 0, max_new_tokens: int = 400, chat: bool = False) -> StudioSample:
    """Sample one tune for a studio request (notebook 05), seeded, with COMPOSER_SAMPLING's top-k/top-p and BOS as in training.

    chat=True asks in ChatMusician's chat format (an SFT model writes the whole tune); chat=False gives a raw header
    that the tune continues. `constrain` is 'none' or a checker level (cm_lib.generate.constrain.MODES); under a
    grammar the request's plan binds (`studio_plan`: key, meter, form, chords, motif) and the tune is the whole text;
    without one it is the tune found in the text (or all of it, to see why not).
    """
    plan = studio_plan(request) if constrain != "none" else None
    # a raw prompt holds the motif only without a grammar: a bound plan writes it itself
    prompt = studio_prompt({k: v for k, v in request.items() if k != "motif" or plan is None}, chat, tokenizer)
    sample = sample_batch(model, tokenizer, [prompt], [seed], max_new_tokens=max_new_tokens,
                          temperature=temperature, top_k=COMPOSER_SAMPLING["top_k"],
                          top_p=COMPOSER_SAMPLING["top_p"], constrain=constrain, chat=chat,
                          add_special_tokens=True, plans=[plan])[0]
    text = sample.text.split(eos_marker(tokenizer))[0].strip() if chat else prompt + sample.text
    abc = text.strip() + "\n" if constrain != "none" else (extract_abc(text) or text)
    return StudioSample(prompt, sample.text, abc, chat, plan, sample.stop, sample.tokens, sample.seconds)


def studio_measure(abc: str, request: Mapping[str, Any] | None = None) -> tuple[dict[str, Any], dict[str, bool]]:
    """A tune against a studio request: every per-tune metric (cm_lib.metrics.tune_metrics, the request's key, meter,
    form and chords) and, per requested field, whether it is obeyed (cm_lib.metrics.request.request_hits)."""
    req = dict(request or {})
    metrics = tune_metrics(abc, {k: v for k, v in req.items() if k != "motif"} or None)
    return metrics, request_hits(studio_plan(req), abc)
