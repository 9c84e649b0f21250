"""PXE Pilot compatible endpoints (``/v1/...`` and the same without ``/v1``).

Configurations are pxehook profiles (``local`` always exists). Deploying ``local`` marks a
host installed (the transition table's action towards ``deployed``: deployed from deploying,
adopt otherwise); deploying another configuration sets the host's profile and (re)installs
it (the action towards ``deploying``). The configuration a host shows is its state's
``pilot`` column of ``models.STATES``. Response shapes follow PXE Pilot: lists of
``{"name"}``, hosts with ``macAddresses`` and ``configuration``, 200 with an empty body on
success, errors as ``{"Message": …}`` (plus pxehook's own ``error`` object).

Authorisation: GETs need a read token. A deploy needs an admin token, except that a
machine may deploy ``local`` to itself without one: the request's source address must be
the IP pxehook recorded for every host named in the body.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, request

from pxehook import tokens
from pxehook.errors import Conflict, InvalidInput, NotFound, PxehookError, Unauthorized
from pxehook.lifecycle.hosts import HostChanges, apply_changes
from pxehook.lifecycle.table import action_towards, check, transition
from pxehook.mac import normalize_mac
from pxehook.models import STATES, Host, State
from pxehook.store import Store
from pxehook.web import context_of

bp = Blueprint("pxepilot", __name__)
LOCAL = "local"


def _store() -> Store:
    return context_of(current_app).store()


def _error(exc: PxehookError):  # type: ignore[no-untyped-def]
    body = {
        "Message": exc.message,
        "error": {"code": exc.code, "message": str(exc), "status": exc.http_status},
    }
    return jsonify(body), exc.http_status


@bp.errorhandler(PxehookError)
def _pxehook_error(exc: PxehookError):  # type: ignore[no-untyped-def]
    return _error(exc)


def _configurations(store: Store) -> list[str]:
    names = [p.name for p in store.profile_list()]
    return names if LOCAL in names else [*names, LOCAL]


def _configuration_of(host: Host) -> dict[str, str] | None:
    """What the host boots, as PXE Pilot names it (its state's ``pilot`` column)."""
    shown = STATES[host.state].pilot
    if shown == LOCAL:
        return {"name": LOCAL}
    if shown == "profile" and host.profile:
        return {"name": str(host.meta.get("rescue_profile") or host.profile)}
    return None


def _pilot_host(host: Host) -> dict[str, Any]:
    return {
        "name": host.name or host.mac,
        "macAddresses": list(host.macs),
        "configuration": _configuration_of(host),
        "ipmi": None,
    }


def _both(rule: str) -> list[str]:
    return [f"/v1{rule}", rule]


def _route(rule: str, **options: Any):  # type: ignore[no-untyped-def]
    def register(view):  # type: ignore[no-untyped-def]
        for path in _both(rule):
            bp.add_url_rule(path, f"{view.__name__}{path.count('/v1')}", view, **options)
        return view

    return register


@_route("/configurations", methods=["GET"])
def configurations():  # type: ignore[no-untyped-def]
    store = _store()
    tokens.authorize(store, request.headers.get("Authorization"), "read")
    return jsonify([{"name": n} for n in _configurations(store)])


@_route("/hosts", methods=["GET"])
def hosts():  # type: ignore[no-untyped-def]
    store = _store()
    tokens.authorize(store, request.headers.get("Authorization"), "read")
    return jsonify([_pilot_host(h) for h in store.host_list()])


def _targets(store: Store, body: Any) -> list[Host]:
    """Resolve the body's hosts (by macAddress/mac_address or name), PXE Pilot's rules."""
    if not isinstance(body, dict) or not isinstance(body.get("hosts"), list):
        raise InvalidInput('the body must be {"hosts": [{"macAddress": "…"}]}')
    by_name = {h.name: h for h in store.host_list() if h.name}
    found: dict[int, Host] = {}
    for item in body["hosts"]:
        if not isinstance(item, dict):
            raise InvalidInput("each entry of 'hosts' must be an object")
        if item.get("configuration"):
            raise Conflict("Configuration attribute for a host in this context is not allowed")
        mac, name = item.get("macAddress") or item.get("mac_address"), item.get("name")
        if not mac and not name:
            raise InvalidInput("Either name or macAddress must be provided for each host")
        host = store.host_get(normalize_mac(mac)) if mac else by_name.get(str(name))
        if host is None:
            raise NotFound(
                f"No host declared with {'MAC address' if mac else 'name'} <{mac or name}>"
            )
        if name and mac and host.name != name:
            raise Conflict(f"Host <{name}> does not match MAC address <{mac}>")
        if host.id in found:
            raise Conflict(f"Host <{host.name or host.mac}> appears several times in query")
        found[host.id or 0] = host
    return list(found.values())


def _authorise_deploy(store: Store, name: str, targets: list[Host]) -> str:
    """Admin token, or (for ``local`` only) the request comes from every target's own IP."""
    header = request.headers.get("Authorization")
    if header:
        return "pxepilot:" + tokens.authorize(store, header, "admin")["name"]
    peer = request.remote_addr or ""
    if _is_local(store, name) and targets and all(h.ip and h.ip == peer for h in targets):
        return f"pxepilot:self:{peer}"
    raise Unauthorized(
        "this deploy needs an admin bearer token (a host may deploy 'local' to itself only "
        "from the IP pxehook recorded for it)"
    )


def _is_local(store: Store, name: str) -> bool:
    profile = store.profile_get(name)
    return name == LOCAL or (profile is not None and profile.kind == "local")


def _action(host: Host, local: bool) -> str:
    """The table's action for this deploy: towards ``deployed`` for ``local`` (refused as
    ``adopt`` when none leads there), else towards ``deploying`` (refused as ``deploy``)."""
    if local:
        return action_towards(host.state, State.DEPLOYED, "adopt")
    return action_towards(host.state, State.DEPLOYING, "deploy")


def _apply(store: Store, name: str, host: Host, source: str) -> None:
    local = _is_local(store, name)
    if local and host.state == State.DEPLOYED:
        return
    action = _action(host, local)
    if local:
        transition(store, host, action, source=source, message="PXE Pilot: local")
        return
    check(host.state, action)
    if host.profile != name:
        host, _ = apply_changes(store, host.mac, HostChanges(profile=name), source=source)
    transition(store, host, action, source=source, message=f"PXE Pilot: {name}")


@_route("/configurations/<name>/deploy", methods=["PUT"])
def deploy(name: str):  # type: ignore[no-untyped-def]
    store = _store()
    if name not in _configurations(store):
        raise NotFound(f"Configuration '{name[:64]}' does not exists")
    targets = _targets(store, request.get_json(force=True, silent=True))
    source = _authorise_deploy(store, name, targets)
    local = _is_local(store, name)
    for host in targets:  # check every host first: all or nothing where the table decides
        if not (local and host.state == State.DEPLOYED):
            check(host.state, _action(host, local))
    for host in targets:
        _apply(store, name, host, source)
    return "", 200
