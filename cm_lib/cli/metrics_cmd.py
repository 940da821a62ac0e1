"""`python -m cm_lib metrics FILE...`: the notebook-05 metric suite on ABC files, one JSON object per tune."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from cm_lib.errors import AbcError, AssetNotFoundError
from cm_lib.paths import atomic_write_text


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `metrics` subcommand."""
    p = sub.add_parser("metrics", help="music metrics of ABC tunes (validity, bars, key, structure, chords, novelty)")
    p.add_argument("paths", nargs="+", metavar="FILE", help="ABC files; every tune in them is measured")
    p.add_argument("--request", metavar="JSON",
                   help='what was asked, as JSON or a JSON file: {"key": "D major", "meter": "6/8", "unit": "1/8", '
                        '"form": "AABB", "chords": ["D", "G", "A7", "D"]}')
    p.add_argument("--reference", metavar="corpus|FILE",
                   help="real tunes to compare distributions with: 'corpus' (the course corpus's held-out test "
                        "split) or an ABC file")
    p.add_argument("--train", metavar="corpus|FILE",
                   help="training tunes for novelty and copy rate: 'corpus' (the corpus's train split) or an ABC file")
    p.add_argument("--parser", choices=["abc2midi", "abc2xml", "none"], default="abc2midi",  # metrics.validity.PARSERS
                   help="independent parser for valid_parser (default abc2midi; none skips it)")
    p.add_argument("--preset", default="small", help="corpus preset for 'corpus' (default small)")
    p.add_argument("--seed", type=int, default=0, help="corpus seed for 'corpus' (default 0)")
    p.add_argument("--corpus-dir", type=Path, help="built corpus folder (default: runs/corpus/<preset>)")
    p.add_argument("--json", type=Path, metavar="OUT", help="also write {tunes, summary} to OUT (atomically)")
    p.set_defaults(func=_metrics)


def _request(value: str | None) -> dict[str, Any]:
    from cm_lib.metrics import parse_request

    if value is None:
        return {}
    path = Path(value)
    if not value.lstrip().startswith("{") and path.is_file():
        value = path.read_text()
    return parse_request(value)


def _tunes(path: str) -> list:
    from cm_lib.abc import read_tunes

    p = Path(path)
    if not p.exists():
        raise AssetNotFoundError(f"{path}: no such file")
    tunes = read_tunes(p)
    if not tunes:
        raise AbcError(f"{path}: no tune in the file (no X: or K: line)")
    return tunes


def _ensure_corpus(args: argparse.Namespace) -> None:
    """Build the corpus of --preset/--seed/--corpus-dir if it is missing (the metrics read it, they never build it)."""
    from cm_lib.corpus import ensure_corpus

    ensure_corpus(args.preset, args.seed, args.corpus_dir)


def _texts(spec: str, split: str, args: argparse.Namespace) -> list[str]:
    from cm_lib.metrics import corpus_tunes

    if spec == "corpus":
        _ensure_corpus(args)
        return corpus_tunes(split, args.preset, args.seed, args.corpus_dir)
    return [t.text for t in _tunes(spec)]


def _metrics(args: argparse.Namespace) -> int:
    from cm_lib.metrics import NoveltyIndex, compare_sets, read_tune, summarize, training_index, tune_metrics

    request = _request(args.request)
    files = [(path, _tunes(path)) for path in args.paths]  # read everything first: bad input fails before work
    index = None
    if args.train == "corpus":
        _ensure_corpus(args)
        index = training_index(args.preset, args.seed, args.corpus_dir)
    elif args.train:
        index = NoveltyIndex.build(_texts(args.train, "train", args))
    parser = None if args.parser == "none" else args.parser
    rows = []
    for path, tunes in files:
        for tune in tunes:
            row = {"path": path, "index": tune.index, "title": tune.title}
            row.update(tune_metrics(tune.text, request or None, index, parser))
            rows.append(row)
            print(json.dumps(row))
    summary = summarize(rows)
    if request:
        summary["request"] = request
    if index is not None:
        summary["train"] = {"source": args.train, "n_tunes": len(index)}
    if args.reference:
        ref = _texts(args.reference, "test", args)
        generated = [read_tune(t) for _, tunes in files for t in tunes]
        summary["reference"] = {"source": args.reference, "n_tunes": len(ref)}
        summary["distributions"] = compare_sets(generated, [read_tune(t) for t in ref])
    print(json.dumps({"summary": summary}))
    if args.json:
        atomic_write_text(args.json, json.dumps({"tunes": rows, "summary": summary}, indent=1) + "\n")
        print(f"wrote {args.json}", file=sys.stderr)
    return 0
