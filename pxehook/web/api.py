"""The REST API under ``/api/v1``: hosts, state transitions, events, profiles, clone, tokens.

GET needs a token of scope ``read`` (or ``admin``); anything that changes state needs
``admin``. The exceptions: the installer's callback (``POST /hosts/<mac>/deployed``), which
carries its own per-deployment token (and by default must come from the host's trusted
IP), and the OpenAPI document. Wrong tokens are limited per client address
(``bearer``). ``<mac>`` in a path is any of the host's MACs or its name
(``lifecycle.hosts.find_host``). Errors use the shape of ``web/errors.py``.
"""

from __future__ import annotations

import difflib
from typing import Any
from urllib.parse import parse_qs

from flask import Blueprint, current_app, jsonify, request

from pxehook import archsource, counters, tokens
from pxehook.errors import Conflict, InvalidInput, NotFound
from pxehook.lifecycle.callback import callback_vars, install_done
from pxehook.lifecycle.clone import PARTS, clone
from pxehook.lifecycle.hosts import HostChanges, apply_changes, delete_host, find_host, parse_arch
from pxehook.lifecycle.table import host_view, perform, states_view, transition
from pxehook.mac import normalize_mac
from pxehook.models import STATES, State, creatable_states
from pxehook.web import context_of
from pxehook.web.boot import client_ip
from pxehook.web.limits import WindowCap
from pxehook.web.openapi import document

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def _ctx():  # type: ignore[no-untyped-def]
    return context_of(current_app)


def bearer(need: str) -> dict[str, Any]:
    """Check the request's bearer token against scope ``need``; wrong tokens count against
    the client's address (one limiter per process, ``api_token_failures`` a minute)."""
    ctx = _ctx()
    limiter = current_app.extensions.get("pxehook.token_limiter")
    if limiter is None:
        limiter = tokens.FailureLimiter(ctx.settings.api_token_failures)
        limiter = current_app.extensions.setdefault("pxehook.token_limiter", limiter)
    header = request.headers.get("Authorization")
    return tokens.authorize(ctx.store(), header, need, client=client_ip(), limiter=limiter)


def _auth(need: str) -> str:
    """Check the bearer token; returns the event source naming it."""
    return f"api:{bearer(need)['name']}"


def _body() -> dict[str, Any]:
    data = request.get_json(force=True, silent=True) if request.get_data() else {}
    if not isinstance(data, dict):
        raise InvalidInput("the request body must be a JSON object")
    return data


def _field(data: dict[str, Any], key: str, kind: type, default: Any = None) -> Any:
    """``data[key]`` checked to be a ``kind`` (missing or null: ``default``)."""
    value = data.get(key)
    if value is None:
        return default
    if not isinstance(value, kind):
        raise InvalidInput(f"'{key}' must be a {kind.__name__}")
    return value


#: The largest whole number a query parameter may be (what the databases store).
INT_MAX = 2**63 - 1


def _int_arg(name: str, default: int | None, minimum: int) -> int | None:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw[:20])
    except ValueError:
        raise InvalidInput(f"query parameter '{name}' must be a whole number") from None
    if value < minimum or value > INT_MAX or len(raw) > 20:
        raise InvalidInput(f"query parameter '{name}' must be between {minimum} and {INT_MAX}")
    return value


def _str_map(data: dict[str, Any], key: str) -> tuple[dict[str, Any], list[str]]:
    """A {key: value|null} patch: (values to set, keys to remove)."""
    raw = _field(data, key, dict, {})
    sets = {str(k): v for k, v in raw.items() if v is not None}
    if key == "labels" and any(not isinstance(v, str) for v in sets.values()):
        raise InvalidInput("label values must be strings")
    return sets, [str(k) for k, v in raw.items() if v is None]


#: What PATCH /hosts/<mac> may change; POST /hosts also takes ``mac`` and ``state``.
EDITABLE = ("name", "uuid", "profile", "arch", "add_macs", "vars", "labels")
#: Fields a host shows that no edit sets (each has its own way, or is observed).
READ_ONLY = {
    "state": "change it with an action: POST /api/v1/hosts/<mac>/actions/<action> "
    "(GET /api/v1/hosts/<mac>/state lists the allowed ones)",
    "id": "it is the store's",
    "mac": "the first of 'macs'; add others with 'add_macs'",
    "macs": "add one with 'add_macs'",
    "meta": "it is the life-cycle's bookkeeping",
    "arch_source": "it follows 'arch' (setting) or what was observed",
    "state_changed": "it is when the state last changed",
}
READ_ONLY.update(
    dict.fromkeys(
        ("ip", "vendor_class", "user_class", "first_seen", "last_seen"),
        "it is observed on the network",
    )
)


def _only_fields(data: dict[str, Any], allowed: tuple[str, ...]) -> None:
    """A field the request may not set is a 400 naming it (and what to do instead)."""
    for key in data:
        if key in allowed:
            continue
        if key in READ_ONLY:
            raise InvalidInput(f"'{key}' cannot be set here", hint=READ_ONLY[key])
        close = difflib.get_close_matches(str(key), allowed, n=1)
        raise InvalidInput(
            f"unknown field {str(key)[:40]!r}",
            hint=(f"did you mean '{close[0]}'? " if close else "")
            + "fields: "
            + ", ".join(allowed),
        )


