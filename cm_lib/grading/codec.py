"""Values across the grader's process boundaries as JSON of plain values: never pickle, never code.

A submission's answers leave its sandbox as JSON; a function the student wrote stays in their kernel
and crosses only as a handle (`{"$cm": "function", ...}`) that the checker calls through the runner.
The checker's side decodes `strict`ly: only None, bool, int, float, str, list, tuple, dict, set,
frozenset, bytes and Fraction come back, whatever the submission sent. Arguments the checker hands to a
student's function may also be a few library objects (a cm_lib dataclass, a torch dtype, a seeded
`random.Random`, a transformers tokenizer saved on disk), re-created on the kernel's side.
One message is one JSON line (`dumps_line`, `loads_line`).
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import json
import numbers
import random
from collections.abc import Callable
from fractions import Fraction
from typing import Any

TAG = "$cm"
MAX_DEPTH = 64
MAX_LINE = 64 * 1024 * 1024  # bytes in one message


class CodecError(ValueError):
    """A value that cannot cross (its type is not one the grader hands across)."""


def _tagged(kind: str, value: Any, **extra: Any) -> dict[str, Any]:
    return {TAG: kind, "v": value, **extra}


def _type_name(value: Any) -> str:
    t = type(value)
    return t.__name__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"


def encode(value: Any, functions: Callable[[Any], str] | None = None, library: bool = False, depth: int = 0) -> Any:
    """`value` as JSON-ready data; `functions(fn) -> handle` lets callables cross, `library` the library objects."""
    if depth > MAX_DEPTH:
        raise CodecError("nested too deeply")
    if value is None or type(value) in (bool, int, float, str):
        return value

    def enc(v: Any) -> Any:
        return encode(v, functions, library, depth + 1)

    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, Fraction):
        return _tagged("fraction", [int(value.numerator), int(value.denominator)])
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, list):
        return [enc(v) for v in value]
    if isinstance(value, tuple):
        return _tagged("tuple", [enc(v) for v in value])
    if isinstance(value, set | frozenset):
        return _tagged(type(value).__name__ if type(value) in (set, frozenset) else "set", [enc(v) for v in value])
    if isinstance(value, dict):
        return _tagged("dict", [[enc(k), enc(v)] for k, v in value.items()])
    if isinstance(value, bytes | bytearray):
        return _tagged("bytes", base64.b64encode(bytes(value)).decode("ascii"))
    module = type(value).__module__.split(".")[0]
    if module in ("numpy", "torch") and callable(getattr(value, "tolist", None)):
        return enc(value.tolist())
    if library:
        lib = _encode_library(value, enc)
        if lib is not None:
            return lib
    if functions is not None and callable(value) and not isinstance(value, type):
        return _tagged("function", functions(value), name=str(getattr(value, "__name__", "function"))[:80])
    raise CodecError(f"a {_type_name(value)}")


def _encode_library(value: Any, enc: Callable[[Any], Any]) -> dict[str, Any] | None:
    """The library objects a checker may pass to a student's function, or None."""
    t = type(value)
    if t is random.Random:
        return _tagged("random", enc(value.getstate()))
    if t.__module__ == "torch" and t.__name__ == "dtype":
        return _tagged("dtype", str(value).removeprefix("torch."))
    if dataclasses.is_dataclass(value) and t.__module__.startswith("cm_lib."):
        fields = [[f.name, enc(getattr(value, f.name))] for f in dataclasses.fields(value) if f.init]
        return _tagged("dataclass", fields, type=f"{t.__module__}:{t.__qualname__}")
    if t.__module__.startswith("transformers.") and isinstance(getattr(value, "name_or_path", None), str):
        return _tagged("tokenizer", value.name_or_path)
    return None


def decode(data: Any, functions: Callable[[str, str], Any] | None = None, strict: bool = True, depth: int = 0) -> Any:
    """The value `encode` wrote; `functions(handle, name)` makes a stand-in for a student's function.

    `strict` (the checker's side) accepts plain values only; otherwise the library objects are re-created.
    """
    if depth > MAX_DEPTH:
        raise CodecError("nested too deeply")
    if data is None or type(data) in (bool, int, float, str):
        return data

    def dec(v: Any) -> Any:
        return decode(v, functions, strict, depth + 1)

    if type(data) is list:
        return [dec(v) for v in data]
    if type(data) is not dict or not isinstance(data.get(TAG), str):
        raise CodecError(f"not an encoded value: {type(data).__name__}")
    kind, v = data[TAG], data.get("v")
    try:
        if kind == "tuple":
            return tuple(dec(x) for x in v)
        if kind in ("set", "frozenset"):
            return (set if kind == "set" else frozenset)(dec(x) for x in v)
        if kind == "dict":
            return {dec(k): dec(x) for k, x in v}
        if kind == "bytes":
            return base64.b64decode(str(v), validate=True)
        if kind == "fraction":
            num, den = v
            if type(num) is not int or type(den) is not int:
                raise CodecError("a fraction of non-integers")
            return Fraction(num, den)
        if kind == "function" and functions is not None:
            return functions(str(v), str(data.get("name", "function")))
        if not strict:
            return _decode_library(kind, v, data, dec)
    except (TypeError, ValueError, ZeroDivisionError) as err:
        raise CodecError(f"a malformed {kind}: {err}") from err
    raise CodecError(f"a {kind}, which the checker does not accept")


def _decode_library(kind: str, v: Any, data: dict[str, Any], dec: Callable[[Any], Any]) -> Any:
    """Re-create a library object on the kernel's side (the inverse of `_encode_library`)."""
    import importlib

    if kind == "random":
        rng = random.Random()
        rng.setstate(dec(v))
        return rng
    if kind == "dtype":
        import torch

        return getattr(torch, str(v))
    if kind == "dataclass":
        module, _, name = str(data.get("type", "")).partition(":")
        if not module.startswith("cm_lib."):
            raise CodecError(f"a dataclass from {module}")
        cls = importlib.import_module(module)
        for part in name.split("."):
            cls = getattr(cls, part)
        if not dataclasses.is_dataclass(cls):
            raise CodecError(f"{name} is not a dataclass")
        return cls(**{str(k): dec(x) for k, x in v})
    if kind == "tokenizer":
        return _tokenizer(str(v))
    raise CodecError(f"an unknown kind {kind!r}")


@functools.cache
def _tokenizer(path: str) -> Any:
    """A tokenizer saved at `path`, loaded once per process."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(path)


def dumps_line(message: dict[str, Any]) -> bytes:
    """One protocol message: a JSON object on one line (strings escape their newlines)."""
    return json.dumps(message, ensure_ascii=True).encode("ascii") + b"\n"


def loads_line(line: bytes) -> dict[str, Any]:
    """The message on one line; CodecError for anything but a JSON object of bounded size and depth."""
    if len(line) > MAX_LINE:
        raise CodecError("message too long")
    try:
        message = json.loads(line)
    except (ValueError, RecursionError) as err:
        raise CodecError(f"not a JSON message: {err}") from err
    if not isinstance(message, dict):
        raise CodecError("not a JSON object")
    return message
