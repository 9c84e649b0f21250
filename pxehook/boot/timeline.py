"""What a served boot config puts on the host's timeline: built here once.

The resolver (HTTP, TFTP) and the nginx access-log ingest both call :func:`boot_hit`, so a
hit nginx answered from a pre-rendered file reads exactly like one gunicorn answered.

* ``boot.config`` — a boot config was served (data: path, loader, action, profile, arch,
  arch_source, state, template, mac_source, client_ip, via); ``BootHooks.on_boot_event``
  is called with it once it is written;
* ``boot.arch_mismatch`` — the request's arch claim disagrees with a stronger record
  (data: claimed, recorded, path).
"""

from __future__ import annotations

from typing import Any, NamedTuple

from pxehook.boot.decide import BOOT, BootPlan, Facts


class Entry(NamedTuple):
    """One timeline row to write (``hook``: call on_boot_event after writing it)."""

    kind: str
    message: str
    data: dict[str, Any]
    hook: bool


def boot_hit(plan: BootPlan, facts: Facts, *, template: str, via: str) -> list[Entry]:
    """The rows for answering ``facts`` with ``plan`` (rendered from ``template``) via ``via``."""
    data = {
        "path": facts.path,
        "loader": plan.loader,
        "action": plan.action,
        "profile": plan.profile.name if plan.profile and plan.action == BOOT else "",
        "arch": plan.arch.slug if plan.arch else "",
        "arch_source": plan.arch_source,
        "state": plan.state,
        "template": template,
        "mac_source": facts.mac_source,
        "client_ip": facts.ip,
        "via": via,
    }
    entries = [Entry("boot.config", f"{plan.loader} {facts.path}: {plan.action}", data, True)]
    if plan.mismatch and facts.claim and plan.arch:
        claimed, recorded = facts.claim.slug, plan.arch.slug
        message = f"request claims {claimed}, record says {recorded}"
        mismatch = {"claimed": claimed, "recorded": recorded, "path": facts.path}
        entries.append(Entry("boot.arch_mismatch", message, mismatch, False))
    return entries
