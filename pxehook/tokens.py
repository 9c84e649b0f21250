"""Secrets: API bearer tokens (stored hashed) and per-deployment install-done tokens.

API tokens are 256-bit random strings shown once; the store keeps only their SHA-256.
Deploy tokens are never stored: each is an HMAC of a server secret (kept in the store's
meta table, created once) over the host id and the deployment id, so a new deployment or a
release makes every earlier token worthless.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from .errors import Forbidden, InvalidInput, Unauthorized
from .models import now
from .store import Store

SCOPES = ("read", "admin")
PREFIX = "pxh_"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_SECRET_KEY = "deploy_secret"  # noqa: S105 - the meta key, not a secret


def digest(token: str) -> str:
    """The SHA-256 hex digest the store keeps instead of the token."""
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


def create(store: Store, name: str, scope: str) -> str:
    """Create a token; returns the secret (the only time it exists in clear)."""
    if not _NAME.match(name or ""):
        raise InvalidInput(
            f"invalid token name {name[:64]!r}", hint="letters, digits, '.', '_', '-'; 1-64"
        )
    if scope not in SCOPES:
        raise InvalidInput(f"scope {scope!r} is not one of {', '.join(SCOPES)}")
    secret = PREFIX + secrets.token_urlsafe(32)
    store.token_put(name, digest(secret), scope, now())
    return secret


def authorize(store: Store, header: str | None, need: str) -> dict:
    """Check an ``Authorization: Bearer …`` header against scope ``need``.

    Returns the token record; raises Unauthorized (none/unknown) or Forbidden (scope)."""
    if not header:
        raise Unauthorized("this request needs a bearer token", hint="pxehook token create")
    kind, _, value = header.partition(" ")
    if kind.lower() != "bearer" or not value.strip():
        raise Unauthorized("the Authorization header must be 'Bearer <token>'")
    record = store.token_find(digest(value.strip()))
    if record is None:
        raise Unauthorized("unknown or revoked token")
    if need == "admin" and record["scope"] != "admin":
        raise Forbidden(f"token {record['name']!r} has scope {record['scope']}; needs admin")
    return record


def deploy_secret(store: Store) -> bytes:
    """The server secret behind deploy tokens (created atomically on first use)."""
    return store.meta_setdefault(_SECRET_KEY, secrets.token_hex(32)).encode()


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
