"""The composer's view of a tune: what the from-scratch composer of notebook 03 pre-trains on, and the form of
the answers notebook 04 fine-tunes it on (cm_lib.train.trainer.SFT_ANSWER_TITLES says whether they keep a title);
also the header alone (`header_prompt`). (A request's plan, the answer SmolLM2 learns to give as notebook 04's
reader, is cm_lib.plan.rules.plan_answer.)

The composer is prompted with `X:1`, `M:`, `L:` and `K:` alone, so it learns from tunes written the same way: the
header reduced to those four fields in that order and the body unchanged. Tunes that fail the bar check
(cm_lib.abc.check at level "bars"), that have several voices, or that lack M:, L: or K: are left out: a small model
copies what it sees, mistakes included.

A tune's header, who builds what (one builder of the text, `composer_header`; the rest call it or build fields):
- `composer_header(meter, unit, key)`: the header lines (X:1, T:, M:, L:, K:), the only code that writes them;
- `header_fields(text)`: the M:, L:, K: a text states; `header_prompt(text)`: those as the composer's prompt;
- `cm_lib.evaluate.header_prompts(corpus, n)`: header prompts of n held-out tunes;
- `cm_lib.plan.core.plan_prompt(plan)`: a plan's header and motif, for a writer without a grammar (the studio's raw
  prompt too, `cm_lib.plan.studio.studio_prompt`);
- `cm_lib.plan.core.Plan.header()`: the fields a plan imposes on the grammar, a dict ({"M": "6/8", "K": "G"});
  `cm_lib.generate.constrain.request_header(request)`: a request's, through its plan.
"""

from __future__ import annotations

import re

from cm_lib.abc import check, split_tunes

COMPOSER_VIEW = "composer"  # the name a training run records (cm_lib.train, `view=`)
COMPOSER_FIELDS = ("M", "L", "K")  # the header the composer sees, after X:1, in this order


def composer_header(meter: str, unit: str | None, key: str, title: str | None = None) -> str:
    """`X:1 / (T:) / M: / (L:) / K:` lines, the one builder of a tune's header: the composer's training tunes, its header
    prompts (`header_prompt`), a plan's raw prompt (`cm_lib.plan.core.plan_prompt`) and the studio's share it (notebook 03)."""
    head = f"X:1\nT:{title}\n" if title else "X:1\n"
    return f"{head}M:{meter}\n" + (f"L:{unit}\n" if unit else "") + f"K:{key}\n"


def composer_text(text: str, title: bool = False) -> str | None:
    """The tune as the composer sees it (header X:1, M:, L:, K:, then the body), or None when it is left out (notebook 03).

    `title=True` keeps the first T: line (a request may name the title; notebook 04 measures what it costs the composer).
    """
    tunes = split_tunes(text)
    if len(tunes) != 1:
        return None
    tune = tunes[0]
    values = [tune.get(name) for name in COMPOSER_FIELDS]
    if any(v is None or not v.strip() for v in values) or tune.get("V") is not None:
        return None
    body = tune.body.strip("\n")
    if not body.strip() or "V:" in body:
        return None
    meter, unit, key = (v.strip() for v in values)  # type: ignore[union-attr]
    name = (tune.get("T") or "").strip() if title else ""
    out = composer_header(meter, unit, key, name or None) + body + "\n"
    return out if check(out, "bars").ok else None


def header_fields(text: str) -> dict[str, str]:
    """The first non-empty M:, L: and K: values of a text's header (up to its K: line), those it has (notebook 04)."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        m = re.match(r"^([MLK]):\s*(.*)$", line.strip())
        if m and m.group(1) not in fields and m.group(2).strip():
            fields[m.group(1)] = m.group(2).strip()
        if line.strip().startswith("K:"):
            break
    return fields


def header_prompt(text: str, title: bool = False) -> str | None:
    """The `X:1 / M: / L: / K:` lines of a tune or an answer as the composer's prompts have them, or None when one is missing (notebook 04).

    SmolLM2's header SFT learns to answer with this alone; the composer's prompt is then this, made from SmolLM2's
    answer (nothing is filled in). `title` is accepted for the trainer's view interface and ignored.
    """
    f = header_fields(text)
    return composer_header(f["M"], f["L"], f["K"]) if set(COMPOSER_FIELDS) <= set(f) else None
