"""Interactive lessons: the ABC playground (notebook 01), the composer's studio and the blind listening
test (notebook 05), and the question explorer (notebook 06).

Everything a widget shows is computed by a pure function here (`playground_view`, `bar_spans`,
`studio_request`, `studio_prompt`, `studio_generate`, `studio_check`, `listening_order`,
`record_judgement`, `preference_summary`, `explore_question`, `follows`), unit-tested without a
browser; the widgets only wire them up. Each widget part carries a stable CSS class (`cm-...`) for
the browser test.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import os
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from cm_lib.abc.keys import abc_key  # the K: spelling of a request's key lives with the key parser

PLAYGROUND_LEVEL = "bars"
_BAR_RE = re.compile(r":*\|+[\]:]*\d*|:*\[\||::")  # bar lines, repeats, |] and [| (a chord's ] is not one)
_FIELD_RE = re.compile(r"^[A-Za-z]:")


# ---------------------------------------------------------------- ABC playground (notebook 01)


def playground_presets() -> dict[str, str]:
    """Preset name -> tune: the lesson's examples (data_samples/*.abc) and each common mistake."""
    from cm_lib.abc import split_tunes
    from cm_lib.paths import data_samples_dir

    root = data_samples_dir()
    presets: dict[str, str] = {}
    for name in ("basics", "chords", "two_voices", "barless"):
        path = root / f"{name}.abc"
        if path.is_file():
            tunes = split_tunes(path.read_text(encoding="utf-8"))
            if tunes:
                presets[f"example: {tunes[0].title or name}"] = tunes[0].text.strip() + "\n"
    for tune in split_tunes((root / "mistakes.abc").read_text(encoding="utf-8")):
        presets[f"mistake: {tune.title}"] = tune.text.strip() + "\n"
    return presets


def bar_spans(text: str) -> dict[tuple[int, int], tuple[int, int]]:
    """(1-based line, 1-based bar) -> (start, end) character span of that bar within its line (music lines only).

    Bars are counted from the first music line after K:, one per bar line, as the checker counts
    them in a single voice; a line that starts with a bar line does not open an empty bar.
    """
    spans: dict[tuple[int, int], tuple[int, int]] = {}
    bar, in_body = 1, False
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not in_body:
            in_body = line.startswith("K:")
            continue
        code = line.split("%", 1)[0]
        if not code.strip() or _FIELD_RE.match(code):
            continue
        start = 0
        for m in _BAR_RE.finditer(code):
            if code[start:m.start()].strip():
                spans[(lineno, bar)] = (start, m.start())
                bar += 1
            start = m.end()
        if code[start:].strip():
            spans[(lineno, bar)] = (start, len(code.rstrip()))
    return spans


def highlight_html(text: str, problems: list[Any]) -> str:
    """The tune as <pre>, each problem's bar (or, where the bar is unknown, its line) marked in red."""
    spans = bar_spans(text)
    lines = text.splitlines()
    marks: dict[int, list[tuple[int, int]]] = {}
    for p in problems:
        if p.line is None or not 1 <= p.line <= len(lines):
            continue
        span = spans.get((p.line, p.bar)) if p.bar is not None else None
        marks.setdefault(p.line, []).append(span or (0, len(lines[p.line - 1])))
    out = []
    for lineno, line in enumerate(lines, start=1):
        pieces, pos = [], 0
        for start, end in sorted(set(marks.get(lineno, []))):
            if start < pos:
                continue
            pieces.append(html.escape(line[pos:start]))
            pieces.append(f'<mark class="cm-bad-bar" style="background:#fbb">{html.escape(line[start:end])}</mark>')
            pos = end
        pieces.append(html.escape(line[pos:]))
        out.append("".join(pieces))
    return '<pre class="cm-tune">' + "\n".join(out) + "</pre>"


@dataclass
class PlaygroundView:
    """What the playground shows for one text: the verdict, the marked-up text and the score."""

    ok: bool
    problems: list[dict[str, Any]] = field(default_factory=list)
    verdict_html: str = ""
    score_html: str = ""
    notes: int = 0


