"""What the inventory declares for a host, and the least write that makes the store agree.

The inventory owns only what it declares. A declared field is written when the store holds
something else (the declaration changed, or someone edited the field since); a variable,
label, MAC or arch pin it declared at the last apply and declares no more is taken away if
the store still holds the inventory's value. Everything else (life-cycle state, facts seen
on the network, what operators added by hand) is left alone. A ``state:`` line is applied
when it is new or changed since the last apply (``state_to_apply``), never on every save.
"""

from __future__ import annotations

from typing import Any

from pxehook.inventory.parse import HostSpec, Inventory
from pxehook.models import ArchSource, Host, Instant, State
from pxehook.store.writes import Declaration, HostPatch

_MISSING = object()


def declaration(inv: Inventory, spec: HostSpec, path: str = "") -> Declaration:
    """What ``spec`` declares (group variables included), with where each was declared
    (``path``: the file's name to record, by default the inventory's)."""
    fields: dict[str, Any] = {}
    for name in ("name", "uuid", "profile"):
        value = getattr(spec, name)
        if value:
            fields[name] = value.lower() if name == "uuid" else value
    if spec.arch is not None:
        fields["arch"] = spec.arch
    if spec.state is not None:
        fields["state"] = str(spec.state)
    lines: dict[str, int | str] = {k: v for k, v in spec.lines.items() if k in fields}
    origins = _origins(inv, spec.groups)
    variables = {**{k: v for k, (v, _) in origins.items()}, **spec.vars}
    for key in variables:
        if key in spec.vars:
            lines[f"vars.{key}"] = spec.lines.get(f"vars.{key}", spec.lines.get("vars", 0))
        else:
            lines[f"vars.{key}"] = origins[key][1]
    labels = dict(spec.labels)
    for key in labels:
        lines[f"labels.{key}"] = spec.lines.get(f"labels.{key}", spec.lines.get("labels", 0))
    if spec.groups:
        labels["groups"] = ",".join(spec.groups)
        lines["labels.groups"] = spec.lines.get("groups", 0)
    lines["macs"] = spec.lines.get("macs", 0)
    return Declaration(
        path=path or inv.path, line=spec.line, digest=spec.digest, fields=fields, macs=spec.macs,
        groups=spec.groups, vars=variables, labels=labels, lines=lines,
    )  # fmt: skip


def _origins(inv: Inventory, groups: tuple[str, ...]) -> dict[str, tuple[Any, str]]:
    """Each variable ``groups`` set, its value and ``group NAME`` (the last listed group
    that sets it wins, as in ``Inventory.host_vars``); computed once per list of groups."""
    known = inv.origins.get(groups)
    if known is None:
        known = {}
        for group in groups:
            for key, value in (inv.groups.get(group, {}).get("vars") or {}).items():
                known[key] = (value, f"group {group}")
        inv.origins[groups] = known
    return known


#: the fields a new host does not take from its declaration (copied: ``Host.with_`` costs a
#: tenth of building a frozen Host field by field, and a first sync makes one per host)
_BLANK = Host(id=None, macs=())


def created_host(decl: Declaration, at: Instant) -> Host:
    """The host a declaration creates (its state stamped now: its time-out starts now)."""
    fields = decl.fields
    arch = fields.get("arch")
    return _BLANK.with_(
        macs=decl.macs, name=fields.get("name", ""), uuid=fields.get("uuid", ""),
        arch=arch, arch_source=ArchSource.SETTING if arch is not None else "",
        profile=fields.get("profile", ""), state=State(fields.get("state", State.NEW)),
        state_changed=at.wall, state_clock=at.clock, state_boot=at.boot,
        labels=dict(decl.labels), vars=dict(decl.vars), meta={},
    )  # fmt: skip


def plan(decl: Declaration, before: Declaration | None, host: Host) -> HostPatch:
    """The patch that makes ``host`` agree with ``decl`` (``before``: the last apply's)."""
    fields, old = decl.fields, (before.fields if before else {})
    changes: dict[str, Any] = {
        name: fields[name]
        for name in ("name", "uuid", "profile")
        if name in fields and getattr(host, name) != fields[name]
    }
    if "arch" in fields:
        if (host.arch, host.arch_source) != (fields["arch"], ArchSource.SETTING):
            changes["arch"] = fields["arch"]
    elif "arch" in old and (host.arch, host.arch_source) == (old["arch"], ArchSource.SETTING):
        changes["clear_arch"] = True
    macs = _macs(decl, before, host)
    return HostPatch(
        **changes,
        macs=None if macs == host.macs else macs,
        vars=_merge_patch(decl.vars, before.vars if before else {}, host.vars),
        labels=_merge_patch(decl.labels, before.labels if before else {}, host.labels),
    )


def _merge_patch(wanted: Any, declared_before: Any, current: dict[str, Any]) -> dict[str, Any]:
    """Set what is declared and differs; remove what was declared, is no more, and still
    holds the inventory's value."""
    patch = {k: v for k, v in wanted.items() if current.get(k, _MISSING) != v}
    for key, value in declared_before.items():
        if key not in wanted and current.get(key, _MISSING) == value:
            patch[key] = None
    return patch


def _macs(decl: Declaration, before: Declaration | None, host: Host) -> tuple[str, ...]:
    """Declared MACs first, in order; MACs added by hand kept; MACs the inventory declared
    and no longer does removed."""
    dropped = set(before.macs if before else ()) - set(decl.macs)
    extra = [m for m in host.macs if m not in decl.macs and m not in dropped]
    return tuple(dict.fromkeys([*decl.macs, *extra]))


def state_to_apply(
    decl: Declaration, before: Declaration | None, host: Host, *, file_known: bool
) -> State | None:
    """The declared state to move an existing host to, if its ``state:`` line is new or
    changed since the last apply (never when only other lines changed). With no record of
    earlier applies at all (the first apply after an upgrade) nothing is moved."""
    wanted = decl.fields.get("state")
    if wanted is None or host.state == wanted:
        return None
    if before is None:
        return State(wanted) if file_known else None
    return None if before.fields.get("state") == wanted else State(wanted)
