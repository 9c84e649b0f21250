"""``pxehook config``: show effective settings, and the settings table for the docs."""

from __future__ import annotations

import click

from pxehook.cli.output import json_option, print_json, print_table
from pxehook.cli.root import pass_lazy
from pxehook.config import docs_table


def register(cli: click.Group) -> None:
    cli.add_command(config)


@click.group()
def config() -> None:
    """Settings: what is in force and where each value came from."""


@config.command("show")
@json_option
@pass_lazy
def config_show(lazy, as_json: bool) -> None:  # type: ignore[no-untyped-def]
    """Print every setting with its value and origin (default, file, env or flag)."""
    settings = lazy.get().settings
    if as_json:
        print_json({k: settings[k] for k in settings})
        return
    print_table(
        ([k, settings[k], settings.origin(k)] for k in settings), ["setting", "value", "origin"]
    )


@config.command("check")
@pass_lazy
def config_check(lazy) -> None:  # type: ignore[no-untyped-def]
    """Validate the settings (file, environment, flags) and exit non-zero on error."""
    lazy.get()
    click.echo("settings OK")


@config.command("docs")
def config_docs() -> None:
    """Print the Markdown table of all settings (the one in docs/configuration.md)."""
    click.echo(docs_table(), nl=False)
