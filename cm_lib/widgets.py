"""Interactive lessons: the ABC playground (notebook 01) and the question explorer (notebook 06).

Everything a widget shows is computed by a pure function here (`playground_view`, `bar_spans`,
`explore_question`, `follows`), unit-tested without a browser; the widgets only wire them up.
"""

from __future__ import annotations

import base64
import html
import re
from dataclasses import dataclass, field
from typing import Any

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
