"""Checks for notebook 06 (probe MusicTheoryBench): a question in the schema, the exact prompt,
letter extraction for generated answers, and the Wilson interval."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cm_lib.bench.prompts import build_prompt, extract_letter
from cm_lib.bench.schema import BenchSchemaError, validate_record
from cm_lib.exercises._common import call, verdict
from cm_lib.stats import wilson_interval

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


def _verdict(name: str, ok: bool, good: str, hint: str) -> bool:
    return verdict(f"nb06.{name}", ok, good, hint)


def _asked_property(stem: str) -> str | None:
    """Which computable property of the abc_score a stem asks about: "bars", "meter", "key" or None."""
    s = stem.lower()
    if "how many bars" in s or "how many measures" in s:
        return "bars"
    if "meter" in s or "time signature" in s:
        return "meter"
    if "key" in s and "signature" not in s:
        return "key"
    return None


def _true_value(prop: str, abc_score: str) -> str:
    from cm_lib.abc import describe

    d = describe(abc_score)
    if prop == "bars":
        return str(d.n_bars)
    if prop == "meter":
        return (d.meter or "").replace(" ", "")
    return f"{d.tonic} {d.mode}" if d.tonic and d.mode else str(d.tonic)


def _option_matches(prop: str, option: str, truth: str) -> bool:
    text = option.strip().replace(" ", "").lower() if prop != "key" else " ".join(option.lower().split())
    if prop == "key":
        tonic, _, mode = truth.lower().partition(" ")
        return text in {truth.lower(), tonic + ("m" if mode == "minor" else ""), tonic + " " + (mode or "major")} \
            or (mode == "major" and text == tonic)
    return text == truth.lower()


def check_question(record: dict[str, Any]) -> bool:
    """Your question in the schema, about the bars, meter or key of its abc_score; its answer must be RIGHT.

    The checker computes the true value from the abc_score (cm_lib.abc.describe) and requires that
    the answer option, and no other option, states it.
    """
    name = "question"
    try:
        q = validate_record(record, "your question")
    except BenchSchemaError as err:
        return _verdict(name, False, "", str(err))
    if not q.abc_score.strip() or "K:" not in q.abc_score:
        return _verdict(name, False, "", "add an abc_score: a short tune with at least an X:, M:, L: and K: header")
    if len(q.analysis.split()) < 5:
        return _verdict(name, False, "", "write an analysis: a sentence explaining why the answer is right")
    if q.id.startswith("cmc-"):
        return _verdict(name, False, "", "use your own id (the cmc- ids belong to the course sample)")
    prop = _asked_property(q.stem)
    if prop is None:
        return _verdict(name, False, "", "ask about something the checker can compute from your abc_score: how many "
                        "bars it has, its meter (time signature) or its key")
    try:
        truth = _true_value(prop, q.abc_score)
    except Exception as err:  # noqa: BLE001 - any parse problem of the student's score
        return _verdict(name, False, "", f"your abc_score does not parse: {err}")
    right = [k for k, v in q.options.items() if _option_matches(prop, v, truth)]
    if q.answer not in right:
        return _verdict(name, False, "", f"your answer {q.answer} says {q.answer_text!r}, but the score's {prop} is "
                        f"{truth!r}" + (f" (option {right[0]})" if right else " (no option says so)"))
    if len(right) > 1:
        return _verdict(name, False, "", f"options {right} all state the true {prop} ({truth!r}): make the "
                        "distractors wrong")
    return _verdict(name, True, f"a valid {q.subject} question whose answer {q.answer} ({q.answer_text}) is the "
                    f"score's true {prop}", "")


def check_prompt(prompt: str) -> bool:
    """The zero-shot protocol prompt (up to "Answer:") for PROMPT_QUESTION, written by hand."""
    expected = build_prompt(validate_record(PROMPT_QUESTION))
    if prompt == expected:
        return _verdict("prompt", True, "character-for-character the string OpenCompass scores", "")
    for i, (a, b) in enumerate(zip(prompt, expected)):
        if a != b:
            return _verdict("prompt", False, "", f"first difference at character {i}: you wrote {prompt[i:i + 20]!r}, "
                            f"expected {expected[i:i + 20]!r}")
    return _verdict("prompt", False, "", f"lengths differ: yours {len(prompt)}, expected {len(expected)} characters "
                    "(did you drop the example sentence and end with 'Answer:' without a space?)")


def check_extract_letter(fn: Callable[[str], str | None]) -> bool:
    """Your letter extractor on generated answers: the letter A-D, or None when there is none."""
    for text, want in LETTER_CASES:
        got, err = call(fn, text)
        if err:
            return _verdict("extract_letter", False, "", err)
        if got != want:
            return _verdict("extract_letter", False, "", f"for {text!r} you returned {got!r}, expected {want!r}")
    assert [extract_letter(t) for t, _ in LETTER_CASES] == [w for _, w in LETTER_CASES]
    return _verdict("extract_letter", True, f"all {len(LETTER_CASES)} generated answers parsed as expected", "")


def check_wilson(fn: Callable[[float, int], tuple[float, float]]) -> bool:
    """Your Wilson 95% interval (successes, n) -> (low, high), within 1e-3 of ours."""
    for k, n in [(10, 20), (0, 21), (98, 367), (40, 98), (21, 21)]:
        got, err = call(fn, k, n)
        if err:
            return _verdict("wilson", False, "", err)
        want = wilson_interval(k, n)
        try:
            bad = len(got) != 2 or any(abs(float(g) - w) > 1e-3 for g, w in zip(got, want))
        except (TypeError, ValueError):
            return _verdict("wilson", False, "", f"return (low, high); for {k}/{n} you returned {got!r}")
        if bad:
            return _verdict("wilson", False, "", f"for {k}/{n} you gave {tuple(round(g, 4) for g in got)}, expected "
                            f"{tuple(round(w, 4) for w in want)} (z = 1.96)")
    return _verdict("wilson", True, "your interval matches: note how wide it is for 21 questions", "")


CALIBRATION_CASES: list[tuple[list[float], list[float]]] = [  # (letter probabilities, content-free prior)
    ([0.5, 0.3, 0.1, 0.1], [0.7, 0.1, 0.1, 0.1]),
    ([0.02, 0.05, 0.01, 0.02], [0.25, 0.25, 0.25, 0.25]),
    ([0.40, 0.35, 0.15, 0.10], [0.55, 0.25, 0.12, 0.08]),
    ([0.97, 0.01, 0.01, 0.01], [0.99, 0.003, 0.004, 0.002]),
    ([0.6, 0.3, 0.05, 0.05], [0.5, 0.2, 0.02, 0.28]),
    ([0.1, 0.2, 0.3, 0.4], [0.1, 0.2, 0.3, 0.4]),
]


def check_calibrate(fn: Callable[[list[float], list[float]], str]) -> bool:
    """`fn(probs, prior)` -> the letter content-free calibration picks (Zhao et al. 2021), on five score tables."""
    from cm_lib.bench.scoring import calibrate

    for probs, prior in CALIBRATION_CASES:
        want = calibrate(probs, prior)
        if max(want.scores) - sorted(want.scores)[-2] < 1e-9:
            continue  # a tie (the uniform case): any of the tied letters is right
        got, err = call(fn, list(probs), list(prior))
        if err:
            return _verdict("calibrate", False, "", err)
        if got != want.pred:
            return _verdict("calibrate", False, "", f"for probs {probs} and prior {prior} you picked {got!r}, "
                            f"expected {want.pred!r}: renormalise probs over A-D, divide each by its prior, "
                            "take the letter with the largest ratio")
    return _verdict("calibrate", True, "right: dividing by the content-free prior lets a letter win only where "
                    "the question moves the model away from its blind preference", "")
