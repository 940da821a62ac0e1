"""The composer's studio's requests (notebook 05): its fields read into a request, the request's plan, and what a
writer is given for it (the widgets are cm_lib.widgets.studio; sampling and measuring, cm_lib.generate.studio).

A request is {"key", "meter"} + "form", "chords" and "motif" when asked. What a writer is given depends on how it
was trained, which the caller says (`chat`): an SFT model gets the Human turn in the corpus's own first template
of the matching task (the chat format, cm_lib.chat); a base or CPT model a raw header to continue
(`cm_lib.plan.core.plan_prompt`: header and motif; form and chords cannot be said in a header).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from cm_lib.abc import check
from cm_lib.abc.chords import is_chord_name, split_chords
from cm_lib.abc.keys import abc_key, parse_key
from cm_lib.chat import format_chat, generation_prompt
from cm_lib.corpus.composer import composer_header
from cm_lib.corpus.tasks import TEMPLATES
from cm_lib.plan.core import Plan, RequestError, make_plan, plan_prompt

STUDIO_UNIT = "1/8"  # the L: of a raw header prompt, and the unit a motif is written in
STUDIO_TITLE = "Studio Tune"  # the title a key/meter request names (the corpus's key/meter task asks for one)


def studio_request(key: str, meter: str, form: str | None = None, chords: str | Sequence[str] | None = None,
                   motif: str | None = None) -> dict:
    """The request the studio asks for and checks against: {"key", "meter"} + "form", "chords" and "motif" when given.

    RequestError (a CourseError) on a key the key parser cannot read; the form must be section letters such as
    AABB, every chord a symbol of the chord grammar (e.g. D, Am, A7, F#m; `cm_lib.abc.chords`), and the motif the
    opening bars in ABC at L:1/8 (STUDIO_UNIT), e.g. "A | d2B A2F |".
    """
    req: dict[str, Any] = {"key": key.strip(), "meter": meter.strip()}
    try:
        parse_key(req["key"])
    except ValueError as err:
        raise RequestError(f"request key: {err}") from None
    form = (form or "").replace(" ", "")
    if form:
        if not form.isalpha() or not form.isupper():
            raise RequestError(f"form {form!r}: write the sections as capital letters, e.g. AABB")
        req["form"] = form
    wanted = split_chords(chords)
    bad = [c for c in wanted if not is_chord_name(c)]
    if bad:
        raise RequestError(f"not chord symbols: {bad}; write them like D G A7 Em (one per bar)")
    if wanted:
        req["chords"] = wanted
    opening = " ".join((motif or "").split())
    if opening:
        probe = composer_header(req["meter"], STUDIO_UNIT, abc_key(req["key"])) + opening.rstrip("|") + "|]\n"
        if not check(probe, "syntax").ok:
            raise RequestError(f"motif {opening!r}: write the opening bars in ABC at L:{STUDIO_UNIT}, e.g. A | d2B A2F |")
        req["motif"] = opening
    return req


def studio_plan(request: Mapping[str, Any]) -> Plan:
    """The plan of a studio request: its key, meter, form, chords and motif (the motif at STUDIO_UNIT)."""
    motif = request.get("motif")
    return make_plan(key=request.get("key"), meter=request.get("meter"), unit=STUDIO_UNIT if motif else None,
                     form=request.get("form"), chords=request.get("chords"), motif=motif)


def studio_instruction(request: Mapping[str, Any]) -> str:
    """The Human turn for an SFT model, in the corpus's own first template of the matching task (notebook 04).

    Chords -> chord_conditioned; else a form -> form_conditioned; else key_meter_conditioned (titled
    STUDIO_TITLE). A form asked together with chords is added as one more sentence (no corpus task has both).
    """
    key, meter = request["key"], request["meter"]
    if request.get("chords"):
        text = TEMPLATES["chord_conditioned"][0].format(key=key, meter=meter, chords=" | ".join(request["chords"]))
        return text + (f". Use the musical form {request['form']}." if request.get("form") else "")
    if request.get("form"):
        return TEMPLATES["form_conditioned"][0].format(key=key, meter=meter, form=request["form"])
    return TEMPLATES["key_meter_conditioned"][0].format(key=key, meter=meter, title=STUDIO_TITLE)


def studio_prompt(request: Mapping[str, Any], chat: bool, tokenizer: Any | None = None) -> str:
    """What the model is given: the chat turn up to 'Assistant:' (chat=True, an SFT model) or a raw header.

    The raw header is the request plan's `plan_prompt` at L:1/8 ('X:1\\nM:<meter>\\nL:1/8\\nK:<key>\\n', then the
    motif if any): a base or CPT model continues it; form and chords cannot be said in a header (unconstrained,
    only the metrics show whether it obeyed them). The chat turn uses the tokenizer's EOS text
    (cm_lib.chat.generation_prompt); without a tokenizer, LLaMA's '</s>'.
    """
    if not chat:
        plan = make_plan(key=request["key"], meter=request["meter"], unit=STUDIO_UNIT, motif=request.get("motif"))
        return plan_prompt(plan) or ""
    instruction = studio_instruction(request)
    return generation_prompt(tokenizer, instruction) if tokenizer is not None else format_chat(instruction).rstrip(" ")
