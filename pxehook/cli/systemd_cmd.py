"""``pxehook systemd show|install``: the systemd units shipped with pxehook, written for this
machine's settings and checked by ``systemd-analyze verify`` before they are installed.

The units live in the package (``templates/systemd/``): ``pxehook.service`` (``serve``),
``pxehook-listen@.service`` (one passive listener per interface) and
``pxehook-tftp.service`` (the TFTP server apart from ``serve``). What goes into them (paths,
account names) is checked to be plain: a value that could end a line or name a systemd
specifier is refused, never written.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile

import click

from pxehook import __version__
from pxehook.cli.output import json_option, print_json
from pxehook.cli.root import pass_lazy
from pxehook.config import DEFAULT_CONFIG_FILE, Settings
from pxehook.errors import ConfigError, InvalidInput
from pxehook.templating import render

UNITS = ("pxehook.service", "pxehook-listen@.service", "pxehook-tftp.service")
UNIT_DIR = "etc/systemd/system"
#: The first line of every unit this command writes (an older one may be replaced).
MARK = "Written by 'pxehook systemd install'"
_PLAIN_PATH = re.compile(r"/[A-Za-z0-9._/+-]*")
_ACCOUNT = re.compile(r"[a-z_][a-z0-9_-]{0,31}")


def register(cli: click.Group) -> None:
    cli.add_command(systemd)


@click.group()
def systemd() -> None:
    """The systemd units shipped with pxehook (serve, listen@INTERFACE, tftp)."""


def _plain(what: str, path: str) -> str:
    path = os.path.abspath(path)
    if not _PLAIN_PATH.fullmatch(path):
        raise InvalidInput(
            f"{what} {path!r}: a unit file needs a plain path "
            "(letters, digits, '._/+-'; no spaces, '%', '$', quotes or line breaks)"
        )
    return path


def _account(what: str, name: str) -> str:
    if not _ACCOUNT.fullmatch(name):
        raise InvalidInput(f"{what} {name!r} is not a valid account name")
    return name


def _executable() -> str:
    beside = os.path.join(os.path.dirname(sys.executable), "pxehook")
    found = beside if os.access(beside, os.X_OK) else shutil.which("pxehook")
    if not found:
        raise ConfigError("cannot find the pxehook executable: give --bin")
    return found


def unit_values(
    settings: Settings, config: str, user: str, group: str, executable: str
) -> dict[str, object]:
    """What the templates are rendered with, each value checked."""
    writes = [settings.state_dir, settings.spool_dir, settings.prerender_dir]
    for access_log in (settings.http_access_log, settings.tftp_access_log):
        if access_log not in ("", "-"):
            writes.append(os.path.dirname(os.path.abspath(access_log)))
    paths = [_plain("writable directory", p) for p in writes if p]
    return {
        "header": f"{MARK} (pxehook {__version__}); local changes: systemctl edit UNIT",
        "pxehook": _plain("the pxehook executable", executable),
        "config": _plain("the settings file", config),
        "user": _account("user", user),
        "group": _account("group", group),
        "write_paths": [p for p in dict.fromkeys(paths) if not _inside(p, paths)],
        "tftp_root": _plain("tftp_root", settings.tftp_root),
        "low_ports": settings.port < 1024 or (settings.tftp_serve and settings.tftp_port < 1024),
        "tftp_low_port": settings.tftp_port < 1024,
    }


def _inside(path: str, others: list[str]) -> bool:
    return any(o != path and path.startswith(o.rstrip("/") + "/") for o in others)


def render_units(values: dict[str, object]) -> dict[str, str]:
    return {unit: render(f"systemd/{unit}.j2", values) for unit in UNITS}


def verify(units: dict[str, str]) -> str | None:
    """``systemd-analyze verify`` of the units (None: passed, or no systemd-analyze)."""
    tool = shutil.which("systemd-analyze")
    if tool is None:
        return None
    with tempfile.TemporaryDirectory(prefix="pxehook-units-") as folder:
        names = []
        for unit, text in units.items():
            with open(os.path.join(folder, unit), "w", encoding="utf-8") as f:
                f.write(text)
            names.append(os.path.join(folder, unit.replace("@.", "@eth0.")))
        # a fixed tool on files this process wrote
        done = subprocess.run(
            [tool, "verify", *names], capture_output=True, text=True, timeout=60, check=False
        )
    problems = [
        line for line in (done.stdout + done.stderr).splitlines() if line.strip()
    ]  # fmt: skip
    return "\n".join(problems) or None if done.returncode else None


_options = [
    click.option("--user", default="pxehook", show_default=True, help="Account to run as."),
    click.option("--group", default="pxehook", show_default=True, help="Its group."),
    click.option("--bin", "executable", help="The pxehook executable (default: this one)."),
]


def _with_options(f):  # type: ignore[no-untyped-def]
    for option in reversed(_options):
        f = option(f)
    return f


def _units(lazy, user: str, group: str, executable: str | None) -> dict[str, str]:  # type: ignore[no-untyped-def]
    config = os.path.abspath(lazy.config_file or DEFAULT_CONFIG_FILE)
    values = unit_values(lazy.get().settings, config, user, group, executable or _executable())
    return render_units(values)


@systemd.command("show")
@click.argument("unit", required=False, type=click.Choice(UNITS))
@_with_options
@json_option
@pass_lazy
def systemd_show(
    lazy, unit: str | None, user: str, group: str, executable: str | None, as_json: bool
) -> None:  # type: ignore[no-untyped-def]
    """Print the units (or UNIT) as 'install' would write them (--json: {unit: text})."""
    units = _units(lazy, user, group, executable)
    if as_json:
        print_json({name: text for name, text in units.items() if unit in (None, name)})
        return
    for name, text in units.items():
        if unit in (None, name):
            click.echo(f"# --- {name}\n{text}" if unit is None else text, nl=False)


@systemd.command("install")
@click.option(
    "--prefix",
    default="/",
    show_default=True,
    help="Root the unit folder etc/systemd/system is under (a scratch tree, an image).",
)
@click.option("--force", is_flag=True, help="Replace unit files pxehook did not write.")
@_with_options
@pass_lazy
def systemd_install(
    lazy, prefix: str, force: bool, user: str, group: str, executable: str | None
) -> None:  # type: ignore[no-untyped-def]
    """Write the units for these settings (--config names the settings file they use),
    after systemd-analyze verify (when installed) passed them."""
    units = _units(lazy, user, group, executable)
    problem = verify(units)
    if problem:
        raise ConfigError(f"systemd-analyze verify refused the units:\n{problem}")
    folder = os.path.join(prefix, UNIT_DIR)
    os.makedirs(folder, mode=0o755, exist_ok=True)
    for unit in units:
        path = os.path.join(folder, unit)
        if os.path.exists(path) and not force and not _ours(path):
            raise InvalidInput(f"{path} exists and was not written by pxehook (--force)")
    for unit, text in units.items():
        _write(os.path.join(folder, unit), text)
        click.echo(f"wrote {os.path.join(folder, unit)}")
    click.echo(
        "next: systemctl daemon-reload && systemctl enable --now pxehook "
        "(and pxehook-listen@IFACE, pxehook-tftp when you use them)"
    )


def _ours(path: str) -> bool:
    with open(path, encoding="utf-8", errors="replace") as f:
        return MARK in f.readline()


def _write(path: str, text: str) -> None:
    fd, temp = tempfile.mkstemp(prefix=".pxehook-", dir=os.path.dirname(path))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    except BaseException:
        os.unlink(temp)
        raise
