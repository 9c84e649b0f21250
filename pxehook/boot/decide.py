"""What a machine boots: one pure function from (host, request facts, profiles, policy).

Every boot path — iPXE, GRUB, PXELINUX/U-Boot, UEFI HTTP boot, TFTP, ``pxehook explain`` —
calls :func:`decide`, so no path can answer differently from another. No Flask, no Jinja,
no store access here: the edges gather the facts, this module decides, the renderers
turn the plan into bytes.

The host's architecture comes from ``archsource.effective`` (the one statement of which
source wins: setting > MAC rule > DHCP > the request's claim). A claim that disagrees with
a stronger record is reported (``BootPlan.mismatch``); the edge records it as a
``boot.arch_mismatch`` event.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pxehook import arch as archtable
from pxehook import archsource, config
from pxehook.boot import loaders
from pxehook.errors import ConfigError
from pxehook.models import STATES, Host, Profile, State

BOOT, LOCAL, IGNORE = "boot", "local", "ignore"

#: Local-boot methods (per host var ``local_boot``, per arch setting, global setting).
LOCAL_METHODS = ("exit", "sanboot", "grub-esp")

#: What each state boots by default: the ``boots`` column of ``models.STATES``. "profile" =
#: the host's own profile; "@name" = a setting naming a profile; "unknown" = the
#: ``unknown_hosts`` setting; "local"/"ignore"; anything else = a profile name.
DEFAULT_STATE_BOOT: dict[State, str] = {state: info.boots for state, info in STATES.items()}


@dataclass(frozen=True)
class Facts:
    """What one boot request tells us (already parsed and normalised by the edge)."""

    loader: str
    path: str = ""
    mac: str = ""
    ip: str = ""
    uuid: str = ""
    claim: archtable.Arch | None = None
    claim_note: str = ""
    mac_source: str = ""  # request | lease | arp | uuid


@dataclass(frozen=True)
class Policy:
    """Settings-derived rules: unknown hosts, state → boot target, local-boot methods."""

    unknown_hosts: str = "discover"
    local_boot: str = "auto"
    local_boot_arch: Mapping[str, str] = field(default_factory=dict)
    state_boot: Mapping[State, str] = field(default_factory=lambda: _state_table({}))
    rules: tuple[archtable.MacRule, ...] = archtable.MAC_RULES

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> Policy:
        """Build the policy from settings; a malformed override is a ConfigError."""
        table = dict(DEFAULT_STATE_BOOT)
        for item in settings.get("state_boot") or []:
            name, _, target = str(item).partition("=")
            try:
                table[State(name.strip())] = target.strip()
            except ValueError:
                raise ConfigError(
                    f"setting 'state_boot': {item!r} must be STATE=TARGET with STATE one of "
                    + ", ".join(s.value for s in State)
                ) from None
            if not target.strip():
                raise ConfigError(f"setting 'state_boot': {item!r} has no target")
        table = _state_table(settings, table)
        per_arch = {}
        for item in settings.get("local_boot_arch") or []:
            slug, _, method = str(item).partition("=")
            if slug.strip() not in archtable.BY_SLUG or method.strip() not in LOCAL_METHODS:
                raise ConfigError(
                    f"setting 'local_boot_arch': {item!r} must be SLUG=METHOD, METHOD one of "
                    + ", ".join(LOCAL_METHODS)
                )
            per_arch[slug.strip()] = method.strip()
        return cls(
            unknown_hosts=str(settings.get("unknown_hosts", "discover")),
            local_boot=str(settings.get("local_boot", "auto")),
            local_boot_arch=per_arch,
            state_boot=table,
        )


def _state_table(
    settings: Mapping[str, Any], table: Mapping[State, str] = DEFAULT_STATE_BOOT
) -> dict[State, str]:
    """Resolve ``@setting`` targets (settings given, else that setting's default)."""
    resolved = {}
    for state, target in table.items():
        if target.startswith("@"):
            name = target[1:]
            target = str(settings.get(name, config.BY_NAME[name].default) or LOCAL)
        resolved[state] = target
    return resolved


@dataclass(frozen=True)
class BootPlan:
    """The decision: boot a profile, boot locally, or ignore (404 / TFTP error)."""

    action: str
    loader: str
    profile: Profile | None = None
    arch: archtable.Arch | None = None
    arch_source: str = ""
    local_method: str = "exit"
    state: str = ""
    mismatch: bool = False
    reasons: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "loader": self.loader,
            "profile": self.profile.name if self.profile else "",
            "arch": self.arch.slug if self.arch else "",
            "arch_code": self.arch.code if self.arch else None,
            "arch_source": self.arch_source,
            "local_method": self.local_method,
            "state": self.state,
            "mismatch": self.mismatch,
            "reasons": list(self.reasons),
        }


