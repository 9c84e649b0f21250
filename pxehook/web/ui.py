"""``/ui/``: the web page for people who would rather look (a thin client of /api/v1).

The page and its assets are static files: no host data is rendered into them, so nothing a
DHCP client sent can reach the markup. The page asks for an API token and calls the API.
"""

from __future__ import annotations

import os

from flask import Blueprint, redirect, send_from_directory

from pxehook.templating import packaged_templates_dir

bp = Blueprint("ui", __name__)

_ASSETS = {"index.html", "app.js", "style.css"}
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


@bp.get("/ui")
def ui_root():  # type: ignore[no-untyped-def]
    return redirect("/ui/", code=308)


@bp.get("/ui/")
@bp.get("/ui/<name>")
def ui_asset(name: str = "index.html"):  # type: ignore[no-untyped-def]
    if name not in _ASSETS:
        return {"error": {"code": "not_found", "message": "no such page", "status": 404}}, 404
    response = send_from_directory(os.path.join(packaged_templates_dir(), "web"), name)
    response.headers["Content-Security-Policy"] = _CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-cache"
    return response