def _force() -> bool:
    """``?force=true``: change fields the inventory declares (its next apply sets them back)."""
    return request.args.get("force", "").lower() in ("1", "true", "yes")


def _changes(data: dict[str, Any]) -> HostChanges:
    set_vars, unset_vars = _str_map(data, "vars")
    set_labels, unset_labels = _str_map(data, "labels")
    arch = data.get("arch", "keep")
    macs = _field(data, "add_macs", list, [])
    if any(not isinstance(m, str) for m in macs):
        raise InvalidInput("'add_macs' must be a list of MAC strings")
    return HostChanges(
        name=_field(data, "name", str),
        uuid=_field(data, "uuid", str),
        profile=_field(data, "profile", str),
        arch=None if arch in ("keep", None) else parse_arch(arch),
        clear_arch=arch is None,
        add_macs=macs,
        set_vars=set_vars,
        unset_vars=unset_vars,
        set_labels=set_labels,
        unset_labels=unset_labels,
    )


# --- hosts -----------------------------------------------------------------------------------
@bp.get("/hosts")
def hosts_list():  # type: ignore[no-untyped-def]
    _auth("read")
    state = request.args.get("state") or None
    if state is not None and state not in STATES:
        raise InvalidInput(f"unknown state {state[:40]!r}", hint="one of " + ", ".join(STATES))
    label = None
    if request.args.get("label"):
        key, sep, value = request.args["label"].partition("=")
        if not sep or not key:
            raise InvalidInput("'label' must look like key=value")
        label = (key, value)
    hosts = (
        _ctx()
        .store()
        .host_list(
            state=state,
            profile=request.args.get("profile") or None,
            label=label,
            limit=_int_arg("limit", None, 1),
        )
    )
    return jsonify([archsource.host_json(h) for h in hosts])


@bp.post("/hosts")
def hosts_create():  # type: ignore[no-untyped-def]
    source = _auth("admin")
    data = _body()
    _only_fields(data, ("mac", "state", *EDITABLE))
    mac = normalize_mac(data.get("mac"))
    state = _field(data, "state", str, State.NEW.value)
    initial = creatable_states()
    if state not in initial:
        raise InvalidInput(f"a new host starts as one of {', '.join(initial)}, not {state!r}")
    store = _ctx().store()
    if store.host_get(mac) is not None:
        raise Conflict(f"host {mac} already exists", hint="PATCH it instead")
    host, _ = apply_changes(store, mac, _changes(data), source=source)
    action = STATES[State(state)].create_action  # created new, then the table's action
    if action:
        host = transition(store, host, action, source=source, message="added")
    return jsonify(archsource.host_json(host)), 201


@bp.get("/hosts/<mac>")
def hosts_show(mac: str):  # type: ignore[no-untyped-def]
    _auth("read")
    return jsonify(archsource.host_json(find_host(_ctx().store(), mac)))


@bp.patch("/hosts/<mac>")
def hosts_update(mac: str):  # type: ignore[no-untyped-def]
    """Change the fields named; ``version`` (optional) makes the change conditional on the
    host being as read; a field the inventory declares is a 409 unless ``?force=true``."""
    source = _auth("admin")
    store = _ctx().store()
    data = _body()
    _only_fields(data, (*EDITABLE, "version"))
    version = data.get("version")
    if version is not None and (not isinstance(version, int) or isinstance(version, bool)):
        raise InvalidInput("'version' must be an integer (the host's version as read)")
    found = find_host(store, mac)
    host, _ = apply_changes(
        store, found.mac, _changes(data), source=source, refuse_owned=not _force(),
        force_hint="change it in the inventory, or add ?force=true (its next apply sets it back)",
        version=version,
    )  # fmt: skip
    return jsonify(archsource.host_json(host))


@bp.delete("/hosts/<mac>")
def hosts_delete(mac: str):  # type: ignore[no-untyped-def]
    _auth("admin")
    delete_host(_ctx().store(), mac)
    return "", 204


@bp.get("/hosts/<mac>/state")
def hosts_state(mac: str):  # type: ignore[no-untyped-def]
    _auth("read")
    return jsonify(host_view(find_host(_ctx().store(), mac)))


@bp.post("/hosts/<mac>/actions/<action>")
def hosts_action(mac: str, action: str):  # type: ignore[no-untyped-def]
    source = _auth("admin")
    data = _body()
    ctx = _ctx()
    host = perform(
        ctx.store(),
        mac,
        action,
        source=source,
        profile=_field(data, "profile", str, ""),
        message=_field(data, "message", str, "")[:200],
    )
    body = {"host": archsource.host_json(host), **host_view(host)}
    body.update(callback_vars(ctx.settings, ctx.store(), host))
    return jsonify(body)


#: Events one ``GET /hosts/<mac>/events`` returns by default, and at most.
EVENTS_PAGE, EVENTS_MAX = 100, 1000


