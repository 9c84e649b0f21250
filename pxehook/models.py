"""Small frozen records shared by every layer: states, hosts, observations, events, profiles."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, fields
from enum import StrEnum
from functools import cache
from typing import Any


class State(StrEnum):
    """Machine life-cycle states (MAAS's vocabulary): one row each in ``STATES`` below.

    Transitions between them live in lifecycle/table.py."""

    NEW = "new"
    COMMISSIONING = "commissioning"
    READY = "ready"
    ALLOCATED = "allocated"
    DEPLOYING = "deploying"
    DEPLOYED = "deployed"
    RESCUE = "rescue"
    BROKEN = "broken"
    FAILED = "failed"


@dataclass(frozen=True)
class StateInfo:
    """One row of the state table: what a state means to each edge that must know it.

    ``boots`` is the default of what the state boots (``boot/decide.py``, overridable with
    the ``state_boot`` setting): ``local``, ``ignore``, ``profile`` (the host's own),
    ``unknown`` (the ``unknown_hosts`` setting), ``@SETTING`` (the profile a setting names)
    or a profile name. ``creatable``: ``POST /api/v1/hosts`` may create a host in this
    state, as ``new`` followed by ``create_action`` (a transition-table action) if any.
    ``pilot``: the PXE Pilot configuration a host in it shows: ``local``, ``profile``
    (its rescue or own profile) or ``""`` (none).
    """

    boots: str
    description: str
    creatable: bool = False
    create_action: str = ""
    pilot: str = ""


#: THE state table, in display order: decide, the API, PXE Pilot, OpenAPI and the page read it.
STATES: dict[State, StateInfo] = {
    State.NEW: StateInfo(
        boots="unknown",
        description="Seen on the network, not taken in yet; boots as unknown_hosts says.",
        creatable=True,
    ),
    State.COMMISSIONING: StateInfo(
        boots="@commissioning_profile",
        description="Boots the commissioning image to inventory the hardware.",
        pilot="profile",
    ),
    State.READY: StateInfo(
        boots="local",
        description="In the pool, free to allocate or deploy; boots its disk.",
        creatable=True,
        create_action="accept",
    ),
    State.ALLOCATED: StateInfo(
        boots="local",
        description="Reserved, not installed yet; boots its disk.",
    ),
    State.DEPLOYING: StateInfo(
        boots="profile",
        description="Installing: boots its profile until the install is known to be over.",
        pilot="profile",
    ),
    State.DEPLOYED: StateInfo(
        boots="local",
        description="Installed, running its workload; boots its disk.",
        creatable=True,
        create_action="adopt",
        pilot="local",
    ),
    State.RESCUE: StateInfo(
        boots="@rescue_profile",
        description="Boots the rescue system until exit-rescue.",
        pilot="profile",
    ),
    State.BROKEN: StateInfo(
        boots="local",
        description="Out of service (faulty) until mark-fixed; boots its disk.",
    ),
    State.FAILED: StateInfo(
        boots="local",
        description="An operation failed (its kind is kept); boots its disk, never retried.",
    ),
}


def creatable_states() -> list[State]:
    """States a new host may be created in, in table order."""
    return [state for state, info in STATES.items() if info.creatable]


class ArchSource(StrEnum):
    """Where a host's recorded architecture came from, strongest first (ranked in archsource.py)."""

    SETTING = "setting"  # operator set it (inventory, CLI, API)
    RULE = "rule"  # MAC/OUI rule (e.g. Raspberry Pi prefixes)
    DHCP = "dhcp"  # option 93 / vendor class seen by a hook or the listener
    REQUEST = "request"  # claimed by a boot request (iPXE ${buildarch}, path)
    NONE = ""


class IpSource(StrEnum):
    """Where a host's recorded IP came from. Only ``TRUSTED_IP_SOURCES`` may authorise
    anything by IP (PXE Pilot self-deploy, the install-done callback, IP→MAC lookups)."""

    HOOK = "hook"  # the site's DHCP server itself: its lease hook (dnsmasq, ISC, Kea)
    LEASE_FILE = "lease-file"  # the site's DHCP server's own lease file
    LISTENER = "listener"  # a trusted server's DHCPACK to a REQUEST the listener saw
    REQUEST = "request"  # the source address of a boot request: the client's claim
    NONE = ""  # unknown (recorded before pxehook kept the source)


#: The IP sources the site trusts: the DHCP server's own records and its seen replies.
TRUSTED_IP_SOURCES = frozenset({IpSource.HOOK, IpSource.LEASE_FILE, IpSource.LISTENER})

#: SMBIOS UUIDs firmware ships as placeholders on many boards (besides one repeated digit).
PLACEHOLDER_UUIDS = frozenset({"03000200-0400-0500-0006-000700080009"})


def usable_uuid(value: str) -> str:
    """``value`` lower-cased when it may identify a machine; '' for placeholders (all one
    hex digit, such as all-zero or all-FF, or a known firmware placeholder)."""
    uuid = (value or "").strip().lower()
    digits = uuid.replace("-", "")
    if not digits or len(set(digits)) == 1 or uuid in PLACEHOLDER_UUIDS:
        return ""
    return uuid


def now() -> float:
    """Wall-clock seconds; one place so tests can reason about timestamps."""
    return time.time()


@dataclass(frozen=True)
class Instant:
    """A moment read from two clocks: the wall clock (shown, compared across machines and
    reboots) and this machine's boot-time clock (``clock``, seconds since it booted, never
    stepped), with the id of that boot. Elapsed times between two instants of the same boot
    come from ``clock`` alone, so a wall-clock step cannot fake them (lifecycle/clock.py)."""

    wall: float
    clock: float | None = None
    boot: str = ""


def instant() -> Instant:
    """Now, on both clocks."""
    return Instant(wall=time.time(), clock=_boot_clock(), boot=boot_id())


def _boot_clock() -> float:
    # CLOCK_BOOTTIME counts a suspend too; both are shared by every process of one boot
    clock_id = getattr(time, "CLOCK_BOOTTIME", time.CLOCK_MONOTONIC)
    return time.clock_gettime(clock_id)


@cache
def boot_id() -> str:
    """This machine's boot id ('' where the kernel does not say): boot-clock readings are
    comparable only within one boot."""
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as fh:
            return fh.read().strip()
    except OSError:
        return ""


@dataclass(frozen=True)
class Host:
    """A machine: one or more MACs plus what was observed and what the operator wants."""

    id: int | None
    macs: tuple[str, ...]
    name: str = ""
    uuid: str = ""
    arch: int | None = None
    arch_source: str = ""
    ip: str = ""
    vendor_class: str = ""
    user_class: str = ""
    first_seen: float | None = None
    last_seen: float | None = None
    profile: str = ""
    state: State = State.NEW
    state_changed: float | None = None
    labels: dict[str, str] = field(default_factory=dict)
    vars: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    ip_source: str = IpSource.NONE
    dhcp_hostname: str = ""  # what the client called itself in DHCP: a claim, not a name
    #: grows with every write to the row: a write conditional on it fails if the host
    #: changed since it was read (``errors.Stale``)
    version: int = 0
    #: the boot-time clock and boot id of the last state change (see ``Instant``)
    state_clock: float | None = None
    state_boot: str = ""

    @property
    def mac(self) -> str:
        """The primary MAC (the first one recorded)."""
        return self.macs[0] if self.macs else ""

    @property
    def trusted_ip(self) -> str:
        """The recorded IP when a trusted source gave it, else ''."""
        return self.ip if self.ip and self.ip_source in TRUSTED_IP_SOURCES else ""

    def with_(self, **changes: Any) -> Host:
        """A copy with ``changes`` (copied field by field: ``dataclasses.replace`` costs
        several times as much, and an inventory apply makes a few per host)."""
        unknown = changes.keys() - _HOST_FIELDS
        if unknown:
            raise TypeError(f"Host has no field {sorted(unknown)[0]!r}")
        copy = object.__new__(Host)
        copy.__dict__.update(self.__dict__, **changes)
        return copy

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "mac": self.mac,
            "macs": list(self.macs),
            "name": self.name,
            "uuid": self.uuid,
            "arch": self.arch,
            "arch_source": self.arch_source,
            "ip": self.ip,
            "ip_source": str(self.ip_source),
            "ip_trusted": bool(self.trusted_ip),
            "dhcp_hostname": self.dhcp_hostname,
            "vendor_class": self.vendor_class,
            "user_class": self.user_class,
            "first_seen": self.first_seen,
            "last_seen": self.last_seen,
            "profile": self.profile,
            "state": str(self.state),
            "state_changed": self.state_changed,
            "labels": dict(self.labels),
            "vars": dict(self.vars),
            "meta": dict(self.meta),
            "version": self.version,
        }


_HOST_FIELDS = frozenset(f.name for f in fields(Host))


@dataclass(frozen=True)
class Observation:
    """What one source saw of a MAC (DHCP hook, listener, boot request). Empty = unknown."""

    mac: str
    source: str
    ip: str = ""
    ip_source: str = IpSource.NONE  # untrusted unless the source is one the site trusts
    hostname: str = ""  # the DHCP hostname (option 12): kept as Host.dhcp_hostname
    uuid: str = ""
    arch: int | None = None
    arch_source: str = ArchSource.DHCP
    vendor_class: str = ""
    user_class: str = ""
    at: float | None = None


@dataclass(frozen=True)
class Event:
    """One line of a host's append-only timeline."""

    id: int | None
    host_id: int
    at: float
    kind: str
    source: str
    message: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    #: the rack (``rack_name``) whose pxehook recorded it
    rack: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "host_id": self.host_id,
            "at": self.at,
            "kind": self.kind,
            "source": self.source,
            "message": self.message,
            "data": dict(self.data),
            "rack": self.rack,
        }


