"""The fleet page's routes (``web/fleet.py``) in the OpenAPI document.

``web/openapi.py`` merges these paths into the document; the filters are one list, shared
by the page, its changes and the bulk action's ``filter``.
"""

from __future__ import annotations

from typing import Any

from pxehook.lifecycle.table import OPERATIONS
from pxehook.models import STATES
from pxehook.store.listing import MAX_PAGE, SORT_KEYS

_OBJECT = {"type": "object", "additionalProperties": True}
_ROWS = {"type": "array", "items": _OBJECT}
_COUNTS = {
    "total": {"type": "integer", "description": "Hosts matching every filter"},
    "states": {"type": "object", "additionalProperties": {"type": "integer"},
               "description": "Hosts per state (every filter but the state's)"},
    "archs": {**_ROWS, "description": "Hosts per effective arch: code, slug, name, count"},
    "cursor": {"type": "integer", "description": "Ask /fleet/changes?since= this next"},
}  # fmt: skip


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema,
            "description": description}  # fmt: skip


def filters() -> list[dict[str, Any]]:
    """The list's query parameters."""
    return [
        _query("state", {"type": "string", "enum": [str(s) for s in STATES]}, "Only this state"),
        _query("arch", {"type": "string"}, "Effective arch: option-93 code or slug"),
        _query("profile", {"type": "string"}, "Only this profile"),
        _query("label", {"type": "string"}, "key=value"),
        _query("q", {"type": "string"}, "Words each host contains (MAC, name, IP, profile)"),
    ]


def _page_params() -> list[dict[str, Any]]:
    return [
        *filters(),
        _query("sort", {"type": "string", "enum": list(SORT_KEYS)}, "Sort key (default id)"),
        _query("order", {"type": "string", "enum": ["asc", "desc"]}, "Sort order"),
        _query("offset", {"type": "integer", "minimum": 0}, "Rows to skip"),
        _query("limit", {"type": "integer", "minimum": 0, "maximum": MAX_PAGE}, "Rows (100)"),
    ]


def paths(op: Any, json: Any, mac: dict[str, Any]) -> dict[str, Any]:
    """The fleet routes, built with ``web/openapi.py``'s helpers (``op``, ``json``)
    and its ``mac`` path parameter."""
    page = {"type": "object", "required": ["hosts", *_COUNTS],
            "properties": {"hosts": _ROWS, "offset": {"type": "integer"}, **_COUNTS}}  # fmt: skip
    changes = {
        "type": "object", "required": ["hosts", "resync", "cursor"],
        "properties": {**_COUNTS, "hosts": {**_ROWS, "description": "Each with 'matches'"},
                       "resync": {"type": "boolean", "description": "Read the page again"}},
    }  # fmt: skip
    since = _query("since", {"type": "integer", "minimum": 0}, "The cursor of an earlier answer")
    bulk = {
        "type": "object",
        "properties": {
            "macs": {"type": "array", "items": {"type": "string"}, "maxItems": MAX_PAGE},
            "filter": {**_OBJECT, "description": "The list's filters (state, arch, ...)"},
            "profile": {"type": "string"}, "message": {"type": "string"},
        },
    }  # fmt: skip
    bulk_ok = {"type": "object", "properties": {"action": {"type": "string"},
               "done": _ROWS, "failed": _ROWS}}  # fmt: skip
    action = {"name": "action", "in": "path", "required": True, "description": "An action",
              "schema": {"type": "string", "enum": list(OPERATIONS)}}  # fmt: skip
    return {
        "/api/v1/fleet": {"get": op("A page of hosts, sorted and filtered, with counts",
                                    {"200": json(page)}, params=_page_params())},
        "/api/v1/fleet/changes": {"get": op("Hosts written since a cursor, with fresh counts",
                                            {"200": json(changes)},
                                            params=[since, *_page_params()])},
        "/api/v1/fleet/actions/{action}": {"post": op(
            "An action on each host of a list or a filter (up to the page size)",
            {"200": json(bulk_ok)}, scope="admin", body=bulk, params=[action])},
        "/api/v1/whoami": {"get": op("The token's name and scope", {"200": json(_OBJECT)},
                                     errors=("401",))},
        "/api/v1/actions": {"get": op("The actions: help, target, whether destructive",
                                      {"200": json(_ROWS)}, errors=("401",))},
        "/api/v1/hosts/{mac}/panel": {"get": op(
            "The host panel: host, state, newest events, its last boot's stages",
            {"200": json(_OBJECT)}, params=[mac])},
        "/api/v1/hosts/{mac}/explain": {"get": op(
            "The boot decision chain per loader (bytes for admin tokens only)",
            {"200": json(_OBJECT)}, params=[mac])},
    }  # fmt: skip
