"""``/healthz``: the store is reachable and every background service of ``pxehook serve``
runs, with the inventory file on disk in force (503 naming each part that is not)."""

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
    version = None
    try:
        version = ctx.store().schema_version()
    except StoreError as exc:
        problems["store"] = str(exc)
    published = servicestatus.read(ctx.settings.state_dir)
    if published is not None:
        problems.update(servicestatus.problems(published))
    services = {
        name: info.get("status", "unknown")
        for name, info in ((published or {}).get("services") or {}).items()
    }
    if problems:
        body = {"status": "unhealthy", "problems": problems, "services": services}
        return jsonify(body), 503
    return jsonify({"status": "ok", "schema": version, "services": services})
