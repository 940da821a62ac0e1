"""Generation with the paper's sampling settings, ABC extraction from free text, and checking what came out."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from cm_lib.abc import CheckResult, check
from cm_lib.chat import eos_marker, generation_prompt

# ChatMusician's inference settings (paper and released demo).
PAPER_SAMPLING: dict[str, float | int] = dict(temperature=0.2, top_k=40, top_p=0.9, repetition_penalty=1.1)

_FIELD_RE = re.compile(r"^\s*[A-Za-z]:")
_X_RE = re.compile(r"^\s*X:\s*\d*\s*$")
_K_RE = re.compile(r"^\s*K:")
_BODY_CHARS = re.compile(r"[A-Ga-gz|]")
_CHAT_MARKERS = re.compile(r"^\s*(Human|Assistant)\s*:", re.IGNORECASE)
_FENCE_RE = re.compile(r"^\s*```")


def generate(
    model: Any,
    tokenizer: Any,
    prompt: str,
    max_new_tokens: int = 256,
    seed: int = 0,
    chat: bool = True,
    **sampling: Any,
) -> str:
    """The model's answer to `prompt` (chat format, stripped) or its verbatim continuation (chat=False); seeded, stops at EOS."""
    import torch

    settings = {**PAPER_SAMPLING, **sampling}
    text = generation_prompt(tokenizer, prompt) if chat else prompt
    device = next(model.parameters()).device
    inputs = tokenizer(text, return_tensors="pt").to(device)
    temperature = float(settings.pop("temperature"))
    do_sample = temperature > 0
    if do_sample:
        settings["temperature"] = temperature
    else:  # greedy: sampling knobs would only trigger warnings
        for k in ("top_k", "top_p"):
            settings.pop(k, None)
    torch.manual_seed(seed)
    if device.type == "cuda":
        torch.cuda.manual_seed_all(seed)
    with torch.no_grad():
        out = model.generate(
            **inputs,
            max_new_tokens=max_new_tokens,
            do_sample=do_sample,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id,
            **settings,
        )
    new = out[0, inputs["input_ids"].shape[1] :]
    answer = tokenizer.decode(new, skip_special_tokens=True)
    # A model that writes the EOS as plain text pieces: cut there too.
    marker = eos_marker(tokenizer)
    if marker in answer:
        answer = answer[: answer.index(marker)]
    # Chat answers start with the space that follows 'Assistant:'; a raw continuation is returned verbatim.
    return answer.strip() if chat else answer


def _is_field(line: str) -> bool:
    return bool(_FIELD_RE.match(line)) and not _CHAT_MARKERS.match(line)


def _take_tune(lines: list[str], start: int) -> list[str]:
    """Lines of one tune from `start`: header fields up to K:, then body lines until a blank line or prose."""
    out: list[str] = []
    in_body = False
    for line in lines[start:]:
        stripped = line.strip()
        if not stripped or _FENCE_RE.match(stripped) or _CHAT_MARKERS.match(stripped):
            if out:
                break  # a blank line (or chat/markdown) ends a tune
            continue
        if out and _X_RE.match(stripped):  # the next tune starts
            break
        if not in_body:
            if _K_RE.match(stripped):
                in_body = True
            elif not (_is_field(stripped) or stripped.startswith("%")):
                break  # prose before K: -> not a header
            out.append(stripped)
            continue
        if _is_field(stripped) or stripped.startswith("%") or _is_body_line(stripped):
            out.append(stripped)
        else:
            break
    return out


_INLINE_RE = re.compile(r'"[^"]*"|![^!]*!|\+[^+]*\+|\[[A-Za-z]:[^\]]*\]|%.*$')
_PROSE_LETTERS = re.compile(r"[h-wyH-WY]")


def _is_body_line(line: str) -> bool:
    """True for a line of ABC music: notes or bar lines, and (outside chord symbols/decorations) no prose."""
    bare = _INLINE_RE.sub("", line)
    return bool(_BODY_CHARS.search(bare)) and len(_PROSE_LETTERS.findall(bare)) <= 2


def extract_abc(text: str) -> str | None:
    """The first ABC tune in free text: the X: block, else a header block (X:1 added), else a K:-started body."""
    if not text:
        return None
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    # 1. A proper X: block.
    for i, line in enumerate(lines):
        if _X_RE.match(line) or re.match(r"^\s*X:\s*\d+", line):
            tune = _take_tune(lines, i)
            if any(_K_RE.match(t) for t in tune) and _has_body(tune):
                return "\n".join(tune) + "\n"
    # 2. Header lines without X: (e.g. T:/M:/L:/K: then a body).
    for i, line in enumerate(lines):
        if _is_field(line) and not _K_RE.match(line):
            tune = _take_tune(lines, i)
            if any(_K_RE.match(t) for t in tune) and _has_body(tune):
                return "X:1\n" + "\n".join(tune) + "\n"
    # 3. A body that starts at K:.
    for i, line in enumerate(lines):
        if _K_RE.match(line):
            tune = _take_tune(lines, i)
            if _has_body(tune):
                return "X:1\n" + "\n".join(tune) + "\n"
    return None


def _has_body(tune: list[str]) -> bool:
    seen_k = False
    for line in tune:
        if _K_RE.match(line):
            seen_k = True
        elif seen_k and not _is_field(line) and _BODY_CHARS.search(line):
            return True
    return False


@dataclass
class GeneratedTune:
    """One generation: the raw answer, the ABC extracted from it (or None) and its check result (None without ABC)."""

    raw: str
    abc: str | None
    check: CheckResult | None = None

    @property
    def ok(self) -> bool:
        """True when ABC was found and passed the checker."""
        return self.abc is not None and self.check is not None and self.check.ok


def check_abc(abc: str, level: str = "syntax") -> CheckResult:
    """cm_lib.abc.check(abc, level): a CheckResult with .ok and located problems."""
    return check(abc, level=level)


def generate_abc(
    model: Any,
    tokenizer: Any,
    prompt: str,
    max_new_tokens: int = 256,
    seed: int = 0,
    chat: bool = True,
    check_level: str = "syntax",
    **sampling: Any,
) -> GeneratedTune:
    """generate(), then extract_abc() and check the tune with cm_lib.abc."""
    raw = generate(model, tokenizer, prompt, max_new_tokens=max_new_tokens, seed=seed, chat=chat, **sampling)
    abc = extract_abc(raw)
    return GeneratedTune(raw=raw, abc=abc, check=check_abc(abc, check_level) if abc else None)
