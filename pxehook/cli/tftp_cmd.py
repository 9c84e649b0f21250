"""``pxehook tftp``: run pxehook's own TFTP server in the foreground."""

from __future__ import annotations

import signal
import threading

import click

from pxehook.cli.root import pass_lazy
from pxehook.tftp.service import build
from pxehook.web import gunicorn_log


def register(cli: click.Group) -> None:
    cli.add_command(tftp)


@click.command()
@click.option(
    "--bind", help="Listen address (setting 'tftp_bind', else server_ip, else 127.0.0.1)."
)
@click.option("--port", type=int, help="UDP port (setting 'tftp_port', default 69).")
@pass_lazy
def tftp(lazy, bind: str | None, port: int | None) -> None:  # type: ignore[no-untyped-def]
    """Serve loaders from tftp_root and per-machine config names over TFTP.

    PXELINUX/U-Boot (pxelinux.cfg/…) and GRUB (grub.cfg…) names go through the same
    decision as the HTTP routes; every answer is recorded on the host's timeline.
    Runs until SIGTERM or SIGINT. A port that cannot be bound is a one-line error
    (exit code 5).
    """
    ctx = lazy.get()
    gunicorn_log.configure(ctx.settings.log_level)
    ctx.store(create=True)
    server = build(ctx, bind, port)
    done = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: done.set())
    server.start()
    click.echo(
        f"pxehook tftp serving {server.root} on {server.address[0]}:{server.address[1]}", err=True
    )
    done.wait()
    server.stop()
