"""Build the simulator's repos into a folder: tiny LLaMA-config models and MusicPile-shaped parquet, from real ABC.

Nothing here is committed as a binary: `build_fixtures(root)` writes everything in a few seconds from music21's
bundled ABC tunes and docstrings, with fixed seeds (same bytes, same commit shas, on every run).

Model repos (real hub ids; LLaMA-2-style BPE tokenizer with byte fallback, <unk>=0 <s>=1 </s>=2; hidden 64):
- TinyLlama/TinyLlama_v1.1 and m-a-p/ChatMusician: safetensors (ChatMusician sharded, with its index);
- meta-llama/Llama-2-7b-hf: safetensors, gated (a request without a token gets 401 GatedRepo);
- m-a-p/ChatMusician-Base: `main` holds only `pytorch_model.bin` (junk bytes, not a pickle: loading it fails
  loudly); `refs/pr/3` holds the safetensors.
Dataset repos (their real schemas): m-a-p/MusicPile (id int64, text, src; 3 shards grouped by `src`, small row
groups), m-a-p/MusicPile-sft (instruction, input, output, src, id), m-a-p/MusicTheoryBench (dev 5, test 21).
"""

from __future__ import annotations

import inspect
import json
import random
import re
from pathlib import Path

from .repos import revision_dir

TOKENIZER_VOCAB = 640
HIDDEN = 64
# `src` values and record counts of the MusicPile fixture (names after the dataset card's sources; shares roughly
# those of its sample counts). `irishman` derives from The Session: the course's licence gate refuses it.
MUSICPILE_MIX = {
    "irishman": 300, "kernscores": 60, "wikipedia": 180, "pile": 60, "linksoul": 240,
    "music_summary": 132, "music_knowledge": 108, "gsm8k": 60, "code": 60,
}
MUSICPILE_SHARDS = 3
MUSICPILE_ROW_GROUP = 25
SFT_MIX = {"irishman": 200, "kernscores": 60, "music_knowledge": 120, "music_summary": 60, "gsm8k": 40}
SFT_SHARDS = 2
MODEL_IDS = ("TinyLlama/TinyLlama_v1.1", "meta-llama/Llama-2-7b-hf", "m-a-p/ChatMusician", "m-a-p/ChatMusician-Base")
DATASET_IDS = ("m-a-p/MusicPile", "m-a-p/MusicPile-sft", "m-a-p/MusicTheoryBench")
BASE_PR = "refs/pr/3"  # ChatMusician-Base's safetensors revision
JUNK_BIN = b"NOT A PICKLE: hubsim's ChatMusician-Base main branch. Loading this file must fail.\n" * 64


# ------------------------------------------------------------------ text from the offline corpus
def _clean_abc(text: str, index: int) -> str:
    keep = []
    for line in text.strip().splitlines():
        if re.match(r"^[NZBSHOAGDFW]:", line) or line.startswith("%"):
            continue
        keep.append(f"X:{index}" if line.startswith("X:") else line)
    return "\n".join(keep).strip() + "\n"


def tunes(collections: list[str], n: int, step: int = 3) -> list[dict]:
    """`n` tunes (every `step`-th) of music21's collections: text without transcriber notes, title, key, meter."""
    from cm_lib.abc import iter_music21_tunes

    out = []
    for i, (_, tune) in enumerate(iter_music21_tunes(collections)):
        if i % step or not tune.body.strip() or "K:" not in tune.text:
            continue
        out.append({"abc": _clean_abc(tune.text, len(out) + 1), "title": tune.title or "Untitled",
                    "key": tune.key or "C", "meter": tune.meter or "4/4"})
        if len(out) >= n:
            break
    return out


def docstrings(n: int) -> list[str]:
    """`n` paragraphs of music21's module docstrings (real prose about music)."""
    import importlib

    out: list[str] = []
    for name in ("key", "meter", "chord", "interval", "scale", "note", "pitch", "roman", "harmony", "duration",
                 "stream.base", "tempo", "dynamics", "articulations", "clef", "bar", "repeat", "spanner"):
        try:
            mod = importlib.import_module(f"music21.{name}")
        except ImportError:
            continue
        for obj in [mod, *[v for v in vars(mod).values() if inspect.isclass(v) and v.__module__ == mod.__name__]]:
            doc = inspect.getdoc(obj) or ""
            for para in doc.split("\n\n"):
                para = " ".join(para.split())
                if len(para) > 120 and ">>>" not in para:
                    out.append(para)
    if not out:
        raise RuntimeError("no music21 docstrings found")
    return [out[i % len(out)] for i in range(n)]


