"""`python -m cm_lib models {list,prepare}`: the model presets and their local folders."""

from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `models` subcommand."""
    p = sub.add_parser("models", help="list model presets or prepare one as a local folder")
    msub = p.add_subparsers(dest="action", required=True)
    ls = msub.add_parser("list", help="table of presets (hub id, size, offline, gated)")
    ls.add_argument("--json", action="store_true", help="print JSON instead of a table")
    ls.set_defaults(func=_list)
    prep = msub.add_parser("prepare", help="build/convert/download a preset into a local HF folder")
    prep.add_argument("name", help="preset name (see `models list`) or a local model folder")
    prep.add_argument("--json", action="store_true", help="print name, path, architecture, parameters as JSON")
    prep.set_defaults(func=_prepare)


def _list(args: argparse.Namespace) -> int:
    from cm_lib.models import list_presets

    presets = list_presets()
    if args.json:
        print(json.dumps([p.as_row() for p in presets], indent=2))
        return 0
    cols = ["name", "hub_id", "params", "offline", "gated", "4bit", "min_gpu_gb", "licence"]
    rows = [
        [
            p.name,
            p.hub_id or "-",
            _human(p.approx_params),
            "yes" if p.offline else "no",
            "yes" if p.gated else "no",
            "yes" if p.quantize_4bit_default else "no",
            "-" if p.min_gpu_gb is None else f"{p.min_gpu_gb:g}",
            p.licence,
        ]
        for p in presets
    ]
    widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(cols)]
    for line in [cols, ["-" * w for w in widths], *rows]:
        print("  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip())
    return 0


def _prepare(args: argparse.Namespace) -> int:
    from cm_lib.models import model_info, prepare

    path = prepare(args.name)
    info = model_info(path)
    info["name"] = args.name
    if args.json:
        print(json.dumps(info))
    else:
        print(f"{info['name']}: {info['architecture']}, {info['parameters']:,} parameters at {info['path']}")
    return 0


def _human(n: int) -> str:
    return f"{n / 1e9:.2f}B" if n >= 1e9 else f"{n / 1e6:.1f}M"
