"""The T4 plan's training settings on a lent GPU, and the course's smoke runs there (<= 8 minutes on an H100).

For the LoRA track of the GPU plans (cm_lib.course.plan: TinyLlama-1.1B with LoRA, LLaMA-2-7B under QLoRA), with the
`colab-t4` hardware preset's settings (batch 4 x 1,024 tokens, LoRA r=64 on q/k/v/o/gate/up/down, gradient
checkpointing, paged 8-bit AdamW where bitsandbytes is installed, fp32 trainable weights under autocast) on
randomly initialised models of the presets' shapes, it measures s/step, tokens/s and peak GiB:
  * fp16 autocast with a GradScaler (what a T4 runs) and bf16 autocast (Ampere and newer),
  * gradient checkpointing with use_reentrant=True (PEFT's advice for single-GPU QLoRA) and False;
then it trains every run of the course's smoke plan on the GPU through cm_lib (`ensure_stages`, CM_SMOKE plan),
or with --notebooks executes notebooks 03-06 headless in smoke mode. Writes benchmarks/results/gpu_course.json; with
--record on a GPU that runs the colab-t4 preset (T4, L4), also its tokens/s (the T4's precision, use_reentrant=True)
into cm_lib/data/measured/gpu_throughput.json, which the plan's GPU minutes read.

    python benchmarks/gpu_course.py                   # on a CUDA GPU
    python benchmarks/gpu_course.py --dry-run         # on a CPU: tiny shapes, 2 steps, proves the script runs

Weights are random (speed and memory do not depend on their values). Shapes come from cm_lib's model presets
(through benchmarks/gpu_train.py), the LoRA recipe from the `colab-t4` hardware preset. The figures calibrate
cm_lib/data/measured/gpu_throughput.json (the plan's estimates); a GPU other than a T4 measures its own speed.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib.util
import json
import platform
import tempfile
import time
from pathlib import Path

import torch

# benchmarks/gpu_train.py (this folder is on sys.path when the script runs): the presets' shapes, parameter counts
from gpu_train import _config, _count, throughput_rows
from transformers import LlamaConfig, LlamaForCausalLM

from cm_lib.models.presets import model_preset
from cm_lib.train.presets import hardware_preset
from cm_lib.train.recipe import lora_config, upcast_trainable

OUT = Path(__file__).resolve().parent / "results" / "gpu_course.json"
PRESET = "colab-t4"
MODELS = (("tinyllama-1.1b", "lora"), ("llama2-7b", "qlora"))


def _shape(name: str, dry_run: bool) -> LlamaConfig:
    """The preset's LlamaConfig, or (dry run) a tiny config with the same head layout."""
    cfg = _config(name)
    if dry_run:
        p = model_preset(name)
        ratio = max(1, p.heads // p.kv_heads)
        cfg = LlamaConfig(vocab_size=256, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                          num_attention_heads=4, num_key_value_heads=max(1, 4 // ratio), max_position_embeddings=256,
                          tie_word_embeddings=p.tied_embeddings)
    cfg._attn_implementation = "sdpa"
    return cfg


def _optimizer(params: list, device: str) -> tuple[torch.optim.Optimizer, str]:
    """bitsandbytes' paged 8-bit AdamW on CUDA where installed (the preset's optim), else torch's AdamW."""
    preset = hardware_preset(PRESET)
    if device == "cuda" and importlib.util.find_spec("bitsandbytes") is not None and "8bit" in preset.optim:
        import bitsandbytes as bnb

        return bnb.optim.PagedAdamW8bit(params, lr=preset.learning_rate), "paged_adamw_8bit"
    return torch.optim.AdamW(params, lr=preset.learning_rate), "adamw_torch"


def _load(name: str, method: str, dtype: torch.dtype, device: str, dry_run: bool, tmp: Path) -> tuple:
    """A random model of `name`'s shape ready for LoRA: a 16-bit frozen base (lora) or a 4-bit NF4 base (qlora)."""
    cfg = _shape(name, dry_run)
    torch.manual_seed(0)
    t0 = time.perf_counter()
    if method == "qlora" and device == "cuda":
        from peft import prepare_model_for_kbit_training
        from transformers import BitsAndBytesConfig

        folder = tmp / name
        if not (folder / "config.json").is_file():  # saved once, reloaded in 4-bit for each compute dtype
            with torch.device("cuda"):
                model = LlamaForCausalLM(cfg).to(torch.bfloat16)
            model.save_pretrained(folder)
            del model
            gc.collect()
            torch.cuda.empty_cache()
        bnb = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                                 bnb_4bit_compute_dtype=dtype)
        model = LlamaForCausalLM.from_pretrained(folder, quantization_config=bnb, dtype=dtype, device_map={"": 0})
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)  # checkpointing set below
        used = "qlora-nf4"
    else:  # LoRA on a frozen 16-bit base (fp32 on a CPU dry run; no 4-bit off CUDA)
        with torch.device(device):
            model = LlamaForCausalLM(cfg)
        model.to(dtype if device == "cuda" else torch.float32)
        used = "lora" if method == "lora" else "lora (4-bit needs CUDA)"
    return model, used, time.perf_counter() - t0


