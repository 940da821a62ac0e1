"""cm_lib.abc.check: verdicts on hand-made snippets for every construct and problem code, corpus rates."""

from __future__ import annotations

import time

import pytest

from cm_lib.abc import PROBLEM_CODES, check, check_all, check_tune, classify, iter_music21_tunes, read_tunes
from cm_lib.abc.check import WARNING_CODES
from cm_lib.errors import AbcError
from cm_lib.paths import data_samples_dir

HEAD = "X:1\nT:t\nM:4/4\nL:1/8\nK:C\n"  # 5 header lines: the body starts on tune line 6

GOOD = {
    "notes, accidentals, octaves": "^C_D=E^^F __GC,c'C,,|]",
    "lengths": "A2 A/2A/ A3/2A/2 A3|A//A//A/ A B6|]",
    "broken rhythm": "A>B c<d A>>B c2|]",
    "rests": "z2 x2 z4|Z2|z8|]",
    "bars and repeats": "|:A8:|:B8::c8|1 d8:|2 e8||[|f8|]",
    "endings with [1": "|:A8|[1 B8:|[2 c8|]",
    "chords": "[CEG]2 [C2E2G2] [CE]4|]",
    "chord symbols and annotations": '"Am7"A2 "^text"B2 "G/B"c4|]',
    "decorations": "!trill!A2 +fermata+B2 .c ~d HA uB|]",
    "grace notes": "{g}A2 {/ag}B2 {gef}c4|]",
    "tuplets": "(3ABc (3:2:3def (3A2B2c2|]",
    "ties and slurs": "(AB-B2) (c2 d2)|A4-A4|]",
    "inline fields": "[K:D] A2 B2 c2 d2|[M:3/4] e2 f2 g2|[L:1/4] a3|]",
    "continuation and comments": "A2 B2 \\\nc2 d2|] % comment",
    "pickup and final bar": "E|A2B2c2d2|e8|d7|]",
    "section pickups": "E|A2B2c2d2|e7:|f|g8|a7|]",
    "multi-measure rest": "Z4|A8|]",
    "spacers": "A2`B2 y c4|]",
    "voices in V: blocks": "V:1\nA8|B8|]\nV:2\nC8|D8|]",
    "inline voices": "[V:1] A8|B8|\n[V:2] C8|D8|\n[V:1] c8|]\n[V:2] E8|]",
    "chord in grace and tie in chord": "{[ce]}A2 [A-c]2 [Ac]4|]",
}


@pytest.mark.parametrize("name", sorted(GOOD))
def test_good_snippets_pass_both_levels(name: str) -> None:
    for level in ("syntax", "bars"):
        result = check(HEAD + GOOD[name] + "\n", level)
        assert result.ok, (name, level, result.problems)
        assert result.problems == [], (name, level, result.problems)
        assert result.level == level


# body -> (code, line in the tune, bar) of the first problem, at syntax level
BAD = {
    "[CEG A2 B2|]": ("unclosed-chord", 6, 1),
    "A8 [CE\nB8|]": ("unclosed-chord", 6, 1),
    "A2]B2 c4|]": ("unopened-chord", 6, 1),
    "[]2 A6|]": ("empty-chord", 6, 1),
    "[C z]2 A6|]": ("bad-chord", 6, 1),
    "A8|B8|(3": ("dangling-tuplet", 6, 3),
    "A6 (3|B8|]": ("dangling-tuplet", 6, 1),
    "(1A A8|]": ("bad-tuplet", 6, 1),
    '"Am A8|]': ("unclosed-quote", 6, 1),
    "{ga A8|]": ("unclosed-grace", 6, 1),
    "A8}|]": ("unopened-grace", 6, 1),
    "{}A8|]": ("empty-grace", 6, 1),
    "{z}A8|]": ("bad-grace", 6, 1),
    "A8|A0 B8|]": ("bad-length", 6, 2),
    "A/0 A8|]": ("bad-length", 6, 1),
    ">A8|]": ("bad-broken-rhythm", 6, 1),
    "A8>|B8|]": ("bad-broken-rhythm", 6, 1),
    "A8|B8-": ("dangling-tie", 6, 2),
    "A8|\n-B8|]": ("dangling-tie", 7, 2),
    "A4 T B4|]": ("decoration-without-note", 6, 1),
    "A4 # B4|]": ("unknown-symbol", 6, 1),
    "A8|\nB4 ; c4|]": ("unknown-symbol", 7, 2),
    "A8|[Y:foo] B8|]": ("bad-inline-field", 6, None),
    "A8|[K:Xyz] B8|]": ("bad-K", 6, None),
    "A8|\nM:7/x\nB8|]": ("bad-M", 7, None),
    "This is plain English prose, not music.": ("not-music", 6, 1),
    "% only a comment": ("no-notes", 6, None),
}


