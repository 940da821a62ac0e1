"""cm_lib.abc: splitting, headers, voices, file decoding, music21's corpus, cleaning."""

from __future__ import annotations

import pytest

from cm_lib.abc import (
    clean_tune,
    decode_abc_bytes,
    iter_music21_tunes,
    music21_abc_files,
    music21_corpus_dir,
    parse_tune,
    read_abc_file,
    read_tunes,
    split_tunes,
)
from cm_lib.errors import AbcError
from cm_lib.paths import data_samples_dir

TWO_TUNES = """% a file header comment
%%abc-version 2.1

X:1
T:First
T:Subtitle
M:6/8
L:1/8
K:Dmix
ABc def|
gfe dcB|

Some free text between tunes.

X:2
T:Second
K:Em
E2 F2|G4|]
"""


def test_split_tunes_fields_body_and_location() -> None:
    tunes = split_tunes(TWO_TUNES, source="mem.abc")
    assert [t.index for t in tunes] == [0, 1]
    first, second = tunes
    assert first.fields == [("X", "1"), ("T", "First"), ("T", "Subtitle"), ("M", "6/8"), ("L", "1/8"), ("K", "Dmix")]
    assert first.body == "ABc def|\ngfe dcB|"
    assert first.start_line == 4 and second.start_line == 15
    assert (first.title, first.key, first.meter, first.unit_length) == ("First", "Dmix", "6/8", "1/8")
    assert first.get("T") == "First" and first.get("Q") is None
    assert first.source == "mem.abc"
    assert "Some free text" not in first.text  # a blank line ends a tune (ABC 2.1)
    assert second.text == "X:2\nT:Second\nK:Em\nE2 F2|G4|]"
    assert (second.meter, second.unit_length) == (None, None)


def test_blank_line_followed_by_music_does_not_end_the_tune() -> None:
    tune = parse_tune("X:1\nK:C\nCDEF|\n\nGABc|]\n")
    assert tune.body == "CDEF|\n\nGABc|]"


def test_text_without_x_but_with_k_is_one_tune_and_none_is_an_error() -> None:
    tunes = split_tunes("T:Model output\nK:G\nGABc|")
    assert len(tunes) == 1 and tunes[0].key == "G" and tunes[0].get("X") is None
    assert split_tunes("just some prose, no music") == []
    with pytest.raises(AbcError):
        parse_tune("just some prose")


def test_voices_blocks_inline_and_single() -> None:
    blocks, inline = read_tunes(data_samples_dir() / "two_voices.abc")
    assert blocks.voices() == {"1": "F A c A|B d c2|A F G E|F4|]", "2": "F,, C, F, C,|B,, D, C,2|F, D, C, C,|F,,4|]"}
    assert inline.voices() == {"1": " F A c A|B d c2|\n A F G E|F4|]", "2": " F,, C, F, C,|B,, D, C,2|\n F, D, C, C,|F,,4|]"}
    single = parse_tune("X:1\nK:C\nCDEF|GABc|]")
    assert single.voices() == {"1": "CDEF|GABc|]"}


def test_decode_repairs_cp437_and_falls_back_to_latin1() -> None:
    assert decode_abc_bytes(b"K\x84lberkauf") == "Kälberkauf"
    assert decode_abc_bytes("K\x84lberkauf".encode()) == "Kälberkauf"  # C1 char stored as UTF-8
    assert decode_abc_bytes(b"Stra\x9een M\x81hle B\x94hmen") == "Straßen Mühle Böhmen"
    assert decode_abc_bytes(b"caf\xe9") == "café"  # not UTF-8: latin-1
    assert decode_abc_bytes("Ríl".encode()) == "Ríl"


def test_cp437_repair_on_a_real_essen_tune() -> None:
    path = music21_corpus_dir() / "essenFolksong" / "lux.abc"
    assert b"K\xc2\x84lberkauf" in path.read_bytes()
    tunes = read_tunes(path)
    tune = next(t for t in tunes if t.title and t.title.startswith("K") and "lberkauf" in t.title)
    assert tune.title == "Kälberkauf (40), S. 130"
    assert tune.index == 277 and tune.start_line == 4643
    assert not any(0x80 <= ord(c) < 0xA0 for c in read_abc_file(path))


def test_music21_corpus_counts_and_order() -> None:
    files = music21_abc_files()
    assert len(files) == 1146
    rels = [f.relative_to(music21_corpus_dir()).as_posix() for f in files]
    assert rels == sorted(rels) and rels[0] == "airdsAirs/book1.abc"
    counts: dict[str, int] = {}
    for name, _ in iter_music21_tunes():
        counts[name] = counts.get(name, 0) + 1
    assert counts == {"aird": 1180, "misc": 216, "essen": 8514, "oneill": 2009, "ryan": 1059}
    assert sum(counts.values()) == 12978
    first = next(iter_music21_tunes(["ryan"]))
    assert first[0] == "ryan" and first[1].title == "42d Highland Regiment -- Strathspey"
    with pytest.raises(AbcError):
        next(iter_music21_tunes(["nottingham"]))


def test_clean_tune_drops_metadata_and_is_idempotent() -> None:
    raw = (
        "X:1\r\nT:  Air  with   spaces \r\nN: transcribed by a@b.org\r\nZ:me <me@example.com>\r\n"
        "C:Trad, sent by x.y@mail.example.co.uk\r\n%%MIDI program 1\r\nM:3/4\r\nL:1/8\r\nK:G % key\r\n"
        "|:GAB   c2d|\r\nw: la la la\r\n% a comment line\r\nB:book\r\ne2 d2 [N:note]c2:|   \r\n"
    )
    cleaned = clean_tune(raw)
    assert cleaned == "X:1\nT:Air with spaces\nC:Trad, sent by\nM:3/4\nL:1/8\nK:G\n|:GAB c2d|\ne2 d2 c2:|\n"
    assert clean_tune(cleaned) == cleaned
    assert "Z:" in clean_tune(raw, drop_fields=["N"])


def test_clean_tune_idempotent_on_corpus_tunes() -> None:
    for n, (_, tune) in enumerate(iter_music21_tunes()):
        if n % 43:
            continue
        once = clean_tune(tune.text)
        assert clean_tune(once) == once
        assert "%" not in once and "@" not in once
        assert not any(line[:2] in ("N:", "Z:", "S:", "B:", "W:", "w:") for line in once.split("\n"))
