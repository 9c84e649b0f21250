"""``/healthz``: the store is reachable and every background service of ``pxehook serve``
runs, with the inventory file on disk in force (503 naming each part that is not).

It names this resolver's rack and its role in the fleet (``leader``, ``standby``; ``none``
without the background services). A database that does not answer makes the resolver
``degraded``, not dead (200): it still answers the machines it knows from the last state
it saw, and hook events wait in the spool (docs/racks.md, database outage).
"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from pxehook import servicestatus
from pxehook.errors import StoreError
from pxehook.web import context_of

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():  # type: ignore[no-untyped-def]
    ctx = context_of(current_app)
    problems: dict[str, str] = {}
    version, unreachable = None, ""
    try:
        version = ctx.store().schema_version()
    except StoreError as exc:
        unreachable = str(exc)
    published = servicestatus.read(ctx.settings.state_dir)
    if published is not None:
        problems.update(servicestatus.problems(published))
    services = {
        name: info.get("status", "unknown")
        for name, info in ((published or {}).get("services") or {}).items()
    }
    fleet = (published or {}).get("fleet") or {}
    where = {"rack": ctx.settings.rack, "role": fleet.get("role", "none")}
    if problems:
        if unreachable:
            problems["store"] = unreachable
        body = {"status": "unhealthy", "problems": problems, "services": services, **where}
        return jsonify(body), 503
    if unreachable:
        body = {"status": "degraded", "problems": {"store": unreachable}, "services": services}
        return jsonify({**body, **where})
    return jsonify({"status": "ok", "schema": version, "services": services, **where})
