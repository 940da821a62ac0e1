"""`python -m cm_lib train {cpt,sft}`: continual pre-training and SFT (runs unchanged under `accelerate launch`)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `train` subcommand with its `cpt` and `sft` stages."""
    from cm_lib.train.presets import HARDWARE_PRESETS  # light: dataclasses only

    parser = subparsers.add_parser("train", help="continual pre-training (cpt) or supervised fine-tuning (sft)")
    parser.add_argument("stage", choices=["cpt", "sft"], help="cpt: packed ABC text; sft: instructions, answer-only loss")
    parser.add_argument("--model", required=True, help="model preset (tiny, smollm2-135m, ...) or a model folder")
    parser.add_argument("--data", required=True, type=Path, help="corpus folder holding pretrain/ and sft/")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default runs/<stage>/<model>)")
    parser.add_argument("--hardware", default="cpu", choices=sorted(HARDWARE_PRESETS), help="hardware preset")
    parser.add_argument("--max-steps", type=int, default=None, help="optimizer steps (default: the preset's)")
    parser.add_argument("--save-steps", type=int, default=None, help="checkpoint every N steps")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--resume", action="store_true", help="continue from the newest complete checkpoint in --out (a larger --max-steps trains longer)")
    parser.add_argument("--overwrite", action="store_true",
                        help="start over in --out: delete an earlier run's checkpoints and outputs (other files are kept)")
    parser.add_argument("--lora", choices=["auto", "yes", "no"], default="auto",
                        help="auto: full-parameter for small (<50M) models, LoRA otherwise")
    parser.add_argument("--no-merge", action="store_true", help="skip merging the adapter into the base model")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    """Handler: train and print where the outputs are."""
    from cm_lib.train import train_cpt, train_sft

    fn = train_cpt if args.stage == "cpt" else train_sft
    lora = {"auto": None, "yes": True, "no": False}[args.lora]
    result = fn(args.model, args.data, out=args.out, hardware=args.hardware, max_steps=args.max_steps,
                save_steps=args.save_steps, seed=args.seed, resume=args.resume, lora=lora,
                merge_model=not args.no_merge, overwrite=args.overwrite)
    if args.json:
        print(json.dumps(result.to_json(), default=str))
    elif result.first_loss == result.first_loss:  # rank 0 (other ranks return NaN losses and print nothing)
        resumed = result.settings.get("resumed_from_step")
        note = (" (reused: same settings already trained)" if result.skipped
                else f" (continued from step {resumed})" if resumed else "")
        print(f"{args.stage}: {result.steps} steps, loss {result.first_loss:.3f} -> {result.final_loss:.3f}, "
              f"{result.seconds:.0f} s{note}\n  model: {result.model_dir}\n  merged: {result.merged_dir}")
    return 0
