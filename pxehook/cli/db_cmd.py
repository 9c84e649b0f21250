"""``pxehook db``: create, migrate, prune and back up the store."""

from __future__ import annotations

import os

import click

from pxehook import fsmodes
from pxehook.cli.output import json_option, plural, print_json
from pxehook.cli.progress import ProgressBar
from pxehook.cli.root import pass_lazy
from pxehook.config import Settings
from pxehook.inventory import apply
from pxehook.store import backup, migrations, sqlite_path
from pxehook.store.retention import Retention, prune


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
    fsmodes.make_dir(ctx.settings.state_dir, fsmodes.STATE_DIR)
    store = ctx.store(create=True)
    click.echo(f"database {ctx.settings.database}: schema {store.schema_version()}")
    _warn(file_warnings(ctx.settings))
    if not no_inventory and not os.path.exists(ctx.settings.inventory):
        click.echo(
            f"inventory {ctx.settings.inventory} does not exist: nothing loaded "
            "('pxehook serve' loads it when it appears; hosts may also come by API)"
        )
    elif not no_inventory:
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
    warnings = file_warnings(ctx.settings)
    if as_json:
        print_json({**data, "warnings": warnings})
    else:
        for key, value in data.items():
            click.echo(f"{key:10} {value}")
        _warn(warnings)


@db.command("prune")
@click.option("--dry-run", is_flag=True, help="Count what would go; delete nothing.")
@json_option
@pass_lazy
def db_prune(lazy, dry_run: bool, as_json: bool) -> None:  # type: ignore[no-untyped-def]
    """Remove timeline events the retention settings let go (event_retention_days,
    event_retention_per_host), never the state changes of a host's last
    event_keep_deployments deployments. Safe while the server runs (small batches)."""
    ctx = lazy.get()
    rule = Retention.from_settings(ctx.settings)
    store = ctx.store(create=False)
    if not rule.active:
        raise click.ClickException(
            "event_retention_days and event_retention_per_host are both 0: nothing to prune"
        )
    done = prune(store, rule, dry_run=dry_run)
    if as_json:
        print_json({**done.as_dict(), "rule": rule.describe(), "left": store.event_stats()})
        return
    verb = "would prune" if dry_run else "pruned"
    click.echo(
        f"{verb} {plural(done.total, 'event')} ({done.by_age} by age, {done.by_count} by "
        f"count) in {done.seconds:.1f}s; kept: {rule.describe()}"
    )


@db.command("backup")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--force", is_flag=True, help="Replace FILE if it exists.")
@pass_lazy
def db_backup(lazy, file: str, force: bool) -> None:  # type: ignore[no-untyped-def]
    """Copy the SQLite database to FILE, consistent while the server runs (SQLite's online
    backup; no sqlite3 binary needed). PostgreSQL: use pg_dump (the error says how)."""
    settings = lazy.get().settings
    done = backup.backup(settings.database, file, force=force)
    click.echo(f"backed up {settings.database} to {done.path}: schema {done.schema}, "
               f"{done.size} bytes")  # fmt: skip


def file_warnings(settings: Settings) -> list[str]:
    """Database files other accounts may open, pxehook directories others may enter."""
    path = sqlite_path(settings.database)
    secrets = fsmodes.db_files(path) if path and path != ":memory:" else []
    folders = [settings.state_dir, settings.spool_dir]
    if secrets:
        folders.insert(0, os.path.dirname(os.path.abspath(path or "")))
    return fsmodes.exposed(secrets, dict.fromkeys(folders))


def _warn(warnings: list[str]) -> None:
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)
