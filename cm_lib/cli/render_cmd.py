"""`python -m cm_lib abc render FILE [--index N] [--svg OUT] [--midi OUT] [--wav OUT]`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cm_lib.errors import AbcError, AssetNotFoundError, CourseError
from cm_lib.paths import atomic_write_bytes


class OutputError(CourseError):
    """An output file that cannot be written (a directory, a full or read-only disk)."""


def add_render_parser(abc_subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the `render` subcommand to the `abc` stage's subparsers."""
    parser = abc_subparsers.add_parser(
        "render",
        help="render one tune of an ABC file as SVG sheet music, MIDI and/or WAV audio",
        description="Render one tune (0-based --index) of an ABC file. With no output option, print "
        "what the score holds (notes, staves, measures). Each output is written whole or not at all.",
    )
    parser.add_argument("file", type=Path, help="an .abc file")
    parser.add_argument("--index", type=int, default=0, help="which tune of the file, 0-based (default 0)")
    parser.add_argument("--svg", type=Path, metavar="OUT", help="write sheet music as SVG")
    parser.add_argument("--midi", type=Path, metavar="OUT", help="write a MIDI file")
    parser.add_argument("--wav", type=Path, metavar="OUT", help="write 16-bit mono WAV audio")
    parser.set_defaults(func=run_render)
    return parser


def _write(path: Path, data: bytes) -> None:
    try:
        atomic_write_bytes(path, data)
    except OSError as err:
        raise OutputError(f"cannot write {path}: {err.strerror or err}") from None
    print(f"wrote {path}")


def run_render(args: argparse.Namespace) -> int:
    """Handler of `abc render`: exit 0 on success, 2 for missing files, bad index or unrenderable ABC."""
    from cm_lib import render
    from cm_lib.abc import read_abc_file, split_tunes

    path: Path = args.file
    if not path.exists():
        raise AssetNotFoundError(f"no such file: {path}")
    for out in (args.svg, args.midi, args.wav):
        if out is not None and out.is_dir():
            raise OutputError(f"cannot write {out}: it is a directory")
    try:
        text = read_abc_file(path)
    except OSError as err:
        raise AssetNotFoundError(f"cannot read {path}: {err.strerror or err}") from None
    tunes = [tune.text for tune in split_tunes(text)]
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
    # everything is rendered before anything is written: an unrenderable part leaves no file behind
    outputs = []
    if args.svg:
        outputs.append((args.svg, picture.encode("utf-8")))
    if args.midi:
        outputs.append((args.midi, render.midi_bytes(abc)))
    if args.wav:
        outputs.append((args.wav, render.wav_bytes(abc)))
    for out, data in outputs:
        _write(out, data)
    sys.stdout.flush()
    return 0
