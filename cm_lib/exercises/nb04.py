"""Checks for notebook 04 (supervised fine-tuning): the chat format, label masking, task compliance."""

from __future__ import annotations

from collections.abc import Callable

COMPLIANCE_CASES = [  # (requested meter, generated tune)
    ("6/8", "X:1\nT:a\nM:6/8\nL:1/8\nK:D\nDFA dfa|gfe dcB|AFD DFA|d3 d3|]\n"),
    ("6/8", "X:1\nT:b\nM:4/4\nL:1/8\nK:D\nDEFG ABcd|e4 d4|]\n"),
    ("3/4", "X:1\nT:c\nM:3/4\nL:1/4\nK:G\nG A B|c B A|G3|]\n"),
    ("2/4", "Sorry, I cannot write music."),
]


def _verdict(ok: bool, good: str, hint: str) -> bool:
    """Print ✅ good or ❌ hint; return ok."""
    print(f"✅ {good}" if ok else f"❌ {hint}")
    return ok


def check_chat_string(answer: str) -> bool:
    """ChatMusician's training string for prompt 'Write a jig.' and answer 'X:1': typed by hand."""
    from cm_lib.chat import format_chat

    want = format_chat("Write a jig.", "X:1")
    return _verdict(answer == want, f"right: {want!r}",
                    f"look at the spaces around ' </s> ' and after 'Assistant:'; you wrote {answer!r}")


def check_mask_labels(fn: Callable[[list[int], int], list[int]]) -> bool:
    """`fn(input_ids, n_prompt)` must copy input_ids into labels with -100 on the first n_prompt tokens."""
    cases = [([5, 6, 7, 8, 2], 2, [-100, -100, 7, 8, 2]), ([1, 2], 0, [1, 2]), ([9, 9, 9], 3, [-100, -100, -100])]
    try:
        got = [list(fn(list(ids), n)) for ids, n, _ in cases]
    except Exception as err:  # noqa: BLE001 - any student error becomes a hint
        return _verdict(False, "", f"your function raised {type(err).__name__}: {err}")
    ok = all(g == want for g, (_, _, want) in zip(got, cases))
    return _verdict(ok, "right: the prompt is context only; the answer and its EOS carry the loss",
                    f"labels = input_ids with -100 for prompt positions; for ([5,6,7,8,2], 2) you gave {got[0]}")


def check_meter_compliance(answer: float) -> bool:
    """Fraction of COMPLIANCE_CASES whose tune has the requested meter (prose counts as not obeyed)."""
    from cm_lib.evaluate import tune_attributes
    from cm_lib.generate import extract_abc

    hits = 0
    for meter, text in COMPLIANCE_CASES:
        abc = extract_abc(text)
        attrs = tune_attributes(abc) if abc else None
        hits += bool(attrs) and attrs["meter"] == meter
    want = hits / len(COMPLIANCE_CASES)
    try:
        ok = abs(float(answer) - want) < 1e-9
    except (TypeError, ValueError):
        ok = False
    return _verdict(ok, f"right: {hits} of {len(COMPLIANCE_CASES)} obey the requested meter",
                    "for each case, extract_abc, tune_attributes(...)['meter'] == requested; an answer with no "
                    "tune does not obey")
