"""Numbers for notebooks 03/04: bits per character, perplexity, and SFT answer validity / task compliance."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cm_lib.corpus.composer import header_text
from cm_lib.errors import CourseError

# Interval statistics live in cm_lib.stats; notebooks 03-05 and cm_lib.widgets import these names from here.
from cm_lib.stats import (  # noqa: F401 - re-exported
    compare_rates,
    format_mean,
    format_rate,
    interval_sign,
    mean_interval,
    paired_change,
    rate,
    versus_target,
)

COMPLIANCE_FIELDS = ("key", "meter", "form", "chords", "motif")
# Sampling for a small composer: no repetition penalty (ABC repeats symbols on purpose); temperature 0.5
# (measured on the BPE `tiny` composer of the first round, 50 held-out headers: syntax-valid 46/50 at 0.5, 44/50 at 0.3,
# 54/100 at 0.8; notebook 05 sweeps temperature for the character composer).
COMPOSER_SAMPLING: dict[str, float | int] = dict(temperature=0.5, top_k=40, top_p=0.95, repetition_penalty=1.0)


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


def _model_and_tokenizer(model: str | Path | Any) -> tuple[Any, Any]:
    """(model, tokenizer) from a preset name or folder (loaded), or an already loaded pair (returned as is)."""
    if isinstance(model, (str, Path)):
        from cm_lib.models import load_model

        return load_model(str(model))
    return model


@contextmanager
def _scoring(model: Any) -> Iterator[None]:
    """Eval mode and no gradients while scoring; the model's train/eval flag is restored afterwards."""
    import torch

    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        if was_training:
            model.train()


def _token_nats(model: Any, ids: Sequence[int]) -> Any:
    """NLL in nats of each of ids[1:] given the tokens before it, from one forward without gradients (eval mode: _scoring)."""
    import torch

    inp = torch.tensor([list(ids)], device=next(model.parameters()).device)
    with torch.no_grad():
        logp = model(input_ids=inp, use_cache=False).logits[0, :-1].float().log_softmax(-1)
    return -logp.gather(1, inp[0, 1:, None])[:, 0]


def text_nll(model: Any, tokenizer: Any, texts: Sequence[str], max_tokens: int = 512, batch_size: int = 1) -> NLL:
    """NLL of each text's tokens given a BOS/EOS start token, summed (batch_size > 1: right-padded batches)."""
    return _nll_rows(model, tokenizer, texts, max_tokens, batch_size, per_text=False)[0]


def text_nll_each(model: Any, tokenizer: Any, texts: Sequence[str], max_tokens: int = 512,
                  batch_size: int = 8) -> list[NLL]:
    """One NLL per text (for intervals over texts), computed in right-padded batches."""
    return _nll_rows(model, tokenizer, texts, max_tokens, batch_size, per_text=True)


def _nll_rows(model: Any, tokenizer: Any, texts: Sequence[str], max_tokens: int, batch_size: int,
              per_text: bool) -> list[NLL]:
    """Shared body of text_nll / text_nll_each."""
    import torch

    device = next(model.parameters()).device
    start = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
    rows: list[tuple[list[int], int]] = []
    for text in texts:
        ids = tokenizer(text, add_special_tokens=False)["input_ids"][:max_tokens]
        if ids:
            chars = len(text) if len(ids) < max_tokens else len(tokenizer.decode(ids))
            rows.append(([start, *ids], chars))
    out: list[NLL] = []
    with _scoring(model):
        for i in range(0, len(rows), max(1, batch_size)):
            chunk = rows[i:i + max(1, batch_size)]
            width = max(len(ids) for ids, _ in chunk)
            inp = torch.tensor([ids + [start] * (width - len(ids)) for ids, _ in chunk], device=device)
            if len(chunk) == 1:
                logits = model(input_ids=inp, use_cache=False).logits.float()
            else:
                mask = torch.tensor([[1] * len(ids) + [0] * (width - len(ids)) for ids, _ in chunk], device=device)
                logits = model(input_ids=inp, attention_mask=mask, use_cache=False).logits.float()
            nll = torch.nn.functional.cross_entropy(logits[:, :-1].transpose(1, 2), inp[:, 1:], reduction="none")
            for j, (ids, chars) in enumerate(chunk):
                out.append(NLL(float(nll[j, : len(ids) - 1].sum()), len(ids) - 1, chars))
    if per_text:
        return out
    return [NLL(sum(r.nats for r in out), sum(r.tokens for r in out), sum(r.characters for r in out))]


