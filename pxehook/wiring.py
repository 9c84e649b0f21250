"""The one place that plugs the parts together: the life-cycle into the boot resolver.

Edges (web, TFTP, CLI, background services) build resolvers here, so each one steers
machines the same way and no lower layer imports a higher one to find its collaborator.
"""

from __future__ import annotations

from pxehook.boot.hooks import BootHooks
from pxehook.boot.resolver import Resolver
from pxehook.context import Context
from pxehook.lifecycle.hooks import LifecycleBootHooks


def boot_hooks(ctx: Context) -> BootHooks:
    """The life-cycle's hooks over ``ctx``'s store and settings."""
    return LifecycleBootHooks(ctx)


def resolver(ctx: Context, *, record: bool = True) -> Resolver:
    """A resolver that steers machines through the life-cycle."""
    return Resolver(ctx, hooks=boot_hooks(ctx), record=record)
