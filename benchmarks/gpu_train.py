"""GPU training figures for the course's model sizes (run by hand on a CUDA machine).

Prints one table: tokens/s, MFU and peak GPU memory for
  * SmolLM2-135M's architecture (LoRA r=64 on all linear layers, and full fine-tuning),
  * a randomly initialised ~1B Llama (TinyLlama-1.1B's shape; full fine-tuning and LoRA),
  * a randomly initialised 7B Llama (LLaMA-2-7B's shape) under QLoRA 4-bit (nf4) at 2,048 tokens.
Weights are random (LlamaConfig, no download): speed and memory do not depend on their values.
Needs only torch, transformers, peft and (for QLoRA) bitsandbytes: no TRL, no datasets. Shapes come from
cm_lib's model presets, the LoRA recipe (r, alpha, dropout, target modules) from its `h100` hardware preset.

    python benchmarks/gpu_train.py [--steps 10] [--seq 2048] [--skip-7b] [--record]

--record writes the rows, with the GPU, today's date and the checkout's commit, into
cm_lib/data/measured/gpu_throughput.json (the plan's GPU minutes read them; a rerun replaces the GPU class's rows)
and the QLoRA row's peak memory into cm_lib/data/measured/planner_check.json (cm_lib.planner's check).

MFU counts model FLOPs as PaLM does: 6·N·T for the dense part (4·N·T when the frozen base weights
get no weight gradient, i.e. LoRA/QLoRA) plus 12·L·d·s·T for attention, over the GPU's dense bf16
peak (H100 SXM: 989 TFLOP/s; pass --peak-tflops for other cards).
"""

from __future__ import annotations

import argparse
import gc
import json
import tempfile
import time
from pathlib import Path

import torch
from transformers import LlamaConfig, LlamaForCausalLM

from cm_lib.models.presets import model_preset
from cm_lib.train.presets import hardware_preset
from cm_lib.train.recipe import lora_config


def _config(name: str) -> LlamaConfig:
    """LlamaConfig of a model preset's shape (random weights: speed and memory do not depend on their values)."""
    return LlamaConfig(**model_preset(name).llama_config())


def _lora(model: torch.nn.Module, name: str) -> torch.nn.Module:
    from peft import get_peft_model

    return get_peft_model(model, lora_config(hardware_preset("h100"), model_preset(name).lora_targets))


def _step_loop(model: torch.nn.Module, vocab: int, batch: int, seq: int, steps: int) -> tuple[float, float]:
    """Train `steps` AdamW steps on random tokens after 3 warm-up steps; returns (seconds/step, last loss)."""
    model.train()  # from_pretrained returns eval mode, where gradient checkpointing and dropout are off
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-4, betas=(0.9, 0.95), weight_decay=0.1)
    gen = torch.Generator(device="cuda").manual_seed(0)
    ids = torch.randint(0, vocab, (batch, seq), device="cuda", generator=gen)
    loss = torch.tensor(0.0)
    for i in range(steps + 3):
        if i == 3:
            torch.cuda.synchronize()
            start = time.perf_counter()
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    torch.cuda.synchronize()
    return (time.perf_counter() - start) / steps, loss.item()


def _flops_per_token(cfg: LlamaConfig, n_params: int, seq: int, lora: bool) -> float:
    dense = (4 if lora else 6) * n_params
    attention = 12 * cfg.num_hidden_layers * cfg.hidden_size * seq
    return dense + attention


def _count(model: torch.nn.Module) -> int:
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    seen, total = set(), 0
    for name, p in base.named_parameters():
        if "lora_" in name or id(p) in seen:
            continue
        seen.add(id(p))
        total += p.numel() * (2 if p.dtype == torch.uint8 else 1)  # 4-bit params pack two per byte
    return total


def run_dense(name: str, method: str, batch: int, seq: int, steps: int, peak: float) -> dict:
    """Random-init model in bf16 weights (fp32 master for full FT) with LoRA or full fine-tuning."""
    cfg = _config(name)
    cfg._attn_implementation = "sdpa"
    torch.manual_seed(0)
    dtype = torch.bfloat16 if method == "lora" else torch.float32
    with torch.device("cuda"):
        model = LlamaForCausalLM(cfg).to(dtype)
    n_params = _count(model)
    if method == "lora":
        model = _lora(model, name)
    if name == "tinyllama-1.1b" and method == "full":
        model.gradient_checkpointing_enable()
    torch.cuda.reset_peak_memory_stats()
    sec, loss = _step_loop(model, cfg.vocab_size, batch, seq, steps)
    tokens = batch * seq / sec
    mfu = tokens * _flops_per_token(cfg, n_params, seq, lora=method == "lora") / (peak * 1e12)
    out = dict(model=name, method=method, params=n_params, batch=batch, seq=seq, tokens_per_s=round(tokens),
               mfu=round(mfu, 3), peak_gib=round(torch.cuda.max_memory_allocated() / 2**30, 2),
               loss=round(loss, 3))
    del model
    gc.collect()
    torch.cuda.empty_cache()
    return out


