"""API bearer tokens: 256-bit random strings shown once; the store keeps only their SHA-256.

(Per-deployment install-done tokens live with the callback in ``lifecycle.callback``.)
"""

from __future__ import annotations

import hashlib
import re
import secrets

from pxehook.errors import Forbidden, InvalidInput, Unauthorized
from pxehook.models import now
from pxehook.store import Store

SCOPES = ("read", "admin")
PREFIX = "pxh_"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


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
