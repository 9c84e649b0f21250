"""The seam between the boot resolver and whatever steers machines (the life-cycle).

The resolver calls a ``BootHooks`` object it was given; it never imports the life-cycle.
``NoHooks`` is the default (a resolver that only answers); ``pxehook.wiring`` passes the
life-cycle's implementation (``lifecycle.hooks.LifecycleBootHooks``) to every resolver
``pxehook`` runs.
"""

from __future__ import annotations

from typing import Any, Protocol

from pxehook.models import Host, State

#: States whose boot answer the life-cycle may change with no write, by the clock alone
#: (a boot-once session running out, a deploy time-out): the resolver asks
#: ``BootHooks.before_decide`` before every answer for them, and the nginx front never
#: pre-renders them (a file cannot notice its deadline).
CLOCKED_STATES = frozenset({State.DEPLOYING})


class BootHooks(Protocol):
    """What the resolver asks of the life-cycle, around each answer."""

    def before_decide(self, host: Host) -> Host:
        """Apply due automatic transitions (boot-once session over, deploy time-out) to
        ``host`` right before the resolver decides, so the answer never lags the background
        sweep. Returns the (possibly updated) host."""
        ...

    def boot_vars(self, host: Host) -> dict[str, Any]:
        """Extra template variables for a host's boot config (for a deploying host at least
        ``callback_url`` and ``deploy_token``: the installer calls back with them)."""
        ...

    def on_boot_event(self, host: Host, kind: str, data: dict[str, Any]) -> Host:
        """The resolver served ``host`` something (``kind`` e.g. ``boot.config``,
        ``boot.kernel``, ``tftp.file``); returns the (possibly updated) host."""
        ...


class NoHooks:
    """The default: nothing steers the machines; every hook leaves the host as it is."""

    def before_decide(self, host: Host) -> Host:
        return host

    def boot_vars(self, host: Host) -> dict[str, Any]:
        return {}

    def on_boot_event(self, host: Host, kind: str, data: dict[str, Any]) -> Host:
        return host


NO_HOOKS: BootHooks = NoHooks()