def playground_view(text: str) -> PlaygroundView:
    """Check `text` at bars level and engrave it: the verdict (problems with line and bar) and the SVG."""
    from cm_lib import render
    from cm_lib.abc import check
    from cm_lib.errors import AbcError

    result = check(text, level=PLAYGROUND_LEVEL)
    problems = [p.as_dict() for p in result.problems]
    errors = [p for p in result.problems if p.severity == "error"]
    if result.ok:
        head = f'<div class="cm-verdict cm-ok" style="color:#070">✅ the tune checks ({PLAYGROUND_LEVEL} level)'
        head += f"{' with warnings' if result.problems else ''}</div>"
    else:
        head = (f'<div class="cm-verdict cm-bad" style="color:#b00">❌ {len(errors)} problem(s) at '
                f"{PLAYGROUND_LEVEL} level</div>")
    rows = "".join(f"<li><code>{html.escape(p.code)}</code> line {p.line}, bar {p.bar}: {html.escape(p.message)}"
                   f"{' (warning)' if p.severity != 'error' else ''}</li>" for p in result.problems)
    verdict = head + (f"<ul>{rows}</ul>" if rows else "") + highlight_html(text, result.problems)
    try:
        picture = render.svg(text)
        score = f'<div class="cm-score" style="background:white">{picture}</div>'
        notes = render.note_count(picture)
    except AbcError as err:
        score = f'<div class="cm-score cm-unrendered" style="color:#b00">cannot render: {html.escape(str(err))}</div>'
        notes = 0
    return PlaygroundView(result.ok, problems, verdict, score, notes)


def audio_html(text: str, sample_rate: int = 22050) -> str:
    """An <audio controls> player holding the tune as a WAV data URI (an error line when it cannot play)."""
    from cm_lib import render
    from cm_lib.errors import AbcError

    try:
        wav = render.wav_bytes(text, sample_rate)
    except (AbcError, ValueError) as err:
        return f'<div class="cm-audio-error">cannot play: {html.escape(str(err))}</div>'
    data = base64.b64encode(wav).decode("ascii")
    return f'<audio class="cm-audio" controls src="data:audio/wav;base64,{data}"></audio>'


def abc_playground(text: str | None = None) -> Any:
    """Notebook 01: an editable tune, re-checked and re-engraved on every edit, presets and a play button."""
    import ipywidgets as w

    presets = playground_presets()
    first = text if text is not None else next(iter(presets.values()))
    choose = w.Dropdown(options=["(your own)", *presets], value="(your own)", description="preset")
    box = w.Textarea(value=first, layout=w.Layout(width="100%", height="180px"), continuous_update=True)
    box.add_class("cm-playground-text")
    verdict, score, player = w.HTML(), w.HTML(), w.HTML()
    verdict.add_class("cm-playground-verdict")
    score.add_class("cm-playground-score")
    play = w.Button(description="▶ play", tooltip="synthesise the tune and show an audio player")

    def refresh(_change: Any = None) -> None:
        view = playground_view(box.value)
        verdict.value, score.value, player.value = view.verdict_html, view.score_html, ""

    def load(change: Any) -> None:
        if change["new"] in presets:
            box.value = presets[change["new"]]

    box.observe(refresh, names="value")
    choose.observe(load, names="value")
    play.on_click(lambda _b: setattr(player, "value", audio_html(box.value)))
    refresh()
    return w.VBox([choose, box, verdict, w.HBox([play, player]), score])


# ---------------------------------------------------------------- composer's studio (notebook 05)

STUDIO_KEYS = ("C major", "G major", "D major", "A major", "F major", "Bb major", "A minor", "E minor",
               "D minor", "G minor", "D dorian", "A dorian", "G mixolydian", "D mixolydian")
STUDIO_METERS = ("4/4", "3/4", "6/8", "2/4", "9/8", "12/8", "3/8", "2/2")
STUDIO_FORMS = ("", "AB", "AAB", "ABA", "AABB", "ABAB", "AABA", "ABAC", "AABBCC")
STUDIO_UNIT = "1/8"  # the L: of a raw header prompt
STUDIO_TITLE = "Studio Tune"  # the title a key/meter request names (the corpus's key/meter task asks for one)
CONSTRAINTS = ("none", "syntax", "bars")
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


