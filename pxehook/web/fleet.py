"""The fleet page's API under ``/api/v1``: pages of hosts with counts, what changed since a
cursor, a host's panel (timeline, last boot's stages), ``explain``, bulk actions, and who
the token is.

Every filter, sort and page runs in the store (``Store.host_search``): a page of 100 rows out
of 10,000 hosts is about 100 rows read plus the counts, never the whole fleet. Reads need
scope ``read``; bulk actions ``admin``, each host's action checked against the transition
table and written conditionally (``lifecycle.table.perform``), one by one.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request

from pxehook import arch as archtable
from pxehook import archsource
from pxehook.errors import InvalidInput, PxehookError
from pxehook.explain import explain_data
from pxehook.lifecycle.hosts import find_host
from pxehook.lifecycle.table import OPERATIONS, host_view, perform
from pxehook.models import STATES, Host
from pxehook.store.listing import MAX_PAGE, MAX_WORD, MAX_WORDS, SORT_KEYS, HostPage, HostQuery
from pxehook.web.api import _body, _ctx, _field, _int_arg, bearer
from pxehook.web.bootstages import last_boot

bp = Blueprint("fleet", __name__, url_prefix="/api/v1")

#: Actions the page asks to confirm: they reinstall, take away or stop what the machine runs.
DESTRUCTIVE = frozenset(
    {"commission", "deploy", "reinstall", "release", "rescue", "mark-broken", "fail"}
)
#: Actions that take a profile (``lifecycle.table.perform``: deploy and reinstall set it,
#: rescue names the rescue system to boot): the page offers a choice for these.
TAKES_PROFILE = frozenset({"deploy", "reinstall", "rescue"})
#: Events the panel shows (the newest), and how many it reads to find the last boot.
PANEL_EVENTS = 50
BOOT_EVENTS = 200


def _arch_json(code: int | None) -> dict[str, Any]:
    if code is None:
        return {"code": None, "slug": "", "name": "unknown"}
    arch = archtable.lookup(code)
    return {"code": code, "slug": arch.slug, "name": arch.name}


def row(host: Host) -> dict[str, Any]:
    """A host as one row of the list: what the table shows, the arch by name and source."""
    arch, source, _reasons = archsource.effective(host)
    return {
        "mac": host.mac, "name": host.name, "dhcp_hostname": host.dhcp_hostname,
        "ip": host.ip, "profile": host.profile, "state": str(host.state),
        "state_changed": host.state_changed, "last_seen": host.last_seen,
        "arch": _arch_json(arch.code if arch else None), "arch_source": source,
        "labels": host.labels, "version": host.version,
    }  # fmt: skip


def query_from(args: Any, *, everything: bool = False) -> HostQuery:
    """A ``HostQuery`` from query parameters (or, ``everything``: the first MAX_PAGE hosts of
    a bulk action's ``filter`` object); each bad value is a 400 naming it."""
    args = {k: _scalar(k, v) for k, v in args.items()}
    state = args.get("state") or None
    if state is not None and state not in STATES:
        raise InvalidInput(f"unknown state {str(state)[:40]!r}", hint="one of " + ", ".join(STATES))
    arch = None
    if args.get("arch") not in (None, ""):
        arch = archtable.code_of(args.get("arch"))
        if arch is None:
            raise InvalidInput("'arch' must be an option-93 code or slug (pxehook arch list)")
    label = None
    if args.get("label"):
        key, sep, value = str(args["label"]).partition("=")
        if not sep or not key:
            raise InvalidInput("'label' must look like key=value")
        label = (key, value)
    words = tuple(str(args.get("q") or "").lower().split())
    if len(words) > MAX_WORDS or any(len(w) > MAX_WORD for w in words):
        raise InvalidInput(f"'q' takes up to {MAX_WORDS} words of up to {MAX_WORD} characters")
    sort = str(args.get("sort") or "id")
    if sort not in SORT_KEYS:
        raise InvalidInput(f"unknown sort {sort[:40]!r}", hint="one of " + ", ".join(SORT_KEYS))
    order = str(args.get("order") or "asc")
    if order not in ("asc", "desc"):
        raise InvalidInput("'order' must be asc or desc")
    profile = args.get("profile")
    limit = MAX_PAGE if everything else _int_arg("limit", 100, 0) or 0
    if limit > MAX_PAGE:
        raise InvalidInput(f"'limit' is at most {MAX_PAGE}")
    return HostQuery(
        state=state, arch=arch, profile=str(profile) if profile else None, label=label,
        words=words, sort=sort, descending=order == "desc",
        offset=0 if everything else _int_arg("offset", 0, 0) or 0, limit=limit,
    )  # fmt: skip


def _scalar(key: str, value: Any) -> str:
    """A filter value as text: a string or a whole number, else a 400."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise InvalidInput(f"{str(key)[:40]!r} must be a string")
    return str(value)


def _counts(page: HostPage) -> dict[str, Any]:
    archs = [{**_arch_json(code), "count": n} for code, n in page.archs.items()]
    archs.sort(key=lambda a: (-a["count"], a["code"] if a["code"] is not None else 1 << 20))
    return {
        "total": page.total,
        "states": {s: page.states.get(s, 0) for s in map(str, STATES)},
        "archs": archs,
        "cursor": page.cursor,
    }


@bp.get("/fleet")
def fleet_page():  # type: ignore[no-untyped-def]
    """One page of hosts, sorted and filtered, with the counts per state and per arch."""
    bearer("read")
    query = query_from(request.args)
    page = _ctx().store().host_search(query)
    body = {"hosts": [row(h) for h in page.hosts], "offset": query.offset, **_counts(page)}
    return jsonify(body)


@bp.get("/fleet/changes")
def fleet_changes():  # type: ignore[no-untyped-def]
    """Hosts written since ``since`` (a ``cursor`` of an earlier answer), each marked whether
    it matches the filter; ``resync``: read the page again (many changed, or a delete)."""
    bearer("read")
    since = _int_arg("since", None, 0)
    if since is None:
        raise InvalidInput("'since' (the cursor of an earlier answer) is required")
    query = query_from(request.args)
    changes = _ctx().store().host_changes(since, query)
    matching = {h.mac for h in changes.hosts if h.id in changes.matching}
    body: dict[str, Any] = {
        "hosts": [{**row(h), "matches": h.mac in matching} for h in changes.hosts],
        "resync": changes.resync,
        "cursor": changes.cursor,
    }
    if changes.page is not None:
        body.update(_counts(changes.page))
    body["cursor"] = changes.cursor
    return jsonify(body)


@bp.get("/whoami")
def whoami():  # type: ignore[no-untyped-def]
    """The token's name and scope: the page shows actions only to ``admin``."""
    record = bearer("read")
    return jsonify({"name": record["name"], "scope": record["scope"]})


@bp.get("/actions")
def actions_list():  # type: ignore[no-untyped-def]
    """Every action of the transition table: help, target and whether the page confirms it."""
    bearer("read")
    return jsonify([
        {"action": op.name, "help": op.help, "target": str(op.target) if op.target else None,
         "destructive": op.name in DESTRUCTIVE, "profile": op.name in TAKES_PROFILE}
        for op in OPERATIONS.values()
    ])  # fmt: skip


@bp.get("/hosts/<mac>/panel")
def host_panel(mac: str):  # type: ignore[no-untyped-def]
    """What the host panel shows, in one read: the host, its state and allowed actions, its
    newest events (oldest first) and the stages of its last boot."""
    bearer("read")
    store = _ctx().store()
    host = find_host(store, mac)
    assert host.id is not None
    events, more = store.host_timeline(host.id, BOOT_EVENTS)
    shown = events[-PANEL_EVENTS:]
    return jsonify({
        "host": {**archsource.host_json(host), "row": row(host)},
        "view": host_view(host),
        "events": [e.as_dict() for e in shown],
        "more_events": more or len(events) > len(shown),
        "boot": last_boot(events),
    })  # fmt: skip


@bp.get("/hosts/<mac>/explain")
def host_explain(mac: str):  # type: ignore[no-untyped-def]
    """``pxehook explain``: the decision chain per loader. The rendered bytes carry the
    deployment's callback token: only an ``admin`` token gets them."""
    record = bearer("read")
    data = explain_data(_ctx(), mac, None)
    if record["scope"] != "admin":
        for answer in data["answers"]:
            answer["body"] = None
    return jsonify(data)


@bp.post("/fleet/actions/<action>")
def fleet_action(action: str):  # type: ignore[no-untyped-def]
    """``action`` on each host of ``macs`` or of ``filter`` (up to MAX_PAGE); each host is
    checked and written on its own: the answer lists what was done and what was refused."""
    record = bearer("admin")
    if action not in OPERATIONS:
        raise InvalidInput(f"unknown action {action[:40]!r}", hint=", ".join(OPERATIONS))
    data = _body()
    macs = _targets(data)
    profile = _field(data, "profile", str, "")
    message = _field(data, "message", str, "")[:200]
    store, source = _ctx().store(), f"api:{record['name']}"
    done: list[dict[str, Any]] = []
    failed: list[dict[str, str]] = []
    for mac in macs:
        try:
            host = perform(store, mac, action, source=source, profile=profile, message=message)
        except PxehookError as err:
            failed.append({"mac": mac, "error": str(err)[:300]})
        else:
            done.append(row(host))
    return jsonify({"action": action, "done": done, "failed": failed})


def _targets(data: dict[str, Any]) -> list[str]:
    macs = _field(data, "macs", list)
    wanted = _field(data, "filter", dict)
    if (macs is None) == (wanted is None):
        raise InvalidInput("give either 'macs' (a list) or 'filter' (the list's query)")
    if macs is not None:
        if not all(isinstance(m, str) for m in macs) or len(macs) > MAX_PAGE:
            raise InvalidInput(f"'macs' must be up to {MAX_PAGE} MAC strings")
        return list(dict.fromkeys(macs))
    page = _ctx().store().host_search(query_from({**wanted, "sort": "id"}, everything=True))
    if page.total > MAX_PAGE:
        raise InvalidInput(
            f"the filter selects {page.total} hosts; one bulk action takes up to {MAX_PAGE}",
            hint="narrow the filter (state, profile, label, text)",
        )
    return [h.mac for h in page.hosts]
