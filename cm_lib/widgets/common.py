"""What every widget shows alike: an audio player for a tune."""

from __future__ import annotations

import base64
import html

from cm_lib import render
from cm_lib.errors import AbcError


def audio_html(text: str, sample_rate: int = 22050) -> str:
    """An <audio controls> player holding the tune as a WAV data URI (an error line when it cannot play)."""
    try:
        wav = render.wav_bytes(text, sample_rate)
    except (AbcError, ValueError) as err:
        return f'<div class="cm-audio-error">cannot play: {html.escape(str(err))}</div>'
    data = base64.b64encode(wav).decode("ascii")
    return f'<audio class="cm-audio" controls src="data:audio/wav;base64,{data}"></audio>'