def parse_chords(text: str | Sequence[str] | None) -> list[str]:
    """Chord symbols from text such as 'D G A7 D' or 'D | G | A7 | D' (commas work too); a list passes through."""
    if text is None:
        return []
    if not isinstance(text, str):
        return [str(c).replace('"', "").strip() for c in text if str(c).replace('"', "").strip()]
    return [c for c in re.split(r"[\s|,;]+", text.replace('"', "")) if c]


def studio_request(key: str, meter: str, form: str | None = None, chords: str | Sequence[str] | None = None,
                   motif: str | None = None) -> dict:
    """The request the studio asks for and checks against: {"key", "meter"} + "form", "chords" and "motif" when given.

    Validated by cm_lib.metrics.parse_request (RequestError, a CourseError, on a bad key); the form
    must be section letters such as AABB, every chord a symbol the metrics read (e.g. D, Am, A7, F#m), and
    the motif the opening bars in ABC at L:1/8 (STUDIO_UNIT), e.g. "A | d2B A2F |".
    """
    from cm_lib.evaluate import chord_symbols
    from cm_lib.metrics import parse_request
    from cm_lib.metrics.header import RequestError

    req: dict[str, Any] = {"key": key.strip(), "meter": meter.strip()}
    form = (form or "").replace(" ", "")
    if form:
        if not form.isalpha() or not form.isupper():
            raise RequestError(f"form {form!r}: write the sections as capital letters, e.g. AABB")
        req["form"] = form
    wanted = parse_chords(chords)
    bad = [c for c in wanted if chord_symbols(f'K:C\n"{c}"') != [c]]
    if bad:
        raise RequestError(f"not chord symbols: {bad}; write them like D G A7 Em (one per bar)")
    if wanted:
        req["chords"] = wanted
    out = parse_request(req)
    opening = " ".join((motif or "").split())
    if opening:
        from cm_lib.abc import check

        probe = f"X:1\nM:{out['meter']}\nL:{STUDIO_UNIT}\nK:{abc_key(out['key'])}\n{opening.rstrip('|')}|]\n"
        if not check(probe, "syntax").ok:
            raise RequestError(f"motif {opening!r}: write the opening bars in ABC at L:{STUDIO_UNIT}, e.g. A | d2B A2F |")
        out["motif"] = opening
    return out


def studio_plan(request: Mapping[str, Any]) -> Any:
    """The plan of a studio request (a cm_lib.plan.Plan): its key, meter, form, chords and motif (at STUDIO_UNIT)."""
    from cm_lib.plan import make_plan

    motif = request.get("motif")
    return make_plan(key=request["key"], meter=request["meter"], unit=STUDIO_UNIT if motif else None,
                     form=request.get("form"), chords=request.get("chords"), motif=motif)


def studio_instruction(request: Mapping[str, Any]) -> str:
    """The Human turn for an SFT model, in the corpus's own first template of the matching task (notebook 04).

    Chords -> chord_conditioned; else a form -> form_conditioned; else key_meter_conditioned (titled
    STUDIO_TITLE). A form asked together with chords is added as one more sentence (no corpus task has both).
    """
    from cm_lib.corpus.tasks import TEMPLATES

    key, meter = request["key"], request["meter"]
    if request.get("chords"):
        text = TEMPLATES["chord_conditioned"][0].format(key=key, meter=meter, chords=" | ".join(request["chords"]))
        return text + (f". Use the musical form {request['form']}." if request.get("form") else "")
    if request.get("form"):
        return TEMPLATES["form_conditioned"][0].format(key=key, meter=meter, form=request["form"])
    return TEMPLATES["key_meter_conditioned"][0].format(key=key, meter=meter, title=STUDIO_TITLE)