def measure(name: str, method: str, dtype: torch.dtype, reentrant: bool, device: str, steps: int, batch: int,
            seq: int, dry_run: bool, tmp: Path) -> dict:
    """Train `steps` steps after 2 warm-up steps with the T4 plan's settings; s/step, tokens/s, peak GiB, last loss."""
    from peft import get_peft_model

    preset = hardware_preset(PRESET)
    model, used, load_s = _load(name, method, dtype, device, dry_run, tmp)
    model.config.use_cache = False
    model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": reentrant})
    model.enable_input_require_grads()  # reentrant checkpointing needs inputs that require grad (frozen embeddings)
    model = get_peft_model(model, lora_config(preset, model_preset(name).lora_targets))
    upcast_trainable(model)  # fp32 trainable weights: GradScaler refuses fp16 gradients
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt, optim = _optimizer(params, device)
    scaler = torch.amp.GradScaler(device, enabled=dtype == torch.float16)
    gen = torch.Generator(device=device).manual_seed(0)
    ids = torch.randint(0, model.config.vocab_size, (batch, seq), device=device, generator=gen)
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    loss = torch.tensor(0.0)
    start = time.perf_counter()
    for i in range(steps + 2):
        if i == 2:
            if device == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
        with torch.autocast(device, dtype=dtype):
            loss = model(input_ids=ids, labels=ids).loss
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        opt.zero_grad(set_to_none=True)
    if device == "cuda":
        torch.cuda.synchronize()
    sec = (time.perf_counter() - start) / steps
    row = dict(model=name, method=used, dtype=str(dtype).replace("torch.", ""), use_reentrant=reentrant, optim=optim,
               batch=batch, seq=seq, lora_r=preset.lora_r, params=_count(model), s_per_step=round(sec, 4),
               tokens_per_s=round(batch * seq / sec, 1), load_s=round(load_s, 1), loss=round(float(loss.detach()), 4),
               peak_gib=round(torch.cuda.max_memory_allocated() / 2**30, 2) if device == "cuda" else None)
    del model, opt
    gc.collect()
    if device == "cuda":
        torch.cuda.empty_cache()
    return row


def course_smoke(notebooks: bool) -> dict:
    """The course's smoke plan trained on this device through cm_lib (or notebooks 03-06 executed headless)."""
    from cm_lib.course import course_plan_summary, ensure_stages, run_course

    t0 = time.perf_counter()
    if notebooks:
        runs = run_course(smoke=True, only=["03", "04", "05", "06"])
        return {"what": "notebooks 03-06, smoke mode", "ok": bool(runs) and all(r.ok for r in runs),
                "seconds": {r.name: round(r.seconds, 1) for r in runs}, "total_s": round(time.perf_counter() - t0, 1)}
    summary = course_plan_summary(True)
    built = ensure_stages(["composer", "cpt", "composer_sft", "sft", "reader"], smoke=True)
    return {"what": "every run of the smoke plan (ensure_stages)", "plan": summary, "built": built, "ok": True,
            "total_s": round(time.perf_counter() - t0, 1)}


