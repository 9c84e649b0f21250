"""``pxehook host state|deploy|release|rescue|reinstall|clone|events`` and ``lifecycle``."""

from __future__ import annotations

import click

from pxehook.cli.output import fmt_time, json_option, print_fields, print_json, print_table
from pxehook.cli.root import pass_lazy
from pxehook.lifecycle.auto import sweep
from pxehook.lifecycle.callback import callback_vars
from pxehook.lifecycle.clone import PARTS, clone
from pxehook.lifecycle.hosts import find_host
from pxehook.lifecycle.table import OPERATIONS, host_view, perform
from pxehook.models import Host


def register(cli: click.Group) -> None:
    host = cli.commands["host"]
    assert isinstance(host, click.Group)
    for command in (host_state, host_events, host_clone, *_SHORTCUTS):
        host.add_command(command)
    cli.add_command(lifecycle_group)


def _report(lazy, h: Host, as_json: bool) -> None:  # type: ignore[no-untyped-def]
    """Print a host's state (and its callback details while it deploys)."""
    ctx = lazy.get()
    view = {**host_view(h), **callback_vars(ctx.settings, ctx.store(), h)}
    if as_json:
        print_json(view)
        return
    print_fields([(k.replace("_", " "), v) for k, v in view.items() if k != "state_changed"])


@click.command("state")
@click.argument("mac", metavar="MAC|NAME")
@click.argument("action", required=False, type=click.Choice(list(OPERATIONS)))
@click.option("--profile", default="", help="Profile to deploy / rescue profile to boot.")
@click.option("--message", default="", help="Why (kept in the event log).")
@json_option
@pass_lazy
def host_state(lazy, mac: str, action: str | None, profile: str, message: str, as_json: bool):  # type: ignore[no-untyped-def]
    """Show a host's state and allowed actions, or apply ACTION (the transition table).
    The host is any of its MACs or its name."""
    store = lazy.get().store()
    if action:
        h = perform(store, mac, action, source="cli", profile=profile, message=message)
    else:
        h = find_host(store, mac)
    _report(lazy, h, as_json)


def _shortcut(action: str, help_text: str) -> click.Command:
    @click.command(action, help=help_text)
    @click.argument("mac", metavar="MAC|NAME")
    @click.option("--profile", default="", help="Profile to boot (sets the host's profile).")
    @click.option("--message", default="", help="Why (kept in the event log).")
    @json_option
    @pass_lazy
    def command(lazy, mac: str, profile: str, message: str, as_json: bool):  # type: ignore[no-untyped-def]
        store = lazy.get().store()
        h = perform(store, mac, action, source="cli", profile=profile, message=message)
        _report(lazy, h, as_json)

    return command


_SHORTCUTS = [
    _shortcut("deploy", "Install the host's profile (new/ready/allocated -> deploying)."),
    _shortcut("reinstall", "Install a deployed host again (deployed -> deploying)."),
    _shortcut("release", "Return the host to the pool (-> ready); old tokens stop working."),
    _shortcut("rescue", "Boot the rescue system until 'host state MAC exit-rescue'."),
]


@click.command("events")
@click.argument("mac", metavar="MAC|NAME")
@click.option("--since", type=int, default=0, help="Only events after this id.")
@click.option("--limit", type=click.IntRange(min=1), help="At most this many events.")
@click.option("--last", type=click.IntRange(min=1), help="Only the newest N events.")
@json_option
@pass_lazy
def host_events(lazy, mac: str, since: int, limit: int | None, last: int | None, as_json: bool):  # type: ignore[no-untyped-def]
    """The host's timeline, oldest first: DHCP, TFTP, configs, kernels, callbacks, states
    (with the rack that recorded each, when several did). Old events are pruned: see
    'pxehook db prune' and the retention settings."""
    if last is not None and (since or limit is not None):
        raise click.UsageError("--last cannot be combined with --since or --limit")
    store = lazy.get().store()
    h = find_host(store, mac)
    assert h.id is not None
    if last is not None:
        events = store.events_page(h.id, limit=last)[::-1]
    else:
        events = store.events(h.id, since_id=since, limit=limit)
    if as_json:
        print_json([e.as_dict() for e in events])
        return
    if len({e.rack for e in events}) > 1:  # several racks saw this host: say which one
        print_table(
            ([e.id, fmt_time(e.at), e.kind, e.source, e.message, e.rack] for e in events),
            ["id", "time", "kind", "source", "message", "rack"],
        )
        return
    print_table(
        ([e.id, fmt_time(e.at), e.kind, e.source, e.message] for e in events),
        ["id", "time", "kind", "source", "message"],
    )


@click.command("clone")
@click.argument("source", metavar="SOURCE")
@click.argument("destinations", nargs=-1, required=True, metavar="DESTINATION...")
@click.option("--part", "parts", multiple=True, type=click.Choice(PARTS), help="Only these parts.")
@json_option
@pass_lazy
def host_clone(lazy, source: str, destinations: tuple[str, ...], parts, as_json: bool):  # type: ignore[no-untyped-def]
    """Copy SOURCE's profile, variables and labels to each DESTINATION (MACs or names)."""
    result = clone(
        lazy.get().store(), source, list(destinations), parts=tuple(parts) or PARTS, source="cli"
    )
    if as_json:
        print_json(result)
        return
    for mac in result["changed"]:
        click.echo(f"changed   {mac}")
    for mac in result["unchanged"]:
        click.echo(f"unchanged {mac}")


@click.group("lifecycle")
def lifecycle_group() -> None:
    """The machine life-cycle: the transition table and the automatic transitions."""


@lifecycle_group.command("sweep")
@json_option
@pass_lazy
def lifecycle_sweep(lazy, as_json: bool) -> None:  # type: ignore[no-untyped-def]
    """Apply due deploy time-outs, boot-once and auto-adopt rules now (serve does it too)."""
    ctx = lazy.get()
    changes = sweep(ctx.settings, ctx.store())
    if as_json:
        print_json(changes)
        return
    for c in changes:
        click.echo(f"{c['mac']}  {c['from']} -> {c['to']}")
    click.echo(f"{len(changes)} host(s) changed")


@lifecycle_group.command("table")
@json_option
def lifecycle_table(as_json: bool) -> None:
    """Print the transition table: action, from which states, to which state."""
    rows = [
        [op.name, sorted(str(s) for s in op.sources), str(op.target or "(state before)"), op.help]
        for op in OPERATIONS.values()
    ]
    if as_json:
        print_json([dict(zip(["action", "from", "to", "help"], r, strict=True)) for r in rows])
        return
    print_table(rows, ["action", "from", "to", "meaning"])
