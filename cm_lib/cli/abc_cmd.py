"""`python -m cm_lib abc ...`: check, describe and transpose ABC files (render: cm_lib.cli.render_cmd)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from cm_lib.abc.check import LEVELS
from cm_lib.cli.render_cmd import add_render_parser
from cm_lib.errors import AbcError

if TYPE_CHECKING:
    from cm_lib.abc.tune import Tune


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `abc` subcommand and its actions."""
    p = sub.add_parser("abc", help="ABC notation: check, describe, transpose (and render) tunes")
    asub = p.add_subparsers(dest="action", required=True, metavar="ACTION")

    c = asub.add_parser("check", help="check ABC files; exit 0 if every tune is ok, 1 if not, 2 on I/O errors")
    c.add_argument("paths", nargs="+", metavar="PATH", help="ABC files")
    c.add_argument("--level", choices=LEVELS, default=LEVELS[0], help=f"strictness (default: {LEVELS[0]})")
    c.add_argument("--json", action="store_true", help="one JSON object per tune, one per line")
    c.set_defaults(func=_check)

    d = asub.add_parser("describe", help="key, meter, bars, notes and range of one tune")
    d.add_argument("path", metavar="FILE")
    d.add_argument("--index", type=int, default=0, help="which tune of the file (0-based, default 0)")
    d.add_argument("--json", action="store_true", help="print JSON")
    d.set_defaults(func=_describe)

    t = asub.add_parser("transpose", help="print one tune transposed by N semitones")
    t.add_argument("path", metavar="FILE")
    t.add_argument("--semitones", type=int, required=True, metavar="N")
    t.add_argument("--index", type=int, default=0, help="which tune of the file (0-based, default 0)")
    t.set_defaults(func=_transpose)

    add_render_parser(asub)


def _read(path: str) -> str | None:
    """The file's text, or None after printing why it cannot be read."""
    from cm_lib.abc import read_abc_file

    try:
        return read_abc_file(path)
    except AbcError as err:  # not a regular file, too big, UTF-16: the message names the file
        print(f"error: {err}", file=sys.stderr)
        return None
    except (OSError, UnicodeDecodeError) as err:
        print(f"error: cannot read {path}: {err.strerror if isinstance(err, OSError) and err.strerror else err}",
              file=sys.stderr)
        return None


def _check(args: argparse.Namespace) -> int:
    from cm_lib.abc import check_tune, split_tunes

    all_ok = True
    io_error = False
    for path in args.paths:
        text = _read(path)
        if text is None:
            io_error = True
            continue
        tunes = split_tunes(text, source=path)
        if not tunes:
            all_ok = False
            problem = {"code": "no-tune", "message": "no tune in the file (no X: or K: line)", "line": None,
                       "bar": None}
            if args.json:
                print(json.dumps({"path": path, "index": None, "title": None, "ok": False, "problems": [problem]}))
            else:
                print(f"{path}: FAIL no-tune: no tune in the file (no X: or K: line)")
            continue
        for tune in tunes:
            result = check_tune(tune, args.level)
            all_ok = all_ok and result.ok
            if args.json:
                print(json.dumps({
                    "path": path, "index": tune.index, "title": tune.title, "ok": result.ok,
                    "problems": [{"code": p.code, "message": p.message, "line": p.line, "bar": p.bar,
                                  "severity": p.severity} for p in result.problems],
                }, ensure_ascii=False))
            else:
                status = "ok" if result.ok else "FAIL"
                print(f"{path} #{tune.index} {tune.title or '(untitled)'}: {status}")
                for p in result.problems:
                    where = f"line {tune.start_line + p.line - 1}" if p.line else "tune"
                    bar = f", bar {p.bar}" if p.bar else ""
                    print(f"  {where}{bar}: {p.severity} {p.code}: {p.message}")
    if io_error:
        return 2
    return 0 if all_ok else 1


def _pick(path: str, index: int) -> Tune | None:
    from cm_lib.abc import split_tunes

    text = _read(path)
    if text is None:
        return None
    tunes = split_tunes(text, source=path)
    if not tunes:
        print(f"error: {path} holds no tune", file=sys.stderr)
        return None
    if not 0 <= index < len(tunes):
        print(f"error: {path} holds {len(tunes)} tune(s); --index {index} is out of range", file=sys.stderr)
        return None
    return tunes[index]


def _describe(args: argparse.Namespace) -> int:
    from cm_lib.abc import describe

    tune = _pick(args.path, args.index)
    if tune is None:
        return 2
    info = describe(tune.text).as_dict()
    if args.json:
        print(json.dumps(info, ensure_ascii=False))
    else:
        for k, v in info.items():
            print(f"{k:>17}: {v}")
    return 0


def _transpose(args: argparse.Namespace) -> int:
    from cm_lib.abc import transpose

    tune = _pick(args.path, args.index)
    if tune is None:
        return 2
    print(transpose(tune.text, args.semitones))
    return 0
