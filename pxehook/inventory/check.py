"""The one validation of an inventory: ``inventory check`` runs it, and so does every apply.

Every profile expression must compile (a ``{{ x }`` is refused even if no host uses the
profile yet), and every host must render with its profile, exactly as the life-cycle's
``VALIDATORS`` check a ``host set`` (a variable neither the host, its groups nor the profile
defines). Errors name ``file:line`` once, then the problem.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jinja2

from pxehook.boot.render import environment
from pxehook.errors import ConfigError, PxehookError
from pxehook.inventory.declare import created_host, declaration
from pxehook.inventory.parse import HostSpec, Inventory
from pxehook.lifecycle.hosts import VALIDATORS
from pxehook.models import Host, Instant, Profile

#: called as progress(phase, done, total)
Progress = Callable[[str, int, int], None]


class ProfileView:
    """A store view whose profiles are the inventory's (validating before writing)."""

    def __init__(self, store: Any, profiles: dict[str, Profile]) -> None:
        self._store, self._profiles = store, profiles

    def profile_get(self, name: str) -> Profile | None:
        return self._profiles.get(name)

    def host_by_name(self, name: str) -> Host | None:
        """Who holds a name (nobody, when checking a file without a database)."""
        return None if self._store is None else self._store.host_by_name(name)

    def host_by_uuid(self, uuid: str) -> Host | None:
        return None if self._store is None else self._store.host_by_uuid(uuid)

    def __getattr__(self, name: str) -> Any:
        if self._store is None:
            raise AttributeError(name)
        return getattr(self._store, name)


def check_profiles(inv: Inventory) -> None:
    """Compile every kernel, initrd and command-line expression of every profile."""
    env = environment("")
    for name, profile in inv.profiles.items():
        exprs = [("cmdline", profile.cmdline)]
        exprs += [(f"kernel {cpu}", expr) for cpu, expr in profile.kernel.items()]
        exprs += [(f"initrd {cpu}", e) for cpu, files in profile.initrd.items() for e in files]
        for what, expr in exprs:
            try:
                env.from_string(str(expr))
            except jinja2.TemplateSyntaxError as exc:
                line = inv.profile_lines.get(name, 0)
                where = f"{inv.path}:{line}" if line else inv.path
                raise ConfigError(
                    f"{where}: profile '{name}': {what}: template syntax: {exc.message}"
                ) from None


def check_host(view: Any, inv: Inventory, spec: HostSpec, host: Host) -> None:
    """Run every validator on ``host`` (what ``spec`` leaves in the store); an error names
    the file and line, then the host once."""
    for validate in VALIDATORS:
        try:
            validate(view, host)
        except PxehookError as exc:
            message = exc.message
            if not message.startswith("host "):
                message = f"host {spec.macs[0]}: {message}"
            raise ConfigError(f"{inv.path}:{spec.line}: {message}") from None


def check(inv: Inventory, *, progress: Progress | None = None) -> int:
    """Validate the whole inventory as an apply into an empty store would; returns the
    number of hosts. Raises ConfigError at the first problem."""
    check_profiles(inv)
    specs = inv.specs(progress)
    view = ProfileView(None, inv.profiles)
    at = Instant(wall=0.0)
    for done, spec in enumerate(specs, 1):
        check_host(view, inv, spec, created_host(declaration(inv, spec), at))
        if progress is not None and done % 256 == 0:
            progress("check", done, len(specs))
    if progress is not None:
        progress("check", len(specs), len(specs))
    return len(specs)
