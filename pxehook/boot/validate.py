"""Refuse a host edit whose profile cannot render for it (one of lifecycle.hosts.VALIDATORS).

A missing variable is reported when the operator runs ``pxehook host set`` or calls the
API, naming the host and the field, not at 3 a.m. when the machine boots.
"""

from __future__ import annotations

from pxehook.boot.render import boot_entry, profile_vars
from pxehook.errors import ConfigError, InvalidInput
from pxehook.models import Host
from pxehook.store import Store

#: Stand-ins for values only known at boot time (the life-cycle's boot_vars).
_PLACEHOLDERS = {"callback_url": "http://callback.invalid/", "deploy_token": "token"}


def validate_profile_vars(store: Store, host: Host) -> None:
    """Render every kernel/initrd/cmdline of the host's profile with the host's variables."""
    if not host.profile:
        return
    profile = store.profile_get(host.profile)
    if profile is None or profile.kind == "local":
        return
    variables = profile_vars(host, profile, "http://files.invalid", _PLACEHOLDERS)
    for cpu in profile.kernel:
        try:
            boot_entry(host, profile, cpu, variables, site_dir="")
        except ConfigError as exc:
            raise InvalidInput(
                str(exc), hint=f"set it with 'pxehook host set {host.mac} --var NAME=VALUE'"
            ) from None
