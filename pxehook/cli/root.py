"""The root command group and the registry of command modules."""

from __future__ import annotations

import importlib
from typing import Any

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


#: Top-level command -> the modules (of COMMAND_MODULES) whose ``register`` defines it, in
#: order (the life-cycle module adds subcommands to ``host``). A command imports only these,
#: so ``inventory sync`` does not pay for Flask, gunicorn or the generators; ``--help`` and
#: the doc walkers load them all (``tests/test_cli.py`` checks this table against them).
COMMAND_OWNERS: dict[str, tuple[str, ...]] = {
    "arch": ("arch_cmd",),
    "config": ("config_cmd",),
    "db": ("db_cmd",),
    "explain": ("explain_cmd",),
    "prerender": ("explain_cmd",),
    "gen": ("gen_cmd",),
    "lint": ("gen_cmd",),
    "hook": ("capture_cmd",),
    "spool": ("capture_cmd",),
    "listen": ("capture_cmd",),
    "watch-leases": ("capture_cmd",),
    "host": ("host_cmd", "lifecycle_cmd"),
    "lifecycle": ("host_cmd", "lifecycle_cmd"),
    "loaders": ("loaders_cmd",),
    "man": ("man_cmd",),
    "profile": ("profile_cmd",),
    "inventory": ("profile_cmd",),
    "serve": ("serve_cmd",),
    "systemd": ("systemd_cmd",),
    "tftp": ("tftp_cmd",),
    "token": ("token_cmd",),
}


class LazyGroup(click.Group):
    """The root group: imports a command's modules when it is looked up; listing the
    commands (``--help``, completion, the doc walkers reading ``commands``) imports all."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._loaded: set[str] = set()
        self._loading = 0
        super().__init__(*args, **kwargs)

    @property  # type: ignore[override]
    def commands(self) -> dict[str, click.Command]:
        if not self._loading:
            self.load(COMMAND_MODULES)
        return self._commands

    @commands.setter
    def commands(self, value: dict[str, click.Command]) -> None:
        self._commands = value

    def load(self, modules: tuple[str, ...]) -> None:
        """Import ``modules`` (once each, in order) and let each register its commands."""
        self._loading += 1
        try:
            for name in modules:
                if name not in self._loaded:
                    self._loaded.add(name)
                    importlib.import_module(f"{__package__}.{name}").register(self)
        finally:
            self._loading -= 1

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        self.load(COMMAND_OWNERS.get(cmd_name, COMMAND_MODULES))
        return self._commands.get(cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(self.commands)


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
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
