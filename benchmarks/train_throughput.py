"""Training throughput on the same ABC tunes: padded (unpacked) batches vs packed blocks, on this machine's CPU.

For each batching mode it trains over the same tunes (first N of music21's corpus, each ending in EOS) and
prints one table: real tokens/s (padding excluded), padding fraction, tokens cut by truncation, and
peak memory (each mode runs in its own process, so peak RSS is per mode):

  * unpacked: batches of B tunes, each truncated to --seq, padded to the longest in the batch (TRL's default
    collator without packing);
  * wrapped:  TRL's `pack_dataset(..., strategy="wrapped")`: documents concatenated and cut into --seq blocks
    (what the `cpu` hardware preset uses);
  * bfd:      TRL's best-fit-decreasing packing, padding-free (one flattened row with position_ids), as the GPU
    presets use with FlashAttention/sdpa; truncates documents longer than --seq.

    python benchmarks/train_throughput.py [--model tiny|smollm2-135m|PATH] [--tunes 64] [--seq 256] [--batch 4]
    python benchmarks/train_throughput.py --gpu   # on a CUDA machine: runs benchmarks/gpu_train.py (tokens/s, MFU,
                                                  # 135M / random 1.1B, 7B QLoRA peak memory at 2,048 tokens)
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

MODES = ("unpacked", "wrapped", "bfd")


def _token_docs(tok, n: int, seq: int) -> list[list[int]]:  # noqa: ANN001
    """Token ids (+ EOS) of the first n music21 corpus tunes."""
    from cm_lib.models import iter_corpus_texts

    texts = list(itertools.islice(iter_corpus_texts(), n))
    return [tok(t, add_special_tokens=False)["input_ids"] + [tok.eos_token_id] for t in texts]


def _batches(mode: str, docs: list[list[int]], seq: int, batch: int, pad: int) -> tuple[list[dict], int]:
    """Model inputs per step for one mode, and the number of tokens lost to truncation."""
    import torch
    from datasets import Dataset
    from trl.data_utils import pack_dataset

    out: list[dict] = []
    if mode == "unpacked":
        cut = [d[:seq] for d in docs]
        lost = sum(len(d) - len(c) for d, c in zip(docs, cut))
        for i in range(0, len(cut), batch):
            rows = cut[i:i + batch]
            width = max(map(len, rows))
            ids = torch.tensor([r + [pad] * (width - len(r)) for r in rows])
            mask = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows])
            labels = ids.masked_fill(mask == 0, -100)
            out.append({"input_ids": ids, "attention_mask": mask, "labels": labels})
        return out, lost
    ds = pack_dataset(Dataset.from_dict({"input_ids": docs}), seq, strategy=mode)
    rows = ds["input_ids"]
    lost = sum(map(len, docs)) - sum(map(len, rows))
    if mode == "wrapped":
        for i in range(0, len(rows), batch):
            chunk = rows[i:i + batch]
            width = max(map(len, chunk))  # only the very last block can be short
            ids = torch.tensor([r + [pad] * (width - len(r)) for r in chunk])
            mask = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in chunk])
            out.append({"input_ids": ids, "attention_mask": mask, "labels": ids.masked_fill(mask == 0, -100)})
        return out, lost
    lens = ds["seq_lengths"]
    for i in range(0, len(rows), batch):  # padding-free: B packed rows flattened into one row
        flat = list(itertools.chain.from_iterable(rows[i:i + batch]))
        pos = list(itertools.chain.from_iterable(range(n) for sl in lens[i:i + batch] for n in sl))
        ids = torch.tensor([flat])
        labels = ids.clone()
        starts = list(itertools.accumulate(n for sl in lens[i:i + batch] for n in sl))[:-1]
        labels[0, starts] = -100  # no loss across a document boundary
        out.append({"input_ids": ids, "position_ids": torch.tensor([pos]), "labels": labels})
    return out, lost


def worker(mode: str, model_name: str, tunes: int, seq: int, batch: int) -> dict:
    """Train one pass over the tunes in one mode; return its figures (run in a fresh process)."""
    import torch

    from cm_lib.models import load_model, lora_targets_for
    from cm_lib.train import FULL_TRAINING_MAX_PARAMS, hardware_preset, lora_config

    torch.manual_seed(0)
    model, tok = load_model(model_name, for_training=True)
    n_params = sum(p.numel() for p in model.parameters())
    if n_params > FULL_TRAINING_MAX_PARAMS:
        from peft import get_peft_model

        model = get_peft_model(model, lora_config(hardware_preset("cpu"), lora_targets_for(type(model).__name__)))
    model.train()
    docs = _token_docs(tok, tunes, seq)
    steps, lost = _batches(mode, docs, seq, batch, tok.pad_token_id)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    real = positions = 0
    for b in steps:
        real += int((b["labels"] != -100).sum()) + (int((b["labels"] == -100).sum()) if mode == "bfd" else 0)
        positions += b["input_ids"].numel()

    def step(b: dict) -> None:
        model(**b, use_cache=False).loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    step(steps[0])  # warm-up (not timed)
    start = time.perf_counter()
    for b in steps:
        step(b)
    seconds = time.perf_counter() - start
    return {"mode": mode, "steps": len(steps), "real_tokens": real, "positions": positions,
            "padding_fraction": round(1 - real / positions, 4), "truncated_tokens": lost,
            "tokens_per_s": round(real / seconds, 1), "seconds": round(seconds, 2),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "model": model_name, "parameters": n_params, "threads": torch.get_num_threads()}


def table(rows: list[dict]) -> str:
    """A plain-text table of the mode results."""
    cols = ["mode", "steps", "real_tokens", "padding_fraction", "truncated_tokens", "tokens_per_s", "seconds",
            "peak_rss_mb"]
    widths = [max(len(c), *(len(str(r[c])) for r in rows)) for c in cols]
    line = lambda vals: "  ".join(str(v).rjust(w) for v, w in zip(vals, widths))  # noqa: E731
    return "\n".join([line(cols), line(["-" * w for w in widths]), *(line([r[c] for c in cols]) for r in rows)])


def main(argv: list[str] | None = None) -> int:
    """Run every mode in its own process and print the table (or, with --gpu, the GPU benchmark)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="tiny")
    ap.add_argument("--tunes", type=int, default=64)
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--modes", default=",".join(MODES))
    ap.add_argument("--gpu", action="store_true", help="run benchmarks/gpu_train.py (CUDA + bitsandbytes)")
    ap.add_argument("--json", type=Path, default=None, help="also write the rows as JSON here")
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args, rest = ap.parse_known_args(argv)
    if args.gpu:
        return subprocess.call([sys.executable, str(Path(__file__).with_name("gpu_train.py")), *rest])
    if args.worker:
        print(json.dumps(worker(args.worker, args.model, args.tunes, args.seq, args.batch)))
        return 0
    rows = []
    for mode in args.modes.split(","):
        cmd = [sys.executable, __file__, "--worker", mode, "--model", args.model, "--tunes", str(args.tunes),
               "--seq", str(args.seq), "--batch", str(args.batch)]
        proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "TQDM_DISABLE": "1"})
        if proc.returncode:
            print(proc.stderr[-2000:], file=sys.stderr)
            return proc.returncode
        rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    r0 = rows[0]
    print(f"model {r0['model']} ({r0['parameters']:,} parameters), {args.tunes} music21 tunes, seq {args.seq}, "
          f"batch {args.batch}, {r0['threads']} CPU threads")
    print(table(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