def main() -> None:
    """Measure every configuration within the time budget, then the course smoke run; write the JSON."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dry-run", action="store_true", help="tiny shapes and 2 steps on any device (a CPU check)")
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--budget-s", type=float, default=330.0, help="start no new configuration after this many s")
    ap.add_argument("--skip-7b", action="store_true")
    ap.add_argument("--notebooks", action="store_true", help="execute notebooks 03-06 (smoke) instead of the runs")
    ap.add_argument("--no-course", action="store_true", help="skip the course smoke run")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--record", action="store_true",
                    help="on a T4/L4: write the tokens/s into cm_lib/data/measured/gpu_throughput.json")
    args = ap.parse_args()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu" and not args.dry_run:
        raise SystemExit("needs a CUDA GPU; on a CPU run it with --dry-run (tiny shapes) to check the script")
    preset = hardware_preset(PRESET)
    batch, seq, steps = (2, 64, 2) if args.dry_run else (preset.batch_size, preset.seq_len, args.steps)
    dtypes = [torch.float16, torch.bfloat16]
    if device == "cuda" and not torch.cuda.is_bf16_supported(including_emulation=False):
        dtypes = [torch.float16]  # a T4 has no bf16
    begin = time.perf_counter()
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, method in MODELS:
            if args.skip_7b and method == "qlora":
                continue
            for dtype in dtypes:
                for reentrant in (True, False):
                    if time.perf_counter() - begin > args.budget_s:
                        rows.append(dict(model=name, dtype=str(dtype), use_reentrant=reentrant, skipped="time budget"))
                        continue
                    try:
                        row = measure(name, method, dtype, reentrant, device, steps, batch, seq, args.dry_run,
                                      Path(tmp))
                    except (RuntimeError, ValueError, ImportError) as err:  # e.g. out of memory: record, go on
                        row = dict(model=name, method=method, dtype=str(dtype).replace("torch.", ""),
                                   use_reentrant=reentrant, error=f"{type(err).__name__}: {str(err)[:300]}")
                        with contextlib.suppress(RuntimeError):
                            torch.cuda.empty_cache()
                    rows.append(row)
                    print(json.dumps(row), flush=True)
    result = {"device": torch.cuda.get_device_name(0) if device == "cuda" else f"CPU ({platform.machine()})",
              "dry_run": args.dry_run, "preset": PRESET, "torch": torch.__version__,
              "bitsandbytes": importlib.util.find_spec("bitsandbytes") is not None, "rows": rows,
              "benchmark_s": round(time.perf_counter() - begin, 1)}
    if not args.no_course:
        result["course_smoke"] = course_smoke(args.notebooks)
        print(json.dumps(result["course_smoke"]), flush=True)
    result["total_s"] = round(time.perf_counter() - begin, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out} ({result['total_s']} s)")
    if args.record:
        record(rows, device, args.dry_run)


def record(rows: list[dict], device: str, dry_run: bool) -> None:
    """Write the T4 plan's measured tokens/s on this GPU into gpu_throughput.json (only where the plan runs colab-t4)."""
    from cm_lib.course.plan import plan_hardware
    from cm_lib.device import device_class, pick_device
    from cm_lib.measured import provenance, record_rows

    spec = pick_device()
    if dry_run or device != "cuda" or plan_hardware(spec)[0] != PRESET:
        print(f"not recorded: only a GPU whose plan trains with {PRESET} (T4, L4) measures its throughput here")
        return
    dtype = "bfloat16" if spec.bf16 else "float16"  # what build_trainer's autocast uses on this GPU
    mine = [r for r in rows if r.get("dtype") == dtype and r.get("use_reentrant") is True]
    new = throughput_rows(mine, device_class(spec), provenance(torch.cuda.get_device_name(0)),
                          script="benchmarks/gpu_course.py (colab-t4 settings)")
    print(f"recorded {len(new)} row(s) in {record_rows('gpu_throughput', new)}")


if __name__ == "__main__":
    main()
