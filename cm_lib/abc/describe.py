"""Describe a tune as data for later stages: key, mode, meter, size, range."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from cm_lib.abc.keys import midi_name, parse_key
from cm_lib.abc.pitch import tune_notes
from cm_lib.abc.tune import parse_tune
from cm_lib.abc.walk import Walker, is_chord_symbol


@dataclass
class TuneDescription:
    """A tune's key, meter, size and range (MIDI numbers and names)."""

    title: str | None
    key: str | None  # the K: value as written, e.g. "G", "Ador"
    tonic: str | None  # "G", "F#", "Bb"; None for K:none or an invalid key
    mode: str | None  # major, minor, dorian, mixolydian, phrygian, lydian, locrian, none, HP/Hp
    meter: str | None
    unit_length: str | None
    n_bars: int  # bars of the first voice (bars with notes or rests)
    n_notes: int  # sounding notes of all voices (chords count once, tied continuations not)
    lowest: int | None
    highest: int | None
    lowest_name: str | None
    highest_name: str | None
    range_semitones: int | None
    n_voices: int
    has_repeats: bool
    has_chord_symbols: bool

    def as_dict(self) -> dict:
        """JSON-ready dict."""
        return asdict(self)


def describe(text: str) -> TuneDescription:
    """Describe the first tune of `text`; raises AbcError when there is no tune (notebook 01)."""
    tune = parse_tune(text)
    tonic = mode = None
    if tune.key is not None:
        try:
            k = parse_key(tune.key)
            tonic, mode = k.tonic, k.mode
        except ValueError:
            pass
    events = tune_notes(tune)
    sounding = [e.midi for e in events if not e.tied]
    voices = {e.voice for e in events}
    first_voice = events[0].voice if events else "1"
    bar_numbers = {e.bar for e in events if e.voice == first_voice}
    has_repeats = has_chords = False
    for ev in Walker(tune):
        if ev.kind == "bar" and (":" in ev.text or ev.text[-1].isdigit()):
            has_repeats = True
        elif ev.kind == "ending":
            has_repeats = True
        elif ev.kind == "quote" and is_chord_symbol(ev.text):
            has_chords = True
    low = min(sounding) if sounding else None
    high = max(sounding) if sounding else None
    return TuneDescription(
        title=tune.title,
        key=tune.key,
        tonic=tonic,
        mode=mode,
        meter=tune.meter,
        unit_length=tune.unit_length,
        n_bars=len(bar_numbers),
        n_notes=len(sounding),
        lowest=low,
        highest=high,
        lowest_name=midi_name(low) if low is not None else None,
        highest_name=midi_name(high) if high is not None else None,
        range_semitones=(high - low) if low is not None and high is not None else None,
        n_voices=max(len(voices), len(tune.voices())) if events else len(tune.voices()),
        has_repeats=has_repeats,
        has_chord_symbols=has_chords,
    )
