"""Numbers for notebooks 03/04: bits per character, perplexity, and SFT answer validity / task compliance."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

COMPLIANCE_FIELDS = ("key", "meter", "form")


@dataclass
class NLL:
    """Summed negative log-likelihood (nats) of some texts, with the token and character counts scored."""

    nats: float
    tokens: int
    characters: int

    @property
    def bits_per_character(self) -> float:
        """Total bits / characters: comparable across tokenizers."""
        return self.nats / math.log(2) / max(self.characters, 1)

    @property
    def perplexity(self) -> float:
        """exp(mean NLL per token): depends on the tokenizer."""
        return math.exp(self.nats / max(self.tokens, 1))


def text_nll(model: Any, tokenizer: Any, texts: Sequence[str], max_tokens: int = 512) -> NLL:
    """NLL of each text's tokens given a BOS/EOS start token (one text per forward, no padding), summed."""
    import torch

    device = next(model.parameters()).device
    start = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
    total, n_tok, n_chr = 0.0, 0, 0
    was_training = model.training
    model.eval()
    with torch.no_grad():
        for text in texts:
            ids = tokenizer(text, add_special_tokens=False)["input_ids"][:max_tokens]
            if not ids:
                continue
            inp = torch.tensor([[start, *ids]], device=device)
            logits = model(input_ids=inp, use_cache=False).logits[0, :-1].float()
            nll = torch.nn.functional.cross_entropy(logits, inp[0, 1:], reduction="sum")
            total += float(nll)
            n_tok += len(ids)
            n_chr += len(text) if len(ids) < max_tokens else len(tokenizer.decode(ids))
    if was_training:
        model.train()
    return NLL(total, n_tok, n_chr)


def bits_per_character(model: Any, tokenizer: Any, texts: Sequence[str], max_tokens: int = 512) -> float:
    """Bits per character of `texts` under the model (lower is better; tokenizer-independent)."""
    return text_nll(model, tokenizer, texts, max_tokens).bits_per_character


def perplexity(model: Any, tokenizer: Any, texts: Sequence[str], max_tokens: int = 512) -> float:
    """Per-token perplexity of `texts` under the model (compare only models sharing a tokenizer)."""
    return text_nll(model, tokenizer, texts, max_tokens).perplexity


def _norm(value: Any) -> str:
    """Compare-friendly text: lower case, no spaces."""
    return "".join(str(value).lower().split())


def requested(record: Mapping[str, Any]) -> dict[str, str]:
    """The key/meter/form an SFT record asks for (from its `meta` JSON), where the answer is a tune."""
    meta = record.get("meta") or {}
    if isinstance(meta, str):
        try:
            meta = json.loads(meta) if meta.strip() else {}
        except json.JSONDecodeError:
            meta = {}
    return {k: str(meta[k]) for k in COMPLIANCE_FIELDS if meta.get(k)}


def tune_attributes(abc: str) -> dict[str, str] | None:
    """Key ('G major'), meter and form of a tune, measured like the corpus measured its answers; None if unreadable."""
    from cm_lib.corpus.analysis import analyse

    try:
        info = analyse(abc)
    except Exception:  # noqa: BLE001 - a model's broken output must count as non-compliant, not crash
        return None
    return {"key": info.key_text, "meter": info.meter, "form": info.form}


def _answer_is_tune(record: Mapping[str, Any]) -> bool:
    """Whether the reference answer of a record is an ABC tune (generation-type tasks)."""
    from cm_lib.generate import extract_abc

    out = record.get("output") or record.get("completion") or ""
    return extract_abc(str(out)) is not None and "K:" in str(out)


