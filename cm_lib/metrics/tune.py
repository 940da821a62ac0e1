"""Every per-tune metric of notebook 05 in one dict with stable snake_case names (formulas in each module)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cm_lib.abc.keys import NOTE_NAMES
from cm_lib.errors import AbcError
from cm_lib.metrics.bars import bar_consistency, bar_consistency_per_voice
from cm_lib.metrics.chords import chord_following, chord_tone_ratio
from cm_lib.metrics.events import read_tune
from cm_lib.metrics.header import header_compliance, parse_request
from cm_lib.metrics.key import in_scale_rate, key_agreement, krumhansl_schmuckler, pitch_class_weights
from cm_lib.metrics.novelty import NoveltyIndex
from cm_lib.metrics.pitch_stats import mean_abs_interval, pitch_class_entropy, pitch_range, stepwise_share
from cm_lib.metrics.structure import form, has_repeat_signs, motif_recurs, n_sections, repetition
from cm_lib.metrics.validity import checker_levels, valid_parser

METRIC_NAMES = (
    "valid_syntax", "valid_bars", "valid_parser", "bar_consistency", "bar_consistency_per_voice",
    "key_ok", "meter_ok", "unit_ok", "form_ok", "in_scale_rate", "key_agreement", "estimated_key",
    "pitch_range", "pitch_class_entropy", "mean_abs_interval", "stepwise_share", "n_sections", "has_repeat_signs",
    "bar_self_similarity", "repeated_bar_rate", "near_repeated_bar_rate", "motif_recurs", "form", "chord_following",
    "chord_tone_ratio", "novelty_4gram", "nn_similarity", "nn_id", "copy_rate", "n_notes", "n_bars", "n_voices",
)


def _round(value: Any) -> Any:
    return round(value, 4) if isinstance(value, float) else value


def empty_metrics() -> dict[str, Any]:
    """The metric dict of text holding no tune: not valid, everything else None."""
    out: dict[str, Any] = dict.fromkeys(METRIC_NAMES)
    out.update(valid_syntax=False, valid_bars=False, valid_parser=False, n_notes=0, n_bars=0, n_voices=0)
    return out


def tune_metrics(abc: str, request: Mapping[str, Any] | str | None = None, index: NoveltyIndex | None = None,
                 parser: str | None = "abc2midi") -> dict[str, Any]:
    """All per-tune metrics of the first tune in `abc` (names in METRIC_NAMES; None = not applicable).

    `request` (dict or JSON) adds key_ok/meter_ok/unit_ok/form_ok/chord_following; `index` (a
    NoveltyIndex of the training tunes) adds novelty_4gram/nn_similarity/nn_id/copy_rate; `parser`
    picks the independent parser for valid_parser ("abc2midi", "abc2xml", or None to skip it).
    """
    req = parse_request(request)
    try:
        data = read_tune(abc)
    except AbcError:
        return empty_metrics()
    out: dict[str, Any] = dict.fromkeys(METRIC_NAMES)
    out["valid_syntax"], out["valid_bars"] = checker_levels(data)
    out["valid_parser"] = valid_parser(data.tune.text, parser) if parser else None
    out["bar_consistency"] = bar_consistency(data)
    out["bar_consistency_per_voice"] = {v: _round(x) for v, x in bar_consistency_per_voice(data).items()}
    tune_form = form(data)
    if req:
        out.update(header_compliance(data, req, tune_form))
        out["chord_following"] = chord_following(data, req["chords"]) if req.get("chords") else None
    out["in_scale_rate"] = in_scale_rate(data)
    estimate = krumhansl_schmuckler(pitch_class_weights(data.notes))
    out["key_agreement"] = key_agreement(data, estimate)
    out["estimated_key"] = None if estimate is None else f"{NOTE_NAMES[estimate[0]]} {estimate[1]}"
    out["pitch_range"] = pitch_range(data)
    out["pitch_class_entropy"] = pitch_class_entropy(data)
    out["mean_abs_interval"] = mean_abs_interval(data)
    out["stepwise_share"] = stepwise_share(data)
    out["n_sections"] = n_sections(data)
    out["has_repeat_signs"] = has_repeat_signs(data)
    out.update(repetition(data))
    out["motif_recurs"] = motif_recurs(data)
    out["form"] = tune_form
    out["chord_tone_ratio"] = chord_tone_ratio(data)
    if index is not None:
        out.update(index.metrics(data))
    out["n_notes"] = len(data.notes)
    out["n_bars"] = len(data.bars.get(data.voices[0], []))
    out["n_voices"] = len(data.voices) if data.notes or data.bars else 0
    return {k: _round(v) for k, v in out.items()}
