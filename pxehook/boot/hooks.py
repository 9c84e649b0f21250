"""Seams between the boot resolver and the machine life-cycle.

The resolver (decide/render/web/TFTP) calls these functions; the life-cycle module supplies
what they return. Keeping the seam here lets either side change without importing the
other's internals.
"""

from __future__ import annotations

from typing import Any

from pxehook.context import Context
from pxehook.models import Host


def boot_vars(ctx: Context, host: Host) -> dict[str, Any]:
    """Extra template variables for a host's boot config.

    The life-cycle provides at least ``callback_url`` and ``deploy_token`` for hosts that
    are deploying (the installer calls back with them). Default: none.
    """
    from pxehook.lifecycle.callback import callback_vars

    return callback_vars(ctx.settings, ctx.store(), host)


def on_boot_event(ctx: Context, host: Host, kind: str, data: dict[str, Any]) -> Host:
    """Called after the resolver served something to ``host`` (``kind`` e.g. ``boot.config``,
    ``boot.kernel``, ``tftp.file``). The life-cycle uses it for boot-once; returns the
    (possibly updated) host. Default: no change."""
    from pxehook.lifecycle.auto import on_boot_event as lifecycle_on_boot_event

    return lifecycle_on_boot_event(ctx, host, kind, data)


def before_decide(ctx: Context, host: Host) -> Host:
    """Apply due automatic transitions (boot-once session over, deploy time-out) to
    ``host`` right before the resolver decides what it boots, so the answer never lags
    the background sweep. Returns the (possibly updated) host."""
    from pxehook.lifecycle.auto import apply_due

    return apply_due(ctx.settings, ctx.store(), host)
