"""The life-cycle's side of the boot seam (``boot.hooks.BootHooks``).

Boot-once sessions, deploy time-outs, auto-adopt on a first boot request, and the
installer's callback variables: what the resolver must ask the life-cycle around each
answer. ``pxehook.wiring`` hands an instance to every resolver.
"""

from __future__ import annotations

from typing import Any

from pxehook.context import Context
from pxehook.lifecycle.auto import apply_due, on_boot_event
from pxehook.lifecycle.callback import callback_vars
from pxehook.models import Host


class LifecycleBootHooks:
    """``BootHooks`` backed by the life-cycle rules and the context's store."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def before_decide(self, host: Host) -> Host:
        return apply_due(self.ctx.settings, self.ctx.store(), host)

    def boot_vars(self, host: Host) -> dict[str, Any]:
        return callback_vars(self.ctx.settings, self.ctx.store(), host)

    def on_boot_event(self, host: Host, kind: str, data: dict[str, Any]) -> Host:
        return on_boot_event(self.ctx, host, kind, data)
