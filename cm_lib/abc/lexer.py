"""A lexer for ABC 2.1 tune bodies: one regular expression, tokens located by line and column."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import NamedTuple

_LEN = r"(?P<{p}num>\d*)(?P<{p}sl>/*)(?P<{p}den>\d*)"

TOKEN_RE = re.compile(
    "|".join(
        [
            r"(?P<comment>%.*)",
            r"(?P<field>\[(?P<fname>[A-Za-z]):(?P<fvalue>[^\]\n]*)\])",
            r"(?P<quote>\"[^\"\n]*\")",
            r"(?P<deco>![^!\s]*!|\+[^+\s]*\+)",
            r"(?P<bar>\.?(?::*\[?\|+\]?:*|:{2,}))(?P<endnum>\d+(?:[,-]\d+)*)?",
            r"(?P<ending>\[\d+(?:[,-]\d+)*)",
            r"(?P<note>(?P<acc>\^\^|\^|__|_|=)?(?P<letter>[A-Ga-g])(?P<oct>[,']*)" + _LEN.format(p="n") + ")",
            r"(?P<rest>(?P<rkind>[zx])" + _LEN.format(p="r") + ")",
            r"(?P<mrest>[ZX](?P<mcount>\d*))",
            r"(?P<chord_open>\[)",
            r"(?P<chord_close>\]" + _LEN.format(p="c") + ")",
            r"(?P<tuplet>\((?P<tp>\d+)(?::(?P<tq>\d*))?(?::(?P<tr>\d*))?)",
            r"(?P<slur_open>\.?\()",
            r"(?P<slur_close>\))",
            r"(?P<tie>\.?-)",
            r"(?P<broken><{1,3}|>{1,3})",
            r"(?P<grace_open>\{/?)",
            r"(?P<grace_close>\})",
            r"(?P<decochar>[.~H-Wh-w])",
            r"(?P<space>[ \t`y]+)",
            r"(?P<cont>\\[ \t]*(?:%.*)?$)",
            r"(?P<linebreak>[$*])",
            r"(?P<overlay>&)",
            r"(?P<unclosed_quote>\"[^\n]*)",
            r"(?P<other>.)",
        ]
    )
)

FIELD_LINE_RE = re.compile(r"^(?P<name>[A-Za-z+]):(?P<value>.*)$")


class Token(NamedTuple):
    """A token: kind (the regex group), body line index (0-based), and its match in that line."""

    kind: str
    line: int
    m: re.Match[str] | None  # None for a whole field line
    name: str = ""  # field name for kind "fieldline"
    value: str = ""  # field value for kind "fieldline"


def iter_tokens(body: str) -> Iterator[Token]:
    """Tokens of a tune body, lazily; field lines (V:, K:, w: ...) become one `fieldline` token each (notebook 01)."""
    for i, line in enumerate(body.split("\n")):
        if not line or line[0] == "%":
            continue
        if len(line) > 1 and line[1] == ":":
            fm = FIELD_LINE_RE.match(line)
            if fm:
                yield Token("fieldline", i, None, fm.group("name"), fm.group("value"))
                continue
        for m in TOKEN_RE.finditer(line):
            kind = m.lastgroup
            # lastgroup is the last *closed* group: map inner groups back to their token kind
            yield Token(_KIND.get(kind, kind), i, m)  # type: ignore[arg-type]


# inner named groups -> the outer token kind they belong to
_KIND = {
    "fname": "field", "fvalue": "field", "endnum": "bar", "acc": "note", "letter": "note", "oct": "note",
    "nnum": "note", "nsl": "note", "nden": "note", "rkind": "rest", "rnum": "rest", "rsl": "rest", "rden": "rest",
    "mcount": "mrest", "cnum": "chord_close", "csl": "chord_close", "cden": "chord_close", "tp": "tuplet",
    "tq": "tuplet", "tr": "tuplet",
}
