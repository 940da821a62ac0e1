"""`python -m cm_lib corpus build|sources|stats`: build a MusicPile-style corpus offline."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def _build(args: argparse.Namespace) -> int:
    from cm_lib.corpus.build import build_corpus, check_out_dir
    from cm_lib.corpus.sources import check_licence

    check_out_dir(Path(args.out), args.overwrite)  # exit 2 before anything else: a file, or someone else's folder
    check_licence(list(args.source or []), args.allow_restricted)
    stats = build_corpus(Path(args.out), preset=args.preset, seed=args.seed, sources=args.source,
                         allow_restricted=args.allow_restricted, progress=not args.quiet, overwrite=args.overwrite)
    kept = sum(stats.kept.values())
    n_pre = sum(sum(v.values()) for v in stats.pretrain.values())
    n_sft = sum(sum(v.values()) for v in stats.sft.values())
    print(f"corpus {args.preset} (seed {args.seed}) -> {args.out}: {sum(stats.inputs.values())} tunes in, "
          f"{kept} kept, {sum(stats.rejections.values())} rejected, {sum(stats.duplicates.values())} duplicates; "
          f"{n_pre} pretrain and {n_sft} sft records")
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
    b.add_argument("--out", required=True, help="output folder: new, empty or a previous build (see --overwrite)")
    b.add_argument("--overwrite", action="store_true",
                   help="build into a non-empty folder that is not a previous build: replaces pretrain/, sft/, "
                        "README.md and stats.json there, keeps every other file")
    b.add_argument("--preset", default="small", choices=list(CORPUS_PRESETS))
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--source", action="append", metavar="NAME",
                   help="extra source added to the preset's defaults (see `corpus sources`; local:FOLDER or local:FILE.abc)")
    b.add_argument("--allow-restricted", action="store_true",
                   help="accept sources whose terms forbid LLM training (only with permission)")
    b.add_argument("--quiet", action="store_true", help="no progress bars")
    b.set_defaults(func=_build)
    s = sub.add_parser("sources", help="list the sources and their licences")
    s.set_defaults(func=_sources)
    st = sub.add_parser("stats", help="print the figures of a built corpus")
    st.add_argument("dir")
    st.set_defaults(func=_stats)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])