def bits_per_character(model: Any, tokenizer: Any, texts: Sequence[str], max_tokens: int = 512) -> float:
    """Bits per character of `texts` under the model (lower is better; tokenizer-independent)."""
    return text_nll(model, tokenizer, texts, max_tokens).bits_per_character


def perplexity(model: Any, tokenizer: Any, texts: Sequence[str], max_tokens: int = 512) -> float:
    """Per-token perplexity of `texts` under the model (compare only models sharing a tokenizer)."""
    return text_nll(model, tokenizer, texts, max_tokens).perplexity


def _norm(value: Any) -> str:
    """Compare-friendly text: lower case, no spaces."""
    return "".join(str(value).lower().split())


def _meta(record: Mapping[str, Any]) -> dict:
    """The record's `meta` as a dict (empty when missing or not JSON)."""
    meta = record.get("meta") or {}
    if isinstance(meta, str):
        try:
            meta = json.loads(meta) if meta.strip() else {}
        except json.JSONDecodeError:
            meta = {}
    return meta if isinstance(meta, dict) else {}


def requested(record: Mapping[str, Any]) -> dict[str, str]:
    """The key/meter/form/chords/motif an SFT record asks for (from its `meta` JSON); chords as 'A D A'."""
    meta = _meta(record)
    out = {k: str(meta[k]) for k in ("key", "meter", "form") if meta.get(k)}
    if isinstance(meta.get("chords"), list) and meta["chords"]:
        out["chords"] = " ".join(str(c) for c in meta["chords"])
    if meta.get("motif"):
        out["motif"] = str(meta["motif"])
    return out


_CHORD_RE = re.compile(r'"([A-G][#b]?[^"]{0,8})"')


def chord_symbols(abc: str) -> list[str]:
    """The chord symbols ("Am", "D7") of a tune's body, in order."""
    body = abc.split("K:", 1)[-1]
    return _CHORD_RE.findall(body)


def _collapse(seq: Sequence[str]) -> list[str]:
    """Consecutive repeats merged: A A D -> A D (a chord held over two bars is written once or twice)."""
    return [c for i, c in enumerate(seq) if i == 0 or c != seq[i - 1]]


def chords_in_order(wanted: Sequence[str], got: Sequence[str]) -> bool:
    """True when the requested chords (repeats merged) occur in the answer's chord symbols in that order."""
    want, have = _collapse(list(wanted)), _collapse(list(got))
    it = iter(have)
    return bool(want) and all(any(c == h for h in it) for c in want)


def _sections(form: str) -> int:
    """Number of sections of a form string ('AABB' -> 4)."""
    return sum(ch.isalpha() for ch in str(form))


def _body(abc: str) -> str:
    """The tune body after the K: line, without spaces."""
    return "".join(abc.split("\n", 1)[-1].split("K:", 1)[-1].split("\n", 1)[-1].split()) if "K:" in abc else ""


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


def _hits(want: Mapping[str, str], abc: str | None, got: Mapping[str, str] | None) -> dict[str, bool]:
    """Per requested attribute: obeyed? (form: same number of sections; chords: in order; motif: the tune starts with it)."""
    hits = {}
    for k, v in want.items():
        if not abc:
            hits[k] = False
        elif k == "chords":
            hits[k] = chords_in_order(v.split(), chord_symbols(abc))
        elif k == "motif":
            hits[k] = _body(abc).startswith("".join(v.split()).rstrip("|"))
        elif k == "form":
            hits[k] = bool(got) and _sections(got["form"]) == _sections(v)
        else:
            hits[k] = bool(got) and _norm(got[k]) == _norm(v)
    return hits


