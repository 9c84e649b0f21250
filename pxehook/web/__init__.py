"""Flask app factory (run by gunicorn: ``pxehook.web:create_app()``)."""

from __future__ import annotations

import importlib

from flask import Flask

from pxehook.config import Settings, load_settings
from pxehook.context import Context
from pxehook.web import fastpath
from pxehook.web.errors import register_error_handlers
from pxehook.web.strictjson import StrictJSONProvider

#: Blueprint modules, each exposing ``bp`` (a flask.Blueprint). Order = registration order.
BLUEPRINTS = ("health", "metrics", "boot", "ui", "api", "fleet", "pxepilot")


def create_app(settings: Settings | None = None, *, test_config: dict | None = None) -> Flask:
    """Build the app. Settings come from the usual load order unless given."""
    app = Flask("pxehook")
    app.json = StrictJSONProvider(app)
    ctx = Context(settings or load_settings())
    app.config["PXEHOOK"] = ctx
    app.config["MAX_CONTENT_LENGTH"] = 1 << 20
    if test_config:
        app.config.update(test_config)
    register_error_handlers(app)
    modules = {name: importlib.import_module(f"{__name__}.{name}") for name in BLUEPRINTS}
    for module in modules.values():
        app.register_blueprint(module.bp)
    # boot config GETs without Flask's per-request cost: the boot routes' own functions
    fastpath.install(app, modules["boot"].FAST, ctx.settings.state_dir)
    return app


def context_of(app: Flask) -> Context:
    """The pxehook Context attached to ``app``."""
    return app.config["PXEHOOK"]
