"""How a host's architecture is decided: the one statement of which source wins.

Sources (``models.ArchSource``), strongest first — :data:`RANK` is the order:

1. **setting** — the operator set it (inventory ``arch:``, ``pxehook host set --arch``);
2. **rule** — a MAC/OUI rule (``arch.MAC_RULES``: Raspberry Pi boot ROMs announce 0 but
   are ARM), applied here for the resolver and every display (the DHCP generators encode the
   same table). A rule corrects only the code its firmware lies with (``MacRule.announces``):
   once DHCP saw that MAC announce another code (a Pi running UEFI or U-Boot), that code holds;
3. **dhcp** — what a DHCP hook or the listener observed (option 93, vendor class);
4. **request** — what a boot request claims (iPXE ``${buildarch}``, a GRUB or U-Boot path);
   an arch recorded from an earlier request ranks with it.

Every reader calls this module, so they cannot disagree: ``boot/decide`` (the answer),
``store/merge`` (what an observation may overwrite), ``boot/prerender`` (which answers no
request can change, so nginx may serve them as files) and ``capture/sightings`` (which DHCP
fact names the arch).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import NamedTuple

from pxehook import arch as archtable
from pxehook.models import ArchSource, Host, Observation

#: Strength of each source: the strongest evidence names the arch, and a weaker source
#: never overwrites a stronger one in the store.
RANK: dict[str, int] = {
    ArchSource.SETTING: 4,
    ArchSource.RULE: 3,
    ArchSource.DHCP: 2,
    ArchSource.REQUEST: 1,
    ArchSource.NONE: 0,
}

#: Recorded sources that count as "seen by DHCP" when deciding (a rule recorded earlier
#: whose prefix no longer matches still came from a DHCP packet).
_OBSERVED = (ArchSource.DHCP, ArchSource.RULE)

_OPTION93 = re.compile(r"[0-9]{1,5}")


class Evidence(NamedTuple):
    """One candidate answer: where it came from, the arch, and why."""

    source: str
    arch: archtable.Arch
    reason: str


def rank(source: str | None) -> int:
    """Strength of ``source`` ('' or None = no source). Raises ValueError for an unknown one."""
    return RANK[ArchSource(source or "")]


def _evidence(
    host: Host | None,
    mac: str,
    claim: archtable.Arch | None,
    claim_note: str,
    rules: tuple[archtable.MacRule, ...],
) -> Iterator[Evidence]:
    """Every candidate, in the order a tie is broken (the first of the strongest wins)."""
    recorded = archtable.lookup(host.arch) if host and host.arch is not None else None
    source = host.arch_source if host else ""
    if recorded and source == ArchSource.SETTING:
        yield Evidence(ArchSource.SETTING, recorded, f"arch {recorded.slug} set on the host")
    macs = ((mac,) if mac else ()) + (host.macs if host else ())
    rule = next((r for r in (archtable.rule_for_mac(m, rules) for m in macs) if r), None)
    observed = recorded if recorded and source in _OBSERVED else None
    if rule is not None and (observed is None or observed.code == rule.announces):
        ruled = archtable.lookup(rule.arch)
        note = f"arch {ruled.slug} from MAC rule {rule.prefix}: {rule.note}"
        yield Evidence(ArchSource.RULE, ruled, note)
    if recorded and source in _OBSERVED:
        yield Evidence(ArchSource.DHCP, recorded, f"arch {recorded.slug} observed by DHCP")
    if claim is not None:
        note = f" ({claim_note})" if claim_note else ""
        yield Evidence(ArchSource.REQUEST, claim, f"arch {claim.slug} claimed{note}")
    if recorded and source != ArchSource.SETTING and source not in _OBSERVED:
        reason = f"arch {recorded.slug} from an earlier request"
        yield Evidence(ArchSource.REQUEST, recorded, reason)


def effective(
    host: Host | None,
    mac: str = "",
    claim: archtable.Arch | None = None,
    claim_note: str = "",
    rules: tuple[archtable.MacRule, ...] = archtable.MAC_RULES,
) -> tuple[archtable.Arch | None, str, list[str]]:
    """(arch, source, reasons) for ``host`` (None = unknown) answering a request from ``mac``
    that claims ``claim``: the strongest evidence by :data:`RANK`."""
    candidates = _evidence(host, mac, claim, claim_note, rules)
    best = max(candidates, key=lambda e: RANK[e.source], default=None)
    if best is None:
        return None, "", ["arch unknown"]
    return best.arch, best.source, [best.reason]


def host_json(host: Host) -> dict[str, object]:
    """``host``'s JSON with the effective arch beside the recorded one (``arch_effective``,
    ``arch_effective_source``): what the API and the CLI show."""
    arch, source, _reasons = effective(host)
    return {
        **host.as_dict(),
        "arch_effective": arch.code if arch else None,
        "arch_effective_source": source,
    }


def settled(source: str) -> bool:
    """True when an arch from ``source`` is stronger than any request's claim: no request
    can change it (the nginx front may serve the answer as a file)."""
    return RANK.get(source, 0) > RANK[ArchSource.REQUEST]


def claim_overruled(claim: archtable.Arch | None, arch: archtable.Arch | None, source: str) -> bool:
    """True when a request's ``claim`` disagrees with the stronger record ``arch`` came from
    (a different CPU or firmware family; recorded as ``boot.arch_mismatch``)."""
    return bool(
        claim is not None
        and arch is not None
        and settled(source)
        and not archtable.equivalent(claim, arch)
    )


def may_replace(host: Host, obs: Observation) -> bool:
    """True when ``obs`` may set the host's recorded arch: never unknown over known, never a
    weaker source over a stronger one, never an HTTP-boot code over the equivalent PXE code
    already recorded."""
    if obs.arch is None:
        return False
    if host.arch is None:
        return True
    old, new = archtable.lookup(host.arch), archtable.lookup(obs.arch)
    if new.is_http and not old.is_http and archtable.equivalent(old, new):
        # the same firmware trying its HTTP-boot twin (OVMF: PXE 7, then HTTP 16) is the
        # same machine: keep the PXE code, which names the path it really boots by
        return False
    return rank(obs.arch_source) >= rank(host.arch_source)


def dhcp_arch(tags: str = "", vendor_class: str = "", option93: str = "") -> int | None:
    """Option 93 from DHCP facts, in order: our dnsmasq tags, an explicit value, the vendor
    class (``PXEClient:Arch:NNNNN``)."""
    if tags:
        found = archtable.from_tags(tags)
        if found is not None:
            return found.code
    first = re.split(r"[\s,]+", option93.strip())[0]
    if _OPTION93.fullmatch(first) and int(first) <= 0xFFFF:
        return int(first)
    parsed = archtable.parse_vendor_class(vendor_class) if vendor_class else None
    return parsed.arch_code if parsed is not None else None