def sft_compliance(records: Sequence[Mapping[str, Any]], generations: Sequence[str],
                   level: str = "syntax") -> dict:
    """Validity of generated tunes (cm_lib.abc.check) and how often requested key/meter/form/chords/motif are obeyed.

    Rates come as fractions (`valid_rate`, `key_rate`, ...) and with counts and Wilson 95% intervals
    (`valid`, `key`, ... as rate() dicts), overall and per task type. Form counts as obeyed when the
    tune has the requested number of sections.
    """
    from cm_lib.abc import check
    from cm_lib.generate import extract_abc
    from cm_lib.metrics.validity import valid_bars

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
        stats = per_task.setdefault(task, {"n": 0, "valid": 0, "compliant": 0, "requests": 0,
                                           **{f"{k}_asked": 0 for k in COMPLIANCE_FIELDS},
                                           **{f"{k}_obeyed": 0 for k in COMPLIANCE_FIELDS}})
        stats["n"] += 1
        if not _answer_is_tune(rec):
            rows.append({"task": task, "tune_task": False})
            continue
        tune_n += 1
        abc = extract_abc(gen or "")
        ok = bool(abc) and (valid_bars(abc) if level == "bars" else check(abc, level).ok)
        valid += ok
        stats["valid"] += ok
        want = requested(rec)
        got = tune_attributes(abc) if abc else None
        hits = _hits(want, abc, got)
        for k, hit in hits.items():
            asked[k] += 1
            obeyed[k] += hit
            stats[f"{k}_asked"] += 1
            stats[f"{k}_obeyed"] += hit
        if want:
            with_request += 1
            stats["requests"] += 1
            compliant = ok and all(hits.values())
            all_ok += compliant
            stats["compliant"] += compliant
        rows.append({"task": task, "tune_task": True, "valid": ok, "requested": want, "got": got, "hits": hits})
    frac = lambda a, b: round(a / b, 4) if b else None  # noqa: E731
    return {
        "n": len(records), "tune_tasks": tune_n, "valid_rate": frac(valid, tune_n),
        **{f"{k}_rate": frac(obeyed[k], asked[k]) for k in COMPLIANCE_FIELDS},
        "compliance_rate": frac(all_ok, with_request),
        "valid": rate(valid, tune_n), **{k: rate(obeyed[k], asked[k]) for k in COMPLIANCE_FIELDS},
        "compliant": rate(all_ok, with_request), "per_task": per_task, "rows": rows,
    }


def compliance_table(scores: Mapping[str, Mapping[str, Any]]) -> list[dict]:
    """Rows (model, task, measure, k/n = rate [95% interval]) of several sft_compliance results, per task type."""
    out = []
    for model, sc in scores.items():
        for task, st in sc["per_task"].items():
            row = {"model": model, "task": task, "valid": format_rate(rate(st["valid"], st["n"]))}
            for k in COMPLIANCE_FIELDS:
                if st[f"{k}_asked"]:
                    row[k] = format_rate(rate(st[f"{k}_obeyed"], st[f"{k}_asked"]))
            row["all requested"] = format_rate(rate(st["compliant"], st["requests"]))
            out.append(row)
    return out


def held_out_texts(corpus: Any, category: str, n: int | None, split: str = "test", max_chars: int = 2000) -> list[str]:
    """Up to n (None: all) texts of one pretrain category ('scores' = ABC, 'general' = prose) from a held-out split."""
    from cm_lib.train import load_split

    ds = load_split(corpus, "pretrain", split)
    rows = [r["text"][:max_chars] for r in ds if r["category"] == category]
    if not rows and split == "test":  # tiny corpora: fall back to the validation split
        rows = [r["text"][:max_chars] for r in load_split(corpus, "pretrain", "validation") if r["category"] == category]
    return rows if n is None else rows[:n]


