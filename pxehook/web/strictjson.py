"""JSON in and out of the web app, strictly: what the API cannot store faithfully is a 400.

Python's ``json`` accepts ``NaN`` and ``Infinity`` (not JSON: the API then emitted invalid
JSON back), recurses once per nesting level (a deeply nested body was a RecursionError and
a 500) and lets lone UTF-16 surrogates through (the database refused them: another 500).
Flask's ``request.get_json`` and ``jsonify`` use this provider, so every route parses and
answers the same way.
"""

from __future__ import annotations

import json
import math
from typing import Any

from flask.json.provider import DefaultJSONProvider

#: Deepest nesting a request body may have (objects and lists).
MAX_DEPTH = 32


class BadJSON(ValueError):
    """A body that is not JSON the API accepts (Flask turns a ValueError into a 400)."""


def _constant(name: str) -> Any:
    raise BadJSON(f"{name} is not a JSON number")


def check(value: Any, depth: int = 0) -> None:
    """Refuse nesting beyond MAX_DEPTH and strings that are not valid Unicode."""
    if depth > MAX_DEPTH:
        raise BadJSON(f"JSON nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise BadJSON("a JSON string holds a lone surrogate (not valid Unicode)") from None
    elif isinstance(value, dict):
        for key, item in value.items():
            check(key, depth + 1)
            check(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            check(item, depth + 1)


def loads(text: str | bytes) -> Any:
    """Parse a request body strictly (BadJSON, a ValueError, for anything refused)."""
    try:
        value = json.loads(text, parse_constant=_constant)
    except RecursionError:
        raise BadJSON(f"JSON nested deeper than {MAX_DEPTH} levels") from None
    except UnicodeDecodeError:
        raise BadJSON("the body is not UTF-8") from None
    check(value)
    return value


def finite(value: Any) -> Any:
    """``value`` with non-finite floats (stored before this check existed, or read from
    YAML's ``.nan``) spelled as strings, so the answer stays valid JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value).replace("inf", "Infinity").replace("nan", "NaN")
    if isinstance(value, dict):
        return {key: finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [finite(item) for item in value]
    return value


class StrictJSONProvider(DefaultJSONProvider):
    """Flask's JSON provider with :func:`loads` and answers that are always valid JSON."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return loads(s)

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        kwargs["allow_nan"] = False
        try:
            return super().dumps(obj, **kwargs)
        except ValueError:
            return super().dumps(finite(obj), **kwargs)