@pytest.mark.parametrize("body", sorted(BAD))
def test_bad_snippets_are_caught_with_location(body: str) -> None:
    code, line, bar = BAD[body]
    result = check(HEAD + body + "\n")
    assert not result.ok
    first = result.problems[0]
    assert (first.code, first.line, first.bar) == (code, line, bar), result.problems
    assert first.severity == "error" and first.message


@pytest.mark.parametrize(
    ("text", "code", "line"),
    [
        ("T:t\nM:4/4\nK:C\nA8|]", "missing-X", 1),
        ("X:one\nK:C\nA8|]", "bad-X", 1),
        ("X:1\nT:t\nM:4/4\nL:1/8\nA8|]", "missing-K", 4),
        ("X:1\nK:H\nA8|]", "bad-K", 2),
        ("X:1\nK:Gxyz\nA8|]", "bad-K", 2),
        ("X:1\nM:FREI4/4\nK:C\nA8|]", "bad-M", 2),
        ("X:1\nL:0\nK:C\nA8|]", "bad-L", 2),
        ("X:1\nL:1/8x\nK:C\nA8|]", "bad-L", 2),
        ("X:1\nT:t\nK:C\n", "no-notes", 3),
    ],
)
def test_header_problems(text: str, code: str, line: int) -> None:
    result = check(text)
    assert not result.ok
    assert [(p.code, p.line) for p in result.problems] == [(code, line)]


def test_valid_header_variants() -> None:
    for key in ["G", "Gmaj", "Ador", "E phr", "F#m", "Bb", "Dmix", "C lydian", "none", "HP", "Hp", "D clef=bass",
                "G dor -8va", "D exp ^f ^c", "Am ^g", "bass"]:
        assert check(f"X:1\nK:{key}\nA8|]").ok, key
    for meter in ["C", "C|", "none", "2+3/8", "(2+2+3)/8", "12/8"]:
        assert check(f"X:1\nM:{meter}\nK:C\nA2|]").ok, meter


def test_prose_is_not_abc() -> None:
    prose = "This is a letter to a friend.\nIt has no music in it, only words."
    assert check(prose).codes == ["no-tune"]
    assert not check("X:1\nT:prose\nK:C\nDear John, the weather here is fine today.\n").ok


def test_warnings_keep_the_tune_ok() -> None:
    for body, code in [("(A8|]", "unbalanced-slur"), ("A8)|]", "unbalanced-slur"), ("z4-z4|]", "tie-on-rest")]:
        result = check(HEAD + body)
        assert result.ok and result.codes == [code] and result.warnings[0].severity == "warning"
        assert code in WARNING_CODES


def test_broken_rhythm_after_slur_and_tie() -> None:
    assert check(HEAD + "(AB)>c d2 e2 f|]", "bars").ok
    assert check(HEAD + "A>-A B-<B c2 d2|]", "bars").ok


BARS_BAD = {
    "A8 B|]": ("bar-too-long", 1),
    "A8|B4|c8|]": ("bar-too-short", 2),
    "E|A8|B6|]": ("bar-too-short", 3),
    "A8|B8 C8\nD8|]": ("missing-bar-line", 2),
    "A8|(3ABc d5|A8|]": ("bar-too-short", 2),
    "A>B>c2 d4|A8|B9|]": ("bar-too-long", 3),
}


@pytest.mark.parametrize("body", sorted(BARS_BAD))
def test_bar_durations(body: str) -> None:
    code, bar = BARS_BAD[body]
    assert check(HEAD + body, "syntax").ok
    result = check(HEAD + body, "bars")
    assert [(p.code, p.bar) for p in result.problems] == [(code, bar)], result.problems


def test_bar_problem_details() -> None:
    result = check(HEAD + "A8|B8 C8\nD8|]", "bars")
    (p,) = result.problems
    assert p.line == 6 and "lasts 3 of a whole note; the meter asks for 1" in p.message and "line end" in p.message
    # the first bar is alone in being a short non-final bar when it is the pickup
    assert check(HEAD + "A2|B8|c6|]", "bars").ok
    # free meter is not measured; a meter change applies from its bar on
    assert check("X:1\nM:none\nL:1/8\nK:C\nA8 B3|c|]", "bars").ok
    assert check(HEAD + "A8|\nM:3/4\nB6|c6|]", "bars").ok
    assert check(HEAD + "A8|\nM:3/4\nB8|]", "bars").codes == ["bar-too-long"]
    # a new section may open with its own pickup after a complete bar
    assert check(HEAD + "A8|B8||C|D8|E8|]", "bars").ok


