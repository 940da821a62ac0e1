"""The composer's studio (notebook 05): key, meter, form, chords, motif, temperature, model and constraint ->
Generate -> score, audio and metrics; every edit of the tune re-checks it against the same request.

The request, its plan and prompt are cm_lib.plan.studio; sampling, the prompt format and the measures
cm_lib.generate.studio; this module builds what the studio shows (`studio_check`, `studio_generate`: pure,
unit-tested without a browser) and wires the widgets up (`composer_studio`).
"""

from __future__ import annotations

import html
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from cm_lib.errors import CourseError, UsageError
from cm_lib.generate.constrain import MODES
from cm_lib.generate.studio import chat_format, studio_measure, studio_sample
from cm_lib.models import load_model
from cm_lib.plan.studio import STUDIO_UNIT, studio_request
from cm_lib.widgets.common import audio_html
from cm_lib.widgets.playground import PlaygroundView, playground_view

STUDIO_KEYS = ("C major", "G major", "D major", "A major", "F major", "Bb major", "A minor", "E minor",
               "D minor", "G minor", "D dorian", "A dorian", "G mixolydian", "D mixolydian")
STUDIO_METERS = ("4/4", "3/4", "6/8", "2/4", "9/8", "12/8", "3/8", "2/2")
STUDIO_FORMS = ("", "AB", "AAB", "ABA", "AABB", "ABAB", "AABA", "ABAC", "AABBCC")
CONSTRAINTS = MODES  # no grammar, or the checker's levels (cm_lib.abc.LEVELS)
# (metric name in cm_lib.metrics.tune_metrics, what the studio's table calls it)
STUDIO_METRICS = (
    ("valid_syntax", "checks at syntax level"), ("valid_bars", "checks at bars level"),
    ("valid_parser", "abc2midi reads it without errors"),
    ("key_ok", "key as requested"), ("meter_ok", "meter as requested"), ("form_ok", "form as requested"),
    ("chord_following", "requested chords present, in order"),
    ("bar_consistency", "share of full bars that fill the meter"),
    ("in_scale_rate", "share of notes in the declared key's scale"), ("estimated_key", "key estimated from the notes"),
    ("key_agreement", "estimate agrees with K:"), ("pitch_range", "pitch range (semitones)"),
    ("pitch_class_entropy", "pitch-class entropy (bits)"), ("mean_abs_interval", "mean |interval| (semitones)"),
    ("n_sections", "sections"), ("has_repeat_signs", "repeat signs"), ("form", "form"),
    ("repeated_bar_rate", "share of bars repeating an earlier bar"),
    ("chord_tone_ratio", "chord tones under chord symbols (duration-weighted)"),
    ("n_bars", "bars"), ("n_notes", "notes"),
)


