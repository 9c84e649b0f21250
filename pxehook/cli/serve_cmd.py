"""``pxehook serve``: gunicorn with the Flask app factory, plus the background services."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys

import click

from pxehook import fsmodes, services
from pxehook.cli.root import pass_lazy


def register(cli: click.Group) -> None:
    cli.add_command(serve)


def gunicorn_argv(bind: str, port: int, workers: int, log_level: str) -> list[str]:
    """The gunicorn command line ``serve`` runs (sync workers, app factory)."""
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "--bind",
        f"{bind}:{port}",
        "--workers",
        str(workers),
        "--log-level",
        log_level,
        "--graceful-timeout",
        "10",
        "--name",
        "pxehook",
        "pxehook.web:create_app()",
    ]


@click.command()
@click.option("--bind", help="Listen address (setting 'bind', default 127.0.0.1).")
@click.option("--port", type=int, help="TCP port (setting 'port', default 8070).")
@click.option("--workers", type=int, help="gunicorn workers (setting 'workers', default 2).")
@click.option(
    "--no-services",
    is_flag=True,
    help="Run only the web workers (no inventory watcher or other services).",
)
@pass_lazy
def serve(
    lazy,
    bind: str | None,
    port: int | None,
    workers: int | None,  # type: ignore[no-untyped-def]
    no_services: bool,
) -> None:
    """Serve boot configs and the API over HTTP with gunicorn.

    The supervisor process opens (and migrates) the database, applies and watches the
    inventory, starts the other background services, then runs gunicorn until it exits
    or a SIGTERM/SIGINT arrives.
    """
    ctx = lazy.get(bind=bind, port=port, workers=workers)
    s = ctx.settings
    logging.basicConfig(
        level=s.log_level.upper(),
        format="%(asctime)s [%(process)d] [%(levelname)s] %(name)s: %(message)s",
    )
    fsmodes.make_dir(s.state_dir, fsmodes.STATE_DIR)
    ctx.store(create=True)
    running = [] if no_services else services.start_all(ctx)
    env = dict(os.environ)
    for key in s:
        value = s[key]
        env[f"PXEHOOK_{key.upper()}"] = ",".join(value) if isinstance(value, list) else str(value)
    env.pop("PXEHOOK_CONFIG", None)
    proc = subprocess.Popen(gunicorn_argv(s.bind, s.port, s.workers, s.log_level), env=env)

    def forward(signum: int, _frame: object) -> None:
        proc.send_signal(signum)

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, forward)
    click.echo(f"pxehook serving on http://{s.bind}:{s.port}/ (pid {proc.pid})", err=True)
    try:
        code = proc.wait()
    finally:
        services.stop_all(running)
    sys.exit(code)
