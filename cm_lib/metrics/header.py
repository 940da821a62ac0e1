"""Header compliance against a request (notebook 05): did the tune use the key, meter and unit asked for?

A request is a dict such as ``{"key": "D major", "meter": "6/8", "unit": "1/8", "form": "AABB",
"chords": ["D", "G", "A7", "D"]}`` (an SFT record's request comes from ``request_from_record``, which
reads it with ``cm_lib.corpus.tasks.requested``, beside the code that writes it). Each check is None when
the request does not ask:
- ``key_ok``: requested and declared K: parse (``cm_lib.abc.keys.parse_key``) to the same tonic pitch
  class and the same mode ("D major" = "D" = "Dmaj"; "A dorian" = "Ador"; "F#" = "Gb major");
- ``meter_ok``: same M: text after removing spaces, with C = 4/4 and C| = 2/2 (6/8 is not 3/4);
- ``unit_ok``: same L: fraction (the default unit applies when the tune has no L:);
- ``form_ok``: the tune's form string (``structure.form``) equals the requested one.
These are per-tune metrics (``cm_lib.metrics.tune_metrics``); whether answers obey their requests, with one
denominator rule, is ``cm_lib.metrics.request``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from cm_lib.abc.keys import default_unit, parse_key, parse_unit
from cm_lib.corpus.tasks import requested as record_request
from cm_lib.metrics.events import TuneData
from cm_lib.metrics.key import tonic_pitch_class
from cm_lib.plan.core import RequestError

REQUEST_FIELDS = ("key", "meter", "unit", "form", "chords")


def parse_request(value: str | Mapping[str, Any] | None) -> dict[str, Any]:
    """A request dict from JSON text or a mapping; RequestError on anything else or unknown fields."""
    if value is None:
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as err:
            raise RequestError(f"request is not valid JSON: {err.msg} (line {err.lineno} column {err.colno})") from None
    if not isinstance(value, Mapping):
        raise RequestError("request must be a JSON object such as {\"key\": \"D major\", \"meter\": \"6/8\"}")
    req = dict(value)
    if "unit_length" in req and "unit" not in req:
        req["unit"] = req.pop("unit_length")
    unknown = sorted(set(req) - set(REQUEST_FIELDS))
    if unknown:
        raise RequestError(f"unknown request field(s) {unknown}; known: {list(REQUEST_FIELDS)}")
    if "chords" in req and not (isinstance(req["chords"], list) and all(isinstance(c, str) for c in req["chords"])):
        raise RequestError("request 'chords' must be a list of chord symbols, e.g. [\"D\", \"G\", \"A7\"]")
    for name in ("key", "meter", "unit", "form"):
        if name in req and not isinstance(req[name], str):
            raise RequestError(f"request {name!r} must be a string")
    if "key" in req:
        try:
            parse_key(req["key"])
        except ValueError as err:
            raise RequestError(f"request key: {err}") from None
    if "unit" in req:
        try:
            parse_unit(req["unit"])
        except ValueError as err:
            raise RequestError(f"request unit: {err}") from None
    return req


def request_from_record(record: Mapping[str, Any]) -> dict[str, Any]:
    """The request of an SFT record (its `meta` key/meter/form), via `cm_lib.corpus.tasks.requested`."""
    return dict(record_request(record))


def same_key(requested: str, declared: str | None) -> bool:
    """Whether two K: values name the same tonic pitch class and mode."""
    if declared is None:
        return False
    try:
        a, b = parse_key(requested), parse_key(declared)
    except ValueError:
        return False
    if a.tonic is None or b.tonic is None:
        return a.mode == b.mode
    return tonic_pitch_class(a.tonic) == tonic_pitch_class(b.tonic) and a.mode == b.mode


def normal_meter(text: str) -> str:
    """M: text without spaces or comment, C -> 4/4 and C| -> 2/2."""
    v = text.split("%", 1)[0].replace(" ", "")
    return {"C": "4/4", "C|": "2/2"}.get(v, v)


def same_meter(requested: str, declared: str | None) -> bool:
    """Whether two M: values are the same meter (see `normal_meter`)."""
    return declared is not None and normal_meter(requested) == normal_meter(declared)


def same_unit(requested: str, data: TuneData) -> bool:
    """Whether the tune's unit length (its L:, else ABC's default for its meter) equals the requested one."""
    unit = data.unit if data.unit is not None else default_unit(data.meter)
    if data.tune.unit_length is not None and data.unit is None:
        return False  # an invalid L: obeys nothing
    return parse_unit(requested) == unit


def header_compliance(data: TuneData, request: Mapping[str, Any], form: str | None = None) -> dict[str, bool | None]:
    """key_ok, meter_ok, unit_ok, form_ok for a request (None where the request does not ask)."""
    return {
        "key_ok": same_key(request["key"], data.tune.key) if request.get("key") else None,
        "meter_ok": same_meter(request["meter"], data.meter_text) if request.get("meter") else None,
        "unit_ok": same_unit(request["unit"], data) if request.get("unit") else None,
        "form_ok": (form == request["form"].replace(" ", "")) if request.get("form") else None,
    }