def sft_compliance(records: Sequence[Mapping[str, Any]], generations: Sequence[str],
                   level: str = "syntax") -> dict:
    """Validity rate of generated tunes (cm_lib.abc.check) and how often requested key/meter/form are obeyed."""
    from cm_lib.abc import check
    from cm_lib.generate import extract_abc

    if len(records) != len(generations):
        raise ValueError(f"{len(records)} records but {len(generations)} generations")
    tune_n = valid = 0
    asked = {k: 0 for k in COMPLIANCE_FIELDS}
    obeyed = {k: 0 for k in COMPLIANCE_FIELDS}
    all_ok = with_request = 0
    per_task: dict[str, dict[str, int]] = {}
    rows = []
    for rec, gen in zip(records, generations):
        task = str(rec.get("task", "?"))
        stats = per_task.setdefault(task, {"n": 0, "valid": 0, "compliant": 0, "requests": 0})
        stats["n"] += 1
        if not _answer_is_tune(rec):
            rows.append({"task": task, "tune_task": False})
            continue
        tune_n += 1
        abc = extract_abc(gen or "")
        ok = bool(abc) and check(abc, level).ok
        valid += ok
        stats["valid"] += ok
        want = requested(rec)
        got = tune_attributes(abc) if abc else None
        hits = {k: bool(got) and _norm(got[k]) == _norm(v) for k, v in want.items()}
        for k, hit in hits.items():
            asked[k] += 1
            obeyed[k] += hit
        if want:
            with_request += 1
            stats["requests"] += 1
            compliant = ok and all(hits.values())
            all_ok += compliant
            stats["compliant"] += compliant
        rows.append({"task": task, "tune_task": True, "valid": ok, "requested": want, "got": got, "hits": hits})
    rate = lambda a, b: round(a / b, 4) if b else None  # noqa: E731
    return {
        "n": len(records), "tune_tasks": tune_n, "valid_rate": rate(valid, tune_n),
        **{f"{k}_rate": rate(obeyed[k], asked[k]) for k in COMPLIANCE_FIELDS},
        "compliance_rate": rate(all_ok, with_request), "per_task": per_task, "rows": rows,
    }


def held_out_texts(corpus: Any, category: str, n: int, split: str = "test", max_chars: int = 2000) -> list[str]:
    """Up to n texts of one pretrain category ('scores' = ABC, 'general' = prose) from a held-out split."""
    from cm_lib.train import load_split

    ds = load_split(corpus, "pretrain", split)
    rows = [r["text"][:max_chars] for r in ds if r["category"] == category]
    if not rows and split == "test":  # tiny corpora: fall back to the validation split
        rows = [r["text"][:max_chars] for r in load_split(corpus, "pretrain", "validation") if r["category"] == category]
    return rows[:n]


def language_model_report(model: str | Path | Any, corpus: Any, n_abc: int = 20, n_general: int = 10,
                          max_tokens: int = 256) -> dict:
    """Held-out ABC bits/char and general-text perplexity (the forgetting check) of a model preset or folder."""
    from cm_lib.models import load_model

    net, tok = load_model(str(model))
    abc = text_nll(net, tok, held_out_texts(corpus, "scores", n_abc), max_tokens)
    general = text_nll(net, tok, held_out_texts(corpus, "general", n_general), max_tokens)
    return {"abc_bits_per_char": round(abc.bits_per_character, 4),
            "general_bits_per_char": round(general.bits_per_character, 4),
            "general_perplexity": round(general.perplexity, 3), "abc_texts": n_abc, "general_texts": n_general}


def pick_eval_records(corpus: Any, tasks: Sequence[str], per_task: int = 1, split: str = "test") -> list[dict]:
    """Held-out SFT records: the first `per_task` of each task type (in the given order)."""
    from cm_lib.train import load_split

    ds = load_split(corpus, "sft", split)
    out: list[dict] = []
    for task in tasks:
        out += [dict(r) for r in ds if r["task"] == task][:per_task]
    return out


def answer_records(model: str | Path | Any, records: Sequence[Mapping[str, Any]], max_new_tokens: int = 160,
                   seed: int = 0) -> list[str]:
    """The model's raw answers to each record's instruction (+ input) in the chat format, paper sampling."""
    from tqdm.auto import tqdm

    from cm_lib.chat import record_prompt
    from cm_lib.generate import generate
    from cm_lib.models import load_model

    net, tok = load_model(str(model)) if isinstance(model, (str, Path)) else model
    return [generate(net, tok, record_prompt(r), max_new_tokens=max_new_tokens, seed=seed)
            for r in tqdm(records, desc=f"answering ({Path(str(getattr(net, 'name_or_path', model))).name})")]


def sample_tunes(model: str | Path | Any, n: int = 2, max_new_tokens: int = 200, seed: int = 0,
                 start: str = "X:1\nT:Sample\nM:6/8\nL:1/8\nK:D\n") -> list[Any]:
    """n tunes continued from a tune header `start` without the chat wrapper (what CPT teaches), checked."""
    from cm_lib.generate import GeneratedTune, check_abc, extract_abc, generate
    from cm_lib.models import load_model

    net, tok = load_model(str(model)) if isinstance(model, (str, Path)) else model
    out = []
    for i in range(n):
        raw = start + generate(net, tok, start, max_new_tokens=max_new_tokens, seed=seed + i, chat=False)
        abc = extract_abc(raw)
        out.append(GeneratedTune(raw=raw, abc=abc, check=check_abc(abc) if abc else None))
    return out
