"""``pxehook hook|spool|listen|watch-leases``: capture every machine that boots."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import click

from pxehook import fsmodes
from pxehook.capture import build, status
from pxehook.capture.ingest import Ingester
from pxehook.capture.leases import LeaseWatchService
from pxehook.capture.listener import Listener
from pxehook.capture.spool import Spool, spool_file
from pxehook.cli.output import json_option, print_fields, print_json
from pxehook.cli.root import pass_lazy
from pxehook.daemons import DAEMONS
from pxehook.errors import StoreError


def register(cli: click.Group) -> None:
    for command in (hook, spool, listen, watch_leases):
        cli.add_command(command)


@click.group()
def hook() -> None:
    """The DHCP hook dnsmasq, ISC dhcpd and Kea call (see docs/capture.md)."""


def _hook_options(fn):  # type: ignore[no-untyped-def]
    fn = click.option("--python", "use_python", is_flag=True, help="The slower Python hook.")(fn)
    fn = click.option("--spool", metavar="FILE", help="Spool file (default SPOOL_DIR/hook.spool).")(
        fn
    )
    return click.option("--cc", metavar="CC", help="C compiler (default $CC or cc).")(fn)


def _build(settings, out: str, spool: str | None, use_python: bool, cc: str | None) -> Path:  # type: ignore[no-untyped-def]
    target = spool or str(spool_file(settings.spool_dir))
    if use_python:
        return build.build_python(out, target, fsync=settings.hook_fsync)
    return build.build_c(out, target, fsync=settings.hook_fsync, cc=cc)


@hook.command("build")
@click.option("--out", default="pxehook-hook", show_default=True, help="Output file.")
@_hook_options
@pass_lazy
def hook_build(lazy, out: str, spool: str | None, use_python: bool, cc: str | None) -> None:  # type: ignore[no-untyped-def]
    """Compile the hook with the spool path and fsync setting built in."""
    path = _build(lazy.get().settings, out, spool, use_python, cc)
    click.echo(f"built {path}")


@hook.command("install")
@click.option("--out", help="Install path (default: the 'hook_path' setting).")
@_hook_options
@pass_lazy
def hook_install(
    lazy, out: str | None, spool: str | None, use_python: bool, cc: str | None
) -> None:  # type: ignore[no-untyped-def]
    """Build the hook into 'hook_path' and create the spool directory."""
    settings = lazy.get().settings
    path = _build(settings, out or settings.hook_path, spool, use_python, cc)
    spool_dir = Path(spool).parent if spool else Path(settings.spool_dir)
    fsmodes.make_dir(spool_dir, fsmodes.SPOOL_DIR)
    click.echo(f"installed {path}; spool in {spool_dir}")
    for daemon in DAEMONS:
        click.echo(f"{daemon.display}: {daemon.hook_wiring.format(hook=path)}")


@click.group()
def spool() -> None:
    """The hook spool: what is waiting to be applied to the store."""


@spool.command("status")
@json_option
@pass_lazy
def spool_status(lazy, as_json: bool) -> None:  # type: ignore[no-untyped-def]
    """Show the spool file, its applied position and what is pending."""
    sp = Spool(lazy.get().settings.spool_dir)
    pending = sp.pending_bytes()
    chunk = sp.read()
    info = {
        "spool": str(sp.path),
        "size": sp.path.stat().st_size if sp.path.exists() else 0,
        "applied_offset": sp.position.offset,
        "pending_bytes": pending,
        "pending_records": len(chunk.records),
        "damaged_bytes": chunk.skipped,
        "partial_bytes": chunk.partial,
    }
    if as_json:
        print_json(info)
    else:
        print_fields(list(info.items()))


@spool.command("replay")
@click.option("--timeout", type=float, default=60.0, show_default=True, help="Give up after S.")
@json_option
@pass_lazy
def spool_replay(lazy, timeout: float, as_json: bool) -> None:  # type: ignore[no-untyped-def]
    """Apply every pending spool record to the store, in order (waits for a locked store)."""
    ctx = lazy.get()
    result = Ingester(ctx.store(), ctx.settings.spool_dir).drain(timeout=timeout)
    info = {
        "records": result.records,
        **dict(result.outcomes),
        "damaged_bytes": result.skipped_bytes,
    }
    if as_json:
        print_json(info)
    else:
        click.echo(", ".join(f"{k}={v}" for k, v in info.items()))
    if result.more:
        raise StoreError(f"records remain in the spool: {result.blocked or 'timeout'}")


def _run_until(seconds: float | None, done=lambda: False) -> None:  # type: ignore[no-untyped-def]
    """Block until SIGINT/SIGTERM, ``seconds`` elapsed or ``done()``."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    deadline = None if seconds is None else time.monotonic() + seconds
    while not stop.is_set() and not done():
        if deadline is not None and time.monotonic() >= deadline:
            return
        stop.wait(0.1)


