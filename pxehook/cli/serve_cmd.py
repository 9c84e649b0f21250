"""``pxehook serve``: gunicorn with the Flask app factory, plus the background services."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys

import click

from pxehook import children, fsmodes, services
from pxehook.cli.root import pass_lazy
from pxehook.config import Settings
from pxehook.errors import Conflict
from pxehook.lifecycle.callback import trusted_ip_warning
from pxehook.web import gunicorn_log
from pxehook.web.gunicorn_main import SUPERVISOR_PID

log = logging.getLogger("pxehook.serve")

GUNICORN_MODULE = "pxehook.web.gunicorn_main"
#: What names a gunicorn that a ``pxehook serve`` started (in its command line).
APP = "pxehook.web:create_app()"
WORKER_CLASS = "pxehook.web.worker.BoundedThreadWorker"
LOGGER_CLASS = "pxehook.web.gunicorn_log.Logger"
#: A Unix socket's path must fit ``sun_path`` (108 bytes with its NUL).
SOCKET_PATH_MAX = 107


def register(cli: click.Group) -> None:
    cli.add_command(serve)


def pid_file(settings: Settings) -> str:
    return os.path.join(settings.state_dir, "gunicorn.pid")


def control_socket(settings: Settings) -> str | None:
    """gunicorn's control socket (``gunicornc -s PATH``): in the state directory, owner
    only; None when that path is too long for a Unix socket."""
    path = os.path.join(os.path.abspath(settings.state_dir), "gunicorn.ctl")
    return path if len(os.fsencode(path)) <= SOCKET_PATH_MAX else None


def gunicorn_argv(settings: Settings) -> list[str]:
    """The gunicorn command line ``serve`` runs (bounded threaded workers, app factory)."""
    s = settings
    ctl = control_socket(s)
    control = ["--control-socket", ctl, "--control-socket-mode", "384"] if ctl else [
        "--no-control-socket"
    ]  # fmt: skip
    access = []
    if s.http_access_log:
        access = ["--access-logfile", s.http_access_log,
                  "--access-logformat", gunicorn_log.ACCESS_FORMAT]  # fmt: skip
    return [
        sys.executable, "-m", GUNICORN_MODULE,
        "--bind", f"{s.bind}:{s.port}",
        "--workers", str(s.workers),
        "--worker-class", WORKER_CLASS,
        "--threads", str(s.http_threads),
        "--keep-alive", str(s.http_keepalive),
        "--worker-connections", "1000",
        "--log-level", s.log_level,
        "--logger-class", LOGGER_CLASS,
        *access,
        "--graceful-timeout", "10",
        "--pid", pid_file(s),
        *control,
        "--name", "pxehook",
        APP,
    ]  # fmt: skip


def child_env(settings: Settings) -> dict[str, str]:
    """The environment gunicorn gets: the settings in force as PXEHOOK_*, and our PID."""
    env = dict(os.environ)
    for key in settings:
        value = settings[key]
        env[f"PXEHOOK_{key.upper()}"] = ",".join(value) if isinstance(value, list) else str(value)
    env.pop("PXEHOOK_CONFIG", None)
    env[SUPERVISOR_PID] = str(os.getpid())
    return env


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
    inventory, starts the other background services (each supervised: restarted with a
    back-off if it fails, its status on /healthz), then runs gunicorn until it exits or a
    SIGTERM/SIGINT arrives. gunicorn dies with the supervisor, whatever kills it.
    """
    ctx = lazy.get(bind=bind, port=port, workers=workers)
    s = ctx.settings
    gunicorn_log.configure(s.log_level)
    fsmodes.make_dir(s.state_dir, fsmodes.STATE_DIR)
    if control_socket(s) is None:
        log.info("no gunicorn control socket: the state directory's path is too long for one")
    try:
        stale = children.remove_stale(pid_file(s), APP, "pxehook serve")
    except RuntimeError as exc:
        raise Conflict(str(exc), hint="stop it first, or give this one another state_dir") from None
    if stale:
        log.warning("stopped gunicorn %d left running by an earlier pxehook serve", stale)
    ctx.store(create=True)
    unsourced = trusted_ip_warning(s, hook_installed=os.access(s.hook_path, os.X_OK))
    if unsourced:
        log.warning("%s", unsourced)
    supervisor = services.Supervisor(ctx, [] if no_services else None).start()
    proc = subprocess.Popen(gunicorn_argv(s), env=child_env(s))

    def forward(signum: int, _frame: object) -> None:
        proc.send_signal(signum)

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, forward)
    log.info("serving on http://%s:%d/ (gunicorn pid %d)", s.bind, s.port, proc.pid)
    try:
        code = proc.wait()
    finally:
        supervisor.stop()
    sys.exit(code)
