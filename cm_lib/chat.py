"""ChatMusician's chat format ("Human: ... </s> Assistant: ...") and its mapping onto any tokenizer's real EOS."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

LLAMA_EOS = "</s>"
PROMPT_KEYS = ("prompt", "instruction", "question", "input")
ANSWER_KEYS = ("answer", "completion", "output", "response")


def format_chat(prompt: str, answer: str | None = None) -> str:
    """ChatMusician's exact string: 'Human: {prompt} </s> Assistant: ' (+ '{answer} </s>'). No system prompt (notebook 04)."""
    return format_chat_with(LLAMA_EOS, prompt, answer)


def format_chat_with(eos: str, prompt: str, answer: str | None = None) -> str:
    """The ChatMusician template with `eos` written where LLaMA's </s> stands."""
    text = f"Human: {prompt} {eos} Assistant: "
    if answer is not None:
        text += f"{answer} {eos}"
    return text


def eos_marker(tokenizer: Any) -> str:
    """The text of the tokenizer's EOS token: '</s>' for LLaMA/tiny, '<|im_end|>' for SmolLM2.

    That string tokenizes back to the single EOS id (it is a special token), and generation stops
    on it because generation_config.eos_token_id holds that id (SmolLM2: 2 = <|im_end|>, the token
    its Instruct training ends each turn with; <|endoftext|> (0) becomes the pad token instead).
    """
    eos = tokenizer.eos_token
    if not eos:
        raise ValueError(f"{type(tokenizer).__name__} has no EOS token: cannot mark where answers end")
    return str(eos)


def format_chat_for(tokenizer: Any, prompt: str, answer: str | None = None) -> str:
    """ChatMusician's template using this tokenizer's real EOS text in place of '</s>' (notebook 04)."""
    return format_chat_with(eos_marker(tokenizer), prompt, answer)


def split_record(record: Mapping[str, Any]) -> tuple[str, str]:
    """(prompt, answer) of an instruction record, accepting the usual key names (prompt/instruction, answer/output...)."""
    if "messages" in record:
        msgs = list(record["messages"])
        user = [m["content"] for m in msgs if m.get("role") in ("user", "human")]
        bot = [m["content"] for m in msgs if m.get("role") == "assistant"]
        if len(user) == 1 and len(bot) == 1:
            return str(user[0]), str(bot[0])
        raise ValueError("only single-turn messages (one user, one assistant) are supported")
    prompt = next((record[k] for k in PROMPT_KEYS if record.get(k) is not None), None)
    answer = next((record[k] for k in ANSWER_KEYS if record.get(k) is not None), None)
    if prompt is None or answer is None:
        raise ValueError(f"record needs a prompt ({'/'.join(PROMPT_KEYS)}) and an answer ({'/'.join(ANSWER_KEYS)}): {sorted(record)}")
    return (record_prompt(record) if "instruction" in record else str(prompt)), str(answer)


def record_prompt(record: Mapping[str, Any]) -> str:
    """The Human turn of a MusicPile-sft record: its instruction, then its input (e.g. a tune to analyse) if any (notebook 04)."""
    inp = str(record.get("input") or "").strip()
    return str(record["instruction"]).strip() + ("\n" + inp if inp else "")


def generation_prompt(tokenizer: Any, prompt: str) -> str:
    """The text a model is given to answer: the chat template up to 'Assistant:' (no trailing space).

    Byte-level BPE (SmolLM2, tiny) and SentencePiece (LLaMA) both glue a space to the following word
    (' X', '▁X'), so in the training text 'Assistant: X:1' the space belongs to the answer's first
    token. Ending the prompt on ':' keeps training and inference on identical token sequences.
    """
    return format_chat_for(tokenizer, prompt).rstrip(" ")


def to_prompt_completion(record: Mapping[str, Any], tokenizer: Any | None = None) -> dict[str, str]:
    """A TRL prompt/completion row: prompt = 'Human: ... EOS Assistant:', completion = ' ' + answer, no EOS (notebook 04).

    TRL's SFTTrainer appends tokenizer.eos_token to every completion itself (and trains on it), so the
    completion must not carry one: ChatMusician's ' </s>' after the answer would become a double EOS.
    prompt + completion + EOS is then ChatMusician's string (without the space before the final EOS),
    and the prompt ends on a token boundary so TRL's completion mask starts exactly at the answer.
    With no tokenizer, LLaMA's '</s>' is used.
    """
    prompt, answer = split_record(record)
    eos = eos_marker(tokenizer) if tokenizer is not None else LLAMA_EOS
    return {"prompt": format_chat_with(eos, prompt).rstrip(" "), "completion": " " + answer}
