"""The question explorer (notebook 06): pick a question, a scoring mode and an option order; see the prompt exactly as
scored and every option's score (the scoring itself is cm_lib.bench.explore)."""

from __future__ import annotations

import html
from typing import Any

from cm_lib.bench.explore import ExplorerView, explore_question, follows
from cm_lib.bench.run import MODES


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
