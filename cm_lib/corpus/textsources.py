"""Offline non-score text for the pretraining mix: docs of installed packages, stdlib code, generated math.

General text comes from docstrings and package descriptions (permissive licences only), code from the
Python standard library, math from generated problems. The paper's music-term rule (music-glossary
words occur more than 10 times and make up more than 0.5% of the words) routes documents to the
music-verbal category.
"""

from __future__ import annotations

import ast
import random
import re
import sysconfig
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

MUSIC_GLOSSARY: frozenset[str] = frozenset("""
accidental adagio allegro alto andante arpeggio augmented bar bars bass beat beats cadence canon
chant chord chords chorale chromatic clef coda composer composition consonance counterpoint crescendo
diatonic diminished dissonance dominant dorian duet duple dynamics enharmonic flat flats forte fugue
glissando harmonic harmony harmonize interval intervals jig key keys largo legato lydian major measure
measures melodic melody meter metre minor mixolydian modal mode modes modulation motif motive music
musical musician note notes octave octaves opus orchestra ostinato phrase phrygian piano pitch pitches
polyphony quarter reel rest rests rhythm rhythmic scale scales score semitone sharp sharps soprano
staccato staff staves subdominant symphony syncopation tempo tenor tonal tonality tone tones tonic
transpose transposition treble triad triads trill triple tune tunes unison verse voice voices waltz
""".split())
PERMISSIVE = re.compile(r"\b(MIT|BSD|Apache|PSF|Python Software Foundation|ISC|Unlicense|CC0|Zlib|MPL)\b", re.I)
_WORD = re.compile(r"[A-Za-z]+")


@dataclass
class TextDoc:
    """One pretraining text document with its category, source and licence."""

    text: str
    category: str  # general | music_verbal | code | math
    src: str
    ref: str
    licence: str


def music_term_stats(text: str) -> tuple[int, float]:
    """(number of music-glossary words, their share of all words) in `text`."""
    words = [w.lower() for w in _WORD.findall(text)]
    hits = sum(1 for w in words if w in MUSIC_GLOSSARY)
    return hits, (hits / len(words) if words else 0.0)


def is_music_text(text: str, min_count: int = 10, min_share: float = 0.005) -> bool:
    """The paper's filter: glossary words occur more than `min_count` times and exceed `min_share` of words."""
    hits, share = music_term_stats(text)
    return hits > min_count and share > min_share


def _chunks(parts: list[str], max_chars: int) -> Iterator[str]:
    buf: list[str] = []
    size = 0
    for part in parts:
        if buf and size + len(part) > max_chars:
            yield "\n\n".join(buf)
            buf, size = [], 0
        buf.append(part[:max_chars])
        size += len(part)
    if buf:
        yield "\n\n".join(buf)


def stdlib_files() -> list[Path]:
    """Top-level modules of the Python standard library, sorted by name."""
    root = Path(sysconfig.get_paths()["stdlib"])
    return sorted(root.glob("*.py"), key=lambda p: p.name)


def _module_docs(path: Path, root: Path, with_code: bool = True) -> tuple[list[str], list[str]]:
    """(docstrings, top-level function sources) of one module."""
    try:
        source = path.read_text(encoding="utf-8")
        tree = ast.parse(source)
    except (SyntaxError, UnicodeDecodeError, ValueError):
        return [], []
    docs, funcs = [], []
    lines = source.splitlines()
    mod_doc = ast.get_docstring(tree)
    if mod_doc and len(mod_doc) > 200:
        docs.append(mod_doc)
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)):
            doc = ast.get_docstring(node)
            if doc and len(doc) > 200:
                docs.append(doc)
            if with_code and isinstance(node, ast.FunctionDef) and node.col_offset == 0 and node.end_lineno:
                seg = "\n".join(lines[node.lineno - 1: node.end_lineno])
                if 200 < len(seg) < 2000:
                    funcs.append(f"# {path.relative_to(root).as_posix()}\n{seg}")
    return docs, funcs


def stdlib_texts(general_chars: int, code_chars: int, max_chars: int = 2000) -> tuple[list[TextDoc], list[TextDoc]]:
    """General-text docs (docstrings) and code docs (functions) from the stdlib, up to the char budgets."""
    root = Path(sysconfig.get_paths()["stdlib"])
    general: list[TextDoc] = []
    code: list[TextDoc] = []
    g_size = c_size = 0
    for path in stdlib_files():
        if g_size >= general_chars and c_size >= code_chars:
            break
        docs, funcs = _module_docs(path, root)
        rel = path.relative_to(root).as_posix()
        if g_size < general_chars:
            for i, chunk in enumerate(_chunks(docs, max_chars)):
                cat = "music_verbal" if is_music_text(chunk) else "general"
                general.append(TextDoc(chunk, cat, "stdlib-docs", f"{rel}#{i}", "PSF-2.0"))
                g_size += len(chunk)
        if c_size < code_chars:
            for i, chunk in enumerate(_chunks(funcs, max_chars)):
                code.append(TextDoc(chunk, "code", "stdlib-code", f"{rel}#{i}", "PSF-2.0"))
                c_size += len(chunk)
    return general, code


