"""Checks for notebook 06 (probe MusicTheoryBench): a question in the schema, the exact prompt,
letter extraction for generated answers, and the Wilson interval."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cm_lib.bench.prompts import build_prompt, extract_letter
from cm_lib.bench.results import wilson_interval
from cm_lib.bench.schema import BenchSchemaError, validate_record

LETTER_CASES: list[tuple[str, str | None]] = [
    (" B", "B"),
    (" C. A perfect fifth", "C"),
    ("(D)", "D"),
    (" The answer is A.", "A"),
    ("Answer: B", "B"),
    ("\nC\n", "C"),
    (" none of them", None),
    ("", None),
    (" 42", None),
    (" E", None),
]

PROMPT_QUESTION: dict[str, Any] = {
    "id": "ex-06-prompt",
    "stem": "Use the example below to answer the question that follows. What is the meter of this tune?",
    "options": {"A": "2/4", "B": "3/4", "C": "6/8", "D": "4/4"},
    "subject": "reasoning",
    "answer": "B",
    "split": "test",
    "abc_score": "X:1\nM:3/4\nL:1/4\nK:C\nC D E | F2 E | C3 |]",
    "analysis": "M:3/4 is in the header; every bar holds three quarter notes.",
}


def _verdict(ok: bool, good: str, hint: str) -> bool:
    """Print ✅ good or ❌ hint; return ok."""
    print(f"✅ {good}" if ok else f"❌ {hint}")
    return ok


def check_question(record: dict[str, Any]) -> bool:
    """Your own question in the benchmark schema: valid, with an abc_score and an analysis."""
    try:
        q = validate_record(record, "your question")
    except BenchSchemaError as err:
        return _verdict(False, "", str(err))
    if not q.abc_score.strip() or "K:" not in q.abc_score:
        return _verdict(False, "", "add an abc_score: a short tune with at least an X:, M:, L: and K: header")
    if len(q.analysis.split()) < 5:
        return _verdict(False, "", "write an analysis: a sentence explaining why the answer is right")
    if q.id.startswith("cmc-"):
        return _verdict(False, "", "use your own id (the cmc- ids belong to the course sample)")
    return _verdict(True, f"a valid {q.subject} question whose answer is {q.answer}: {q.answer_text}", "")


def check_prompt(prompt: str) -> bool:
    """The zero-shot protocol prompt (up to "Answer:") for PROMPT_QUESTION, written by hand."""
    expected = build_prompt(validate_record(PROMPT_QUESTION))
    if prompt == expected:
        return _verdict(True, "character-for-character the string OpenCompass scores", "")
    for i, (a, b) in enumerate(zip(prompt, expected)):
        if a != b:
            return _verdict(False, "", f"first difference at character {i}: you wrote {prompt[i:i + 20]!r}, "
                            f"expected {expected[i:i + 20]!r}")
    return _verdict(False, "", f"lengths differ: yours {len(prompt)}, expected {len(expected)} characters "
                    "(did you drop the example sentence and end with 'Answer:' without a space?)")


def check_extract_letter(fn: Callable[[str], str | None]) -> bool:
    """Your letter extractor on generated answers: the letter A-D, or None when there is none."""
    for text, want in LETTER_CASES:
        got = fn(text)
        if got != want:
            return _verdict(False, "", f"for {text!r} you returned {got!r}, expected {want!r}")
    assert [extract_letter(t) for t, _ in LETTER_CASES] == [w for _, w in LETTER_CASES]
    return _verdict(True, f"all {len(LETTER_CASES)} generated answers parsed as expected", "")


def check_wilson(fn: Callable[[float, int], tuple[float, float]]) -> bool:
    """Your Wilson 95% interval (successes, n) -> (low, high), within 1e-3 of ours."""
    for k, n in [(10, 20), (0, 21), (98, 367), (40, 98), (21, 21)]:
        got = fn(k, n)
        want = wilson_interval(k, n)
        if len(got) != 2 or any(abs(g - w) > 1e-3 for g, w in zip(got, want)):
            return _verdict(False, "", f"for {k}/{n} you gave {tuple(round(g, 4) for g in got)}, expected "
                            f"{tuple(round(w, 4) for w in want)} (z = 1.96)")
    return _verdict(True, "your interval matches: note how wide it is for 21 questions", "")
