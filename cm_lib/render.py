"""See and hear ABC offline: ABC -> MusicXML (abc2xml) -> SVG and MIDI (verovio) -> audio (SoundFont).

Route, and why: verovio's own ABC import draws one voice only and nothing for
bar-less text, and music21 mis-assigns inline ``[V:n]`` voices. Wim Vree's ``abc2xml`` (LGPL,
bundled in the ``abctoolkit`` wheel; we call it, we do not copy it) turns ABC into MusicXML with
each voice on its own staff; verovio engraves that MusicXML as SVG and also writes its MIDI, so
what you hear is exactly what you see. music21 is the fallback when abc2xml gives up.
"""

from __future__ import annotations

import base64
import contextlib
import html
import io
import re
import threading
import warnings
import wave
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

from cm_lib.errors import AbcError
from cm_lib.paths import atomic_write_bytes

DEFAULT_WIDTH = 900
DEFAULT_SCALE = 40
MAX_SCORE_HEIGHT = 480  # pixels of a shown score; a longer one scrolls in its box
TAIL_SECONDS = 0.5  # audio keeps ringing this long after the last note ends
_LOCK = threading.Lock()  # abc2xml keeps module-level parser state
_NOTE_RE = re.compile(r'class="note(?:\s[^"]*)?"')
_MEASURE_RE = re.compile(r'class="measure(?:\s[^"]*)?"')
_STAFF_N_RE = re.compile(r'<g\b[^>]*class="staff(?:\s[^"]*)?"[^>]*>')
# abc2xml's parser slows down badly (worse than linearly) on broken text, e.g. thousands of unclosed "[" on a line,
# and on very long text: bound what is handed to it.
MAX_RENDER_CHARS = 100_000
MAX_RENDER_ERRORS = 100


def _refuse_unrenderable(abc: str) -> None:
    """AbcError for text too long or too broken to hand to abc2xml (it would take minutes)."""
    if len(abc) > MAX_RENDER_CHARS:
        raise AbcError(f"cannot render this ABC: {len(abc):,} characters, more than the {MAX_RENDER_CHARS:,} "
                       "the renderer accepts (render one tune at a time)")
    from cm_lib.abc import check

    errors = check(abc).errors
    if len(errors) > MAX_RENDER_ERRORS:
        raise AbcError(f"cannot render this ABC: {len(errors)} syntax errors (more than {MAX_RENDER_ERRORS}); "
                       "`python -m cm_lib abc check` lists them")


def _abc2xml_module():
    """The bundled abc2xml module (imported lazily: it builds its pyparsing grammar on import)."""
    from abctoolkit import abc2xml

    return abc2xml


def run_abc2xml(abc: str) -> tuple[str | None, str]:
    """MusicXML of the first tune via abc2xml (or None) and abc2xml's warnings; one call at a time (its parser keeps state)."""
    mod = _abc2xml_module()
    log = io.StringIO()
    with _LOCK, contextlib.redirect_stderr(log):
        try:
            docs = mod.getXmlScores(abc)
        except Exception as err:  # abc2xml is not a validator; any crash means "cannot convert"
            print(f"abc2xml failed: {err}", file=log)
            docs = []
    return (docs[0] if docs else None), log.getvalue()


def _music21_musicxml(abc: str) -> str | None:
    """MusicXML via music21's lenient ABC parser, or None if it fails."""
    try:
        from music21 import converter
        from music21.musicxml.m21ToXml import GeneralObjectExporter

        quiet = io.StringIO()
        with warnings.catch_warnings(), contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet):
            warnings.simplefilter("ignore")
            score = converter.parse(abc, format="abc")
            return GeneralObjectExporter(score).parse().decode("utf-8")
    except Exception:
        return None


def abc_to_musicxml(abc: str) -> str:
    """MusicXML text for the first tune in `abc` (abc2xml, music21 as fallback); AbcError if nothing renders."""
    if not isinstance(abc, str) or not abc.strip():
        raise AbcError("empty ABC text: nothing to render")
    _refuse_unrenderable(abc)
    xml, log = run_abc2xml(abc)
    if xml is None or "<note" not in xml:
        fallback = _music21_musicxml(abc)
        if fallback is not None and "<note" in fallback:
            return fallback
        lines = [line.strip("-* ") for line in log.splitlines() if line.strip()]
        detail = "; ".join(line for line in lines if not line.startswith("skipped header"))[:300]
        raise AbcError(f"cannot render this ABC: no notes could be read{': ' + detail if detail else ''}")
    return add_default_clefs(xml)


_PART_RE = re.compile(r"(<part\b[^>]*>.*?</part>)", re.S)
_ATTRS_RE = re.compile(r"<attributes>.*?</attributes>", re.S)
# MusicXML orders <attributes> children: divisions, key, time, staves, part-symbol, instruments, clef, ...
_BEFORE_CLEF_RE = re.compile(r"</(?:divisions|key|time|staves|part-symbol|instruments)>|<(?:divisions|key|time|staves|part-symbol|instruments)\b[^>]*/>")
TREBLE_CLEF = "<clef><sign>G</sign><line>2</line></clef>"


