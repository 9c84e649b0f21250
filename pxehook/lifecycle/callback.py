"""The installer's install-done callback and the per-deployment token that guards it.

Deploy tokens are never stored: each is an HMAC of a server secret (one of the store's
server values, created once) over the host id and the deployment id, so a new deployment
or a release makes every earlier token worthless. A verified callback moves the host
deploying -> deployed through the transition table. The secret never changes once created,
so each process reads it once per store and keeps it (rendering a deploying host's boot
config is then no transaction at all; replacing the secret by hand needs a restart).

The token is in the host's boot config, which any machine on the boot network can fetch,
so by default the call must also come from the host's trusted IP (``Host.trusted_ip``;
the setting ``callback_require_host_ip``). A refusal says only "refused" to the caller;
the reason goes to the host's timeline and the log.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import weakref
from collections.abc import Callable
from typing import Any

from pxehook.config import Settings
from pxehook.errors import Conflict, Forbidden, InvalidInput, NotFound
from pxehook.lifecycle.hosts import find_host
from pxehook.lifecycle.table import deployment_of, transition
from pxehook.models import Host, State
from pxehook.store import Store

log = logging.getLogger("pxehook.lifecycle")

_SECRET_KEY = "deploy_secret"  # noqa: S105 - the server value's key, not a secret
CALLBACK_PATH = "/api/v1/hosts/{mac}/deployed"

#: The deploy secret of each open store, read once per process (see the module doc).
_secrets: weakref.WeakKeyDictionary[Store, bytes] = weakref.WeakKeyDictionary()


# --- callback ---------------------------------------------------------------------------
def callback_vars(settings: Settings, store: Store, host: Host) -> dict[str, Any]:
    """``callback_url`` and ``deploy_token`` for a deploying host (else nothing)."""
    deployment = deployment_of(host)
    if host.state != State.DEPLOYING or not deployment or host.id is None:
        return {}
    return {
        "callback_url": settings.base_url + CALLBACK_PATH.format(mac=host.mac),
        "deploy_token": deploy_token(store, host.id, deployment),
        "deployment": deployment,
    }


def _always(_host_id: int) -> bool:
    return True


def _refuse(
    store: Store, host: Host | None, source: str, reason: str,
    record: Callable[[int], bool] = _always,
) -> Forbidden:  # fmt: skip
    if host is not None and host.id is not None and record(host.id):
        store.event_add(host.id, "callback.refused", source, reason)
    log.warning("install-done callback refused (%s): %s", source, reason)
    return Forbidden("callback refused", hint="the reason is on the host's timeline")


def install_done(
    store: Store,
    mac: str,
    token: str,
    *,
    source: str,
    from_ip: str | None = None,
    record: Callable[[int], bool] = _always,
) -> tuple[Host, bool]:
    """Verify an installer's callback and move the host deploying -> deployed.

    ``mac`` is any of the host's MACs or its name. ``from_ip``: the caller's address,
    which must then be the host's trusted IP (None: the token alone is enough).
    Returns (host, changed). Repeating a good call returns (host, False). A wrong token,
    another host's token, one from an earlier deployment, or a call from another address
    raises Forbidden, records a ``callback.refused`` event (when ``record(host_id)``
    allows: the caller's cap) and changes nothing."""
    try:
        host: Host | None = find_host(store, mac)
    except (NotFound, InvalidInput, Conflict):  # unknown, malformed, ambiguous: refused
        host = None
    if host is None or host.id is None:
        raise _refuse(store, None, source, f"no host {mac[:40]!r}")
    deployment = deployment_of(host)
    if not deploy_token_ok(store, host.id, deployment, token or ""):
        why = "no deployment in progress" if not deployment else "token does not match"
        raise _refuse(store, host, source, f"{why} (host is {host.state})", record)
    if from_ip is not None and from_ip != host.trusted_ip:
        known = host.trusted_ip or "not known from a trusted source"
        reason = f"sent from {from_ip}; the host's IP is {known}"
        raise _refuse(store, host, source, reason, record)
    if host.state == State.DEPLOYED and host.meta.get("done") == deployment:
        return host, False
    if host.state != State.DEPLOYING:
        raise _refuse(store, host, source, f"host is {host.state}, not deploying", record)
    try:
        updated = transition(
            store, host, "deployed", source=source, message="installer called back"
        )
    except Conflict:  # a concurrent change won; report what is true now
        current = store.host_by_id(host.id)
        if current and current.state == State.DEPLOYED and current.meta.get("done") == deployment:
            return current, False
        raise
    return updated, True


def deploy_secret(store: Store) -> bytes:
    """The server secret behind deploy tokens: read once per process and store (a read,
    which a held write lock does not block), created atomically on first use (two racing
    creators both get the one value the store kept)."""
    secret = _secrets.get(store)
    if secret is None:
        kept = store.server_value_get(_SECRET_KEY)
        if not kept:
            kept = store.server_value_setdefault(_SECRET_KEY, secrets.token_hex(32))
        secret = _secrets[store] = kept.encode()
    return secret


def deploy_token(store: Store, host_id: int, deployment: str) -> str:
    """The install-done token of one deployment of one host (128 bits, hex)."""
    mac = hmac.new(deploy_secret(store), f"{host_id}:{deployment}".encode(), hashlib.sha256)
    return mac.hexdigest()[:32]


def deploy_token_ok(store: Store, host_id: int, deployment: str, offered: str) -> bool:
    """Constant-time check of an offered deploy token."""
    if not deployment or not offered:
        return False
    expected = deploy_token(store, host_id, deployment)
    return hmac.compare_digest(expected.encode(), offered.encode("utf-8", "replace"))


# --- start-up check ---------------------------------------------------------------------
def trusted_ip_warning(settings: Settings, *, hook_installed: bool) -> str | None:
    """One line when the callback needs a host's trusted IP and nothing configured can give
    one (no DHCP hook, no lease file, no listener with trusted servers): every install
    would then loop, its done-callback refused. None when a source is there or not needed.
    The sources per set-up are docs/api.md's table."""
    if not settings.callback_require_host_ip:
        return None
    listener = bool(settings.listen_interface and settings.dhcp_trusted_servers)
    if hook_installed or settings.lease_files or listener:
        return None
    return (
        "callback_require_host_ip is on but nothing gives pxehook a host's trusted IP "
        f"(no DHCP hook at {settings.hook_path}, no lease_files, no listen_interface with "
        "dhcp_trusted_servers): install-done callbacks will be refused and installs loop. "
        "Fix: 'pxehook hook install' for full DHCP, or lease_files / dhcp_trusted_servers "
        "for proxy DHCP (docs/api.md)"
    )
