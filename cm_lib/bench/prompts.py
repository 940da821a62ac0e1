"""Prompt strings of the OpenCompass perplexity protocol, option shuffling, letter extraction.

Few-shot layout follows OpenCompass's retriever defaults (`ice_separator="\\n"`,
`ice_eos_token="\\n"`): the five dev blocks, each ending in "\\n", are joined by "\\n" and followed
by "\\n", i.e. a blank line between examples and before the question.
"""

from __future__ import annotations

import random
import re

from cm_lib.bench.schema import HINT, LETTERS, Question

ABC_SENTENCE = "Use the example below to answer the question that follows."


def question_input(q: Question) -> str:
    """The `{input}` of the protocol: stem, or stem without the example sentence + "\\n" + abc_score."""
    if q.abc_score.strip():
        return q.stem.replace(ABC_SENTENCE, "").strip() + "\n" + q.abc_score
    return q.stem


def question_block(q: Question, answer: str | None = None) -> str:
    """`{input}\\nA. ..\\nD. ..\\nAnswer:` (+ " X\\n" for a solved few-shot example)."""
    body = question_input(q) + "".join(f"\n{k}. {q.options[k]}" for k in LETTERS) + "\nAnswer:"
    return body if answer is None else f"{body} {answer}\n"


def fewshot_context(dev: list[Question]) -> str:
    """The in-context examples as OpenCompass builds them ("" for zero-shot)."""
    if not dev:
        return ""
    return "\n".join(question_block(d, d.answer) for d in dev) + "\n"


def chat_wrap(text: str, eos: str = "</s>") -> str:
    """ChatMusician's chat format around `text`, with `eos` where LLaMA's </s> stands."""
    from cm_lib.chat import format_chat_with

    return format_chat_with(eos, text)


def build_prompt(q: Question, dev: list[Question] | None = None, chat: bool = False, eos: str = "</s>") -> str:
    """The scored text up to and including "Answer:" (raw protocol, or chat-wrapped with `eos`)."""
    body = HINT + "\n" + fewshot_context(dev or []) + question_block(q)
    if not chat:
        return body
    head, _, _ = body.rpartition("\nAnswer:")
    return chat_wrap(head, eos) + "Answer:"


CONTENT_FREE_INPUTS = ("N/A", "", "[MASK]")  # content-free inputs of Zhao et al. (2021), "Calibrate Before Use"


def content_free_question(text: str = "N/A") -> Question:
    """A question with no content: stem and all four options are `text` (no score); notebook 06 calibrates with it."""
    return Question(id=f"content-free:{text}", stem=text, options={k: text for k in LETTERS}, subject="knowledge",
                    answer="A")


def content_free_prompts(dev: list[Question] | None = None, chat: bool = False, eos: str = "</s>") -> list[str]:
    """The protocol's prompt (same hint, shots and wrapper) around each content-free question."""
    return [build_prompt(content_free_question(t), dev, chat=chat, eos=eos) for t in CONTENT_FREE_INPUTS]


def option_strings(prompt: str) -> list[str]:
    """The four strings the ppl protocol scores: prompt + " A" ... prompt + " D"."""
    return [f"{prompt} {k}" for k in LETTERS]


def shuffle_question(q: Question, shuffle: int, seed: int = 0) -> Question:
    """Shuffle `shuffle` of q's options (0 = original order), seeded by (seed, id, shuffle); answer tracked."""
    if shuffle == 0:
        return q
    order = list(LETTERS)
    random.Random(f"{seed}:{q.id}:{shuffle}").shuffle(order)
    options = {new: q.options[old] for new, old in zip(LETTERS, order)}
    answer = LETTERS[order.index(q.answer)]
    return q.with_options(options, answer)


_LETTER_RE = re.compile(r"(?<![A-Za-z])([ABCD])(?![A-Za-z])")


def extract_letter(text: str) -> str | None:
    """The first standalone A-D letter in a generated answer ("B", " (C).", "Answer: D"), else None."""
    text = text.strip()
    text = re.sub(r"^(?:the\s+)?(?:answer|option)\s*(?:is)?\s*[:\-]?\s*", "", text, flags=re.IGNORECASE)
    m = _LETTER_RE.search(text)
    return m.group(1) if m else None
