"""Note lengths in ABC: written multipliers ("3/2", "//"), tuplet ratios, and guards against absurd numbers."""

from __future__ import annotations

from fractions import Fraction

from cm_lib.errors import AbcError

# A number in a tune body or an L:/M: field longer than this is refused as `number-too-large`: no real
# tune needs a billion-fold length, and thousands of digits would hit Python's int-string limit.
MAX_DIGITS = 9


class NumberTooLargeError(AbcError, ValueError):
    """A number in a length, tuplet, meter or unit with more than MAX_DIGITS digits (taught in notebook 01)."""


def check_digits(*numbers: str | None) -> None:
    """Raise NumberTooLargeError when one of the written numbers has more than MAX_DIGITS digits (notebook 01)."""
    for n in numbers:
        if n and len(n) > MAX_DIGITS:
            raise NumberTooLargeError(f"number {n[:12]}... has {len(n)} digits (at most {MAX_DIGITS})")


_LEN_CACHE: dict[tuple[str, str, str], Fraction | None] = {}


def length_of(num: str, slashes: str, den: str) -> Fraction | None:
    """The multiplier written after a note ("3", "/", "3/2", "//"); None if it is zero (notebook 01)."""
    key = (num, slashes, den)
    try:
        return _LEN_CACHE[key]
    except KeyError:
        pass
    check_digits(num, den)
    if len(slashes) > 64:
        raise NumberTooLargeError(f"a length with {len(slashes)} slashes (at most 64)")
    n = int(num) if num else 1
    if slashes:
        d = int(den) if den else 2
        d *= 2 ** (len(slashes) - 1)
    else:
        d = int(den) if den else 1  # digits after a note with no slash cannot occur (the lexer's regex)
    value = None if n == 0 or d == 0 else Fraction(n, d)
    if len(_LEN_CACHE) < 10000:
        _LEN_CACHE[key] = value
    return value


def tuplet_time(p: int, q_text: str | None, compound: bool) -> int:
    """q of a tuplet (p:q:r): p notes in the time of q; ABC 2.1's default q when it is not written (notebook 01)."""
    if q_text and q_text != "0":
        check_digits(q_text)
        return int(q_text)
    if p in (2, 4, 8):
        return 3
    if p in (3, 6):
        return 2
    return 3 if compound else 2


def is_compound(numerator: int | None) -> bool:
    """Compound meter (6/8, 9/8, 12/8 ...): a top number divisible by 3 and above 3 (notebook 01)."""
    return bool(numerator and numerator % 3 == 0 and numerator > 3)