PROSE_SOURCE = "music21/languageExcerpts/trainingData/en.txt"  # Jane Austen, Lady Susan (Project Gutenberg)


def english_prose(n: int | None = None, chars: int = 1000) -> list[str]:
    """Passages (~`chars` each, whole sentences) of real English prose that ships in the music21 wheel.

    The text is Jane Austen's *Lady Susan* (public domain, via Project Gutenberg), which music21 keeps as
    training data for its language guesser. The course corpus never reads it (its general text is
    package docstrings), so it is held out from every training run. The Gutenberg header and licence are cut.
    """
    import importlib.util

    spec = importlib.util.find_spec("music21")
    if spec is None or not spec.submodule_search_locations:
        from cm_lib.errors import AssetNotFoundError

        raise AssetNotFoundError("music21 is not installed: no offline English prose for the forgetting check")
    path = Path(next(iter(spec.submodule_search_locations))).parent / PROSE_SOURCE
    text = path.read_text(encoding="utf-8", errors="replace")
    start = text.find("LADY SUSAN VERNON TO MR. VERNON")
    end = text.find("End of the Project Gutenberg")
    text = text[start if start >= 0 else 0: end if end > 0 else len(text)]
    paras = [" ".join(p.split()) for p in re.split(r"\n\s*\n", text)]
    paras = [p for p in paras if len(p) > 40 and not p.isupper()]
    sentences = [(i, piece) for i, p in enumerate(paras) for piece in re.split(r"(?<=[.!?;])\s+", p) if piece]
    out, buf, last = [], "", -1
    for i, piece in sentences:
        buf = (f"{buf} {piece}" if i == last else f"{buf}\n\n{piece}") if buf else piece
        last = i
        if len(buf) >= chars:
            out.append(buf)
            buf = ""
        if n is not None and len(out) >= n:
            break
    return out


def language_model_report(model: str | Path | Any, corpus: Any, n_abc: int | None = None, n_general: int | None = None,
                          max_tokens: int = 256, prose: Sequence[str] | None = None, batch_size: int = 8) -> dict:
    """Held-out ABC bits/char (all test tunes by default) and the forgetting check on held-out English prose.

    `prose` defaults to english_prose() (a novel shipped in music21's wheel). Per-text bits/char are kept
    (`abc_each`, `prose_each`) so two models can be compared text by text with paired_change().
    """
    net, tok = _model_and_tokenizer(model)
    abc_rows = text_nll_each(net, tok, held_out_texts(corpus, "scores", n_abc), max_tokens, batch_size)
    prose = list(prose) if prose is not None else english_prose(n_general)
    prose_rows = text_nll_each(net, tok, prose, max_tokens, batch_size)
    total = lambda rows: NLL(sum(r.nats for r in rows), sum(r.tokens for r in rows), sum(r.characters for r in rows))  # noqa: E731
    abc, gen = total(abc_rows), total(prose_rows)
    prose_each = [r.bits_per_character for r in prose_rows]
    return {"abc_bits_per_char": round(abc.bits_per_character, 4), "abc_texts": len(abc_rows),
            "prose_bits_per_char": round(gen.bits_per_character, 4),
            "prose_bits_per_char_ci95": mean_interval(prose_each)["ci95"], "prose_texts": len(prose_rows),
            "prose_perplexity": round(gen.perplexity, 3),
            "abc_each": [round(r.bits_per_character, 5) for r in abc_rows],
            "prose_each": [round(b, 5) for b in prose_each]}


def pick_eval_records(corpus: Any, tasks: Sequence[str], per_task: int = 1, split: str = "test") -> list[dict]:
    """Held-out SFT records: the first `per_task` of each task type (in the given order)."""
    from cm_lib.train import load_split

    ds = load_split(corpus, "sft", split)
    out: list[dict] = []
    for task in tasks:
        out += [dict(r) for r in ds if r["task"] == task][:per_task]
    return out


