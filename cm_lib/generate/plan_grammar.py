"""A plan made binding (notebooks 04, 05): the grammar of a tune that follows a plan, and the tokens it needs.

`plan_grammar` is `constrain.tune_grammar` with the plan's header imposed (M:, L:, K:) and a body laid
out by `cm_lib.plan.plan_layout`: the motif verbatim as the opening, then the planned bars, each opened by
its chord symbol (no other chord symbol is written in a chord plan), with `|:` ... `:|` around repeated
sections and `||` after plain ones; in `bars` mode every bar after the motif lasts exactly the meter. A plan
without a bar count (only key/meter, or a motif to continue) leaves the tune's length to the writer.

A plan fixes the tune's length, so the closing plan of the logits processor must start early enough:
`plan_budget` gives, per row, the planned bars and the tokens the cheapest bar costs in this tokenizer
(chord symbol, the fewest notes that fill the meter, a bar line); the processor keeps that many tokens per
remaining bar in reserve, and `sample_batch` refuses a budget smaller than the cheapest whole tune.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cm_lib.abc import check
from cm_lib.errors import CourseError
from cm_lib.generate.constrain import (
    FIN,
    LENGTHS,
    SEP,
    UNITS,
    bar_halves,
    body_rules,
    prompt_header,
    tune_grammar,
)
from cm_lib.plan.core import Plan, plan_layout


def _literal(text: str) -> str:
    """A Lark string literal for `text`."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _bar(halves: int | None) -> str:
    """The rule of one full bar (bars mode), or of a bar of two or more elements of any length (syntax mode)."""
    return f"b{halves}_{halves}" if halves else "pbar_any"


def plan_body(plan: Plan) -> Any:
    """The body-rules function (constrain.BodyRules) of a plan's layout: `body_<h>` lays out the planned bars."""
    lay = plan_layout(plan)

    def rules(halves: int | None, el: dict[int, list[str]]) -> list[str]:
        name = f"body_{halves or 'any'}"
        free = f"free_{halves or 'any'}"
        out = [r.replace(f"{name}:", f"{free}:", 1) if r.startswith(f"{name}:") else r for r in body_rules(halves, el)]
        if halves is None:
            out.append('pbar_any: (el ")"? " "?) (el ")"? " "?)+')
        bar = _bar(halves)
        opening = ""
        if lay.motif_bars:
            opening = _literal(plan.motif or "") + ' ("\\n" | " ")? '
        if lay.bars is None:  # free length: the motif (if any), then any number of full bars
            tail = f'({bar} {SEP})* {bar} {FIN}' if opening else free
            out.append(f"{name}: {opening}{tail}")
            return out
        seq = [opening] if opening else []
        m = len(lay.motif_bars)
        for i in range(m, lay.bars):
            lead = '"|:" " "? ' if i in lay.starts and not (i == 0 and opening) else ""
            chord = f'{_literal(chr(34) + lay.chords[i] + chr(34))} ' if lay.chords[i] else ""
            if i == lay.bars - 1:
                end = f'{_literal(lay.ends.get(i, "|]"))} "\\n"' if not lay.free_ends else FIN
            elif i in lay.ends:
                end = f'{_literal(lay.ends[i])} "\\n"'
            elif lay.free_ends:
                end = SEP
            else:
                end = '"|" ("\\n" | " ")?'
            seq.append(f"{lead}{chord}{bar} {end}")
        out.append(f"{name}: " + " ".join(seq))
        return out

    return rules


def plan_grammar(prompt: str, plan: Plan, mode: str = "bars", chat: bool = False) -> str:
    """The Lark grammar of a tune after `prompt` that follows `plan` (header, sections, one chord per bar, motif); notebook 05."""
    return tune_grammar(prompt, mode, chat=chat, header=plan.header(), body=plan_body(plan),
                        chord_symbols=not plan.chords)


def plan_problem(plan: Plan) -> str | None:
    """Why a plan cannot be bound (a field the ABC parser rejects, e.g. a reader's M:G or a motif that is not ABC), or None."""
    import llguidance

    if plan.motif:
        head = "".join(f"{k}:{v}\n" for k, v in plan.header().items() if k != "K")
        tune = f"X:1\n{head}K:{plan.key or 'C'}\n{plan.motif.rstrip().rstrip('|')}|]\n"
        result = check(tune, "syntax")
        if not result.ok:
            return f"the motif is not ABC: {result.problems[0].message}"
    try:
        grammar = plan_grammar("", plan, "syntax", chat=True)
    except CourseError as err:
        return str(err)
    failed, messages = llguidance.LLMatcher.validate_grammar_with_warnings(grammar)
    return f"the plan's grammar does not compile: {messages[0] if messages else 'unknown error'}" if failed else None


@dataclass(frozen=True)
class PlanBudget:
    """What a plan costs a row: its planned bars (None: free length) and the tokens of its cheapest bar and header."""

    bars: int | None
    bar_tokens: int
    header_tokens: int

    @property
    def minimum(self) -> int:
        """Tokens of the cheapest tune that follows the plan (header, motif, planned bars, end)."""
        return self.header_tokens + (self.bars or 1) * self.bar_tokens + 2


def _fill(halves: int) -> str:
    """The fewest notes that last `halves` half units (longest first): 12 -> 'A6', 32 -> 'A8A8'."""
    out, left = "", halves
    for d in sorted(LENGTHS, reverse=True):
        while left >= d:
            out += "A" + LENGTHS[d][0]
            left -= d
    return out


def plan_budget(tokenizer: Any, plan: Plan, prompt: str = "", chat: bool = False) -> PlanBudget:
    """Planned bars and the tokens of the cheapest bar (any chord of the plan, any unit the grammar may choose, its share
    of the section signs) and of the header."""
    lay = plan_layout(plan)
    head = None if chat else prompt_header(prompt)
    given = head.fields if head is not None else {}
    meter = given.get("M") or plan.meter
    units = [given.get("L") or plan.unit] if (given.get("L") or plan.unit) else list(UNITS)
    chords = [c for c in set(lay.chords) if c] or [""]
    count = lambda text: len(tokenizer(text, add_special_tokens=False)["input_ids"])  # noqa: E731
    cost = 4
    for unit in units:
        halves = bar_halves(meter, unit) if meter else max(
            (bar_halves(m, unit) or 0) for m in ("4/4", "6/8", "3/4", "2/4"))
        fill = _fill(halves) if halves else "AB"
        for chord in chords:
            cost = max(cost, count(f'"{chord}"{fill}|' if chord else f"{fill}|") + 1)
    if lay.bars and lay.ends:  # section signs (":|", newline, "|:"), shared out over the bars
        cost += -(-len(lay.ends) * count(":|\n|: ") // lay.bars)
    motif = count(plan.motif) if plan.motif else 0
    header = 0 if head is not None and head.complete else count("X:1\nM:12/8\nL:1/16\nK:Cmix\n") + 1
    return PlanBudget(bars=lay.bars, bar_tokens=cost, header_tokens=header + motif)
