"""`python -m cm_lib course run|plan`: the whole course headless, or the plan any machine would run."""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn

from cm_lib.errors import UsageError


class _OneLineParser(argparse.ArgumentParser):
    """A subcommand parser whose usage errors (unknown flag, missing value) are one line and exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {self.prog}: {message}\n")

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[no-untyped-def, override]
        ns, extra = super().parse_known_args(args, namespace)
        if extra:
            self.error(f"unrecognized arguments: {' '.join(extra)}")
        return ns, extra


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `course` subcommand."""
    p = sub.add_parser("course", help="run every notebook headless, or preview the plan of training runs")
    csub = p.add_subparsers(dest="action", required=True, parser_class=_OneLineParser)
    run = csub.add_parser("run", help="execute the notebooks in order")
    run.add_argument("--smoke", action="store_true", help="smoke mode (CM_SMOKE=1): seconds per notebook")
    run.add_argument("--only", nargs="*", help="run only notebooks whose name starts with these prefixes")
    run.set_defaults(func=_run)
    plan = csub.add_parser("plan", help="the runs notebooks 03-06 make on a device class: models, data, steps, "
                                        "precision, minutes and peak GPU memory (no GPU needed)")
    plan.add_argument("--device", help="cpu, t4, l4, a100-40, a100-80 or h100 (default: $CM_PLAN, else this machine)")
    plan.add_argument("--online", action="store_true", help="plan as if the Hugging Face Hub answers")
    plan.add_argument("--offline", action="store_true", help="plan as if offline (HF_HUB_OFFLINE=1)")
    plan.add_argument("--base", help="the LoRA track's base model preset on a GPU, e.g. llama2-7b "
                                     "(default: $CM_BASE_MODEL, else the GPU's default)")
    plan.add_argument("--smoke", action="store_true", help="the smoke-mode plan (CM_SMOKE=1)")
    plan.add_argument("--json", action="store_true", help="print JSON: device, online, why, runs, notebooks")
    plan.set_defaults(func=_plan)


def _run(args: argparse.Namespace) -> int:
    from cm_lib.course import run_course

    runs = run_course(smoke=args.smoke, only=args.only)
    return 0 if runs and all(r.ok for r in runs) else 1


def _plan(args: argparse.Namespace) -> int:
    import json

    from cm_lib.course.plan import check_choice

    if args.online and args.offline:
        raise UsageError("--online and --offline exclude each other: pass one of them (or neither: look)")
    device = args.device.strip().lower() if args.device is not None else None
    base = args.base.strip() if args.base is not None else None
    check_choice(device, base)  # before torch is imported
    from cm_lib.course import course_choice
    from cm_lib.course.cost import course_plan

    online = True if args.online else False if args.offline else None
    plan = course_plan(course_choice(args.smoke, device_class=device, online=online, base=base))
    if args.json:
        json.dump(plan.as_json(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(plan.text())
    return 0
