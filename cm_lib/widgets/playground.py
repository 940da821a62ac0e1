"""The ABC playground (notebook 01): an editable tune, checked at bars level and engraved on every edit.

What it shows is computed by pure functions (`playground_presets`, `bar_spans`, `highlight_html`,
`playground_view`), unit-tested without a browser; `abc_playground` only wires them up.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from typing import Any

from cm_lib import render
from cm_lib.abc import check, split_tunes
from cm_lib.errors import AbcError
from cm_lib.paths import data_samples_dir
from cm_lib.widgets.common import audio_html

PLAYGROUND_LEVEL = "bars"
_BAR_RE = re.compile(r":*\|+[\]:]*\d*|:*\[\||::")  # bar lines, repeats, |] and [| (a chord's ] is not one)
_FIELD_RE = re.compile(r"^[A-Za-z]:")


def playground_presets() -> dict[str, str]:
    """Preset name -> tune: the lesson's examples (data_samples/*.abc) and each common mistake."""
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
