"""``pxehook token``: API bearer tokens (create prints the secret once)."""

from __future__ import annotations

import click

from pxehook import tokens
from pxehook.cli.output import fmt_time, json_option, print_json, print_table
from pxehook.cli.root import pass_lazy


def register(cli: click.Group) -> None:
    cli.add_command(token)


@click.group()
def token() -> None:
    """API bearer tokens: read-only or admin. Only their SHA-256 is stored."""


@token.command("create")
@click.argument("name")
@click.option("--scope", type=click.Choice(tokens.SCOPES), default="read", show_default=True)
@json_option
@pass_lazy
def token_create(lazy, name: str, scope: str, as_json: bool) -> None:  # type: ignore[no-untyped-def]
    """Create a token and print it (the only time it is shown)."""
    secret = tokens.create(lazy.get().store(), name, scope)
    if as_json:
        print_json({"name": name, "scope": scope, "token": secret})
    else:
        click.echo(secret)


@token.command("list")
@json_option
@pass_lazy
def token_list(lazy, as_json: bool) -> None:  # type: ignore[no-untyped-def]
    """List tokens (names and scopes, never secrets)."""
    rows = lazy.get().store().token_list()
    if as_json:
        print_json(rows)
        return
    print_table(
        ([r["name"], r["scope"], fmt_time(r["created"])] for r in rows),
        ["name", "scope", "created"],
    )


@token.command("rm")
@click.argument("name")
@json_option
@pass_lazy
def token_rm(lazy, name: str, as_json: bool) -> None:  # type: ignore[no-untyped-def]
    """Revoke a token."""
    lazy.get().store().token_delete(name)
    if as_json:
        print_json({"revoked": name})
    else:
        click.echo(f"revoked token {name}")
