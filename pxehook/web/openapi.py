"""The OpenAPI 3 document of the API, built from data (served at /api/v1/openapi.json).

docs/openapi.json is this document written out (``python -m pxehook.web.openapi``); a test
fails when they differ. The state enums come from ``models.STATES``, the actions from the
transition table, so a new state or action reaches the document with no edit here.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from pxehook import __version__
from pxehook.lifecycle.clone import PARTS
from pxehook.lifecycle.table import OPERATIONS
from pxehook.models import STATES, creatable_states
from pxehook.tokens import SCOPES
from pxehook.web import openapi_fleet, openapi_web

_REF = "#/components/schemas/"
_ERRORS = {
    "400": "Malformed input (bad MAC, body, parameter)",
    "401": "No or unknown bearer token",
    "403": "Token scope too small / callback refused",
    "404": "No such host, profile or token",
    "409": "Conflicts with the current state (illegal transition, duplicate)",
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": _REF + name}


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _op(
    summary: str,
    ok: dict[str, Any],
    *,
    scope: str | None = "read",
    errors: tuple[str, ...] = ("400", "401", "403", "404"),
    body: dict[str, Any] | None = None,
    params: list[dict[str, Any]] | None = None,
    error_schema: str = "Error",
) -> dict[str, Any]:
    responses = dict(ok)
    for code in errors:
        responses[code] = _json(_ref(error_schema), _ERRORS[code])
    op: dict[str, Any] = {"summary": summary, "responses": responses}
    op["security"] = [{"bearer": []}] if scope else []
    if scope:
        op["description"] = f"Needs a bearer token of scope {scope}."
    if body:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    if params:
        op["parameters"] = params
    return op


def _path_param(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": {"type": "string"},
    }


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


_MAC = _path_param("mac", "Any MAC of the host (any common spelling) or its name")
_STR_MAP = {"type": "object", "additionalProperties": {"type": ["string", "null"]}}
_ANY_MAP = {"type": "object", "additionalProperties": True}
_STRINGS = {"type": "array", "items": {"type": "string"}}


def _state_schemas() -> dict[str, Any]:
    """``State`` (the enum, each value described) and ``StateInfo`` (GET /states)."""
    described = "\n".join(f"- `{state}`: {info.description}" for state, info in STATES.items())
    return {
        "State": {
            "type": "string",
            "enum": [str(state) for state in STATES],
            "description": "A life-cycle state (docs/lifecycle.md):\n" + described,
        },
        "StateInfo": {
            "type": "object",
            "required": ["state", "description", "creatable", "create_action", "allowed"],
            "properties": {
                "state": _ref("State"),
                "description": {"type": "string"},
                "creatable": {"type": "boolean", "description": "POST /hosts may start here"},
                "create_action": {
                    "type": ["string", "null"],
                    "description": "The action that takes a created host here from new",
                },
                "allowed": {**_STRINGS, "description": "Actions allowed from this state"},
            },
        },
    }


def _schemas() -> dict[str, Any]:
    host_props = {
        k: {"type": t}
        for k, t in {
            "id": "integer",
            "mac": "string",
            "name": "string",
            "uuid": "string",
            "arch_source": "string",
            "ip": "string",
            "ip_source": "string",
            "dhcp_hostname": "string",
            "vendor_class": "string",
            "user_class": "string",
            "profile": "string",
        }.items()
    }
    host_props.update(
        macs={"type": "array", "items": {"type": "string"}},
        arch={"type": ["integer", "null"], "description": "Recorded option-93 code"},
        arch_effective={
            "type": ["integer", "null"],
            "description": "The code pxehook boots it as (a MAC rule may correct the recorded one)",
        },
        arch_effective_source={
            "type": "string",
            "description": "Where arch_effective comes from: setting, rule, dhcp, request or ''",
        },
        first_seen={"type": ["number", "null"]},
        last_seen={"type": ["number", "null"]},
        state=_ref("State"),
        state_changed={"type": ["number", "null"]},
        ip_trusted={"type": "boolean"},
        labels={"type": "object", "additionalProperties": {"type": "string"}},
        vars=_ANY_MAP,
        meta=_ANY_MAP,
        version={"type": "integer", "description": "Grows with every write to the host"},
    )
    return {
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["code", "message", "status"],
                    "properties": {
                        "code": {"type": "string"},
                        "message": {"type": "string"},
                        "status": {"type": "integer"},
                    },
                }
            },
        },
        "PilotError": {
            "type": "object",
            "required": ["Message"],
            "properties": {"Message": {"type": "string"}, "error": _ANY_MAP},
        },
        **_state_schemas(),
        "Host": {"type": "object", "required": ["mac", "state"], "properties": host_props},
        "HostChanges": {
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "uuid": {"type": "string"},
                "profile": {"type": "string", "description": "'' clears"},
                "arch": {"type": ["string", "integer", "null"], "description": "null clears"},
                "add_macs": {"type": "array", "items": {"type": "string"}},
                "vars": {"type": "object", "description": "null values remove keys"},
                "labels": _STR_MAP,
            },
        },
        "HostState": {
            "type": "object",
            "properties": {
                "mac": {"type": "string"},
                "state": _ref("State"),
                "failure": {"type": ["string", "null"]},
                "deployment": {"type": ["string", "null"]},
                "allowed": {"type": "array", "items": {"type": "string"}},
            },
        },
        "Event": {
            "type": "object",
            "properties": {
                "id": {"type": "integer"},
                "host_id": {"type": "integer"},
                "at": {"type": "number"},
                "kind": {"type": "string"},
                "source": {"type": "string"},
                "message": {"type": "string"},
                "data": _ANY_MAP,
            },
        },
        "Profile": {"type": "object", "required": ["name", "kind"], "properties": {}},
        "Token": {
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "scope": {"type": "string", "enum": list(SCOPES)},
                "created": {"type": "number"},
            },
        },
    }


_FORCE = _query(
    "force", {"type": "boolean"},
    "Change fields the inventory declares (its next apply sets them back)",
)  # fmt: skip


def _host_paths() -> dict[str, Any]:
    array = {"type": "array"}
    list_params = [
        _query("state", _ref("State"), "Only hosts in this state"),
        _query("profile", {"type": "string"}, "Only hosts with this profile"),
        _query("label", {"type": "string"}, "Only hosts with label key=value"),
        _query("limit", {"type": "integer", "minimum": 1}, "At most this many"),
    ]
    create = {
        "allOf": [
            _ref("HostChanges"),
            {
                "type": "object",
                "required": ["mac"],
                "properties": {
                    "mac": {"type": "string"},
                    "state": {
                        "type": "string",
                        "enum": [str(state) for state in creatable_states()],
                    },
                },
            },
        ]
    }
    action_body = {
        "type": "object",
        "properties": {"profile": {"type": "string"}, "message": {"type": "string"}},
    }
    patch = {
        "allOf": [
            _ref("HostChanges"),
            {"type": "object", "properties": {"version": {
                "type": "integer",
                "description": "The host's version as read: 409 if it changed since"}}},
        ]
    }  # fmt: skip
    return {
        "/api/v1/hosts": {
            "get": _op("List hosts", {"200": _json({**array, "items": _ref("Host")})},
                       params=list_params, errors=("400", "401")),
            "post": _op(f"Create a host (as {', '.join(creatable_states())})",
                        {"201": _json(_ref("Host"), "Created")}, scope="admin", body=create,
                        errors=("400", "401", "403", "404", "409")),
        },
        "/api/v1/hosts/{mac}": {
            "parameters": [_MAC],
            "get": _op("Show a host", {"200": _json(_ref("Host"))}),
            "patch": _op("Change a host's fields", {"200": _json(_ref("Host"))}, scope="admin",
                         body=patch, errors=("400", "401", "403", "404", "409"),
                         params=[_FORCE]),
            "delete": _op("Delete a host and its events", {"204": {"description": "Deleted"}},
                          scope="admin"),
        },
        "/api/v1/hosts/{mac}/state": {
            "parameters": [_MAC],
            "get": _op("State, failure kind and allowed actions",
                       {"200": _json(_ref("HostState"))}),
        },
        "/api/v1/hosts/{mac}/actions/{action}": {
            "parameters": [
                _MAC,
                {**_path_param("action", "A life-cycle action"),
                 "schema": {"type": "string", "enum": list(OPERATIONS)}},
            ],
            "post": _op("Apply a life-cycle action (the transition table decides)",
                        {"200": _json(_ref("HostState"))}, scope="admin", body=action_body,
                        errors=("400", "401", "403", "404", "409")),
        },
        "/api/v1/hosts/{mac}/events": {
            "parameters": [_MAC],
            "get": _op("The host's timeline: newest first before 'before' (default: the "
                       "newest), or oldest first after 'since'; a full page links the next "
                       "(Link header, rel=next)",
                       {"200": _json({**array, "items": _ref("Event")})},
                       params=[_query("before", {"type": "integer", "minimum": 1},
                                      "Before this id, newest first"),
                               _query("since", {"type": "integer", "minimum": 0},
                                      "After this id, oldest first (followers)"),
                               _query("limit", {"type": "integer", "minimum": 1},
                                      "At most (default 100, at most 1000)")]),
        },
        "/api/v1/hosts/{mac}/deployed": {
            "parameters": [_MAC],
            "post": _op("Installer callback: the install finished (per-deployment token)",
                        {"200": _json({"type": "object"})}, scope=None, errors=("403",),
                        body={"type": "object", "properties": {"token": {"type": "string"}}}),
        },
    }  # fmt: skip


def _other_paths() -> dict[str, Any]:
    array = {"type": "array"}
    token_body = {
        "type": "object",
        "required": ["name"],
        "properties": {
            "name": {"type": "string"},
            "scope": {"type": "string", "enum": list(SCOPES)},
        },
    }
    clone_body = {
        "type": "object",
        "required": ["source", "destinations"],
        "properties": {
            "source": {"type": "string"},
            "destinations": {"type": "array", "items": {"type": "string"}},
            "parts": {"type": "array", "items": {"type": "string", "enum": list(PARTS)}},
        },
    }
    pilot_hosts = {"type": "object", "required": ["hosts"], "properties": {"hosts": array}}
    paths: dict[str, Any] = {
        "/api/v1/states": {
            "get": _op("The life-cycle states: description, creatable, allowed actions",
                       {"200": _json({**array, "items": _ref("StateInfo")})},
                       errors=("401",)),
        },
        "/api/v1/profiles": {
            "get": _op("List profiles", {"200": _json({**array, "items": _ref("Profile")})},
                       errors=("401",)),
        },
        "/api/v1/profiles/{name}": {
            "parameters": [_path_param("name", "Profile name")],
            "get": _op("Show a profile", {"200": _json(_ref("Profile"))}, errors=("401", "404")),
        },
        "/api/v1/clone": {
            "post": _op("Copy a host's profile/vars/labels to other hosts",
                        {"200": _json({"type": "object"})}, scope="admin", body=clone_body,
                        errors=("400", "401", "403", "404", "409"), params=[_FORCE]),
        },
        "/api/v1/tokens": {
            "get": _op("List tokens (never their secrets)",
                       {"200": _json({**array, "items": _ref("Token")})}, scope="admin",
                       errors=("401", "403")),
            "post": _op("Create a token; the secret is in this response only",
                        {"201": _json({"type": "object"}, "Created")}, scope="admin",
                        body=token_body, errors=("400", "401", "403", "409")),
        },
        "/api/v1/tokens/{name}": {
            "parameters": [_path_param("name", "Token name")],
            "delete": _op("Revoke a token", {"204": {"description": "Revoked"}}, scope="admin",
                          errors=("401", "403", "404")),
        },
        "/api/v1/openapi.json": {
            "get": _op("This document", {"200": _json({"type": "object"})}, scope=None,
                       errors=()),
        },
    }  # fmt: skip
    for prefix in ("/v1", ""):
        paths[f"{prefix}/configurations"] = {
            "get": _op(
                "PXE Pilot: configurations (profiles; 'local' always)",
                {"200": _json({**array, "items": {"type": "object"}})},
                errors=("401",),
                error_schema="PilotError",
            ),
        }
        paths[f"{prefix}/hosts"] = {
            "get": _op(
                "PXE Pilot: hosts with their configuration",
                {"200": _json({**array, "items": {"type": "object"}})},
                errors=("401",),
                error_schema="PilotError",
            ),
        }
        paths[f"{prefix}/configurations/{{name}}/deploy"] = {
            "parameters": [_path_param("name", "Configuration (profile) name")],
            "put": _op("PXE Pilot: deploy a configuration to hosts. 'local' from the host's "
                       "own IP needs no token.", {"200": {"description": "Deployed"}},
                       scope="admin", body=pilot_hosts, error_schema="PilotError",
                       errors=("400", "401", "403", "404", "409")),
        }  # fmt: skip
    return paths


def document() -> dict[str, Any]:
    """The whole OpenAPI 3.1 document."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "pxehook API",
            "version": __version__,
            "description": "Hosts, life-cycle, callbacks and PXE Pilot compatibility. "
            "See docs/api.md. The boot routes, /healthz, /metrics and /ui are here too "
            "(docs/resolver.md).",
        },
        "paths": {
            **_host_paths(),
            **_other_paths(),
            **openapi_fleet.paths(_op, _json, _MAC),
            **openapi_web.paths(),
        },
        "components": {
            "schemas": _schemas(),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


def dumps() -> str:
    return json.dumps(document(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    sys.stdout.write(dumps())