def pydoc_topic_texts(max_chars: int = 2000) -> list[TextDoc]:
    """The Python language reference topics shipped in the stdlib (pydoc_data, PSF-2.0), chunked."""
    from pydoc_data.topics import topics

    out = []
    for name in sorted(topics):
        paras = [p for p in topics[name].split("\n\n") if p.strip()]
        for i, chunk in enumerate(_chunks(paras, max_chars)):
            if len(chunk) >= 200:
                out.append(TextDoc(chunk, "general", "stdlib-docs", f"pydoc_data/{name}#{i}", "PSF-2.0"))
    return out


def package_licence(dist: object) -> str:
    """Licence string of an installed distribution (License-Expression, License, or classifiers)."""
    meta = dist.metadata  # type: ignore[attr-defined]
    lic = meta.get("License-Expression") or ""
    if not lic:
        first = (meta.get("License") or "").strip().splitlines()
        lic = first[0][:80] if first else ""
    if not lic or len(lic) > 60:
        classifiers = [c.split("::")[-1].strip() for c in meta.get_all("Classifier") or [] if c.startswith("License")]
        lic = "; ".join(classifiers) or lic
    return lic


def package_texts(max_docs: int, max_chars: int = 2000) -> list[TextDoc]:
    """Long descriptions (READMEs) of installed permissively licensed packages, sorted by name."""
    from importlib import metadata

    dists = {}
    for dist in metadata.distributions():
        name = (dist.metadata.get("Name") or "").lower()
        if name and name not in dists:
            dists[name] = dist
    out: list[TextDoc] = []
    for name in sorted(dists):
        if len(out) >= max_docs:
            break
        dist = dists[name]
        lic = package_licence(dist)
        body = dist.metadata.get_payload() or dist.metadata.get("Description") or ""  # type: ignore[attr-defined]
        if not PERMISSIVE.search(lic) or len(body) < 500:
            continue
        for i, chunk in enumerate(_chunks([p for p in body.split("\n\n") if p.strip()], max_chars)):
            if len(chunk) < 300:
                continue
            cat = "music_verbal" if is_music_text(chunk) else "general"
            out.append(TextDoc(chunk, cat, "package-docs", f"{name}#{i}", lic))
    return out


def music21_doc_texts(budget_chars: int, max_chars: int = 2000) -> list[TextDoc]:
    """music21's docstrings (BSD) that pass the music-term filter, up to `budget_chars` characters."""
    import music21

    root = Path(music21.__file__).parent
    out: list[TextDoc] = []
    size = 0
    for path in sorted(root.rglob("*.py"), key=lambda p: p.relative_to(root).as_posix()):
        if size >= budget_chars:
            break
        if "test" in path.relative_to(root).parts or path.name.startswith("test"):
            continue
        docs, _ = _module_docs(path, root, with_code=False)
        rel = path.relative_to(root).as_posix()
        for i, chunk in enumerate(_chunks(docs, max_chars)):
            if is_music_text(chunk) and size < budget_chars:
                out.append(TextDoc(chunk, "music_verbal", "package-docs", f"music21/{rel}#{i}", "BSD-3-Clause"))
                size += len(chunk)
    return out


def math_problems(n: int, seed: int = 0) -> list[TextDoc]:
    """`n` generated math problems with worked answers (arithmetic, fractions, linear equations)."""
    from fractions import Fraction

    rng = random.Random(seed)
    out = []
    for i in range(n):
        kind = i % 4
        if kind == 0:
            a, b, c = rng.randint(12, 999), rng.randint(12, 999), rng.randint(2, 19)
            text = (f"Problem: compute ({a} + {b}) x {c}.\nSolution: {a} + {b} = {a + b}; "
                    f"{a + b} x {c} = {(a + b) * c}.\nAnswer: {(a + b) * c}")
        elif kind == 1:
            x, y = Fraction(rng.randint(1, 9), rng.randint(2, 12)), Fraction(rng.randint(1, 9), rng.randint(2, 12))
            text = (f"Problem: add the fractions {x} and {y}.\nSolution: with the common denominator "
                    f"{(x + y).denominator}, {x} + {y} = {x + y}.\nAnswer: {x + y}")
        elif kind == 2:
            a, x, b = rng.randint(2, 12), rng.randint(-20, 20), rng.randint(-50, 50)
            text = (f"Problem: solve {a}x + {b} = {a * x + b} for x.\nSolution: subtract {b} from both sides: "
                    f"{a}x = {a * x}; divide by {a}: x = {x}.\nAnswer: x = {x}")
        else:
            bpm, beats = rng.choice([60, 80, 90, 100, 120, 144]), rng.randint(16, 256)
            secs = Fraction(beats * 60, bpm)
            text = (f"Problem: a piece has {beats} quarter-note beats at {bpm} beats per minute. "
                    f"How many seconds does it last?\nSolution: each beat lasts 60/{bpm} s, so "
                    f"{beats} x 60/{bpm} = {secs} s.\nAnswer: {float(secs):g} seconds")
        out.append(TextDoc(text, "math", "generated-math", f"math#{i}", "CC0"))
    return out
