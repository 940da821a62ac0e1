"""The blind listening test (notebook 05): pairs of tunes played as Tune 1 / Tune 2, each judgement stored.

The order, the CSV store and the preference rate are cm_lib.metrics.listening; this module only wires them up.
"""

from __future__ import annotations

import html
import os
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from cm_lib import render
from cm_lib.errors import UsageError
from cm_lib.metrics.listening import (
    default_listening_csv,
    listening_order,
    preference_summary,
    record_judgement,
)
from cm_lib.widgets.common import audio_html


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

    if not pairs:
        raise UsageError("listening_test needs at least one pair of tunes")
    if labels[0] == labels[1]:
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
