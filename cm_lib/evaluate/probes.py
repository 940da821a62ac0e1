"""Probes of what a model reads (notebook 04): does it use its request (prompt_reliance), can it copy (copy_test)?"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from cm_lib.abc import split_tunes
from cm_lib.chat import generation_prompt, record_prompt
from cm_lib.corpus.composer import COMPOSER_FIELDS, COMPOSER_VIEW, composer_header
from cm_lib.errors import CourseError
from cm_lib.evaluate.likelihood import _scoring, _token_nats, model_and_tokenizer
from cm_lib.stats import mean_interval, paired_change

HEADER_VALUE_FIELDS = ("M", "K")  # the header lines whose values a key/meter request decides


def _header_value_bits(model: Any, tokenizer: Any, prompt: str, answer: str) -> tuple[float, int]:
    """(bits, tokens) of the M: and K: values in `answer`'s header, read after the chat prompt (teacher-forced)."""
    lines = answer.split("\n")
    end = next((i for i, line in enumerate(lines) if line.startswith("K:")), len(lines) - 1)
    head = "\n".join(lines[: end + 1]) + "\n"
    text = generation_prompt(tokenizer, prompt)
    n_prompt = len(tokenizer(text)["input_ids"])
    ids = tokenizer(text + " " + head)["input_ids"]
    nats = _token_nats(model, ids)  # nats[i] is the cost of ids[i + 1]
    bits, count = 0.0, 0
    for pos in range(n_prompt, len(ids)):
        line = tokenizer.decode(ids[n_prompt:pos + 1]).lstrip(" ").rsplit("\n", 1)[-1]  # the answer's line so far
        if any(line.startswith(f + ":") and len(line) > len(f) + 1 for f in HEADER_VALUE_FIELDS):
            bits += float(nats[pos - 1]) / math.log(2)
            count += 1
    return bits, count


def _reference_header(answer: str, view: str | None) -> str | None:
    """The header a model trained in `view` would write for this reference answer (up to its K: line); None without one."""
    from cm_lib.train.trainer import text_view

    if view == COMPOSER_VIEW:  # X:1, M:, L:, K: from the tune's own fields, whether or not its body passes the view
        tunes = split_tunes(answer)
        values = [(tunes[0].get(f) or "").strip() for f in COMPOSER_FIELDS] if tunes else []
        return composer_header(*values) if values and all(values) else None
    text = text_view(view)(answer)
    return text if text and "K:" in text else None


def prompt_reliance(model: str | Path | Any, records: Sequence[Mapping[str, Any]], view: str | None = None,
                    shift: int | None = None) -> dict:
    """Does the model read its request? Bits per M:/K: value token of each reference answer's header under
    its own prompt and under another record's prompt (record i + shift, default half the list), paired (notebook 04).

    `gain` = other - own per record (mean with a 95% interval, n records): how many bits per header token the
    right request saves. A model that ignores its prompt has a gain indistinguishable from 0 whatever its
    compliance rate. `view` writes each reference header as a training run did (e.g. "composer": X:1, M:, L:, K:).
    """
    net, tok = model_and_tokenizer(model)
    pairs = [(record_prompt(r), _reference_header(str(r["output"]), view)) for r in records]
    pairs = [(p, a) for p, a in pairs if a]
    if len(pairs) < 2:
        raise CourseError("prompt_reliance needs at least two records whose answers have M:, L: and K: lines")
    k = (len(pairs) // 2) if shift is None else shift % len(pairs)
    own, other = [], []
    with _scoring(net):
        for i, (prompt, answer) in enumerate(pairs):
            b, n = _header_value_bits(net, tok, prompt, answer)
            b2, n2 = _header_value_bits(net, tok, pairs[(i + k) % len(pairs)][0], answer)
            own.append(b / max(n, 1))
            other.append(b2 / max(n2, 1))
    return {"own_prompt_bits": mean_interval(own), "other_prompt_bits": mean_interval(other),
            "gain": paired_change(own, other), "shift": k, "n": len(pairs)}


COPY_ALPHABET = "ABCDEFGabcdefg,'23/|"  # ABC's own characters, in an order no tune has


def copy_test(model: str | Path | Any, n: int = 20, length: int = 40, seed: int = 0) -> dict:
    """Can the model copy? Nats per token of a random string of ABC characters, the first time and when it is
    repeated right after, under an `X:1 M: L: K:` header; paired over n strings (notebook 04).

    A model with induction heads (attention that finds an earlier occurrence and copies what followed)
    predicts the second copy almost perfectly; one without them pays the same twice. Reading a request is
    copying from the context, so a model that fails this test cannot obey one. `saved` = first - second.
    """
    net, tok = model_and_tokenizer(model)
    rng = random.Random(seed)
    head = tok("X:1\nM:4/4\nL:1/8\nK:G\n", add_special_tokens=True)["input_ids"]
    k = len(head) - 1  # nats[i] is the cost of ids[i + 1]: the first copy's costs start at k
    first, second = [], []
    with _scoring(net):
        for _ in range(n):
            body = tok("".join(rng.choice(COPY_ALPHABET) for _ in range(length)), add_special_tokens=False)["input_ids"]
            nats = _token_nats(net, head + body + body)
            first.append(float(nats[k:k + len(body)].mean()))
            second.append(float(nats[k + len(body):k + 2 * len(body)].mean()))
    return {"first_copy_nats": mean_interval(first), "second_copy_nats": mean_interval(second),
            "saved": paired_change(second, first), "n": n, "length": length}