@bp.get("/hosts/<mac>/events")
def hosts_events(mac: str):  # type: ignore[no-untyped-def]
    """One page of the timeline: newest first before the cursor ``before`` (none: the
    newest); with ``since`` (a follower), oldest first after it. A full page carries a
    ``Link: <…>; rel="next"`` header to the next one."""
    _auth("read")
    store = _ctx().store()
    host = find_host(store, mac)
    assert host.id is not None
    since, before = _int_arg("since", None, 0), _int_arg("before", None, 1)
    if since is not None and before is not None:
        raise InvalidInput("give 'since' (oldest first) or 'before' (newest first), not both")
    limit = min(_int_arg("limit", EVENTS_PAGE, 1) or EVENTS_PAGE, EVENTS_MAX)
    if since is not None:
        events = store.events(host.id, since_id=since, limit=limit)
    else:
        events = store.events_page(host.id, before_id=before, limit=limit)
    response = jsonify([e.as_dict() for e in events])
    if len(events) == limit:
        cursor = "since" if since is not None else "before"
        response.headers["Link"] = (
            f'<{request.base_url}?{cursor}={events[-1].id}&limit={limit}>; rel="next"'
        )
    return response


@bp.post("/hosts/<mac>/deployed")
def hosts_deployed(mac: str):  # type: ignore[no-untyped-def]
    """The installer's callback: its per-deployment token (no bearer token), from the host's
    trusted IP unless ``callback_require_host_ip`` is off."""
    ctx, peer = _ctx(), client_ip()
    from_ip = peer if ctx.settings.callback_require_host_ip else None
    host, changed = install_done(
        ctx.store(), mac, _callback_token(), source=f"callback:{peer}", from_ip=from_ip,
        record=_refusal_cap(),
    )  # fmt: skip
    return jsonify({"mac": host.mac, "state": str(host.state), "changed": changed})


def _refusal_cap():  # type: ignore[no-untyped-def]
    """This worker's cap on refused callbacks put on a host's timeline (``web/limits``)."""
    cap = current_app.extensions.get("pxehook.callback_cap")
    if cap is None:
        cap = WindowCap(_ctx().settings.callback_refusals_logged)
        current_app.extensions["pxehook.callback_cap"] = cap

    def record(host_id: int) -> bool:
        if cap.take(host_id):
            return True
        counters.count("callback_event_dropped")
        return False

    return record


def _callback_token() -> str:
    """The token from the query, a form body (busybox wget --post-data) or a JSON body."""
    raw = request.get_data(cache=True, as_text=True)
    token: Any = request.args.get("token")
    if not token and raw.lstrip().startswith("{"):
        try:
            data = current_app.json.loads(raw)
        except ValueError:  # not JSON the API accepts (strictjson): no token
            data = None
        token = data.get("token") if isinstance(data, dict) else None
    elif not token:
        token = (parse_qs(raw).get("token") or [""])[0]
    return token if isinstance(token, str) else ""


# --- states, profiles, clone, tokens ----------------------------------------------------------
@bp.get("/states")
def states_list():  # type: ignore[no-untyped-def]
    """The state table: description, creatable, allowed actions."""
    _auth("read")
    return jsonify(states_view())


@bp.get("/profiles")
def profiles_list():  # type: ignore[no-untyped-def]
    _auth("read")
    return jsonify([p.as_dict() for p in _ctx().store().profile_list()])


@bp.get("/profiles/<name>")
def profiles_show(name: str):  # type: ignore[no-untyped-def]
    _auth("read")
    profile = _ctx().store().profile_get(name)
    if profile is None:
        raise NotFound(f"no profile named {name[:64]!r}")
    return jsonify(profile.as_dict())


@bp.post("/clone")
def clone_hosts():  # type: ignore[no-untyped-def]
    source = _auth("admin")
    data = _body()
    destinations = _field(data, "destinations", list, [])
    parts = _field(data, "parts", list, list(PARTS))
    if not all(isinstance(x, str) for x in [*destinations, *parts]):
        raise InvalidInput("'destinations' and 'parts' must be lists of strings")
    src = _field(data, "source", str)
    if not src:
        raise InvalidInput("'source' (a MAC) is required")
    result = clone(
        _ctx().store(), src, destinations, parts=tuple(parts), source=source,
        refuse_owned=not _force(),
    )  # fmt: skip
    return jsonify(result)


@bp.get("/tokens")
def tokens_list():  # type: ignore[no-untyped-def]
    _auth("admin")
    return jsonify(_ctx().store().token_list())


@bp.post("/tokens")
def tokens_create():  # type: ignore[no-untyped-def]
    _auth("admin")
    data = _body()
    name, scope = _field(data, "name", str, ""), _field(data, "scope", str, "read")
    secret = tokens.create(_ctx().store(), name, scope)
    return jsonify({"name": name, "scope": scope, "token": secret}), 201


@bp.delete("/tokens/<name>")
def tokens_delete(name: str):  # type: ignore[no-untyped-def]
    _auth("admin")
    _ctx().store().token_delete(name)
    return "", 204


@bp.get("/openapi.json")
def openapi():  # type: ignore[no-untyped-def]
    return jsonify(document())
