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
from pxehook.boot.validate import RenderChecks
from pxehook.errors import ConfigError, PxehookError
from pxehook.inventory.declare import created_host, declaration
from pxehook.inventory.loader import no_gc
from pxehook.inventory.parse import HostSpec, Inventory
from pxehook.lifecycle.hosts import VALIDATORS
from pxehook.models import Host, Instant, Profile, usable_uuid

#: called as progress(phase, done, total)
Progress = Callable[[str, int, int], None]


class ProfileView:
    """A store view whose profiles are the inventory's (validating before writing).

    It answers who holds a name or a UUID from one bulk read per batch (``know``), and
    carries the ``RenderChecks`` memo of ``validate_profile_vars`` (its profiles never
    change), so a validator runs once per distinct (profile, variable names), not per host."""

    def __init__(self, store: Any, profiles: dict[str, Profile]) -> None:
        self._store, self._profiles = store, profiles
        self.render_checks = RenderChecks()
        self._holders: dict[tuple[str, str], int | None] = {}
        self._hosts: dict[int, Host] = {}

    def know(self, specs: list[HostSpec], hosts: dict[int, Host]) -> None:
        """Read at once who holds each name and UUID ``specs`` declare (``hosts``: hosts read
        already, by id). The answers are those of a read now, as ``host_by_name`` gives."""
        names = {spec.name for spec in specs if spec.name}
        uuids = {usable_uuid(spec.uuid) for spec in specs if spec.uuid} - {""}
        by_name, by_uuid = self._store.name_owners(names), self._store.uuid_owners(uuids)
        holders = {("name", n): by_name.get(n) for n in names}
        holders.update({("uuid", u): by_uuid.get(u) for u in uuids})
        missing = {i for i in holders.values() if i is not None and i not in hosts}
        self._hosts = {**hosts, **self._store.host_many(missing)} if missing else hosts
        self._holders = holders

    def profile_get(self, name: str) -> Profile | None:
        return self._profiles.get(name)

    def host_by_name(self, name: str) -> Host | None:
        """Who holds a name (nobody, when checking a file without a database)."""
        return self._holder("name", name, lambda: self._store.host_by_name(name))

    def host_by_uuid(self, uuid: str) -> Host | None:
        return self._holder("uuid", usable_uuid(uuid), lambda: self._store.host_by_uuid(uuid))

    def _holder(self, kind: str, value: str, read: Callable[[], Host | None]) -> Host | None:
        if self._store is None or not value:
            return None
        if (kind, value) not in self._holders:
            return read()
        host_id = self._holders[(kind, value)]
        return None if host_id is None else self._hosts.get(host_id)

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
    with no_gc():
        for done, spec in enumerate(specs, 1):
            check_host(view, inv, spec, created_host(declaration(inv, spec), at))
            if progress is not None and done % 256 == 0:
                progress("check", done, len(specs))
    if progress is not None:
        progress("check", len(specs), len(specs))
    return len(specs)
