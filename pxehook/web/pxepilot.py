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
the trusted IP (``Host.trusted_ip``: from the DHCP server's hook or lease file, or a
trusted server's ACK the listener saw) of every host named in the body. Authorisation
comes first: without a token, every refusal is the same 401, whether the configuration,
host or name exists or not.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, request

from pxehook.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    PxehookError,
    RateLimited,
    Unauthorized,
)
from pxehook.lifecycle.hosts import HostChanges, apply_changes, find_host
from pxehook.lifecycle.table import action_towards, check, transition
from pxehook.mac import normalize_mac
from pxehook.models import STATES, Host, State
from pxehook.store import Store
from pxehook.web import context_of
from pxehook.web.api import bearer
from pxehook.web.boot import client_ip

bp = Blueprint("pxepilot", __name__)
LOCAL = "local"
SELF_ONLY = (
    "this deploy needs an admin bearer token (a host may deploy 'local' to itself only, "
    "from the IP a trusted DHCP source recorded for it)"
)


def _store() -> Store:
    return context_of(current_app).store()


def _error(exc: PxehookError):  # type: ignore[no-untyped-def]
    body = {
        "Message": exc.message,
        "error": {"code": exc.code, "message": str(exc), "status": exc.http_status},
    }
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, RateLimited) else {}
    return jsonify(body), exc.http_status, headers


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
    bearer("read")
    return jsonify([{"name": n} for n in _configurations(_store())])


@_route("/hosts", methods=["GET"])
def hosts():  # type: ignore[no-untyped-def]
    bearer("read")
    return jsonify([_pilot_host(h) for h in _store().host_list()])


def _targets(store: Store, body: Any) -> list[Host]:
    """Resolve the body's hosts (by macAddress/mac_address or name), PXE Pilot's rules."""
    if not isinstance(body, dict) or not isinstance(body.get("hosts"), list):
        raise InvalidInput('the body must be {"hosts": [{"macAddress": "…"}]}')
    found: dict[int, Host] = {}
    for item in body["hosts"]:
        if not isinstance(item, dict):
            raise InvalidInput("each entry of 'hosts' must be an object")
        if item.get("configuration"):
            raise Conflict("Configuration attribute for a host in this context is not allowed")
        mac, name = item.get("macAddress") or item.get("mac_address"), item.get("name")
        if not mac and not name:
            raise InvalidInput("Either name or macAddress must be provided for each host")
        host = store.host_get(normalize_mac(mac)) if mac else _by_name(store, str(name))
        if host is None:
            raise NotFound(f"No host declared with MAC address <{mac}>")
        if name and mac and host.name != name:
            raise Conflict(f"Host <{name}> does not match MAC address <{mac}>")
        if host.id in found:
            raise Conflict(f"Host <{host.name or host.mac}> appears several times in query")
        found[host.id or 0] = host
    return list(found.values())


def _by_name(store: Store, name: str) -> Host:
    """The host named ``name`` (``find_host``: an ambiguous name is refused)."""
    try:
        return find_host(store, name)
    except NotFound:
        raise NotFound(f"No host declared with name <{name[:64]}>") from None


def _authorise_deploy(store: Store, name: str, body: Any) -> tuple[str, list[Host]]:
    """(event source, targets): an admin token, checked before anything is looked up; or,
    without one, a ``local`` deploy from every target's own trusted IP. Without a token
    every refusal is the same 401, so it reveals no configuration, host or name."""
    if request.headers.get("Authorization"):
        source = "pxepilot:" + bearer("admin")["name"]
        if name not in _configurations(store):
            raise NotFound(f"Configuration '{name[:64]}' does not exists")
        return source, _targets(store, body)
    peer = client_ip()
    try:
        targets = _targets(store, body) if _is_local(store, name) else []
    except (InvalidInput, NotFound, Conflict):
        targets = []
    if targets and all(h.trusted_ip and h.trusted_ip == peer for h in targets):
        return f"pxepilot:self:{peer}", targets
    raise Unauthorized(SELF_ONLY)


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
    body = request.get_json(force=True, silent=True)
    source, targets = _authorise_deploy(store, name, body)
    local = _is_local(store, name)
    for host in targets:  # check every host first: all or nothing where the table decides
        if not (local and host.state == State.DEPLOYED):
            check(host.state, _action(host, local))
    for host in targets:
        _apply(store, name, host, source)
    return "", 200
