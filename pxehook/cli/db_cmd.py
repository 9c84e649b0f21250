"""``pxehook db``: create and migrate the store."""

from __future__ import annotations

import click

from pxehook.cli.output import json_option, print_json
from pxehook.cli.progress import ProgressBar
from pxehook.cli.root import pass_lazy
from pxehook.inventory import apply
from pxehook.store import migrations


def register(cli: click.Group) -> None:
    cli.add_command(db)


@click.group()
def db() -> None:
    """Create, migrate and inspect the database."""


@db.command("init")
@click.option("--no-inventory", is_flag=True, help="Do not load the inventory file.")
@pass_lazy
def db_init(lazy, no_inventory: bool) -> None:  # type: ignore[no-untyped-def]
    """Create the database (if needed), migrate it, and load the inventory into it."""
    ctx = lazy.get()
    store = ctx.store(create=True)
    click.echo(f"database {ctx.settings.database}: schema {store.schema_version()}")
    if not no_inventory:
        with ProgressBar() as bar:
            outcome = apply.sync_file(ctx.settings.inventory, store, progress=bar)
        counts = outcome.counts()
        click.echo(
            f"inventory {ctx.settings.inventory}: {len(store.profile_list())} profiles, "
            f"hosts {counts['created']} created, {counts['updated']} updated, "
            f"{counts['unchanged']} unchanged"
        )
        for note in outcome.notes:
            click.echo(f"pxehook: note: {note}", err=True)


@db.command("migrate")
@pass_lazy
def db_migrate(lazy) -> None:  # type: ignore[no-untyped-def]
    """Apply pending schema migrations."""
    ctx = lazy.get()
    store = ctx.store(create=False)
    click.echo(f"schema {store.migrate()}")


@db.command("status")
@json_option
@pass_lazy
def db_status(lazy, as_json: bool) -> None:  # type: ignore[no-untyped-def]
    """Show the schema version and row counts."""
    ctx = lazy.get()
    store = ctx.store(create=False)
    data = {
        "database": ctx.settings.database,
        "schema": store.schema_version(),
        "latest": migrations.LATEST,
        "hosts": len(store.host_list()),
        "profiles": len(store.profile_list()),
        "generation": store.generation(),
    }
    if as_json:
        print_json(data)
    else:
        for key, value in data.items():
            click.echo(f"{key:10} {value}")
