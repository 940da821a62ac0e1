"""cm_lib.chat: ChatMusician's exact template and its EOS mapping on real tokenizers."""

from __future__ import annotations

import pytest

from cm_lib.chat import (
    eos_marker,
    format_chat,
    format_chat_for,
    generation_prompt,
    split_record,
    to_prompt_completion,
)
from cm_lib.models import load_tokenizer, train_abc_tokenizer

ANSWER = "X:1\nT:Air\nM:3/4\nL:1/8\nK:G\nG2 AB c2|d6|]"


@pytest.fixture(scope="module")
def smol():
    return load_tokenizer("smollm2-135m")


@pytest.fixture(scope="module")
def tiny_tok():
    return train_abc_tokenizer([ANSWER * 3, "Human: Assistant: compose a tune"] * 5, vocab_size=300)


def test_exact_chatmusician_template() -> None:
    assert format_chat("Compose a jig.") == "Human: Compose a jig. </s> Assistant: "
    assert format_chat("Compose a jig.", "X:1") == "Human: Compose a jig. </s> Assistant: X:1 </s>"


def test_eos_mapping(smol, tiny_tok) -> None:
    assert eos_marker(smol) == "<|im_end|>" and eos_marker(tiny_tok) == "</s>"
    assert format_chat_for(tiny_tok, "Hi", "X:1") == format_chat("Hi", "X:1")  # LLaMA-style EOS: identical
    text = format_chat_for(smol, "Hi", "X:1")
    assert text == "Human: Hi <|im_end|> Assistant: X:1 <|im_end|>"
    ids = smol(text).input_ids
    assert ids.count(smol.eos_token_id) == 2 and ids[-1] == smol.eos_token_id  # one special token each


def test_prompt_completion_has_no_eos_and_a_clean_boundary(smol, tiny_tok) -> None:
    for tok in (smol, tiny_tok):
        row = to_prompt_completion({"instruction": "Write a waltz.", "output": ANSWER}, tok)
        eos = tok.eos_token
        assert row == {"prompt": f"Human: Write a waltz. {eos} Assistant:", "completion": " " + ANSWER}
        assert not row["completion"].endswith(eos)  # TRL appends EOS itself: no double EOS
        assert row["prompt"] == generation_prompt(tok, "Write a waltz.")  # train == inference context
        # What TRL does: tokenize prompt and prompt+completion+EOS; the prompt must be a prefix,
        # so the completion mask starts exactly at the answer.
        p_ids = tok(row["prompt"]).input_ids
        full = tok(row["prompt"] + row["completion"] + eos).input_ids
        assert full[: len(p_ids)] == p_ids
        assert tok.decode(full[len(p_ids) :]) == " " + ANSWER + eos
        assert (row["prompt"] + row["completion"] + " " + eos) == format_chat_for(tok, "Write a waltz.", ANSWER)


def test_split_record_variants() -> None:
    assert split_record({"prompt": "p", "answer": "a"}) == ("p", "a")
    msgs = {"messages": [{"role": "user", "content": "p"}, {"role": "assistant", "content": "a"}]}
    assert split_record(msgs) == ("p", "a")
    assert to_prompt_completion({"prompt": "p", "completion": "a"}) == {
        "prompt": "Human: p </s> Assistant:",
        "completion": " a",
    }
    with pytest.raises(ValueError, match="answer"):
        split_record({"prompt": "p"})


def test_musicpile_sft_record_joins_instruction_and_input() -> None:
    from cm_lib.chat import record_prompt, to_prompt_completion

    rec = {"instruction": "Name the key of this tune.", "input": "X:1\nK:G\nGABc|", "output": "G major"}
    assert record_prompt(rec) == "Name the key of this tune.\nX:1\nK:G\nGABc|"
    pc = to_prompt_completion(rec)
    assert pc == {"prompt": "Human: Name the key of this tune.\nX:1\nK:G\nGABc| </s> Assistant:", "completion": " G major"}
    assert record_prompt({"instruction": "Write a jig.", "input": "", "output": "X:1"}) == "Write a jig."
