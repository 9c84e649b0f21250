"""The root command group and the registry of command modules."""

from __future__ import annotations

import importlib

import click

from pxehook import __version__
from pxehook.config import load_settings
from pxehook.context import Context

#: Modules under pxehook.cli that each expose ``register(group)``.
COMMAND_MODULES = (
    "arch_cmd",
    "config_cmd",
    "db_cmd",
    "capture_cmd",
    "explain_cmd",
    "gen_cmd",
    "host_cmd",
    "lifecycle_cmd",
    "loaders_cmd",
    "man_cmd",
    "profile_cmd",
    "serve_cmd",
    "systemd_cmd",
    "tftp_cmd",
    "token_cmd",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "--version", prog_name="pxehook")
@click.option(
    "--config",
    "config_file",
    metavar="FILE",
    envvar="PXEHOOK_CONFIG",
    help="Settings file (default /etc/pxehook/pxehook.yaml if it exists).",
)
@click.option("--database", metavar="URL", help="Override the 'database' setting.")
@click.option("--inventory", metavar="FILE", help="Override the 'inventory' setting.")
@click.pass_context
def cli(
    ctx: click.Context, config_file: str | None, database: str | None, inventory: str | None
) -> None:
    """pxehook: per-machine network-boot control beside your existing DHCP server.

    Settings load in this order (later wins): defaults, the settings file, PXEHOOK_*
    environment variables, then flags.
    """
    flags = {"database": database, "inventory": inventory}
    ctx.obj = _LazyContext(config_file, flags)
    ctx.call_on_close(ctx.obj.close)


class _LazyContext:
    """Loads settings only when a command needs them, so --help never fails on a bad file."""

    def __init__(self, config_file: str | None, flags: dict[str, str | None]) -> None:
        self.config_file = config_file
        self.flags = flags
        self._ctx: Context | None = None

    def get(self, **extra_flags: object) -> Context:
        if self._ctx is None:
            flags = {**self.flags, **{k: v for k, v in extra_flags.items() if v is not None}}
            # Commands read an existing database; db init and the servers create it.
            self._ctx = Context(load_settings(self.config_file, flags=flags), create_store=False)
        return self._ctx

    def close(self) -> None:
        if self._ctx is not None:
            self._ctx.close()


pass_lazy = click.make_pass_decorator(_LazyContext)

for _name in COMMAND_MODULES:
    importlib.import_module(f"{__package__}.{_name}").register(cli)