def code_snippets(n: int) -> list[str]:
    """`n` Python standard-library functions' source."""
    import textwrap

    out = []
    for mod in (textwrap, json.decoder, random):
        for _, fn in inspect.getmembers(mod, inspect.isfunction):
            if fn.__module__ == mod.__name__:
                try:
                    out.append(inspect.getsource(fn))
                except OSError:
                    continue
    return [out[i % len(out)] for i in range(n)]


_KEYS = [("C major", 0, "sharps"), ("G major", 1, "sharps"), ("D major", 2, "sharps"), ("A major", 3, "sharps"),
         ("E major", 4, "sharps"), ("F major", 1, "flats"), ("B-flat major", 2, "flats"), ("E-flat major", 3, "flats")]
_INTERVALS = [("minor third", 3), ("major third", 4), ("perfect fourth", 5), ("perfect fifth", 7), ("major sixth", 9),
              ("octave", 12)]


def theory_qa(rng: random.Random) -> tuple[str, str]:
    """A music-knowledge question and its answer (key signatures, intervals)."""
    if rng.random() < 0.5:
        key, count, kind = rng.choice(_KEYS)
        return f"How many {kind} are in the key signature of {key}?", f"{key} has {count} {kind}."
    name, semis = rng.choice(_INTERVALS)
    return f"How many semitones does a {name} span?", f"A {name} spans {semis} semitones."


def math_problem(rng: random.Random) -> tuple[str, str]:
    """A grade-school word problem and its worked answer."""
    a, b, c = rng.randint(2, 40), rng.randint(2, 30), rng.randint(2, 9)
    q = f"A band rehearses {a} tunes on Monday and {b} on Tuesday, playing each {c} times. How many plays in all?"
    return q, f"They rehearse {a} + {b} = {a + b} tunes, so {a + b} x {c} = {(a + b) * c} plays. The answer is {(a + b) * c}."


def chat(instruction: str, answer: str) -> str:
    """ChatMusician's chat format, as MusicPile stores its instruction records."""
    return f"Human: {instruction} </s> Assistant: {answer} </s>"