@dataclass(frozen=True)
class Profile:
    """What to boot: an installer, a live/rescue image, local disk or commissioning."""

    name: str
    kind: str = "installer"  # installer | live | local | commissioning
    description: str = ""
    kernel: dict[str, str] = field(default_factory=dict)  # cpu family -> URL/path
    initrd: dict[str, list[str]] = field(default_factory=dict)  # cpu family -> files
    cmdline: str = ""
    one_shot: bool = False
    templates: dict[str, str] = field(default_factory=dict)  # loader kind -> template name
    vars: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "description": self.description,
            "kernel": dict(self.kernel),
            "initrd": {k: list(v) for k, v in self.initrd.items()},
            "cmdline": self.cmdline,
            "one_shot": self.one_shot,
            "templates": dict(self.templates),
            "vars": dict(self.vars),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Profile:
        initrd = {
            k: [v] if isinstance(v, str) else list(v) for k, v in (data.get("initrd") or {}).items()
        }
        return cls(
            name=data["name"],
            kind=data.get("kind", "installer"),
            description=data.get("description", ""),
            kernel=dict(data.get("kernel") or {}),
            initrd=initrd,
            cmdline=data.get("cmdline", ""),
            one_shot=bool(data.get("one_shot", False)),
            templates=dict(data.get("templates") or {}),
            vars=dict(data.get("vars") or {}),
        )
