"""Every exercise checker: plausible wrong answers fail, a right one passes, and each verdict is recorded."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

from cm_lib.abc import describe, pitches, transpose
from cm_lib.exercises import nb01, nb02, nb03, nb04, nb06, read_verdicts, verdicts_path
from cm_lib.paths import data_samples_dir

BASICS = (data_samples_dir() / "basics.abc").read_text()
JIG = "X:1\nT:j\nM:6/8\nL:1/8\nK:D\n"


# ------------------------------------------------------------------ the shared verdict record
def test_each_check_appends_a_machine_readable_verdict() -> None:
    before = len(read_verdicts())
    assert nb01.check_d_major_sharps(["F#", "C#"])
    assert not nb01.check_d_major_sharps(["F#"])
    rows = read_verdicts()[before:]
    assert [(r["exercise"], r["passed"]) for r in rows] == [("nb01.d_major_sharps", True),
                                                           ("nb01.d_major_sharps", False)]
    assert verdicts_path().name == "verdicts.jsonl"
    assert all(json.loads(line) for line in verdicts_path().read_text().splitlines())


def test_verdict_helper_has_one_home() -> None:
    root = Path(nb01.__file__).parent
    for mod in sorted(root.glob("nb*.py")):
        assert "print(f\"✅" not in mod.read_text(), f"{mod.name} prints its own verdicts"


# ------------------------------------------------------------------ notebook 01
@pytest.mark.parametrize("body", [
    "A|dfa afd|e5|]",  # one full bar, then a short one (the first wrong answer)
    "A|d6|d6|]",  # two "full" bars of one note each
    "dfa afd|dfa afd|]",  # no pickup
    "A|dfa afd|]",  # only one full bar
    "A|dfa afd|e3 e2|]",  # the last bar is short
])
def test_jig_checker_rejects_wrong_jigs(body: str) -> None:
    assert not nb01.check_six_eight_pickup(JIG + body + "\n")


def test_jig_checker_accepts_a_jig_and_rejects_other_meters() -> None:
    assert nb01.check_six_eight_pickup(JIG + "A|dfa afd|e3 e2 A|dfa afd|e3 d2|]\n")
    assert not nb01.check_six_eight_pickup(JIG.replace("6/8", "3/4") + "A|dfa afd|e3 e2 A|]\n")
    assert not nb01.check_six_eight_pickup("dfa afd")


def test_fixed_chord_checker() -> None:
    assert nb01.check_fixed_chord(nb01.FIXED_CHORD_TUNE)
    assert not nb01.check_fixed_chord(nb01.BROKEN_CHORD_TUNE)
    assert not nb01.check_fixed_chord(nb01.FIXED_CHORD_TUNE.replace("[CEG]4", "[CEG]"))
    assert not nb01.check_fixed_chord(nb01.FIXED_CHORD_TUNE.replace("[CEG]4", "[CFA]4"))


def test_transpose_up_checker_wants_plus_seven_only() -> None:
    assert nb01.check_transposed_up_to_d(transpose(BASICS, 7), BASICS)
    assert not nb01.check_transposed_up_to_d(transpose(BASICS, -5), BASICS)  # down: the lesson's in_d
    assert not nb01.check_transposed_up_to_d(transpose(BASICS, 2), BASICS)  # K:A
    assert not nb01.check_transposed_up_to_d(BASICS.replace("K:G", "K:D"), BASICS)  # key changed, notes not
    assert not nb01.check_transposed_up_to_d(transpose(BASICS, 19), BASICS)  # D, but an octave too high


def test_d_major_sharps_checker() -> None:
    assert nb01.check_d_major_sharps("C#, F#")
    for wrong in (["F#"], ["F#", "C#", "G#"], ["Bb", "Eb"], []):
        assert not nb01.check_d_major_sharps(wrong)


def test_most_tokens_per_char_checker() -> None:
    from cm_lib.tokenstats import token_ids

    def right(texts, tok):
        return max(range(len(texts)), key=lambda i: len(token_ids(tok, texts[i])) / len(texts[i]))

    assert nb01.check_most_tokens_per_char(right)
    assert not nb01.check_most_tokens_per_char(lambda texts, tok: 0)  # a constant index
    assert not nb01.check_most_tokens_per_char(lambda texts, tok: max(range(len(texts)), key=lambda i: len(texts[i])))
    assert not nb01.check_most_tokens_per_char(  # most tokens, not most tokens per character
        lambda texts, tok: max(range(len(texts)), key=lambda i: len(token_ids(tok, texts[i]))))
    assert not nb01.check_most_tokens_per_char(lambda texts: 0)  # wrong signature: a hint, no traceback


# ------------------------------------------------------------------ notebook 02
def _range_task(info, text, rng, output=None):
    from cm_lib.abc.keys import midi_name
    from cm_lib.corpus.tasks import make_record

    span = info.highest - info.lowest
    out = output or (f"The melody goes from {midi_name(info.lowest)} to {midi_name(info.highest)}, "
                     f"a range of {span} semitones.")
    return make_record("range_analysis", "What is the range of this melody?", text, out, {"range": span})


def test_range_task_checker() -> None:
    assert nb02.check_range_task(_range_task)
    assert not nb02.check_range_task(  # the wrong answer: the number without the note names
        lambda info, text, rng: _range_task(info, text, rng, f"{info.highest - info.lowest} semitones"))
    assert not nb02.check_range_task(  # off by one
        lambda info, text, rng: _range_task(info, text, rng, f"{info.highest - info.lowest + 1} semitones"))
    assert not nb02.check_range_task(lambda info, text, rng: {**_range_task(info, text, rng), "task": "range"})
    assert not nb02.check_range_task(lambda info, text, rng: None)
    assert not nb02.check_range_task(lambda info, text, rng: 1 / 0)


def test_find_duplicate_checker_varies_the_puzzle() -> None:
    from cm_lib.corpus.dedup import interval_signature

    def right(tunes):
        sigs = [interval_signature(pitches(t)) for t in tunes]
        return next((i, j) for i in range(len(sigs)) for j in range(i + 1, len(sigs)) if sigs[i] == sigs[j])

    assert nb02.check_find_duplicate(right)
    answers = {tuple(sorted(nb02._puzzle_answer(s))) for s in nb02.PUZZLE_SEEDS}
    assert len(answers) > 1, "the seeds must plant the copy in different places"
    first = tuple(sorted(nb02._puzzle_answer(nb02.PUZZLE_SEEDS[0])))
    assert not nb02.check_find_duplicate(lambda tunes: first)  # one puzzle solved by eye, typed in
    assert not nb02.check_find_duplicate(lambda tunes: (0, 1))
    assert not nb02.check_find_duplicate(  # same notes instead of same intervals: finds no pair
        lambda tunes: next(((i, j) for i in range(len(tunes)) for j in range(i + 1, len(tunes))
                            if pitches(tunes[i]) == pitches(tunes[j])), (0, 0)))


def test_music_filter_checker() -> None:
    from cm_lib.corpus.textsources import MUSIC_GLOSSARY

    def right(text):
        words = [w.lower() for w in re.findall(r"[A-Za-z]+", text)]
        hits = sum(w in MUSIC_GLOSSARY for w in words)
        return hits > 10 and hits / max(1, len(words)) > 0.005

    assert nb02.check_music_filter(right)
    assert not nb02.check_music_filter(lambda text: False)
    assert not nb02.check_music_filter(  # count only, no share
        lambda text: sum(w.lower() in MUSIC_GLOSSARY for w in re.findall(r"[A-Za-z]+", text)) > 10)
    assert not nb02.check_music_filter(right(""))  # not a function


# ------------------------------------------------------------------ notebook 03
def test_bits_per_character_checker() -> None:
    assert nb03.check_bits_per_character(lambda nats, chars: nats / math.log(2) / chars)
    assert not nb03.check_bits_per_character(lambda nats, chars: nats / chars)  # nats, not bits
    assert not nb03.check_bits_per_character(lambda nats, chars: nats / math.log(2))  # per tune, not per char
    assert not nb03.check_bits_per_character(1.0)


def test_lora_parameters_checker_rejects_a_typed_constant() -> None:
    assert nb03.check_lora_parameters(lambda d_in, d_out, r: r * (d_in + d_out))
    assert not nb03.check_lora_parameters(lambda d_in, d_out, r: 9216)  # the typed constant
    assert not nb03.check_lora_parameters(9216)
    assert not nb03.check_lora_parameters(lambda d_in, d_out, r: d_in * d_out)
    assert not nb03.check_lora_parameters(lambda d_in, d_out, r: r * d_in * 2)  # square-matrix shortcut


def test_sft_settings_checker_rejects_the_t4_constant() -> None:
    from pathlib import Path as P

    from cm_lib.train import hardware_preset, training_config_kwargs

    def right(preset, spec):
        kw = training_config_kwargs(hardware_preset(preset), True, P("out"), spec=spec)
        return {k: kw[k] for k in ("bf16", "fp16", "packing_strategy")}

    assert nb03.check_sft_settings(right)
    t4 = right("colab-t4", nb03._spec_cases()[0][1])
    assert not nb03.check_sft_settings(lambda preset, spec: {"bf16": False, "fp16": True})  # the constant
    assert not nb03.check_sft_settings(lambda preset, spec: dict(t4))
    assert not nb03.check_sft_settings(  # right flags, but ignores the CPU fallback of packing
        lambda preset, spec: {"bf16": spec.bf16, "fp16": spec.fp16,
                              "packing_strategy": hardware_preset(preset).packing_strategy})


# ------------------------------------------------------------------ notebook 04
def test_chat_string_checker() -> None:
    from cm_lib.chat import format_chat

    assert nb04.check_chat_string(format_chat("Write a jig.", "X:1"))
    assert not nb04.check_chat_string(format_chat("Write a jig.", "X:1").replace(" </s>", "</s>"))
    assert not nb04.check_chat_string("Human: Write a jig. Assistant: X:1")


def test_mask_labels_checker() -> None:
    assert nb04.check_mask_labels(lambda ids, n: [-100] * n + ids[n:])
    assert not nb04.check_mask_labels(lambda ids, n: ids)
    assert not nb04.check_mask_labels(lambda ids, n: [-100] * (n + 1) + ids[n + 1:])  # masks the first answer token
    assert not nb04.check_mask_labels(lambda ids, n: [0] * n + ids[n:])


def test_meter_compliance_checker_rejects_the_typed_rate() -> None:
    from cm_lib.corpus.analysis import tune_attributes
    from cm_lib.generate import extract_abc

    def right(cases):
        ok = 0
        for meter, text in cases:
            abc = extract_abc(text)
            ok += bool(abc) and (tune_attributes(abc) or {}).get("meter") == meter
        return ok / len(cases)

    assert nb04.check_meter_compliance(right)
    assert not nb04.check_meter_compliance(lambda cases: 0.5)  # the typed constant
    assert not nb04.check_meter_compliance(0.5)
    assert not nb04.check_meter_compliance(  # counts "M:<meter>" anywhere, even in prose
        lambda cases: sum(f"M:{m}" in t for m, t in cases) / len(cases))


def test_composer_prompt_checker_rejects_filled_in_fields() -> None:
    from cm_lib.plan.core import plan_prompt

    def right(plan):
        if not plan.meter or not plan.key:
            return None
        unit = f"L:{plan.unit}\n" if plan.unit else ""
        return f"X:1\nM:{plan.meter}\n{unit}K:{plan.key}\n" + (plan.motif + " " if plan.motif else "")

    assert nb04.check_composer_prompt(right)
    assert nb04.check_composer_prompt(plan_prompt)  # the pair's own hand-over passes
    assert not nb04.check_composer_prompt(  # fills in a unit
        lambda p: right(p).replace("K:", "L:1/8\nK:") if right(p) and not p.unit else right(p))
    assert not nb04.check_composer_prompt(lambda p: right(p) or "X:1\nM:4/4\nL:1/8\nK:C\n")  # fills in a header
    assert not nb04.check_composer_prompt(  # drops the motif
        lambda p: None if right(p) is None else f"X:1\nM:{p.meter}\n" + (f"L:{p.unit}\n" if p.unit else "")
        + f"K:{p.key}\n")
    assert not nb04.check_composer_prompt("X:1")


# ------------------------------------------------------------------ notebook 06
GOOD_QUESTION = {
    "id": "my-q-1", "stem": "Use the example below to answer the question that follows. What is the meter of this tune?",
    "options": {"A": "2/4", "B": "3/4", "C": "6/8", "D": "4/4"}, "subject": "reasoning", "answer": "B",
    "split": "test", "abc_score": "X:1\nM:3/4\nL:1/4\nK:G\nG A B | c B A | G3 |]",
    "analysis": "The header says M:3/4 and every bar holds three quarter notes.",
}


def test_question_checker_rejects_a_wrong_answer_letter() -> None:
    assert nb06.check_question(GOOD_QUESTION)
    assert describe(GOOD_QUESTION["abc_score"]).meter == "3/4"
    assert not nb06.check_question({**GOOD_QUESTION, "answer": "A"})  # valid format, wrong letter
    assert not nb06.check_question({**GOOD_QUESTION, "options": {**GOOD_QUESTION["options"], "D": "3/4"}})
    assert not nb06.check_question({**GOOD_QUESTION, "stem": "Who wrote this tune?"})  # nothing to verify
    assert not nb06.check_question({**GOOD_QUESTION, "abc_score": ""})
    bars = {**GOOD_QUESTION, "stem": "How many bars does this melody contain?",
            "options": {"A": "2", "B": "3", "C": "4", "D": "6"}}
    assert nb06.check_question(bars)
    assert not nb06.check_question({**bars, "answer": "C"})
    key = {**GOOD_QUESTION, "stem": "In which key is this tune?",
           "options": {"A": "D major", "B": "E minor", "C": "G major", "D": "C major"}, "answer": "C"}
    assert nb06.check_question(key)
    assert not nb06.check_question({**key, "answer": "B"})  # the relative minor: plausible, wrong


def test_prompt_letter_wilson_checkers() -> None:
    from cm_lib.bench.prompts import build_prompt, extract_letter
    from cm_lib.bench.schema import validate_record
    from cm_lib.stats import wilson_interval

    expected = build_prompt(validate_record(nb06.PROMPT_QUESTION))
    assert nb06.check_prompt(expected)
    assert not nb06.check_prompt(expected + " ")
    assert not nb06.check_prompt(expected.replace("What is", "Use the example below to answer the question that "
                                                  "follows. What is"))  # kept the example sentence
    assert not nb06.check_prompt(expected + " B")  # included the answer
    assert nb06.check_extract_letter(extract_letter)
    assert not nb06.check_extract_letter(lambda t: t.strip()[:1] or None)
    assert nb06.check_wilson(wilson_interval)
    assert not nb06.check_wilson(lambda k, n: (k / n - 1.96 * math.sqrt(k / n * (1 - k / n) / n),
                                               k / n + 1.96 * math.sqrt(k / n * (1 - k / n) / n)))  # Wald


def test_calibrate_checker() -> None:
    from cm_lib.bench.scoring import calibrate

    assert nb06.check_calibrate(lambda p, prior: calibrate(p, prior).pred)
    assert not nb06.check_calibrate(lambda p, prior: "ABCD"[p.index(max(p))])  # uncalibrated argmax
    assert not nb06.check_calibrate(  # subtracts instead of dividing
        lambda p, prior: "ABCD"[max(range(4), key=lambda i: p[i] / sum(p) - prior[i])])
    assert not nb06.check_calibrate(lambda p, prior: "B")