@click.command()
@click.option("--interface", "-i", required=True, help="Interface to watch (never sent on).")
@click.option("--duration", type=float, help="Stop after S seconds (default: until Ctrl-C).")
@click.option("--count", type=int, help="Stop after N DHCP packets.")
@json_option
@pass_lazy
def listen(lazy, interface: str, duration: float | None, count: int | None, as_json: bool) -> None:  # type: ignore[no-untyped-def]
    """Passively record DHCP clients (MAC, option 93/60/77/97/12) on INTERFACE, and the IPs
    that DHCP servers in 'dhcp_trusted_servers' ACK."""
    ctx = lazy.get()
    trusted = ctx.settings.dhcp_trusted_servers
    listener = Listener(ctx.store(create=True), interface, trusted_servers=trusted)
    listener.start()
    click.echo(f"listening on {interface} (receive only)", err=True)
    try:
        _run_until(duration, lambda: count is not None and listener.stats["packets"] >= count)
    finally:
        listener.stop()
    stats = dict(listener.stats)
    if as_json:
        print_json(stats)
    else:
        click.echo(", ".join(f"{k}={v}" for k, v in sorted(stats.items())) or "no packets")


def _lease_file_options(fn):  # type: ignore[no-untyped-def]
    """One ``--<daemon> FILE`` option per registered daemon (parameter ``<daemon>``)."""
    for daemon in reversed(DAEMONS):
        fn = click.option(
            f"--{daemon.name}",
            daemon.name,
            multiple=True,
            metavar="FILE",
            help=f"{daemon.lease_format} (usually {daemon.lease_path}).",
        )(fn)
    return fn


@click.command("watch-leases")
@_lease_file_options
@click.option("--once", is_flag=True, help="Import once and exit.")
@json_option
@pass_lazy
def watch_leases(lazy, once: bool, as_json: bool, **lease_files: tuple[str, ...]) -> None:  # type: ignore[no-untyped-def]
    """Import (and keep importing) leases from DHCP lease files."""
    specs = [(d.name, f) for d in DAEMONS for f in lease_files[d.name]]
    if not specs:
        options = ", ".join(f"--{d.name}" for d in DAEMONS)
        raise click.UsageError(f"give at least one of {options}")
    for _kind, path in specs:
        if not os.path.exists(path):
            click.echo(f"warning: {path} does not exist yet", err=True)
    ctx = lazy.get()
    service = LeaseWatchService(
        ctx.store(),
        specs,
        status_file="" if once else status.path_in(ctx.settings.state_dir),  # for /metrics
        warn=lambda text: click.echo(f"warning: {text}", err=True),
    )
    if once:
        counts = service.scan_all()
        if as_json:
            print_json(counts)
        else:
            click.echo(", ".join(f"{k}={v}" for k, v in sorted(counts.items())) or "no leases")
        return
    service.start()
    try:
        _run_until(None)
    finally:
        service.stop()