def _sample(model: Any, tokenizer: Any, prompts: Sequence[str], max_new_tokens: int, seed: int, batch_size: int,
            chat: bool = False, **sampling: Any) -> list[Any]:
    """cm_lib.generate's batched sampler with COMPOSER_SAMPLING (overridable); row i is seeded seed + i, BOS as in training."""
    from cm_lib.generate.sampling import sample_in_batches

    settings = {**COMPOSER_SAMPLING, **sampling}
    if settings.get("repetition_penalty") == 1.0:
        settings["repetition_penalty"] = None  # 1.0 is no penalty
    seeds = [seed + i for i in range(len(prompts))]
    return sample_in_batches(model, tokenizer, list(prompts), seeds, batch_size=batch_size,
                             max_new_tokens=max_new_tokens, chat=chat, add_special_tokens=True, **settings)


def answer_records(model: str | Path | Any, records: Sequence[Mapping[str, Any]], max_new_tokens: int = 400,
                   seed: int = 0, batch_size: int = 16, constrain: str = "none", obey_header: bool = False,
                   **sampling: Any) -> list[str]:
    """The model's answers to each record's instruction (+ input) in the chat format, sampled in batches.

    `constrain` ('none', 'syntax', 'bars') decodes under the ABC grammar (notebook 05); with `obey_header`
    the grammar also imposes each record's requested key and meter (`constrain.request_header`).
    """
    from cm_lib.chat import eos_marker, generation_prompt, record_prompt
    from cm_lib.generate.constrain import request_header

    if obey_header and constrain == "none":
        raise CourseError("obey_header imposes the request through the grammar: use constrain='syntax' or 'bars'")
    net, tok = _model_and_tokenizer(model)
    prompts = [generation_prompt(tok, record_prompt(r)) for r in records]
    headers = [request_header(requested(r)) or None for r in records] if obey_header else None
    marker = eos_marker(tok)
    res = _sample(net, tok, prompts, max_new_tokens, seed, batch_size, chat=True, constrain=constrain,
                  headers=headers, **sampling)
    return [r.text.split(marker)[0].strip() for r in res]


READER_HEADER_TOKENS = 32  # enough for "X:1 / M: / L: / K:" in SmolLM2's tokens (the reader's answers are ~15)


@dataclass
class ReadWrite:
    """Answers of two models to the same requests: the reader's header, then the writer's tune from it (notebook 04)."""

    headers: list[str]  # the reader's answers, as sampled
    prompts: list[str | None]  # the composer's header made from each (None: the reader wrote no M:, L: or K:)
    answers: list[str]  # header + the writer's continuation; the reader's answer alone where it made no header


def read_then_write(reader: str | Path | Any, writer: str | Path | Any, records: Sequence[Mapping[str, Any]],
                    max_new_tokens: int = 512, seed: int = 0, batch_size: int = 40) -> ReadWrite:
    """The reader (SmolLM2 after its header SFT) answers each request with a header; the writer (the composer) continues it (notebook 04).

    Both sample without constraints. A header lacking M:, L: or K: gets no tune (counted as invalid, never filled in).
    """
    headers = answer_records(reader, records, max_new_tokens=READER_HEADER_TOKENS, seed=seed,
                             batch_size=min(batch_size, 16))
    prompts = [header_text(head) for head in headers]
    todo = [p for p in prompts if p is not None]
    tunes = iter(sample_tunes(writer, n=len(todo), start=todo, max_new_tokens=max_new_tokens, seed=seed,
                              batch_size=batch_size) if todo else [])
    answers = [next(tunes).raw if p is not None else h for p, h in zip(prompts, headers)]
    return ReadWrite(headers=headers, prompts=prompts, answers=answers)


@dataclass
class Sample:
    """One unconditioned sample: prompt + continuation, the tune found in it and the checker's verdicts."""

    raw: str
    abc: str | None
    ok_syntax: bool
    ok_bars: bool
    ended: bool  # EOS, a blank line or the next X: came before the token limit
    tokens: int

    @property
    def ok(self) -> bool:
        """Syntax-valid ABC was found."""
        return self.ok_syntax


