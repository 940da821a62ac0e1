"""Checks for notebook 04 (supervised fine-tuning): the chat format, label masking, task compliance, the pair's hand-over."""

from __future__ import annotations

import random
from collections.abc import Callable

from cm_lib.exercises._common import call, verdict

COMPLIANCE_CASES = [  # (requested meter, generated tune)
    ("6/8", "X:1\nT:a\nM:6/8\nL:1/8\nK:D\nDFA dfa|gfe dcB|AFD DFA|d3 d3|]\n"),
    ("6/8", "X:1\nT:b\nM:4/4\nL:1/8\nK:D\nDEFG ABcd|e4 d4|]\n"),
    ("3/4", "X:1\nT:c\nM:3/4\nL:1/4\nK:G\nG A B|c B A|G3|]\n"),
    ("2/4", "Sorry, I cannot write music."),
]


EXTRA_CASES = [  # more (meter, answer) pairs the checker mixes into its case sets
    ("3/4", "Here you go:\nX:1\nT:d\nM:3/4\nL:1/4\nK:F\nF A c|B G E|F3|]\n"),
    ("6/8", "X:1\nT:e\nM:6/8\nL:1/8\nK:G\nGAB cBA|G3 G3|]\n"),
    ("4/4", "X:1\nT:f\nM:2/4\nL:1/8\nK:C\nCEGc|c4|]\n"),
    ("4/4", "I would write it in 4/4, with M:4/4 in the header."),
]


def _verdict(name: str, ok: bool, good: str, hint: str) -> bool:
    return verdict(f"nb04.{name}", ok, good, hint)


def check_chat_string(answer: str) -> bool:
    """ChatMusician's training string for prompt 'Write a jig.' and answer 'X:1': typed by hand."""
    from cm_lib.chat import format_chat

    want = format_chat("Write a jig.", "X:1")
    return _verdict("chat_string", answer == want, f"right: {want!r}",
                    f"look at the spaces around ' </s> ' and after 'Assistant:'; you wrote {answer!r}")


def check_mask_labels(fn: Callable[[list[int], int], list[int]]) -> bool:
    """`fn(input_ids, n_prompt)` must copy input_ids into labels with -100 on the first n_prompt tokens."""
    cases = [([5, 6, 7, 8, 2], 2, [-100, -100, 7, 8, 2]), ([1, 2], 0, [1, 2]), ([9, 9, 9], 3, [-100, -100, -100])]
    got = []
    for ids, n, _ in cases:
        value, err = call(fn, list(ids), n)
        if err:
            return _verdict("mask_labels", False, "", err)
        try:
            got.append(list(value))
        except TypeError:
            return _verdict("mask_labels", False, "", f"return a list of labels; you returned {value!r}")
    ok = all(g == want for g, (_, _, want) in zip(got, cases))
    return _verdict("mask_labels", ok, "right: the prompt is context only; the answer and its EOS carry the loss",
                    f"labels = input_ids with -100 for prompt positions; for ([5,6,7,8,2], 2) you gave {got[0]}")


def _obeys(meter: str, text: str) -> bool:
    from cm_lib.corpus.analysis import tune_attributes
    from cm_lib.generate import extract_abc

    abc = extract_abc(text)
    attrs = tune_attributes(abc) if abc else None
    return bool(attrs) and attrs["meter"] == meter


def check_meter_compliance(fn: Callable[[list[tuple[str, str]]], float]) -> bool:
    """`fn(cases)`: the fraction of (requested meter, answer) cases whose tune has that meter; on varied case sets."""
    name = "meter_compliance"
    pool = COMPLIANCE_CASES + EXTRA_CASES
    sets = [list(COMPLIANCE_CASES)] + [random.Random(seed).sample(pool, 5) for seed in (1, 2, 3)]
    for cases in sets:
        got, err = call(fn, list(cases))
        if err:
            return _verdict(name, False, "", err)
        hits = sum(_obeys(m, t) for m, t in cases)
        try:
            ok = abs(float(got) - hits / len(cases)) < 1e-9
        except (TypeError, ValueError):
            ok = False
        if not ok:
            return _verdict(name, False, "", f"on a set of {len(cases)} cases you returned {got!r}, expected "
                            f"{hits}/{len(cases)}: for each case extract_abc(answer), then "
                            "tune_attributes(abc)['meter'] == requested; an answer with no tune does not obey")
    return _verdict(name, True, f"right on {len(sets)} case sets (COMPLIANCE_CASES: "
                    f"{sum(_obeys(m, t) for m, t in COMPLIANCE_CASES)} of {len(COMPLIANCE_CASES)} obey)", "")


def _plan(**fields: str) -> object:
    from cm_lib.plan import make_plan

    return make_plan(**fields)


PLAN_CASES = [  # (the reader's plan, as fields, the composer's prompt made from it, or None: no tune is written)
    (dict(meter="6/8", key="F"), "X:1\nM:6/8\nK:F\n"),  # no L: in the plan: none in the prompt
    (dict(meter="2/4", unit="1/16", key="Ador", motif="A2c2 e2c2 | d2B2 c2A2 |"),
     "X:1\nM:2/4\nL:1/16\nK:Ador\nA2c2 e2c2 | d2B2 c2A2 | "),  # the motif opens the body
    (dict(meter="3/4", form="AABB"), None),  # no K: the request's key is unknown; never fill one in
]


EXTRA_PLAN_CASES = [  # more cases the checker adds
    (dict(key="G", chords="G C D G"), None),  # no meter
    (dict(meter="C|", key="Bb", form="AB", chords="Bb F"), "X:1\nM:C|\nK:Bb\n"),  # a header cannot say form or chords
    (dict(meter="9/8", unit="1/8", key="Dmix"), "X:1\nM:9/8\nL:1/8\nK:Dmix\n"),
    (dict(), None),
]


def check_composer_prompt(fn: Callable[[object], str | None]) -> bool:
    """`fn(plan)`: the composer's prompt from a reader's plan (X:1, M:, L: if planned, K:, the motif), or None without M: or K:.

    The expected values are cm_lib.plan.core.plan_prompt's (what notebook 04's pair hands over).
    """
    name = "composer_prompt"
    for fields, want in PLAN_CASES + EXTRA_PLAN_CASES:
        got, err = call(fn, _plan(**fields))
        if err:
            return _verdict(name, False, "", err)
        if got != want:
            return _verdict(name, False, "", f"for the plan {fields} you returned {got!r}, expected {want!r}: write "
                            "X:1, M:, then L: only if the plan has a unit, then K:, then the motif and a space; return "
                            "None when the meter or the key is missing (the composer cannot be told what was not read)")
    return _verdict(name, True, f"right on {len(PLAN_CASES) + len(EXTRA_PLAN_CASES)} plans", "")