def studio_prompt(request: Mapping[str, Any], chat: bool, tokenizer: Any | None = None) -> str:
    """What the model is given: the chat turn up to 'Assistant:' (chat=True, an SFT model) or a raw header.

    The raw header is 'X:1\\nM:<meter>\\nL:1/8\\nK:<key>\\n', then the motif if any (a base or CPT model continues
    it; form and chords cannot be said in a header: unconstrained, only the metrics show whether it obeyed them).
    The chat turn uses the tokenizer's EOS text (cm_lib.chat.generation_prompt); without a tokenizer,
    LLaMA's '</s>'.
    """
    from cm_lib.chat import format_chat, generation_prompt

    if not chat:
        opening = f"{request['motif']} " if request.get("motif") else ""
        return f"X:1\nM:{request['meter']}\nL:{STUDIO_UNIT}\nK:{abc_key(request['key'])}\n{opening}"
    instruction = studio_instruction(request)
    return generation_prompt(tokenizer, instruction) if tokenizer is not None else format_chat(instruction).rstrip(" ")


def is_chat_model(name: str, source: Any = None) -> bool:
    """Whether the studio asks this model in the chat format: its name, or its folder's path, says 'sft'."""
    where = str(source) if isinstance(source, (str, Path)) else ""
    return "sft" in name.lower() or "sft" in where.lower()


def _value_text(value: Any) -> str:
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
    """Check and engrave a tune (playground_view) and measure it against the request (cm_lib.metrics.tune_metrics)."""
    from cm_lib.metrics import tune_metrics
    from cm_lib.metrics.request import request_hits

    req = dict(request or {})
    metrics = tune_metrics(abc, {k: v for k, v in req.items() if k != "motif"} or None)
    rows = [(label, _value_text(metrics.get(name))) for name, label in STUDIO_METRICS]
    verdicts = {"syntax": metrics["valid_syntax"], "bars": metrics["valid_bars"], "parser": metrics["valid_parser"]}
    hits = request_hits(studio_plan(req), abc) if req.get("key") and req.get("meter") else {}
    return StudioView(abc, req, verdicts, metrics, rows, playground_view(abc), hits=hits)


def studio_generate(model: Any, tokenizer: Any, request: Mapping[str, Any], temperature: float = 0.8,
                    constrain: str = "bars", seed: int = 0, max_new_tokens: int = 400,
                    chat: bool = False) -> StudioView:
    """Sample one tune for the request, then `studio_check` it (notebook 05).

    Sampling is cm_lib.generate.sampling.sample_batch with COMPOSER_SAMPLING's top-k/top-p and the
    tokenizer's BOS as in training; `seed` makes it repeatable. chat=True asks in ChatMusician's chat format (an SFT model writes the whole tune); chat=False gives
    a raw header that the tune continues. `constrain` is 'none', 'syntax' or 'bars' (grammar-constrained);
    under a grammar the request's plan binds (`studio_plan`: key, meter, form, chords, motif), and the view
    says which parts came from the plan and which from the model (`sources`).
    """
    from cm_lib.chat import eos_marker
    from cm_lib.evaluate import COMPOSER_SAMPLING
    from cm_lib.generate import extract_abc
    from cm_lib.generate.sampling import sample_batch
    from cm_lib.plan.core import plan_sources

    plan = studio_plan(request) if constrain != "none" else None
    # a raw prompt holds the motif only without a grammar: a bound plan writes it itself
    prompt = studio_prompt({k: v for k, v in request.items() if k != "motif" or plan is None}, chat, tokenizer)
    sample = sample_batch(model, tokenizer, [prompt], [seed], max_new_tokens=max_new_tokens,
                          temperature=temperature, top_k=COMPOSER_SAMPLING["top_k"],
                          top_p=COMPOSER_SAMPLING["top_p"], constrain=constrain, chat=chat,
                          add_special_tokens=True, plans=[plan])[0]
    if chat:
        text = sample.text.split(eos_marker(tokenizer))[0].strip()
    else:
        text = prompt + sample.text
    # under a grammar the text is a whole tune; otherwise keep the tune found in it (or all of it, to see why not)
    abc = text.strip() + "\n" if constrain != "none" else (extract_abc(text) or text)
    out = studio_check(abc, request)
    out.prompt, out.raw, out.chat, out.sources = prompt, sample.text, chat, plan_sources(plan)
    out.stop, out.tokens, out.seconds = sample.stop, sample.tokens, sample.seconds
    return out