def _value_text(value: Any) -> str:
    """A metric's value as the table shows it: — for None, ✅/❌ for a truth value, two decimals for a float."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "✅ yes" if value else "❌ no"
    if isinstance(value, float):
        return f"{value:.2f}"
    return html.escape(str(value))


@dataclass
class StudioView:
    """What the studio shows for one tune: the request, the verdicts, the metric table, score and audio."""

    abc: str
    request: dict
    verdicts: dict[str, bool | None]  # syntax, bars, parser
    metrics: dict[str, Any]
    rows: list[tuple[str, str]]  # (what the table calls a metric, its value as text)
    view: PlaygroundView
    prompt: str = ""
    raw: str = ""
    chat: bool = False
    stop: str = ""
    tokens: int = 0
    seconds: float = 0.0
    sources: dict[str, str] = field(default_factory=dict)  # part of the tune -> "plan" or "model" (plan_sources)
    hits: dict[str, bool] = field(default_factory=dict)  # requested field -> obeyed (cm_lib.metrics.request.request_hits)

    @property
    def table_html(self) -> str:
        """The metric table (class cm-studio-table)."""
        body = "".join(f"<tr><td>{html.escape(name)}</td><td>{value}</td></tr>" for name, value in self.rows)
        return f'<table class="cm-studio-table"><tr><th>metric</th><th>value</th></tr>{body}</table>'

    @property
    def info_html(self) -> str:
        """The request and, after a generation, the prompt as given, the token count, time and how it stopped."""
        req = ", ".join(f"{k} {' '.join(v) if isinstance(v, list) else v}" for k, v in self.request.items())
        out = f'<div class="cm-studio-request">request: {html.escape(req)}</div>'
        if self.hits:
            obeyed = ", ".join(f"{k} {'✅' if v else '❌'}" for k, v in self.hits.items())
            out += f'<div class="cm-studio-hits">obeyed: {html.escape(obeyed)}</div>'
        if self.sources:
            by = {who: [part for part, w in self.sources.items() if w == who] for who in ("plan", "model")}
            out += (f'<div class="cm-studio-sources">from the plan (bound by the grammar): '
                    f'{html.escape(", ".join(by["plan"]) or "nothing")}; from the model: '
                    f'{html.escape(", ".join(by["model"]))}</div>')
        if self.prompt:
            fmt = "chat format (SFT model)" if self.chat else "raw header (base/CPT model)"
            out += (f'<div class="cm-studio-run">{self.tokens} new tokens in {self.seconds:.1f} s, stopped at '
                    f'{html.escape(self.stop)}; prompt in {fmt}:</div>'
                    f'<pre class="cm-studio-prompt" style="white-space:pre-wrap">{html.escape(self.prompt)}</pre>')
        return out

    @property
    def html(self) -> str:
        """Everything at once (without audio), e.g. for `display(HTML(view.html))` outside the widget."""
        return self.info_html + self.view.verdict_html + self.view.score_html + self.table_html


def studio_check(abc: str, request: Mapping[str, Any] | None = None) -> StudioView:
    """Check and engrave a tune (playground_view) and measure it against the request (cm_lib.generate.studio.studio_measure)."""
    req = dict(request or {})
    metrics, hits = studio_measure(abc, req)
    rows = [(label, _value_text(metrics.get(name))) for name, label in STUDIO_METRICS]
    verdicts = {"syntax": metrics["valid_syntax"], "bars": metrics["valid_bars"], "parser": metrics["valid_parser"]}
    return StudioView(abc, req, verdicts, metrics, rows, playground_view(abc), hits=hits)


def studio_generate(model: Any, tokenizer: Any, request: Mapping[str, Any], temperature: float = 0.8,
                    constrain: str = "bars", seed: int = 0, max_new_tokens: int = 400,
                    chat: bool = False) -> StudioView:
    """Sample one tune for the request (cm_lib.generate.studio.studio_sample), then `studio_check` it (notebook 05).

    chat=True asks in ChatMusician's chat format, chat=False with a raw header; under a grammar (`constrain`
    'syntax' or 'bars') the request's plan binds, and the view says which parts came from the plan and which from
    the model (`sources`).
    """
    sample = studio_sample(model, tokenizer, request, temperature, constrain, seed, max_new_tokens, chat)
    out = studio_check(sample.abc, request)
    out.prompt, out.raw, out.chat, out.sources = sample.prompt, sample.raw, sample.chat, sample.sources
    out.stop, out.tokens, out.seconds = sample.stop, sample.tokens, sample.seconds
    return out


def composer_studio(models: Mapping[str, Any], smoke: bool = False, chat: Collection[str] | None = None) -> Any:
    """Notebook 05: key, meter, form, chords, motif, temperature, model and constraint -> Generate -> score, audio, metrics.

    `models` maps a name to a preset name or folder (loaded on first use, then kept) or to an already
    loaded (model, tokenizer) pair. `chat` names the models asked in the chat format (the others get a raw
    header); left out, each model's training record decides (`cm_lib.generate.studio.chat_format`: a
    cm_lib SFT run's model is asked in the chat format), never its name. The generated ABC lands in an editable
    box: every edit re-checks, re-engraves and re-measures it against the same request. The new-token
    limit starts at 128 in smoke mode (else 400); under the bars grammar a chat model also writes its
    own header, and 64 tokens cut 2 of 16 untrained-tiny tunes short (measured), 96 none.
    """
    import ipywidgets as w

    if not models:
        raise UsageError("composer_studio needs at least one model, e.g. {'tiny': 'tiny'}")
    unknown = sorted(set(chat or ()) - set(models))
    if unknown:
        raise UsageError(f"chat names models the studio was not given: {unknown}; models: {list(models)}")
    formats = {name: (name in chat) if chat is not None else chat_format(source) for name, source in models.items()}
    loaded: dict[str, tuple[Any, Any]] = {}
    key = w.Dropdown(options=list(STUDIO_KEYS), value="D major", description="key")
    meter = w.Dropdown(options=list(STUDIO_METERS), value="6/8", description="meter")
    form = w.Dropdown(options=[("(any)", "")] + [(f"{f} ({len(f)} sections)", f) for f in STUDIO_FORMS if f],
                      value="", description="form")
    chords = w.Text(value="", placeholder="e.g. D G A7 D (one per bar)", description="chords")
    motif = w.Text(value="", placeholder=f"opening bars at L:{STUDIO_UNIT}, e.g. A | d2B A2F |", description="motif")
    temperature = w.FloatSlider(value=0.8, min=0.1, max=1.5, step=0.1, description="temperature")
    model = w.Dropdown(options=list(models), description="model")
    constrain = w.ToggleButtons(options=list(CONSTRAINTS), value="bars", description="constraint")
    seed = w.IntText(value=0, description="seed", layout=w.Layout(width="160px"))
    tokens = w.BoundedIntText(value=128 if smoke else 400, min=16, max=2048, description="max tokens",
                              layout=w.Layout(width="200px"))
    generate = w.Button(description="Generate", button_style="primary", tooltip="sample a tune for this request")
    play = w.Button(description="▶ play", tooltip="synthesise the tune in the box")
    status, info, verdict, score, player, table = (w.HTML() for _ in range(6))
    box = w.Textarea(value="", placeholder="the generated ABC appears here; edit it to re-check",
                     layout=w.Layout(width="100%", height="180px"), continuous_update=True)
    for widget, name in ((key, "key"), (meter, "meter"), (form, "form"), (chords, "chords"), (motif, "motif"),
                         (model, "model"),
                         (temperature, "temperature"), (constrain, "constrain"), (seed, "seed"), (tokens, "tokens"),
                         (generate, "generate"), (play, "play"), (status, "status"), (info, "info"),
                         (verdict, "verdict"), (score, "score"), (player, "audio"), (table, "metrics"),
                         (box, "abc")):
        widget.add_class(f"cm-studio-{name}")
    state: dict[str, Any] = {"request": {}}

    def show(view: StudioView) -> None:
        verdict.value, score.value, table.value = view.view.verdict_html, view.view.score_html, view.table_html

    def on_generate(_b: Any = None) -> None:
        generate.disabled = True
        try:
            request = studio_request(key.value, meter.value, form.value, chords.value, motif.value)
            name = model.value
            if name not in loaded:
                status.value = f"loading {html.escape(name)} …"
                source = models[name]
                if isinstance(source, tuple):
                    loaded[name] = source
                else:
                    loaded[name] = load_model(str(source))
            status.value = "generating …"
            net, tok = loaded[name]
            view = studio_generate(net, tok, request, temperature.value, constrain.value, int(seed.value),
                                   int(tokens.value), chat=formats[name])
        except CourseError as err:
            status.value = f'<span class="cm-studio-error" style="color:#b00">{html.escape(str(err))}</span>'
            return
        finally:
            generate.disabled = False
        state["request"], state["quiet"] = view.request, True
        try:
            box.value = view.abc
        finally:
            state["quiet"] = False
        status.value = f"{html.escape(name)}: {view.tokens} tokens, {view.seconds:.1f} s"
        info.value = view.info_html
        show(view)
        player.value = audio_html(view.abc)

    def on_edit(_change: Any = None) -> None:
        if not state.get("quiet"):
            show(studio_check(box.value, state["request"]))
            player.value = ""  # the player held the generated tune: ▶ play synthesises the edited one

    generate.on_click(on_generate)
    box.observe(on_edit, names="value")
    play.on_click(lambda _b: setattr(player, "value", audio_html(box.value)))
    return w.VBox([w.HBox([key, meter, form]), w.HBox([chords, motif]), model, w.HBox([temperature, seed, tokens]),
                   constrain,
                   w.HBox([generate, status]), info, verdict, score, w.HBox([play, player]), table, box])