def run_qlora_7b(seq: int, steps: int, peak: float) -> dict:
    """LLaMA-2-7B shape, random weights saved once, reloaded in 4-bit nf4, LoRA r=64, batch 1."""
    from peft import prepare_model_for_kbit_training
    from transformers import BitsAndBytesConfig

    cfg = _config("llama2-7b")
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        with torch.device("cuda"):
            model = LlamaForCausalLM(cfg).to(torch.bfloat16)
        model.save_pretrained(tmp)
        del model
        gc.collect()
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
        bnb = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                                 bnb_4bit_compute_dtype=torch.bfloat16)
        model = LlamaForCausalLM.from_pretrained(tmp, quantization_config=bnb, dtype=torch.bfloat16,
                                                 device_map={"": 0})
        prep_s = time.perf_counter() - t0
    load_gib = torch.cuda.max_memory_allocated() / 2**30
    model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=True)
    model = _lora(model, "llama2-7b")
    n_params = _count(model)
    torch.cuda.reset_peak_memory_stats()
    sec, loss = _step_loop(model, cfg.vocab_size, 1, seq, steps)
    tokens = seq / sec
    mfu = tokens * _flops_per_token(cfg, n_params, seq, lora=True) / (peak * 1e12)
    out = dict(model="llama2-7b", method="qlora-nf4", params=n_params, batch=1, seq=seq, tokens_per_s=round(tokens),
               mfu=round(mfu, 3), peak_gib=round(torch.cuda.max_memory_allocated() / 2**30, 2),
               loaded_gib=round(load_gib, 2), loss=round(loss, 3), prepare_s=round(prep_s, 1))
    del model
    gc.collect()
    torch.cuda.empty_cache()
    return out


METHODS = {"lora": "lora", "full": "full", "qlora-nf4": "qlora"}  # a row's method -> the plan's
MODELS = {"llama-1.1b": "tinyllama-1.1b"}  # the first H100 run's name for the TinyLlama shape


def throughput_rows(rows: list[dict], gpu_class: str, made: dict, script: str = "benchmarks/gpu_train.py") -> list[dict]:
    """gpu_throughput.json rows of this script's (or gpu_course.py's) measured rows on a GPU of class `gpu_class`."""
    out = []
    for r in rows:
        if "tokens_per_s" not in r:
            continue  # a configuration that failed or was skipped
        model, method = MODELS.get(r["model"], r["model"]), METHODS.get(r["method"], r["method"])
        setup = f"{r['method']} r={r.get('lora_r', 64)}" if method != "full" else "full"
        out.append({"gpu": gpu_class, "model": model, "method": method, "tokens_per_second": float(r["tokens_per_s"]),
                    "source": f"{script} on {made['machine'].split(' on ')[0]}, {model} shape, {setup}, "
                              f"{r['batch']} x {r['seq']:,}" + (f", {r['dtype']}" if "dtype" in r else "")
                              + ", raw training loop",
                    "measured_here": True, **made})
    return out


def planner_rows(rows: list[dict], made: dict) -> list[dict]:
    """planner_check.json rows: the QLoRA rows' peak memory (LoRA r=64, bf16 compute, checkpointing)."""
    return [{"model": r["model"], "method": "qlora", "seq_len": r["seq"], "batch": r["batch"], "lora_r": 64,
             "dtype": "bf16", "gradient_checkpointing": True, "peak_gib": r["peak_gib"], **made}
            for r in rows if r.get("method") == "qlora-nf4" and r.get("peak_gib")]


def record(rows: list[dict], folder: Path | None = None) -> None:
    """Write the rows of this run on this GPU into the measured-data files (--record)."""
    from cm_lib.device import device_class, pick_device
    from cm_lib.measured import provenance, record_rows

    spec = pick_device()
    made = provenance(torch.cuda.get_device_name())
    for name, new in (("gpu_throughput", throughput_rows(rows, device_class(spec), made)),
                      ("planner_check", planner_rows(rows, made))):
        if new:
            print(f"recorded {len(new)} row(s) in {record_rows(name, new, folder)}")


def main() -> None:
    """Run every configuration and print a table (and JSON lines)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--seq", type=int, default=2048)
    ap.add_argument("--peak-tflops", type=float, default=989.0, help="dense bf16 peak of the GPU")
    ap.add_argument("--skip-7b", action="store_true")
    ap.add_argument("--only-7b", action="store_true")
    ap.add_argument("--record", action="store_true", help="write the rows into cm_lib/data/measured/ (see above)")
    args = ap.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("needs a CUDA GPU; on CPU use benchmarks/train_throughput.py")
    print(f"GPU: {torch.cuda.get_device_name()}  torch {torch.__version__}  peak {args.peak_tflops} TFLOP/s bf16")
    rows = [] if args.only_7b else [
        run_dense("smollm2-135m", "lora", 16, args.seq, args.steps, args.peak_tflops),
        run_dense("smollm2-135m", "full", 16, args.seq, args.steps, args.peak_tflops),
        run_dense("tinyllama-1.1b", "lora", 8, args.seq, args.steps, args.peak_tflops),
        run_dense("tinyllama-1.1b", "full", 4, args.seq, args.steps, args.peak_tflops),
    ]
    if not args.skip_7b:
        rows.append(run_qlora_7b(args.seq, args.steps, args.peak_tflops))
    cols = ["model", "method", "params", "batch", "seq", "tokens_per_s", "mfu", "peak_gib", "loss"]
    print(" | ".join(cols))
    for r in rows:
        print(" | ".join(str(r.get(c, "")) for c in cols))
    for r in rows:
        print(json.dumps(r))
    if args.record:
        record(rows)


if __name__ == "__main__":
    main()
