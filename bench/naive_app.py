"""The naive baseline of issue 13: Flask under gunicorn (2 sync workers), one SQLite lookup
by MAC and one Jinja2 render per request, no cache, no timeline.

It reads pxehook's own database (``NAIVE_DB``), so it answers the same hosts. Run by
``bench/bench_http.py`` (target ``naive-flask``)::

    NAIVE_DB=/path/pxehook.db gunicorn -w 2 -b 127.0.0.1:8080 --chdir bench naive_app:app
"""

from __future__ import annotations

import json
import os
import sqlite3

from flask import Flask, abort, g
from jinja2 import Environment

TEMPLATE = Environment(autoescape=False).from_string(
    """#!ipxe
# {{ name }} ({{ mac }}): {{ state }}
{% if state == "deploying" -%}
kernel http://files/{{ profile }}/linux {% for k, v in vars.items() %}{{ k }}={{ v }} {% endfor %}
initrd http://files/{{ profile }}/initrd.gz
boot
{%- else -%}
sanboot --no-describe --drive 0x80
{%- endif %}
"""
)
SQL = (
    "SELECT h.name, h.state, h.profile, h.vars FROM host_macs m "
    "JOIN hosts h ON h.id = m.host_id WHERE m.mac = ?"
)

app = Flask(__name__)


def db() -> sqlite3.Connection:
    if "db" not in g:
        g.db = sqlite3.connect(os.environ["NAIVE_DB"])
    return g.db


@app.teardown_appcontext
def close(_exc: BaseException | None) -> None:
    conn = g.pop("db", None)
    if conn is not None:
        conn.close()


@app.get("/ipxe/<mac>")
def ipxe(mac: str):  # type: ignore[no-untyped-def]
    mac = mac.replace("-", ":").lower()
    row = db().execute(SQL, (mac,)).fetchone()
    if row is None:
        abort(404)
    name, state, profile, variables = row
    body = TEMPLATE.render(
        name=name, mac=mac, state=state, profile=profile, vars=json.loads(variables or "{}")
    )
    return body, 200, {"Content-Type": "text/plain"}