def header_prompts(corpus: Any, n: int, split: str = "test") -> list[str]:
    """`X:1 / M: / L: / K:` header prompts taken from n held-out tunes (their meters, unit lengths and keys)."""
    prompts = []
    for text in held_out_texts(corpus, "scores", None, split):
        prompt = header_text(text)
        if prompt is not None:
            prompts.append(prompt)
        if len(prompts) >= n:
            break
    return prompts


def judge_sample(prompt: str, text: str, eos: bool, tokens: int) -> Sample:  # eos: EOS or the tune's end came first
    """Extract the tune from prompt + continuation and check it at syntax and bars level (bars: a countable M: is required)."""
    from cm_lib.abc import check
    from cm_lib.generate import extract_abc
    from cm_lib.metrics.validity import valid_bars

    raw = prompt + text
    abc = extract_abc(raw)
    ended = eos or "\n\n" in text.strip(" ") or bool(re.search(r"\nX:", text))
    return Sample(raw=raw, abc=abc, ok_syntax=bool(abc) and check(abc, "syntax").ok,
                  ok_bars=bool(abc) and valid_bars(abc), ended=ended, tokens=tokens)


def sample_tunes(model: str | Path | Any, n: int = 2, max_new_tokens: int = 400, seed: int = 0,
                 start: str | Sequence[str] = "X:1\nT:Sample\nM:6/8\nL:1/8\nK:D\n", batch_size: int = 16,
                 **sampling: Any) -> list[Sample]:
    """n tunes continued from a header (or one per header of a list) without the chat wrapper, checked."""
    net, tok = _model_and_tokenizer(model)
    prompts = [start] * n if isinstance(start, str) else list(start)[:n]
    res = _sample(net, tok, prompts, max_new_tokens, seed, batch_size, **sampling)
    return [judge_sample(p, r.text, r.ended, r.tokens) for p, r in zip(prompts, res)]


def generation_report(samples: Sequence[Sample]) -> dict:
    """Syntax-valid, bars-valid and properly-ended rates of samples, each with n and a Wilson 95% interval."""
    n = len(samples)
    return {"syntax": rate(sum(s.ok_syntax for s in samples), n), "bars": rate(sum(s.ok_bars for s in samples), n),
            "ended": rate(sum(s.ended for s in samples), n),
            "mean_tokens": round(sum(s.tokens for s in samples) / n, 1) if n else None}


def checkpoint_steps(run_out: str | Path) -> list[tuple[int, Path]]:
    """(step, folder) of a training run's saved checkpoints (OUT/checkpoint-N), in step order."""
    found = []
    for p in Path(run_out).glob("checkpoint-*"):
        tail = p.name.rsplit("-", 1)[-1]
        if tail.isdigit() and (p / "config.json").is_file():
            found.append((int(tail), p))
    return sorted(found)


def validity_curve(run_out: str | Path, prompts: Sequence[str], max_new_tokens: int = 512, seed: int = 0,
                   batch_size: int = 32, **sampling: Any) -> list[dict]:
    """Validity against training steps: generation_report of each checkpoint's tunes for the same seeded prompts (notebook 03)."""
    rows = []
    for step, folder in checkpoint_steps(run_out):
        samples = sample_tunes(folder, n=len(prompts), max_new_tokens=max_new_tokens, seed=seed, start=list(prompts),
                               batch_size=batch_size, **sampling)
        rows.append({"step": step, **generation_report(samples)})
    return rows


HEADER_VALUE_FIELDS = ("M", "K")  # the header lines whose values a key/meter request decides


def _header_value_bits(model: Any, tokenizer: Any, prompt: str, answer: str) -> tuple[float, int]:
    """(bits, tokens) of the M: and K: values in `answer`'s header, read after the chat prompt (teacher-forced)."""
    from cm_lib.chat import generation_prompt

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
    from cm_lib.abc import split_tunes
    from cm_lib.corpus.composer import COMPOSER_FIELDS, COMPOSER_VIEW, composer_header
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
    from cm_lib.chat import record_prompt

    net, tok = _model_and_tokenizer(model)
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
    import random

    net, tok = _model_and_tokenizer(model)
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


