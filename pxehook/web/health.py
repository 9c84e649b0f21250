"""``/healthz``: the process answers and the store is reachable."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from pxehook.errors import StoreError
from pxehook.web import context_of

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():  # type: ignore[no-untyped-def]
    ctx = context_of(current_app)
    try:
        version = ctx.store().schema_version()
    except StoreError as exc:
        return jsonify({"status": "unhealthy", "store": str(exc)}), 503
    return jsonify({"status": "ok", "schema": version})
