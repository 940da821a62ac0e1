"""`python -m cm_lib corpus build|sample|sources|stats`: build a MusicPile-style corpus; sample MusicPile from the hub."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from cm_lib.errors import UsageError
from cm_lib.paths import stage_dir


def _build(args: argparse.Namespace) -> int:
    from cm_lib.corpus.build import build_corpus
    from cm_lib.corpus.sources import check_licence
    from cm_lib.corpus.store import check_out_dir

    out = Path(args.out) if args.out else stage_dir("corpus") / args.preset
    check_out_dir(out, args.overwrite)  # exit 2 before anything else: a file, or someone else's folder
    check_licence(list(args.source or []), args.allow_restricted)
    stats = build_corpus(out, preset=args.preset, seed=args.seed, sources=args.source,
                         allow_restricted=args.allow_restricted, progress=not args.quiet, overwrite=args.overwrite)
    kept = sum(stats.kept.values())
    n_pre = sum(sum(v.values()) for v in stats.pretrain.values())
    n_sft = sum(sum(v.values()) for v in stats.sft.values())
    print(f"corpus {args.preset} (seed {args.seed}) -> {out}: {sum(stats.inputs.values())} tunes in, "
          f"{kept} kept, {sum(stats.rejections.values())} rejected, {sum(stats.duplicates.values())} duplicates; "
          f"{n_pre} pretrain and {n_sft} sft records")
    for name, h in stats.hub.items():
        print(_sample_line(name, h["kept"], h["n"], h["revision"], h["refused"]))
    return 0


def _sample_line(name: str, kept: int, n: int, revision: str, refused: dict[str, int]) -> str:
    gate = ", ".join(f"{k} {v}" for k, v in refused.items()) or "none"
    return f"{name}@{revision[:12]}: {kept} of {n} records kept; refused by the licence gate: {gate}"


def _parse_shares(items: list[str] | None) -> dict[str, float] | None:
    if not items:
        return None
    shares: dict[str, float] = {}
    for item in items:
        key, sep, value = item.partition("=")
        try:
            shares[key.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep or not key.strip():
            raise UsageError(f"--share takes SRC=WEIGHT (or CATEGORY=WEIGHT), e.g. --share scores=0.2, not {item!r}")
    return shares


def _sample(args: argparse.Namespace) -> int:
    from cm_lib.corpus.hub import sample_hub_dataset

    shares = _parse_shares(args.share)
    s = sample_hub_dataset(args.dataset, args.n, seed=args.seed, revision=args.revision, shares=shares,
                           allow_restricted=args.allow_restricted, split=args.split, progress=not args.quiet)
    print(_sample_line(s.dataset, s.kept, s.n, s.revision, s.refused) + f" -> {s.path}")
    return 0


def _sources(args: argparse.Namespace) -> int:
    from cm_lib.corpus.sources import SOURCES

    for info in SOURCES.values():
        flag = "" if info.trainable else "  [refused unless --allow-restricted]"
        where = "offline" if info.offline else "online"
        print(f"{info.name:22s} {info.kind:5s} {where:8s} {info.licence}{flag}")
    print(f"{'local:PATH':22s} abc   offline  your own folder of .abc files, or one .abc file (your licence)")
    return 0


def _stats(args: argparse.Namespace) -> int:
    from cm_lib.corpus import read_stats

    stats = read_stats(Path(args.dir))
    print(json.dumps({k: stats[k] for k in ("settings", "inputs", "kept", "rejections", "duplicates",
                                            "pretrain", "sft", "shares")}, indent=2, sort_keys=True))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `corpus` subcommand."""
    from cm_lib.corpus.spec import CORPUS_PRESETS

    p = subparsers.add_parser("corpus", help="build a MusicPile-style corpus (notebook 02)")
    sub = p.add_subparsers(dest="corpus_cmd", metavar="CMD")
    b = sub.add_parser("build", help="build DIR/pretrain, DIR/sft, DIR/README.md, DIR/stats.json")
    b.add_argument("--out", help="output folder: new, empty or a previous build (see --overwrite); "
                                  "default runs/corpus/PRESET")
    b.add_argument("--overwrite", action="store_true",
                   help="build into a non-empty folder that is not a previous build: replaces pretrain/, sft/, "
                        "README.md and stats.json there, keeps every other file")
    b.add_argument("--preset", default="small", choices=list(CORPUS_PRESETS),
                   help="musicpile-* presets sample MusicPile and MusicPile-sft from the hub (saved under runs/hub)")
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--source", action="append", metavar="NAME",
                   help="extra source added to the preset's defaults (see `corpus sources`; local:FOLDER or local:FILE.abc)")
    b.add_argument("--allow-restricted", action="store_true",
                   help="accept sources whose terms forbid LLM training (only with permission)")
    b.add_argument("--quiet", action="store_true", help="no progress bars")
    b.set_defaults(func=_build)
    sa = sub.add_parser("sample", help="a seeded, licence-filtered sample of a hub dataset, saved under runs/hub")
    sa.add_argument("--dataset", default="m-a-p/MusicPile", help="hub dataset id (default m-a-p/MusicPile)")
    sa.add_argument("-n", type=int, default=1000, help="records to keep (default 1000)")
    sa.add_argument("--seed", type=int, default=0)
    sa.add_argument("--revision", help="branch or commit sha (default: the pinned revision)")
    sa.add_argument("--split", default="train")
    sa.add_argument("--share", action="append", metavar="KEY=WEIGHT",
                    help="fix the mix: a `src` value or a category (scores, general, ...) and its weight; repeat")
    sa.add_argument("--allow-restricted", action="store_true",
                    help="keep records whose source forbids LLM training (IrishMAN; only with permission)")
    sa.add_argument("--quiet", action="store_true", help="no progress bar")
    sa.set_defaults(func=_sample)
    s = sub.add_parser("sources", help="list the sources and their licences")
    s.set_defaults(func=_sources)
    st = sub.add_parser("stats", help="print the figures of a built corpus")
    st.add_argument("dir")
    st.set_defaults(func=_stats)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])
