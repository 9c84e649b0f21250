"""THE transition table (``OPERATIONS``) and the operations that move hosts through it.

The states themselves (what each means and boots, whether a host may be created in it) are
``models.STATES``; this module says which action leads from which state to which. Every
state change goes through ``transition``: it refuses what the table does not allow (naming
the current state and the allowed actions), changes state with compare-and-set so a
concurrent change is never overwritten, and records a ``state.changed`` event naming who
caused it.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pxehook.errors import Conflict, InvalidInput, NotFound, PxehookError
from pxehook.lifecycle.clock import as_instant
from pxehook.lifecycle.hosts import HostChanges, apply_changes, find_host, retry_stale
from pxehook.models import STATES, Host, Instant, State
from pxehook.store import Store
from pxehook.store.writes import StateChange

S = State


@dataclass(frozen=True)
class Operation:
    """One row of the table: from which states an action is allowed, and where it leads."""

    name: str
    sources: frozenset[State]
    target: State | None  # None: back to the state recorded on entry (exit-rescue)
    help: str


def _op(name: str, sources: tuple[State, ...], target: State | None, help: str) -> Operation:
    return Operation(name, frozenset(sources), target, help)


#: The transition table. Nothing else in pxehook changes a host's state.
OPERATIONS: dict[str, Operation] = {
    op.name: op
    for op in (
        _op("commission", (S.NEW, S.READY, S.FAILED, S.BROKEN), S.COMMISSIONING,
            "Boot the commissioning image to inventory the hardware."),
        _op("commissioned", (S.COMMISSIONING,), S.READY, "Commissioning finished."),
        _op("accept", (S.NEW,), S.READY, "Take a new machine into the pool without commissioning."),
        _op("allocate", (S.READY,), S.ALLOCATED, "Reserve a ready machine."),
        _op("deploy", (S.NEW, S.READY, S.ALLOCATED), S.DEPLOYING,
            "Install the host's profile (a new deployment id and callback token)."),
        _op("reinstall", (S.DEPLOYED,), S.DEPLOYING, "Install again (deployed -> deploying)."),
        _op("deployed", (S.DEPLOYING,), S.DEPLOYED,
            "The installation finished (callback, boot-once, PXE Pilot 'local', operator)."),
        _op("adopt", (S.NEW, S.READY, S.ALLOCATED, S.FAILED), S.DEPLOYED,
            "The machine already runs its workload: boot it from disk."),
        _op("release", (S.ALLOCATED, S.DEPLOYING, S.DEPLOYED, S.FAILED), S.READY,
            "Give the machine back to the pool; invalidates the deployment token."),
        _op("rescue", (S.READY, S.ALLOCATED, S.DEPLOYED, S.FAILED, S.BROKEN), S.RESCUE,
            "Boot the rescue system until exit-rescue."),
        _op("exit-rescue", (S.RESCUE,), None, "Leave rescue, back to the state before it."),
        _op("mark-broken",
            (S.NEW, S.COMMISSIONING, S.READY, S.ALLOCATED, S.DEPLOYING, S.DEPLOYED, S.RESCUE,
             S.FAILED), S.BROKEN, "Take a faulty machine out of service."),
        _op("mark-fixed", (S.BROKEN,), S.READY, "The machine was repaired."),
        _op("fail", (S.COMMISSIONING, S.DEPLOYING, S.RESCUE), S.FAILED,
            "Give up on the running operation (the failure kind is kept)."),
    )
}  # fmt: skip

#: Failure kind recorded in host.meta["failure"] when ``fail`` leaves a state.
FAILURE_KIND = {S.COMMISSIONING: "commissioning", S.DEPLOYING: "deployment", S.RESCUE: "rescue"}

#: States exit-rescue may return to (the state recorded on entering rescue).
RESCUE_RETURNS = frozenset(OPERATIONS["rescue"].sources)


def allowed_actions(state: State) -> list[str]:
    """Actions the table allows from ``state``, in table order."""
    return [op.name for op in OPERATIONS.values() if state in op.sources]


def action_towards(state: State, target: State, default: str) -> str:
    """The first action of the table taking ``state`` to ``target``; ``default`` when none
    does (``check(state, default)`` then refuses it, naming what is allowed)."""
    for op in OPERATIONS.values():
        if state in op.sources and op.target == target:
            return op.name
    return default


def edges() -> set[tuple[State, State]]:
    """Every (from, to) pair some operation can produce."""
    pairs = set()
    for op in OPERATIONS.values():
        targets = RESCUE_RETURNS if op.target is None else {op.target}
        pairs.update((src, dst) for src in op.sources for dst in targets)
    return pairs


def check(state: State, action: str) -> Operation:
    """The operation for ``action`` if allowed from ``state``; Conflict/InvalidInput else."""
    op = OPERATIONS.get(action)
    if op is None:
        raise InvalidInput(
            f"unknown action {action[:40]!r}", hint="one of " + ", ".join(OPERATIONS)
        )
    if state not in op.sources:
        allowed = ", ".join(allowed_actions(state)) or "none"
        other = _INSTALL_AGAIN.get(action, "")
        hint = f"an install from {state} is '{other}'" if other in allowed_actions(state) else None
        raise Conflict(
            f"cannot {action}: host is {state}; allowed from {state}: {allowed}", hint=hint
        )
    return op


#: deploy and reinstall both install: refusing one names the other when it would do.
_INSTALL_AGAIN = {"deploy": "reinstall", "reinstall": "deploy"}


def _meta_changes(
    host: Host, op: Operation, target: State, profile: str, at: Instant
) -> dict[str, Any]:
    """What ``op`` records in host.meta besides the state."""
    changes: dict[str, Any] = {}
    if host.state == S.FAILED and target != S.FAILED:
        changes["failure"] = None
    if target == S.DEPLOYING:
        changes.update(
            deployment=secrets.token_hex(8), deploy_started=at.wall, boot_once=None, done=None
        )
    if op.name in ("release", "adopt"):
        changes.update(deployment=None, deploy_started=None, boot_once=None, done=None)
    if op.name == "deployed":  # a repeated install-done callback is then harmless
        changes.update(deployment=deployment_of(host), done=deployment_of(host))
    if op.name == "fail":
        changes["failure"] = FAILURE_KIND[host.state]
    if op.name == "rescue":
        changes.update(rescue_from=str(host.state), rescue_profile=profile or None)
    if op.name == "exit-rescue":
        changes.update(rescue_from=None, rescue_profile=None)
    return changes


def state_change(
    store: Store, host: Host, action: str, *, source: str, message: str = "",
    profile: str = "", at: Instant | float | None = None,
) -> StateChange:  # fmt: skip
    """The state change ``action`` makes to ``host`` as read (refused as ``check`` says),
    conditional on its state and version."""
    op = check(host.state, action)
    target = op.target
    if target is None:
        back = str(host.meta.get("rescue_from", ""))
        target = State(back) if back in {str(s) for s in RESCUE_RETURNS} else S.READY
    assert host.id is not None
    if target == S.DEPLOYING:
        _require_profile(store, host)
    moment = as_instant(at)
    note = f"{action}: {host.state} -> {target}" + (f" ({message})" if message else "")
    return StateChange(
        host_id=host.id, state=target, source=source, message=note, expected=host.state,
        version=host.version, meta=_meta_changes(host, op, target, profile, moment), at=moment,
    )  # fmt: skip


def _same_state(first: Host) -> Callable[[Host], bool]:
    """No transition happened since ``first`` was read (only other fields changed)."""
    return lambda fresh: (fresh.state, fresh.state_changed) == (first.state, first.state_changed)


def transition(
    store: Store,
    host: Host,
    action: str,
    *,
    source: str,
    message: str = "",
    profile: str = "",
    still: Callable[[Host], bool] | None = None,
) -> Host:
    """Apply ``action`` to ``host``, written only if the host is still as read.

    When another writer changed the host meanwhile, it is read again: if ``still(fresh)``
    holds (by default: no state change happened in between) the action is applied to it,
    else Conflict says what the host is now."""
    holds = still or _same_state(host)

    def write(current: Host) -> Host:
        if current is not host and not holds(current):
            raise Conflict(f"host {current.mac} changed meanwhile: it is {current.state} now")
        change = state_change(
            store, current, action, source=source, message=message, profile=profile
        )
        return store.set_state(
            change.host_id, change.state, expected=change.expected, version=change.version,
            source=source, message=change.message, meta=dict(change.meta), at=change.at,
        )  # fmt: skip

    return retry_stale(store, host, write)


#: State changes per transaction when many are written at once (sweeps)
BATCH = 500


def apply_state_changes(store: Store, changes: list[StateChange]) -> list[Host | PxehookError]:
    """Write ``changes`` in transactions of ``BATCH``; each result is the host or its error
    (Stale when the host changed since it was read: decide again on a fresh read)."""
    results: list[Host | PxehookError] = []
    for start in range(0, len(changes), BATCH):
        results += store.set_states(changes[start : start + BATCH])
    return results


def _require_profile(store: Store, host: Host) -> None:
    if not host.profile:
        raise Conflict(
            f"host {host.mac} has no profile to deploy",
            hint="give one: pxehook host deploy MAC --profile NAME",
        )
    profile = store.profile_get(host.profile)
    if profile is None:
        raise NotFound(f"no profile named {host.profile!r}", hint="see 'pxehook profile list'")
    if profile.kind == "local":
        raise Conflict(
            f"profile {profile.name!r} boots the local disk; there is nothing to install",
            hint="use 'adopt' for a machine that already runs its workload",
        )


def deployment_of(host: Host) -> str:
    """The id of the host's current (or last) deployment; '' when it has none.

    Hosts put straight into ``deploying`` (inventory ``state: deploying``) have no stored
    id; theirs is derived from the moment they entered the state (or, with no time
    recorded, from the host id: only ever their first deployment)."""
    stored = str(host.meta.get("deployment") or "")
    if stored or host.state != S.DEPLOYING:
        return stored
    return f"t{host.state_changed!r}" if host.state_changed is not None else f"i{host.id}"


def host_view(host: Host) -> dict[str, Any]:
    """State, failure kind and the allowed actions: what ``host state`` shows."""
    return {
        "mac": host.mac,
        "state": str(host.state),
        "state_changed": host.state_changed,
        "failure": host.meta.get("failure") if host.state == S.FAILED else None,
        "deployment": deployment_of(host) or None,
        "profile": host.profile,
        "allowed": allowed_actions(host.state),
    }


def states_view() -> list[dict[str, Any]]:
    """The state table with each state's allowed actions: what ``GET /api/v1/states`` lists."""
    return [
        {
            "state": str(state),
            "description": info.description,
            "creatable": info.creatable,
            "create_action": info.create_action or None,
            "allowed": allowed_actions(state),
        }
        for state, info in STATES.items()
    ]


def perform(
    store: Store,
    mac: str,
    action: str,
    *,
    source: str,
    profile: str = "",
    message: str = "",
) -> Host:
    """Find the host owning ``mac`` and apply ``action``; ``profile`` (deploy, reinstall)
    sets the host's profile first, (rescue) names the rescue profile to boot."""
    host = find_host(store, mac)
    check(host.state, action)
    if profile and store.profile_get(profile) is None:
        raise NotFound(f"no profile named {profile!r}", hint="see 'pxehook profile list'")
    if profile and action in ("deploy", "reinstall") and profile != host.profile:
        _require_profile(store, host.with_(profile=profile))  # refuse before writing
        host, _ = apply_changes(store, host.mac, HostChanges(profile=profile), source=source)
    return transition(store, host, action, source=source, message=message, profile=profile)
