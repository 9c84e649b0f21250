"""``pxehook host``: list, show, set and remove hosts."""

from __future__ import annotations

import click

from pxehook import arch as archtable
from pxehook import archsource
from pxehook.cli.output import cell, fmt_time, json_option, print_json, print_table
from pxehook.cli.root import pass_lazy
from pxehook.lifecycle.hosts import (
    HostChanges,
    apply_changes,
    declared_where,
    delete_host,
    find_host,
    host_or_mac,
    parse_arch,
    parse_pairs,
)
from pxehook.models import Host
from pxehook.textsafe import printable


def register(cli: click.Group) -> None:
    cli.add_command(host)


def arch_label(code: int | None) -> str:
    return "-" if code is None else f"{code} ({archtable.lookup(code).slug})"


def effective_label(h: Host) -> tuple[str, str]:
    """(label, why) of the arch pxehook uses for ``h`` (``archsource.effective``)."""
    arch, source, reasons = archsource.effective(h)
    if arch is None:
        return "-", ""
    return arch_label(arch.code), f"{source}: {'; '.join(reasons)}"


@click.group()
def host() -> None:
    """Machines pxehook knows: their MACs, facts, profile and state."""


@host.command("list")
@click.option("--state", help="Only hosts in this state.")
@click.option("--profile", help="Only hosts with this profile.")
@click.option("--label", help="Only hosts with this label (key=value).")
@json_option
@pass_lazy
def host_list(
    lazy,
    state: str | None,
    profile: str | None,
    label: str | None,  # type: ignore[no-untyped-def]
    as_json: bool,
) -> None:
    """List hosts (one line each)."""
    label_pair = None
    if label:
        key, value = next(iter(parse_pairs([label], "label").items()))
        label_pair = (key, value)
    hosts = lazy.get().store().host_list(state=state, profile=profile, label=label_pair)
    if as_json:
        print_json([archsource.host_json(h) for h in hosts])
        return
    print_table(
        (
            [h.mac, h.name, effective_label(h)[0], h.ip, h.profile, h.state, fmt_time(h.last_seen)]
            for h in hosts
        ),
        ["mac", "name", "arch", "ip", "profile", "state", "last seen"],
    )


def _show(h: Host, owned: dict[str, str]) -> None:
    """The host's fields; those the inventory declares marked with where."""

    def mark(name: str) -> str:
        if name in ("vars", "labels"):
            keys = [k.split(".", 1)[1] for k in owned if k.startswith(name + ".")]
            if not keys:
                return ""
            places = {owned[f"{name}.{k}"] for k in keys}
            where = next(iter(places)) if len(places) == 1 else "the inventory"
            return f"  [inventory: {', '.join(keys)} at {where}]"
        return f"  [inventory {owned[name]}]" if name in owned else ""

    label, why = effective_label(h)
    recorded = arch_label(h.arch) + (f" by {h.arch_source}" if h.arch_source else "")
    trusted = "trusted" if h.trusted_ip else "not trusted"
    rows = [
        ("mac", h.mac, ""),
        ("macs", h.macs, mark("macs")),
        ("name", h.name, mark("name")),
        ("uuid", h.uuid, mark("uuid")),
        ("arch", label, mark("arch")),
        ("arch source", why, ""),
        ("recorded arch", recorded, ""),
        ("ip", h.ip, ""),
        ("ip source", f"{h.ip_source or '-'} ({trusted})", ""),
        ("dhcp hostname", h.dhcp_hostname, ""),
        ("vendor class", h.vendor_class, ""),
        ("user class", h.user_class, ""),
        ("profile", h.profile, mark("profile")),
        ("state", h.state, ""),
        ("state changed", fmt_time(h.state_changed), ""),
        ("first seen", fmt_time(h.first_seen), ""),
        ("last seen", fmt_time(h.last_seen), ""),
        ("labels", h.labels, mark("labels")),
        ("vars", h.vars, mark("vars")),
    ]
    width = max(len(key) for key, _, _ in rows)
    for key, value, note in rows:
        click.echo(f"{key.ljust(width)}  {cell(value)}{printable(note, limit=200)}")


@host.command("show")
@click.argument("mac", metavar="MAC|NAME")
@json_option
@pass_lazy
def host_show(lazy, mac: str, as_json: bool) -> None:  # type: ignore[no-untyped-def]
    """Show one host by any of its MACs (any common spelling) or its name.

    Fields the YAML inventory declares are marked with the file and line that declares them
    (JSON: "inventory")."""
    store = lazy.get().store()
    h = find_host(store, mac)
    owned = declared_where(store, h)
    if as_json:
        print_json({**archsource.host_json(h), "inventory": owned})
    else:
        _show(h, owned)


@host.command("set")
@click.argument("mac", metavar="MAC|NAME")
@click.option("--name", help="Host name.")
@click.option("--uuid", help="SMBIOS UUID.")
@click.option("--profile", help="Profile to boot (see 'pxehook profile list'; '' clears).")
@click.option("--arch", help="Pin the architecture (option-93 code or slug); 'auto' clears.")
@click.option("--add-mac", multiple=True, help="Another MAC of the same machine.")
@click.option("--var", "set_vars", multiple=True, metavar="KEY=VALUE", help="Set a variable.")
@click.option("--unset-var", multiple=True, metavar="KEY", help="Remove a variable.")
@click.option("--label", "set_labels", multiple=True, metavar="KEY=VALUE", help="Set a label.")
@click.option("--unset-label", multiple=True, metavar="KEY", help="Remove a label.")
@click.option(
    "--force",
    is_flag=True,
    help="Change fields the inventory declares without a warning (its next apply sets them back).",
)
@json_option
@pass_lazy
def host_set(
    lazy,
    mac: str,
    name,
    uuid,
    profile,
    arch,
    add_mac,
    set_vars,
    unset_var,  # type: ignore[no-untyped-def]
    set_labels,
    unset_label,
    force: bool,
    as_json: bool,
) -> None:
    """Create a host (give its MAC), or change fields of an existing one (MAC or name).

    A field the YAML inventory declares is changed with a warning naming the file and line:
    the inventory's next apply sets it back (change it there to keep it)."""
    changes = HostChanges(
        name=name,
        uuid=uuid,
        profile=profile,
        arch=None if arch in (None, "auto") else parse_arch(arch),
        clear_arch=arch == "auto",
        add_macs=list(add_mac),
        set_vars=parse_pairs(set_vars, "variable"),
        unset_vars=list(unset_var),
        set_labels=parse_pairs(set_labels, "label"),
        unset_labels=list(unset_label),
    )
    store = lazy.get().store()
    _, target = host_or_mac(store, mac)
    warn = None if force else (lambda line: click.echo(f"pxehook: warning: {line}", err=True))
    h, created = apply_changes(store, target, changes, source="cli", notice=warn)
    if as_json:
        print_json({"created": created, "host": h.as_dict()})
    else:
        click.echo(f"{'created' if created else 'updated'} host {h.mac}")


@host.command("rm")
@click.argument("mac", metavar="MAC|NAME")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_lazy
def host_rm(lazy, mac: str, yes: bool) -> None:  # type: ignore[no-untyped-def]
    """Delete a host and its event log."""
    store = lazy.get().store()
    h = find_host(store, mac)
    if not yes:
        click.confirm(f"delete host {h.mac} ({h.name or 'no name'}) and its events?", abort=True)
    delete_host(store, h.mac)
    click.echo(f"deleted host {h.mac}")
