"""Where a generated tune ends (notebook 05): EOS, a final bar line then a blank line, or the next X:, per batch row."""

from __future__ import annotations

import re
from typing import Any

_TUNE_END = re.compile(r"[|\]:][ \t]*\n[ \t]*\n")  # a line ending in a bar line, then a blank line
_X_LINE = re.compile(r"(?m)^[ \t]*X:")

STOPS = ("eos", "tune-end", "next-tune", "limit")


def tune_end(text: str, header_in_prompt: bool, eos_text: str | None = None) -> tuple[int, str] | None:
    """(cut, reason) where the generated `text` stops being one tune, or None while it may go on.

    `cut` is the length to keep: up to an EOS written as text, through the blank line after a final
    bar line, or before the next tune's X: (the first X: of the text is the tune's own when the prompt
    holds no header).
    """
    found: list[tuple[int, str]] = []
    if eos_text and eos_text in text:
        found.append((text.index(eos_text), "eos"))
    m = _TUNE_END.search(text)
    if m:
        found.append((m.end(), "tune-end"))
    starts = [x.start() for x in _X_LINE.finditer(text)]
    own = 0 if header_in_prompt else 1
    if len(starts) > own and (own == 0 or starts[own] > starts[0]):
        found.append((starts[own], "next-tune"))
    return min(found) if found else None


class TuneEndCriteria:
    """A transformers StoppingCriteria that stops each row of a batch at the end of its tune (tune_end)."""

    def __init__(self, tokenizer: Any, prompt_len: int, header_in_prompt: list[bool]) -> None:
        self.tokenizer = tokenizer
        self.prompt_len = prompt_len
        self.header_in_prompt = header_in_prompt
        self.eos_text = tokenizer.eos_token
        self.stopped = [False] * len(header_in_prompt)

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        import torch

        new = input_ids[:, self.prompt_len:]
        out = torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
        for r in range(input_ids.shape[0]):
            if not self.stopped[r]:
                text = self.tokenizer.decode(new[r], skip_special_tokens=True)
                self.stopped[r] = tune_end(text, self.header_in_prompt[r], self.eos_text) is not None
            out[r] = self.stopped[r]
        return out
