"""`python -m cm_lib abc render FILE [--index N] [--svg OUT] [--midi OUT] [--wav OUT]`."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from cm_lib.errors import AbcError, AssetNotFoundError


def add_render_parser(abc_subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the `render` subcommand to the `abc` stage's subparsers."""
    parser = abc_subparsers.add_parser(
        "render",
        help="render one tune of an ABC file as SVG sheet music, MIDI and/or WAV audio",
        description="Render one tune (0-based --index) of an ABC file. With no output option, print "
        "what the score holds (notes, staves, measures).",
    )
    parser.add_argument("file", type=Path, help="an .abc file")
    parser.add_argument("--index", type=int, default=0, help="which tune of the file, 0-based (default 0)")
    parser.add_argument("--svg", type=Path, metavar="OUT", help="write sheet music as SVG")
    parser.add_argument("--midi", type=Path, metavar="OUT", help="write a MIDI file")
    parser.add_argument("--wav", type=Path, metavar="OUT", help="write 16-bit mono WAV audio")
    parser.set_defaults(func=run_render)
    return parser


def _tunes(text: str) -> list[str]:
    """The tunes of a file's text (cm_lib.abc.split_tunes when available)."""
    try:
        from cm_lib.abc import split_tunes
    except ImportError:  # cm_lib.abc not installed yet: split on X: lines
        parts = re.split(r"^(?=X:)", text, flags=re.M)
        return [p for p in parts if p.lstrip().startswith("X:")] or ([text] if text.strip() else [])
    return [tune.text for tune in split_tunes(text)]


def run_render(args: argparse.Namespace) -> int:
    """Handler of `abc render`: exit 0 on success, 2 for missing files, bad index or unrenderable ABC."""
    from cm_lib import render

    path: Path = args.file
    if not path.is_file():
        raise AssetNotFoundError(f"no such file: {path}")
    tunes = _tunes(path.read_text(encoding="utf-8", errors="replace"))
    if not tunes:
        raise AbcError(f"{path}: no tune found")
    if not 0 <= args.index < len(tunes):
        raise AbcError(f"{path}: --index {args.index} out of range (the file holds {len(tunes)} tune(s): 0..{len(tunes) - 1})")
    abc = tunes[args.index]
    picture = render.svg(abc)
    staves = render.staff_count(picture)
    print(
        f"{path}#{args.index}: {render.note_count(picture)} notes, {staves} {'staff' if staves == 1 else 'staves'}, "
        f"{render.measure_count(picture)} measures"
    )
    if args.svg:
        args.svg.write_text(picture, encoding="utf-8")
        print(f"wrote {args.svg}")
    if args.midi:
        args.midi.write_bytes(render.midi_bytes(abc))
        print(f"wrote {args.midi}")
    if args.wav:
        render.write_wav(abc, args.wav)
        print(f"wrote {args.wav}")
    sys.stdout.flush()
    return 0
