"""``pxehook gen`` and ``pxehook lint``: DHCP config snippets from the arch table."""

from __future__ import annotations

import os

import click

from pxehook.cli.root import pass_lazy
from pxehook.daemons import DAEMONS, DHCP_MODES, NAMES
from pxehook.errors import ConfigError
from pxehook.gen import generator, lint
from pxehook.gen.layout import build_layout
from pxehook.gen.writer import Drift, diff, write_checked
from pxehook.lifecycle.callback import trusted_ip_warning


def register(cli: click.Group) -> None:
    cli.add_command(gen)
    cli.add_command(lint_cmd)


_daemon = click.argument("daemon", type=click.Choice(NAMES))
_dhcp_mode = click.option(
    "--mode",
    "dhcp_mode",
    type=click.Choice(tuple(DHCP_MODES)),
    default="full",
    show_default=True,
    help=", ".join(f"{dhcp_mode}: {what}" for dhcp_mode, what in DHCP_MODES.items())
    + " ("
    + "; ".join(f"{d.name}: {', '.join(d.dhcp_modes)}" for d in DAEMONS)
    + ").",
)


def _render(lazy, daemon: str, dhcp_mode: str) -> tuple[str, list[str]]:  # type: ignore[no-untyped-def]
    settings = lazy.get().settings
    layout = build_layout(settings)
    gen_ = generator(daemon)
    missing = gen_.missing(layout, dhcp_mode)
    for line in missing[:-1]:  # one line each; the last is the error that ends the command
        click.echo(f"pxehook: error: {line}", err=True)
    if missing:
        raise ConfigError(missing[-1])
    text = gen_.render(layout, dhcp_mode, site_dir=settings.site_templates)
    return text, lint.warnings(gen_, layout, dhcp_mode, text)


def _warn(warnings: list[str]) -> None:
    for line in warnings:
        click.echo(f"pxehook: warning: {line}", err=True)


@click.command()
@_daemon
@_dhcp_mode
@click.option(
    "--out",
    "out",
    metavar="PATH",
    help="Write here (atomically); default: stdout. Usually "
    + ", ".join(f"{d.config_path} ({d.name})" for d in DAEMONS)
    + ".",
)
@click.option("--check", is_flag=True, help="Compare with --out: print a diff, exit 9 on drift.")
@click.option("--reload", "do_reload", is_flag=True, help="Restart/reload the daemon if written.")
@pass_lazy
def gen(lazy, daemon: str, dhcp_mode: str, out: str | None, check: bool, do_reload: bool) -> None:  # type: ignore[no-untyped-def]
    """Generate the boot part of a DHCP daemon's config (dnsmasq drop-in, ISC include, Kea).

    Settings used: server_ip, http_base_url, http_boot_url, tftp_root, dhcp_interface,
    dhcp_subnets, dhcp_range, boot_modes, the limits and the hook paths. With --out the file
    is validated by the daemon itself (when installed) before it replaces the live one.
    """
    if (check or do_reload) and not out:
        raise click.UsageError("--check and --reload need --out PATH (the live file)")
    text, warnings = _render(lazy, daemon, dhcp_mode)
    _warn(warnings)
    if check:
        changes = diff(out, text)
        if changes:
            click.echo(changes, nl=False)
            raise Drift(f"{out} differs from the generated {daemon} config")
        click.echo(f"{out}: up to date")
        return
    if not out:
        click.echo(text, nl=False)
        return
    gen_ = generator(daemon)
    result = write_checked(out, text, gen_.check)
    if not result.changed:
        click.echo(f"{out}: unchanged")
        return
    if result.checked_by is None:
        click.echo(f"{out}: written (not checked: {gen_.binary} is not installed)")
    else:
        click.echo(f"{out}: written (checked by {gen_.binary})")
    if do_reload:
        click.echo(f"reloaded: {gen_.reload(build_layout(lazy.get().settings), out)}")


@click.command("lint")
@_daemon
@_dhcp_mode
@click.option(
    "--file", "files", multiple=True, metavar="PATH", help="Also lint this config file of DAEMON."
)
@pass_lazy
def lint_cmd(lazy, daemon: str, dhcp_mode: str, files: tuple[str, ...]) -> None:  # type: ignore[no-untyped-def]
    """Warn about known traps; exit 9 when there is any warning.

    Checks the settings (fleet_size vs dhcp_lease_max/tftp_max, loader files missing from
    tftp_root, UEFI loaders without extension) and dnsmasq text (more than one pxe-service
    per UEFI arch, UEFI basenames without extension).
    """
    _text, warnings = _render(lazy, daemon, dhcp_mode)
    settings = lazy.get().settings
    # only a full-DHCP server's hook sees leases (a ProxyDHCP or TFTP-only dnsmasq gives none)
    hook = dhcp_mode == "full" and os.access(settings.hook_path, os.X_OK)
    unsourced = trusted_ip_warning(settings, hook_installed=hook)
    warnings += [unsourced] if unsourced else []
    text_lint = generator(daemon).text_lint
    for path in files:
        with open(path, encoding="utf-8") as fh:
            warnings += [f"{path}: {w}" for w in text_lint(fh.read())]
    if warnings:
        _warn(warnings)
        raise Drift(f"{len(warnings)} warning(s)")
    click.echo("no warnings")