def composer_studio(models: Mapping[str, Any], smoke: bool = False) -> Any:
    """Notebook 05: key, meter, form, chords, motif, temperature, model and constraint -> Generate -> score, audio, metrics.

    `models` maps a name to a preset name or folder (loaded on first use, then kept) or to an already
    loaded (model, tokenizer) pair. A model whose name or folder says 'sft' is asked in the chat
    format, any other with a raw header (`is_chat_model`). The generated ABC lands in an editable
    box: every edit re-checks, re-engraves and re-measures it against the same request. The new-token
    limit starts at 128 in smoke mode (else 400); under the bars grammar a chat model also writes its
    own header, and 64 tokens cut 2 of 16 untrained-tiny tunes short (measured), 96 none.
    """
    import ipywidgets as w

    from cm_lib.errors import CourseError

    if not models:
        from cm_lib.errors import UsageError

        raise UsageError("composer_studio needs at least one model, e.g. {'tiny': 'tiny'}")
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
                    from cm_lib.models import load_model

                    loaded[name] = load_model(str(source))
            status.value = "generating …"
            net, tok = loaded[name]
            view = studio_generate(net, tok, request, temperature.value, constrain.value, int(seed.value),
                                   int(tokens.value), chat=is_chat_model(name, models[name]))
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


# ---------------------------------------------------------------- blind listening test (notebook 05)

LISTENING_FIELDS = ("session", "trial", "first", "second", "chosen", "time")


def listening_order(n: int, seed: int = 0) -> list[tuple[int, int]]:
    """For each of n trials, which tune of its pair plays as 'Tune 1' and which as 'Tune 2': (0, 1) or (1, 0).

    Counterbalanced: half the trials (n odd: one fewer) play the pair swapped, in an order shuffled
    by `seed`, so a listener who always picks 'Tune 1' scores 50% however the pairs were built.
    """
    if n < 0:
        from cm_lib.errors import UsageError

        raise UsageError(f"the number of trials must not be negative, got {n}")
    swapped = [i % 2 == 1 for i in range(n)]
    random.Random(seed).shuffle(swapped)
    return [(1, 0) if s else (0, 1) for s in swapped]


def default_listening_csv(labels: tuple[str, str] = ("real", "generated")) -> Path:
    """runs/listening/<label0>_vs_<label1>.csv: where a listening test appends its judgements by default."""
    from cm_lib.paths import stage_dir

    safe = [re.sub(r"[^A-Za-z0-9_-]+", "-", label).strip("-") or "tune" for label in labels]
    return stage_dir("listening") / f"{safe[0]}_vs_{safe[1]}.csv"


