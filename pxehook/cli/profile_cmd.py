"""``pxehook profile`` and ``pxehook inventory``: what machines can boot."""

from __future__ import annotations

import click

from pxehook.cli.output import json_option, plural, print_json, print_table
from pxehook.cli.progress import ProgressBar
from pxehook.cli.root import pass_lazy
from pxehook.errors import NotFound
from pxehook.inventory import apply, check
from pxehook.inventory import parse as inv


def register(cli: click.Group) -> None:
    cli.add_command(profile)
    cli.add_command(inventory)


@click.group()
def profile() -> None:
    """Boot profiles (installer, live/rescue, local, commissioning) in force."""


@profile.command("list")
@json_option
@pass_lazy
def profile_list(lazy, as_json: bool) -> None:  # type: ignore[no-untyped-def]
    """List the profiles the server uses (the last good inventory)."""
    profiles = lazy.get().store().profile_list()
    if as_json:
        print_json([p.as_dict() for p in profiles])
        return
    print_table(
        (
            [p.name, p.kind, "yes" if p.one_shot else "no", sorted(p.kernel), p.description]
            for p in profiles
        ),
        ["name", "kind", "one-shot", "arches", "description"],
    )


@profile.command("show")
@click.argument("name")
@json_option
@pass_lazy
def profile_show(lazy, name: str, as_json: bool) -> None:  # type: ignore[no-untyped-def]
    """Show one profile."""
    p = lazy.get().store().profile_get(name)
    if p is None:
        raise NotFound(f"no profile named {name!r}", hint="see 'pxehook profile list'")
    if as_json:
        print_json(p.as_dict())
        return
    for key, value in p.as_dict().items():
        click.echo(f"{key:12} {value}")


@click.group()
def inventory() -> None:
    """The YAML inventory file (profiles, groups, hosts)."""


@inventory.command("check")
@click.argument("path", required=False)
@pass_lazy
def inventory_check(lazy, path: str | None) -> None:  # type: ignore[no-untyped-def]
    """Validate an inventory file without applying it (default: the configured one).

    Runs exactly the validation an apply runs: every profile expression must compile and
    every host must render with its profile."""
    target = path or lazy.get().settings.inventory
    with ProgressBar() as bar:
        loaded = inv.parse(inv.read_text(target), target, lazy=True)
        hosts = check.check(loaded, progress=bar)
    click.echo(f"{target}: OK ({plural(len(loaded.profiles), 'profile')}, {plural(hosts, 'host')})")


@inventory.command("sync")
@pass_lazy
def inventory_sync(lazy) -> None:  # type: ignore[no-untyped-def]
    """Apply the inventory file to the store now (the server also does this on change).

    Only what changed since the last apply is parsed and written; a host's life-cycle
    state changes only where its state: line is new or changed."""
    ctx = lazy.get()
    with ProgressBar() as bar:
        outcome = apply.sync_file(ctx.settings.inventory, ctx.store(), progress=bar)
    echo_outcome(outcome)


def echo_outcome(outcome: apply.Outcome) -> None:
    """The counts of an apply on stdout, each note on stderr."""
    counts = outcome.counts()
    click.echo(
        f"hosts {counts['created']} created, {counts['updated']} updated, "
        f"{counts['unchanged']} unchanged"
    )
    for note in outcome.notes:
        click.echo(f"pxehook: note: {note}", err=True)