def add_default_clefs(musicxml: str) -> str:
    """Give every part whose first <attributes> has no <clef> a treble clef (ABC's default).

    abc2xml writes a clef only when the ABC names one (e.g. `V:2 clef=bass`); verovio then draws no
    clef at all and places key signatures as if there were none, so most tunes would look wrong.
    """

    def fix_part(match: re.Match[str]) -> str:
        part = match.group(1)
        attrs = _ATTRS_RE.search(part)
        if attrs is None or "<clef" in attrs.group():
            return part
        block = attrs.group()
        ends = list(_BEFORE_CLEF_RE.finditer(block))
        cut = ends[-1].end() if ends else len("<attributes>")
        fixed = block[:cut] + TREBLE_CLEF + block[cut:]
        return part[: attrs.start()] + fixed + part[attrs.end():]

    return _PART_RE.sub(fix_part, musicxml)


def _toolkit(musicxml: str, width: int = DEFAULT_WIDTH, scale: int = DEFAULT_SCALE):
    """A verovio toolkit with the MusicXML loaded, laid out `width` pixels wide at `scale` percent."""
    import verovio

    verovio.enableLog(verovio.LOG_OFF)
    # verovio keeps the default resource path (fonts) per thread, set in the thread that imported it;
    # a widget callback run in a kernel subshell thread would get none, so give each toolkit its own.
    tk = verovio.toolkit(False)
    if not tk.setResourcePath(str(resources.files("verovio") / "data")):
        raise AbcError("verovio could not load its fonts (reinstall the verovio package)")
    tk.setOptions(
        {
            "pageWidth": max(100, int(width * 100 / scale)),
            "pageHeight": 60000,
            "adjustPageHeight": True,
            "scale": scale,
            "breaks": "auto",
            "footer": "none",
            "svgAdditionalAttribute": ["staff@n"],
        }
    )
    if not tk.loadData(musicxml):
        raise AbcError("verovio could not load the MusicXML made from this ABC")
    return tk


def svg(abc: str, width: int = DEFAULT_WIDTH, scale: int = DEFAULT_SCALE) -> str:
    """Sheet music of the first tune as SVG text (all pages joined); AbcError if unrenderable."""
    tk = _toolkit(abc_to_musicxml(abc), width, scale)
    pages = [tk.renderToSVG(i) for i in range(1, tk.getPageCount() + 1)]
    out = "\n".join(pages)
    if note_count(out) == 0 and not re.search(r'class="m?[Rr]est[" ]', out):
        raise AbcError("cannot render this ABC: the score has no notes")
    return out


def note_count(svg_text: str) -> int:
    """Number of engraved notes (elements of class "note") in a verovio SVG."""
    return len(_NOTE_RE.findall(svg_text))


def measure_count(svg_text: str) -> int:
    """Number of engraved measures in a verovio SVG."""
    return len(_MEASURE_RE.findall(svg_text))


def staff_count(svg_text: str) -> int:
    """Number of distinct staves (one per voice/part) in a verovio SVG made by `svg`."""
    numbers = set()
    for tag in _STAFF_N_RE.findall(svg_text):
        found = re.search(r'data-n="(\d+)"', tag)
        numbers.add(found.group(1) if found else "1")
    return len(numbers)


def midi_bytes(abc: str) -> bytes:
    """A Standard MIDI File of the first tune (verovio from the same MusicXML as the score; repeats played)."""
    tk = _toolkit(abc_to_musicxml(abc))
    data = base64.b64decode(tk.renderToMIDI())
    if not data.startswith(b"MThd"):
        raise AbcError("verovio produced no MIDI for this ABC")
    return data


def _pretty_midi(data: bytes):
    """Parse MIDI bytes with pretty_midi, silencing its warning about tempo events on every track."""
    import pretty_midi

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pretty_midi.PrettyMIDI(io.BytesIO(data))


@lru_cache(maxsize=1)
def soundfont_path() -> Path | None:
    """The General MIDI SoundFont shipped in pretty_midi's wheel (TimGM6mb.sf2), or None."""
    try:
        import pretty_midi
    except ImportError:  # pragma: no cover
        return None
    path = Path(pretty_midi.__file__).parent / "TimGM6mb.sf2"
    return path if path.exists() else None