def resolve_arch(
    host: Host | None, facts: Facts, rules: tuple[archtable.MacRule, ...] = archtable.MAC_RULES
) -> tuple[archtable.Arch | None, str, list[str]]:
    """(arch, source, reasons) for this request, by the precedence in ``archsource``."""
    return archsource.effective(host, facts.mac, facts.claim, facts.claim_note, rules)


def local_method(host: Host | None, arch: archtable.Arch | None, loader: str, p: Policy) -> str:
    """Per host (var ``local_boot``) > per arch setting > global setting > by firmware."""
    wanted = str(host.vars.get("local_boot", "")) if host else ""
    if wanted in LOCAL_METHODS:
        return wanted
    if arch is not None and arch.slug in p.local_boot_arch:
        return p.local_boot_arch[arch.slug]
    if p.local_boot in LOCAL_METHODS:
        return p.local_boot
    fam = archtable.family(arch) if arch else ""
    return loaders.local_auto(loader, fam)


def _target(host: Host | None, policy: Policy) -> tuple[str, str]:
    """(target, reason) for the host's state: local, ignore, or a profile name."""
    if host is None or host.state == State.NEW:
        who = "unknown host" if host is None else "new host"
        unknown_hosts = policy.unknown_hosts
        if unknown_hosts == "ignore":
            return IGNORE, f"{who}: unknown_hosts=ignore"
        return LOCAL, f"{who}: unknown_hosts={unknown_hosts} boots local"
    target = policy.state_boot.get(host.state, LOCAL)
    if target == "unknown":
        return _target(None, policy)
    if target == "profile":
        if not host.profile:
            return LOCAL, f"state {host.state} but no profile set"
        return host.profile, f"state {host.state} boots the host's profile {host.profile}"
    if target in (LOCAL, IGNORE):
        return target, f"state {host.state} boots {target}"
    return target, f"state {host.state} boots profile {target}"


def decide(
    host: Host | None, facts: Facts, profiles: Mapping[str, Profile], policy: Policy
) -> BootPlan:
    """The boot plan for ``host`` (None = unknown MAC) answering ``facts``."""
    arch, source, reasons = resolve_arch(host, facts, policy.rules)
    mismatch = archsource.claim_overruled(facts.claim, arch, source)
    if mismatch:
        assert facts.claim is not None and arch is not None
        reasons.append(f"request claims {facts.claim.slug}, record says {arch.slug}: using record")
    base: dict[str, Any] = {
        "loader": facts.loader,
        "arch": arch,
        "arch_source": source,
        "local_method": local_method(host, arch, facts.loader, policy),
        "state": str(host.state) if host else "",
        "mismatch": mismatch,
    }
    target, why = _target(host, policy)
    reasons.append(why)
    if target in (LOCAL, IGNORE):
        return BootPlan(action=target, reasons=tuple(reasons), **base)
    profile = profiles.get(target)
    problem = _unbootable(profile, target, arch)
    if profile is not None and profile.kind == LOCAL:
        problem = f"profile {target} is a local profile"
    if problem:
        reasons.append(problem + ": booting local")
        return BootPlan(action=LOCAL, profile=profile, reasons=tuple(reasons), **base)
    return BootPlan(action=BOOT, profile=profile, reasons=tuple(reasons), **base)


def _unbootable(profile: Profile | None, name: str, arch: archtable.Arch | None) -> str:
    """Why ``profile`` cannot boot on ``arch`` ('' when it can)."""
    if profile is None:
        return f"profile {name} does not exist"
    if profile.kind == LOCAL:
        return ""
    cpu = kernel_cpu(profile, arch)
    if cpu is None:
        have = ", ".join(sorted(profile.kernel)) or "none"
        want = arch.cpu if arch else "unknown arch"
        return f"profile {name} has no kernel for {want} (has: {have})"
    return ""


def kernel_cpu(profile: Profile, arch: archtable.Arch | None) -> str | None:
    """Which of the profile's kernels to use: the arch's CPU, or the only one when unknown."""
    if arch is not None:
        return arch.cpu if arch.cpu in profile.kernel else None
    return next(iter(profile.kernel)) if len(profile.kernel) == 1 else None