def test_bars_per_voice() -> None:
    text = "X:1\nM:4/4\nL:1/8\nK:C\nV:1\nA8|B8|]\nV:2\nC8|D9|]\n"
    result = check(text, "bars")
    (p,) = result.problems
    assert (p.code, p.bar, p.line) == ("bar-too-long", 2, 8) and "voice 2" in p.message
    inline = "X:1\nM:4/4\nL:1/8\nK:C\n[V:1] A8|B8|\n[V:2] C8|D4|\n[V:1] c8|]\n[V:2] E8|]\n"
    assert [(p.code, p.bar) for p in check(inline, "bars").problems] == [("bar-too-short", 2)]


def test_tuplet_and_chord_durations_in_compound_meter() -> None:
    six_eight = "X:1\nM:6/8\nL:1/8\nK:C\n"
    assert check(six_eight + "(2AB c3|(3ABc d4|[CE]3 [CE]3|]", "bars").ok
    assert check(six_eight + "(5ABcde c3|]", "bars").ok  # (5 = 5 in the time of 3 in compound meter
    assert check(six_eight + "A6|(5ABcde c|A6|]", "bars").codes == ["bar-too-short"]


def test_check_never_raises_and_level_is_validated() -> None:
    for text in ["", "\n\n", "X:", "X:1\nK:", "K:C\n[", "X:1\nK:C\n\"", "X:1\nK:C\n(((", "X:1\nK:C\n[K:]",
                 "X:1\nM:0/0\nL:1/0\nK:C\nA|", "X:1\nK:C\n" + "]" * 50, "\x00\x01\x02K:C\n\udcff"]:
        for level in ("syntax", "bars"):
            result = check(text, level)
            assert "internal-error" not in result.codes
    with pytest.raises(AbcError):
        check("X:1\nK:C\nA|", level="strict")


def test_check_all_and_classify_on_samples() -> None:
    text = (data_samples_dir() / "mistakes.abc").read_text()
    pairs = check_all(text)
    assert len(pairs) == len(read_tunes(data_samples_dir() / "mistakes.abc")) >= 3
    counts = classify(r for _, r in pairs)
    assert counts["unclosed-chord"] >= 1 and counts["dangling-tuplet"] >= 1
    assert set(counts) <= set(PROBLEM_CODES)
    for name in ["basics.abc", "chords.abc", "two_voices.abc"]:
        for tune in read_tunes(data_samples_dir() / name):
            assert check_tune(tune, "bars").ok, (name, tune.title, check_tune(tune, "bars").problems)


# Measured on music21 10.5.1's 12,978 tunes (see the lead's report): syntax 12,875 ok, bars 8,354 ok.
SYNTAX_OK = 12875
BARS_OK = 8354


def test_corpus_pass_rates_and_problem_classes() -> None:
    tunes = [(name, tune) for name, tune in iter_music21_tunes()]
    start = time.process_time()
    results = [check_tune(tune, "bars") for _, tune in tunes]
    cpu = time.process_time() - start
    bar_codes = {"bar-too-long", "bar-too-short", "missing-bar-line"}
    syntax_ok = sum(1 for r in results if not any(p.severity == "error" and p.code not in bar_codes
                                                  for p in r.problems))
    bars_ok = sum(r.ok for r in results)
    n = len(results)
    counts = classify(results)
    print(f"\ncorpus: {n} tunes, syntax ok {syntax_ok} ({syntax_ok / n:.2%}), bars ok {bars_ok} "
          f"({bars_ok / n:.2%}), {cpu:.1f} CPU-s at level bars")
    print("problems (tunes per code):", dict(counts.most_common()))
    assert n == 12978
    assert syntax_ok / n >= 0.99
    assert abs(syntax_ok - SYNTAX_OK) <= 15
    assert abs(bars_ok - BARS_OK) <= 60
    assert set(counts) <= set(PROBLEM_CODES)
    assert counts["missing-bar-line"] > counts["bar-too-long"] > counts["bar-too-short"] > 0
    assert "internal-error" not in counts
    # the syntax level reports exactly the bars level's problems minus the bar durations
    for (_, tune), bars_result in list(zip(tunes, results))[::97]:
        syntax = check_tune(tune, "syntax")
        assert [p for p in bars_result.problems if p.code not in bar_codes] == syntax.problems


def test_mistakes_that_music21_and_abc2midi_let_through_are_caught() -> None:
    import symusic
    from music21 import converter

    for body, code in [("[CEG A2 B2|c8|]", "unclosed-chord"), ("A6 (3|B8|]", "dangling-tuplet"),
                       ("A8|B8|(3", "dangling-tuplet"), ("Dear John, the weather here is fine today.", "not-music")]:
        text = HEAD + body + "\n"
        assert symusic.Score.from_abc(text).note_num() > 0  # abc2midi (bundled in symusic) accepts it
        assert len(converter.parse(text, format="abc").flatten().notes) > 0  # so does music21
        assert code in check(text).codes