def _synth_soundfont(pm, sample_rate: int, sf2: Path) -> np.ndarray:
    """Render a PrettyMIDI with tinysoundfont: mono float32, TAIL_SECONDS after the last note."""
    import tinysoundfont

    synth = tinysoundfont.Synth(samplerate=sample_rate)
    sfid = synth.sfload(str(sf2))
    events: list[tuple[float, int, int, int, int]] = []  # (time, on?, channel, key, velocity)
    channels = iter([c for c in range(16) if c != 9] * 16)  # melodic tracks take channels 0-8, 10-15
    for inst in pm.instruments:
        chan = 9 if inst.is_drum else next(channels)
        synth.program_select(chan, sfid, 128 if inst.is_drum else 0, 0 if inst.is_drum else inst.program)
        for note in inst.notes:
            events.append((note.start, 1, chan, note.pitch, note.velocity))
            events.append((note.end, 0, chan, note.pitch, 0))
    events.sort(key=lambda e: (e[0], e[1]))
    total = int(round((pm.get_end_time() + TAIL_SECONDS) * sample_rate))
    out = np.zeros(total, dtype=np.float32)
    pos = 0
    for time, on, chan, key, vel in [*events, (total / sample_rate, -1, 0, 0, 0)]:
        target = min(total, int(round(time * sample_rate)))
        if target > pos:
            block = np.frombuffer(synth.generate(target - pos), dtype=np.float32).reshape(-1, 2)
            out[pos:target] = block.mean(axis=1)
            pos = target
        if on == 1:
            synth.noteon(chan, key, vel)
        elif on == 0:
            synth.noteoff(chan, key)
    return out


def audio(abc: str, sample_rate: int = 22050) -> np.ndarray:
    """Mono float32 audio of the tune (General MIDI piano via tinysoundfont; sine synth fallback)."""
    pm = _pretty_midi(midi_bytes(abc))
    sf2 = soundfont_path()
    wav = None
    if sf2 is not None:
        try:
            wav = _synth_soundfont(pm, sample_rate, sf2)
        except Exception:  # tinysoundfont missing or failing: fall back to the pure-numpy synth
            wav = None
    if wav is None:
        total = int(round((pm.get_end_time() + TAIL_SECONDS) * sample_rate))
        wav = pm.synthesize(fs=sample_rate).astype(np.float32)[:total]
        wav = np.pad(wav, (0, total - len(wav)))
    peak = float(np.abs(wav).max()) if len(wav) else 0.0
    return (wav / peak * 0.9).astype(np.float32) if peak > 0 else wav


_audio_array = audio  # `show` has a parameter named audio


def wav_bytes(abc: str, sample_rate: int = 22050) -> bytes:
    """The tune's audio as the bytes of a 16-bit mono WAV file."""
    samples = (np.clip(audio(abc, sample_rate), -1, 1) * 32767).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(samples.tobytes())
    return buf.getvalue()


def write_wav(abc: str, path: str | Path, sample_rate: int = 22050) -> Path:
    """Write the tune's audio as a 16-bit mono WAV file (atomically: never half-written); returns the path."""
    return atomic_write_bytes(path, wav_bytes(abc, sample_rate))


def _error_box(abc: str, err: Exception) -> str:
    """HTML shown in place of a score that cannot be rendered."""
    return (
        f'<div style="border:2px solid #c33;padding:6px"><b>cannot render:</b> {html.escape(str(err))}'
        f"<pre>{html.escape(abc[:2000])}</pre></div>"
    )


def _score_box(picture: str) -> str:
    """A score's SVG on white, scrolling inside MAX_SCORE_HEIGHT pixels (a long tune does not flood the page)."""
    return f'<div style="background:white;max-height:{MAX_SCORE_HEIGHT}px;overflow-y:auto">{picture}</div>'


def show(abc: str, audio: bool = True, title: str | None = None) -> None:
    """Display the score (SVG) and an audio player in a notebook; unrenderable text shows a red box."""
    from IPython.display import HTML, Audio, display

    head = f"<h4>{html.escape(title)}</h4>" if title else ""
    try:
        picture = svg(abc)
    except AbcError as err:
        display(HTML(head + _error_box(abc, err)))
        return
    display(HTML(head + _score_box(picture)))
    if audio:
        sample_rate = 22050
        display(Audio(_audio_array(abc, sample_rate), rate=sample_rate))


def side_by_side_html(abcs: list[str], titles: list[str] | None = None, width: int = 450) -> str:
    """HTML of several scores in one flex row (used by `show_side_by_side`)."""
    titles = list(titles) if titles is not None else [f"#{i + 1}" for i in range(len(abcs))]
    if len(titles) != len(abcs):
        raise ValueError(f"{len(abcs)} tunes but {len(titles)} titles")
    cells = []
    for abc, title in zip(abcs, titles):
        try:
            body = _score_box(svg(abc, width=width))
        except AbcError as err:
            body = _error_box(abc, err)
        cells.append(f'<div style="flex:1;min-width:{width // 2}px"><h4>{html.escape(title)}</h4>{body}</div>')
    return '<div style="display:flex;gap:12px;align-items:flex-start">' + "".join(cells) + "</div>"


def show_side_by_side(abcs: list[str], titles: list[str] | None = None, width: int = 450) -> None:
    """Display several scores next to each other (e.g. before/after a transposition)."""
    from IPython.display import HTML, display

    display(HTML(side_by_side_html(abcs, titles, width)))