def reliance_reading(name: str, r: Mapping[str, Any]) -> str:
    """One sentence on a prompt_reliance() result, read from its interval (notebook 04)."""
    gain, side = r["gain"], interval_sign(r["gain"])
    lo, hi = gain["ci95"]
    if side == "positive":
        text = f"reads its request: the right one saves {format_mean(gain)} bits per header-value token"
    elif side == "negative":
        text = f"is *misled* by its request ({format_mean(gain)} bits per header-value token)"
    else:
        text = (f"shows no sign of reading its request: the right one saves {gain['mean']:.2f} bits per header-value "
                f"token, 95% interval [{lo:.2f}, {hi:.2f}], which includes 0")
    return f"The **{name}** {text} (n = {r['n']})."


def copy_reading(name: str, c: Mapping[str, Any]) -> str:
    """One sentence on a copy_test() result: copies (second copy under half the first's cost), a little, or not (notebook 04)."""
    first, second = c["first_copy_nats"]["mean"], c["second_copy_nats"]["mean"]
    if interval_sign(c["saved"]) != "positive":
        text = (f"does not copy: {second:.2f} nats per token for the second copy against {first:.2f}, "
                f"a saving of {format_mean(c['saved'])}")
    elif second < 0.5 * first:
        text = f"copies: the second copy costs {second:.2f} nats per token against {first:.2f} for the first"
    else:
        text = f"copies a little: {second:.2f} nats per token for the second copy against {first:.2f}"
    return f"The **{name}** {text} (n = {c['n']} strings)."


def runs_reading(measured: Mapping[str, Mapping[str, int]], n: int | Mapping[str, int],
                 own: Mapping[str, Mapping[str, Any]], own_label: str = "your run") -> tuple[dict[str, dict[str, str]], str]:
    """Your run's rates beside the same recipe trained again (other seeds, other CPUs): a table and a computed reading (notebooks 03, 04).

    `measured` maps a run's label to {measure: successes}, each out of `n` (one n, or one per measure);
    `own` maps the same measures to rate() dicts. A measure's span is the lowest to highest measured rate;
    the reading says whether your rate lies in it, beside the width of one run's 95% interval, and names
    the measures whose span is wider than that interval (there one run cannot tell two recipes apart).
    """
    measures = list(own)
    count = {m: int(n if isinstance(n, int) else n[m]) for m in measures}
    table = {label: {m: f"{r[m]}/{count[m]}" for m in measures} for label, r in measured.items()}
    table[own_label] = {m: f"{own[m]['k']}/{own[m]['n']}" for m in measures}
    lines, wide = [], []
    for m in measures:
        rates = [100 * r[m] / count[m] for r in measured.values()]
        lo, hi, mine = min(rates), max(rates), own[m]
        span = f"the {len(rates)} runs span {lo:.0f}-{hi:.0f}% (n = {count[m]} each)"
        if not mine["n"]:
            lines.append(f"- **{m}**: {span}; yours has n = 0.")
            continue
        width = 100 * (mine["ci95"][1] - mine["ci95"][0])
        pct = 100 * mine["k"] / mine["n"]  # not the rounded mine["rate"]: 1/18 must match a measured 1/18
        inside = "inside" if lo - 1e-9 <= pct <= hi + 1e-9 else "outside"
        lines.append(f"- **{m}**: {span}; one run's 95% interval is {width:.0f} points wide; yours, "
                     f"{mine['k']}/{mine['n']} = {pct:.0f}%, is {inside} the span.")
        if hi - lo > width:
            wide.append(m)
    lines.append(f"- The runs spread wider than one run's interval for: {', '.join(wide)}." if wide else
                 "- For every measure the runs spread less than one run's interval.")
    return table, "\n".join(lines)