def _csv_line(values: Sequence[Any]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(values)
    return buf.getvalue()


def record_judgement(csv_path: str | Path, trial: int, first: str, second: str, chosen: str,
                     session: str = "", when: datetime | None = None) -> dict[str, str]:
    """Append one judgement (the labels played as Tune 1 and Tune 2, the label chosen) to a CSV; returns the row.

    A new file gets the header LISTENING_FIELDS; an existing file must carry that header (else
    UsageError: we never write into, or replace, a file we did not write). Each row is one write to a
    file opened for appending and is flushed to disk, so an interrupted test keeps every earlier row.
    """
    from cm_lib.errors import UsageError

    if chosen not in (first, second):
        raise UsageError(f"chosen label {chosen!r} is neither {first!r} nor {second!r}")
    path = Path(csv_path)
    stamp = (when or datetime.now(timezone.utc)).isoformat(timespec="seconds")
    row = {"session": session, "trial": str(trial), "first": first, "second": second, "chosen": chosen, "time": stamp}
    line = _csv_line([row[k] for k in LISTENING_FIELDS])
    header = _csv_line(LISTENING_FIELDS)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        data = header + line
    except FileExistsError:
        with path.open("rb") as fh:
            head = fh.readline().decode("utf-8", "replace")
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            if size:
                fh.seek(size - 1)
            ends_line = not size or fh.read(1) == b"\n"
        if head.strip() != header.strip():
            raise UsageError(f"{path} is not a listening-test CSV (its first line is not {header.strip()!r}); "
                             "give another out_csv") from None
        fd = os.open(path, os.O_WRONLY | os.O_APPEND)
        data = ("" if ends_line else "\n") + line  # a row cut off by a crash stays a row of its own (then skipped)
    try:
        os.write(fd, data.encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
    return row


def preference_summary(csv_path: str | Path, label: str = "generated") -> dict[str, Any]:
    """How often listeners chose `label` over the other tune, from a listening-test CSV.

    Counts every complete row whose two tunes include `label` (n) and those where it was chosen (k):
    {"label", "k", "n", "rate", "ci95" (Wilson 95%), "text" ('3/5 = 60% [23%, 88%]'), "tune1" (the
    same for choosing whichever tune played first: a position bias), "skipped" (incomplete rows)}.
    A file that does not exist yet gives n = 0.
    """
    from cm_lib.evaluate import format_rate, rate

    path = Path(csv_path)
    k = n = first = skipped = 0
    if path.is_file():
        with path.open(encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh):
                values = [row.get(f) for f in LISTENING_FIELDS]
                if any(v is None or v == "" for v in values[1:]) or row["chosen"] not in (row["first"], row["second"]):
                    skipped += 1
                    continue
                if label not in (row["first"], row["second"]):
                    continue
                n += 1
                k += row["chosen"] == label
                first += row["chosen"] == row["first"]
    out = rate(k, n)
    return {"label": label, **out, "text": format_rate(out), "tune1": rate(first, n), "skipped": skipped}


def listening_test(pairs: Sequence[tuple[str, str]], labels: tuple[str, str] = ("real", "generated"),
                   out_csv: Path | None = None, seed: int = 0, reveal: bool = True) -> Any:
    """Notebook 05: a blind A/B test; each pair (a labels[0] tune, a labels[1] tune) plays as Tune 1 / Tune 2.

    The order of each pair is `listening_order(len(pairs), seed)`. Each click on 'prefer 1'/'prefer 2'
    appends a row to `out_csv` (default `default_listening_csv(labels)`) and updates the preference
    rate for labels[1] with n and its 95% Wilson interval (`preference_summary`). With `reveal` the
    sheet music and which tune was which show after each answer (good for learning; a listener who
    learns to spot the model is no longer blind: use reveal=False for a real study).
    """
    import ipywidgets as w

    from cm_lib import render

    if not pairs:
        from cm_lib.errors import UsageError

        raise UsageError("listening_test needs at least one pair of tunes")
    if labels[0] == labels[1]:
        from cm_lib.errors import UsageError

        raise UsageError(f"the two labels must differ, got {labels}")
    path = Path(out_csv) if out_csv is not None else default_listening_csv(labels)
    order = listening_order(len(pairs), seed)
    session = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S") + f"-{os.getpid()}"
    state = {"trial": 0}
    title, tune1, tune2, revealed, summary = (w.HTML() for _ in range(5))
    prefer1 = w.Button(description="prefer 1", tooltip="Tune 1 sounds better")
    prefer2 = w.Button(description="prefer 2", tooltip="Tune 2 sounds better")
    for widget, name in ((title, "trial"), (tune1, "tune1"), (tune2, "tune2"), (revealed, "reveal"),
                         (summary, "summary"), (prefer1, "prefer1"), (prefer2, "prefer2")):
        widget.add_class(f"cm-listen-{name}")

    def show_trial() -> None:
        i = state["trial"]
        if i >= len(pairs):
            title.value = f"<b>All {len(pairs)} trials done.</b>"
            tune1.value = tune2.value = ""
            prefer1.disabled = prefer2.disabled = True
            return
        a, b = order[i]
        title.value = f"<b>Trial {i + 1} of {len(pairs)}</b>: which tune do you prefer?"
        tune1.value = "Tune 1 " + audio_html(pairs[i][a])
        tune2.value = "Tune 2 " + audio_html(pairs[i][b])

    def show_summary() -> None:
        s = preference_summary(path, labels[1])
        summary.value = (f"Preferred <b>{html.escape(labels[1])}</b> over {html.escape(labels[0])}: {s['text']}; "
                         f"chose Tune 1: {s['tune1']['k']}/{s['tune1']['n']} (all sessions in "
                         f"<code>{html.escape(str(path))}</code>)")

    def judge(position: int) -> None:
        i = state["trial"]
        if i >= len(pairs):
            return
        a, b = order[i]
        first, second = labels[a], labels[b]
        chosen = first if position == 1 else second
        record_judgement(path, i + 1, first, second, chosen, session=session)
        if reveal:
            revealed.value = (f"Trial {i + 1}: Tune 1 was <b>{html.escape(first)}</b>, Tune 2 "
                              f"<b>{html.escape(second)}</b>; you preferred {html.escape(chosen)}."
                              + render.side_by_side_html([pairs[i][a], pairs[i][b]], ["Tune 1", "Tune 2"]))
        state["trial"] += 1
        show_trial()
        show_summary()

    prefer1.on_click(lambda _b: judge(1))
    prefer2.on_click(lambda _b: judge(2))
    show_trial()
    show_summary()
    return w.VBox([title, w.HBox([tune1, tune2]), w.HBox([prefer1, prefer2]), summary, revealed])


# ---------------------------------------------------------------- question explorer (notebook 06)


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
    from cm_lib.bench.prompts import shuffle_question
    from cm_lib.bench.run import run_questions

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


def explorer_html(view: ExplorerView, original: ExplorerView | None = None) -> str:
    """The prompt exactly as scored, a table of options and scores, prediction vs answer, and what it follows."""
    lower_wins = view.mode == "ppl"
    rows = []
    for (letter, text), score in zip(view.options.items(), view.scores, strict=False):
        mark = (" ← prediction" if letter == view.pred else "") + (" ✔ answer" if letter == view.answer else "")
        rows.append(f"<tr><td>{letter}</td><td>{html.escape(text)}</td><td>{score:.4f}</td><td>{mark}</td></tr>")
    rule = "lowest mean loss wins" if lower_wins else "highest score wins"
    out = [f'<pre class="cm-prompt" style="white-space:pre-wrap">{html.escape(view.prompt)}</pre>',
           f'<table class="cm-options"><tr><th>option</th><th>text</th><th>score ({html.escape(view.mode)}: '
           f"{rule})</th><th></th></tr>{''.join(rows)}</table>",
           f'<p class="cm-explorer-verdict">prediction <b>{view.pred}</b>, answer <b>{view.answer}</b>: '
           f"{'right' if view.correct else 'wrong'}</p>"]
    if original is not None and view.order != original.order:
        out.append(f"<p>With the options reordered the model's choice follows <b>{follows(original, view)}</b> "
                   f"(original order: {original.pred} = {html.escape(str(original.pred_text))}).</p>")
    return "".join(out)


def question_explorer(model: Any, tokenizer: Any, questions: list[Any], modes: tuple[str, ...] | None = None,
                      shuffles: int = 3) -> Any:
    """Notebook 06: pick a question, a scoring mode and an option order; see the prompt and every option's score."""
    import ipywidgets as w

    from cm_lib.bench.run import MODES

    pick = w.Dropdown(options=[(f"{q.id}: {q.stem[:60]}", i) for i, q in enumerate(questions)], description="question")
    mode = w.Dropdown(options=list(modes or MODES), value="ppl", description="mode")
    order = w.ToggleButtons(options=[("original order", 0)] + [(f"shuffle {s}", s) for s in range(1, shuffles + 1)],
                            value=0)
    out = w.HTML()
    out.add_class("cm-explorer")

    def refresh(_change: Any = None) -> None:
        q = questions[pick.value]
        original = explore_question(model, tokenizer, q, mode.value, 0)
        view = original if order.value == 0 else explore_question(model, tokenizer, q, mode.value, order.value)
        out.value = explorer_html(view, original)

    for widget in (pick, mode, order):
        widget.observe(refresh, names="value")
    refresh()
    return w.VBox([w.HBox([pick, mode]), order, out])