# ------------------------------------------------------------------ datasets
def musicpile_records(seed: int = 0) -> list[dict]:
    """MusicPile rows (id, text, src), grouped by src as concatenated source dumps are."""
    rng = random.Random(seed)
    irish = tunes(["oneill", "ryan"], MUSICPILE_MIX["irishman"] + SFT_MIX["irishman"], step=2)
    folk = tunes(["essen"], MUSICPILE_MIX["kernscores"] + SFT_MIX["kernscores"] + 40, step=7)
    prose = docstrings(MUSICPILE_MIX["wikipedia"] + MUSICPILE_MIX["pile"] + MUSICPILE_MIX["linksoul"])
    code = code_snippets(MUSICPILE_MIX["code"])
    rows: list[tuple[str, str]] = []
    for t in irish[:MUSICPILE_MIX["irishman"]]:
        rows.append(("irishman", chat("Develop a tune influenced by Irish folk music.", t["abc"])))
    for t in folk[:MUSICPILE_MIX["kernscores"]]:
        rows.append(("kernscores", chat(f"Write a folk melody in {t['meter']}.", t["abc"])))
    p = iter(prose)
    rows += [("wikipedia", next(p)) for _ in range(MUSICPILE_MIX["wikipedia"])]
    rows += [("pile", next(p) + " " + next(p)) for _ in range(MUSICPILE_MIX["pile"] // 2)]
    rows += [("pile", next(p)) for _ in range(MUSICPILE_MIX["pile"] - MUSICPILE_MIX["pile"] // 2)]
    while sum(1 for s, _ in rows if s == "linksoul") < MUSICPILE_MIX["linksoul"]:
        text = next(p, None) or prose[rng.randrange(len(prose))]
        rows.append(("linksoul", chat("Explain this passage about music in plain words.", text)))
    for t in folk[-MUSICPILE_MIX["music_summary"]:] if len(folk) >= MUSICPILE_MIX["music_summary"] else \
            [folk[i % len(folk)] for i in range(MUSICPILE_MIX["music_summary"])]:
        rows.append(("music_summary", f"{t['title']} is a folk song in {t['key']} and {t['meter']} time."))
    for _ in range(MUSICPILE_MIX["music_knowledge"]):
        rows.append(("music_knowledge", chat(*theory_qa(rng))))
    for _ in range(MUSICPILE_MIX["gsm8k"]):
        rows.append(("gsm8k", chat(*math_problem(rng))))
    rows += [("code", c) for c in code]
    return [{"id": i, "text": text, "src": src} for i, (src, text) in enumerate(rows)]


def sft_records(seed: int = 1) -> list[dict]:
    """MusicPile-sft rows (instruction, input, output, src, id), grouped by src."""
    rng = random.Random(seed)
    irish = tunes(["oneill", "ryan"], MUSICPILE_MIX["irishman"] + SFT_MIX["irishman"], step=2)[-SFT_MIX["irishman"]:]
    folk = tunes(["essen"], SFT_MIX["kernscores"] + SFT_MIX["music_summary"], step=11)
    rows: list[tuple[str, str, str, str]] = []
    for t in irish:
        rows.append(("irishman", "Develop a tune influenced by Irish folk music, using the given title.",
                     f"T:{t['title']}", t["abc"]))
    for t in folk[:SFT_MIX["kernscores"]]:
        rows.append(("kernscores", f"Compose a melody in {t['key']} with a {t['meter']} meter.", "", t["abc"]))
    for _ in range(SFT_MIX["music_knowledge"]):
        q, a = theory_qa(rng)
        rows.append(("music_knowledge", q, "", a))
    for t in folk[-SFT_MIX["music_summary"]:]:
        rows.append(("music_summary", "Describe this tune in one sentence.", t["abc"],
                     f"It is a folk song in {t['key']} and {t['meter']} time."))
    for _ in range(SFT_MIX["gsm8k"]):
        q, a = math_problem(rng)
        rows.append(("gsm8k", q, "", a))
    return [{"instruction": ins, "input": inp, "output": out, "src": src, "id": f"sft-{i:05d}"}
            for i, (src, ins, inp, out) in enumerate(rows)]


def mtb_records() -> dict[str, list[dict]]:
    """MusicTheoryBench rows by split, in its schema (integer ids, options as a struct A-D)."""
    from cm_lib.bench.data import load_sample

    out: dict[str, list[dict]] = {"dev": [], "test": []}
    for i, q in enumerate(load_sample(None)):
        out[q.split].append({"id": i, "instruction": q.instruction, "stem": q.stem, "options": dict(q.options),
                             "subject": q.subject, "answer": q.answer, "abc_score": q.abc_score})
    return out


def _write_parquet(rows: list[dict], path: Path, row_group_size: int) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), path, row_group_size=row_group_size)


def _card(features: list[tuple[str, str]], splits: dict[str, int], licence: str, title: str) -> str:
    def feature(name: str, dtype: str) -> str:
        if dtype.startswith("struct:"):  # struct:A,B,C,D -> a struct of strings
            fields = "".join(f"    - name: {f}\n      dtype: string\n" for f in dtype[7:].split(","))
            return f"  - name: {name}\n    struct:\n{fields}"
        return f"  - name: {name}\n    dtype: {dtype}\n"

    feats = "".join(feature(n, t) for n, t in features)
    split_info = "".join(f"  - name: {s}\n    num_bytes: {n * 1000}\n    num_examples: {n}\n" for s, n in splits.items())
    files = "".join(f"  - split: {s}\n    path: data/{s}-*\n" for s in splits)
    return (f"---\nlicense: {licence}\ndataset_info:\n  features:\n{feats}  splits:\n{split_info}"
            f"configs:\n- config_name: default\n  data_files:\n{files}---\n# {title} (hubsim fixture)\n")


def _shards(rows: list[dict], n: int) -> list[list[dict]]:
    size = -(-len(rows) // n)
    return [rows[i * size:(i + 1) * size] for i in range(n)]


def write_datasets(root: Path) -> None:
    """The three dataset repos (main only)."""
    pile = musicpile_records()
    d = revision_dir(root, "datasets", "m-a-p/MusicPile")
    for i, shard in enumerate(_shards(pile, MUSICPILE_SHARDS)):
        _write_parquet(shard, d / f"data/train-{i:05d}-of-{MUSICPILE_SHARDS:05d}.parquet", MUSICPILE_ROW_GROUP)
    (d / "README.md").write_text(_card([("id", "int64"), ("text", "string"), ("src", "string")],
                                       {"train": len(pile)}, "cc-by-nc-4.0", "MusicPile"))
    sft = sft_records()
    d = revision_dir(root, "datasets", "m-a-p/MusicPile-sft")
    for i, shard in enumerate(_shards(sft, SFT_SHARDS)):
        _write_parquet(shard, d / f"data/train-{i:05d}-of-{SFT_SHARDS:05d}.parquet", 20)
    (d / "README.md").write_text(_card([(c, "string") for c in ("instruction", "input", "output", "src", "id")],
                                       {"train": len(sft)}, "cc-by-nc-4.0", "MusicPile-sft"))
    mtb = mtb_records()
    d = revision_dir(root, "datasets", "m-a-p/MusicTheoryBench")
    for split, rows in mtb.items():
        _write_parquet(rows, d / f"data/{split}-00000-of-00001.parquet", 100)
    (d / "README.md").write_text(_card(
        [("id", "int64"), ("instruction", "string"), ("stem", "string"), ("options", "struct:A,B,C,D"),
         ("subject", "string"), ("answer", "string"), ("abc_score", "string")],
        {s: len(r) for s, r in mtb.items()}, "mit", "MusicTheoryBench"))


# ------------------------------------------------------------------ tokenizer and models
def train_llama_tokenizer(texts: list[str], vocab_size: int = TOKENIZER_VOCAB) -> object:
    """A LLaMA-2-style tokenizer (BPE, byte fallback, Metaspace; <unk> <s> </s> then 256 byte tokens) trained on texts."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import LlamaTokenizer

    bpe = Tokenizer(models.BPE(unk_token="<unk>"))
    bpe.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first", split=False)
    trainer = trainers.BpeTrainer(vocab_size=vocab_size - 259, special_tokens=[], show_progress=False,
                                  limit_alphabet=200)
    bpe.train_from_iterator(texts, trainer)
    learned = json.loads(bpe.to_str())["model"]
    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
    for b in range(256):
        vocab[f"<0x{b:02X}>"] = len(vocab)
    for token, _ in sorted(learned["vocab"].items(), key=lambda kv: kv[1]):
        vocab.setdefault(token, len(vocab))
    merges = [tuple(m.split(" ", 1)) if isinstance(m, str) else tuple(m) for m in learned["merges"]]
    tok = LlamaTokenizer(vocab=vocab, merges=merges, add_prefix_space=True, add_bos_token=True, add_eos_token=False)
    tok.model_max_length = 2048
    return tok


def _save_model(tok: object, folder: Path, seed: int, shard: str | None = None) -> None:
    import torch
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=HIDDEN, intermediate_size=172, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=2048,
                      tie_word_embeddings=False, bos_token_id=1, eos_token_id=2, pad_token_id=None)
    model = LlamaForCausalLM(cfg)
    kwargs = {"max_shard_size": shard} if shard else {}
    model.save_pretrained(folder, **kwargs)
    GenerationConfig(bos_token_id=1, eos_token_id=2).save_pretrained(folder)
    tok.save_pretrained(folder)


def write_models(root: Path, corpus: list[str]) -> None:
    """The four model repos; ChatMusician-Base's main branch holds only a junk `pytorch_model.bin`."""
    import tempfile

    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    tok = train_llama_tokenizer(corpus)
    readme = "---\nlicense: {}\n---\n# {} (hubsim fixture: 2 layers, hidden 64, random weights)\n"
    for i, (repo_id, licence) in enumerate([("TinyLlama/TinyLlama_v1.1", "apache-2.0"),
                                            ("meta-llama/Llama-2-7b-hf", "llama2"),
                                            ("m-a-p/ChatMusician", "mit")]):
        d = revision_dir(root, "models", repo_id)
        _save_model(tok, d, seed=100 + i, shard="150KB" if repo_id == "m-a-p/ChatMusician" else None)
        (d / "README.md").write_text(readme.format(licence, repo_id))
    (root / "models/meta-llama/Llama-2-7b-hf/repo.json").write_text(json.dumps({"gated": True}))
    pr = revision_dir(root, "models", "m-a-p/ChatMusician-Base", BASE_PR)
    _save_model(tok, pr, seed=200)
    (pr / "README.md").write_text(readme.format("mit", "m-a-p/ChatMusician-Base"))
    main = revision_dir(root, "models", "m-a-p/ChatMusician-Base")
    with tempfile.TemporaryDirectory() as tmp:
        _save_model(tok, Path(tmp), seed=200)
        for f in Path(tmp).iterdir():
            if f.suffix == ".json" and "safetensors" not in f.name:
                (main / f.name).write_bytes(f.read_bytes())
    (main / "pytorch_model.bin").write_bytes(JUNK_BIN)
    (main / "README.md").write_text(readme.format("mit", "m-a-p/ChatMusician-Base"))


def build_fixtures(root: Path) -> Path:
    """Write every fixture repo under `root` (a new or empty folder); returns root."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    write_datasets(root)
    corpus = [r["text"] for r in musicpile_records()] + [r["output"] for r in sft_records()]
    write_models(root, corpus)
    return root
