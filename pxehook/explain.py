"""Why a machine boots what it boots: the decision chain and the exact bytes per loader.

Read-only (records nothing); shared by ``pxehook explain`` and ``GET /api/v1/hosts/<mac>/explain``.
"""

from __future__ import annotations

from typing import Any

from pxehook import wiring
from pxehook.boot import loaders
from pxehook.boot.decide import Facts, decide
from pxehook.boot.names import clean_path
from pxehook.boot.resolver import grub_claim
from pxehook.errors import InvalidInput
from pxehook.lifecycle.hosts import host_or_mac


def loader_for_path(path: str) -> tuple[str, Any]:
    """(loader, parsed Name or None) for a request path."""
    clean = clean_path(path.lstrip("/"))
    if clean.startswith("ipxe/"):
        return loaders.IPXE.name, None
    name = loaders.parse_name(clean)
    if name is None or name.kind == "none":
        raise InvalidInput(
            f"{path!r} is not a boot config path",
            hint="e.g. /ipxe/MAC, pxelinux.cfg/01-MAC, grub/grub.cfg-01-MAC",
        )
    return name.loader, name


def explain_data(ctx: Any, mac: str, path: str | None) -> dict[str, Any]:
    """The decision chain and rendered bytes per loader (read-only: records nothing).
    ``mac``: a MAC (known or not) or a host's name."""
    host, normal = host_or_mac(ctx.store(), mac)
    resolver = wiring.resolver(ctx, record=False)
    profiles = resolver.profiles()
    shown = [(lo.name, None) for lo in loaders.LOADERS if lo.serves_config]
    wanted = [loader_for_path(path)] if path else shown
    answers = []
    for loader, _name in wanted:
        claim = grub_claim(path.lstrip("/")) if path and loader == loaders.GRUB.name else None
        facts = Facts(loader=loader, path=path or "", mac=normal, claim=claim)
        plan = decide(host, facts, profiles, resolver.policy)
        answer = resolver.render(host, plan)
        answers.append(
            {
                **answer.plan.as_dict(),  # type: ignore[union-attr]
                "status": answer.status,
                "template": answer.template,
                "body": answer.body.decode("utf-8", "replace"),
            }
        )
    return {
        "mac": normal,
        "known": host is not None,
        "host": host.as_dict() if host else None,
        "answers": answers,
    }
