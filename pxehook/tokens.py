"""API bearer tokens: 256-bit random strings shown once; the store keeps only their SHA-256.

A client address that sends more than ``FailureLimiter.limit`` wrong tokens within
``window`` seconds is refused (429, Retry-After) until the oldest failure is that old,
whatever it sends; every refusal is logged with the address and the reason, never the token.
(Per-deployment install-done tokens live with the callback in ``lifecycle.callback``.)
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
import secrets
import threading
import time
from collections import OrderedDict, deque

from pxehook.errors import Forbidden, InvalidInput, RateLimited, Unauthorized
from pxehook.models import now
from pxehook.store import Store

log = logging.getLogger("pxehook.auth")

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


class FailureLimiter:
    """Failed tokens per client address: at most ``limit`` within ``window`` seconds.

    Memory is bounded: ``max_clients`` addresses (the least recently failing ones are
    forgotten first), each with at most ``limit`` timestamps. Thread-safe."""

    def __init__(self, limit: int = 10, window: float = 60.0, max_clients: int = 4096) -> None:
        self.limit, self.window, self.max_clients = limit, window, max_clients
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def retry_after(self, client: str, at: float | None = None) -> int:
        """Seconds ``client`` must wait before its next attempt (0: it may try now)."""
        at = time.monotonic() if at is None else at
        with self._lock:
            failures = self._recent(client, at)
            if failures is None or len(failures) < self.limit:
                return 0
            return max(1, math.ceil(failures[0] + self.window - at))

    def failed(self, client: str, at: float | None = None) -> int:
        """Count a failure of ``client``; returns its failures within the window."""
        at = time.monotonic() if at is None else at
        with self._lock:
            failures = self._recent(client, at)
            if failures is None:
                failures = self._failures[client] = deque(maxlen=self.limit)
            failures.append(at)
            self._failures.move_to_end(client)
            while len(self._failures) > self.max_clients:
                self._failures.popitem(last=False)
            return len(failures)

    def __len__(self) -> int:
        return len(self._failures)

    def _recent(self, client: str, at: float) -> deque[float] | None:
        failures = self._failures.get(client)
        while failures and failures[0] <= at - self.window:
            failures.popleft()
        if failures is not None and not failures:
            del self._failures[client]
            return None
        return failures


def authorize(
    store: Store,
    header: str | None,
    need: str,
    *,
    client: str = "",
    limiter: FailureLimiter | None = None,
) -> dict:
    """Check an ``Authorization: Bearer …`` header against scope ``need``.

    Returns the token record; raises RateLimited (``client`` sent too many wrong tokens
    lately), Unauthorized (none/unknown) or Forbidden (scope). A malformed, unknown or
    revoked token counts against ``client`` in ``limiter``."""
    if not header:
        raise Unauthorized("this request needs a bearer token", hint="pxehook token create")
    wait = limiter.retry_after(client) if limiter is not None else 0
    if wait:  # already logged when the address reached the limit
        log.debug("bearer token from %s not checked: %d s to wait", client, wait)
        raise RateLimited(f"too many failed tokens from {client}; retry in {wait} s", wait)
    kind, _, value = header.partition(" ")
    if kind.lower() != "bearer" or not value.strip():
        _failed(client, limiter, "not 'Bearer <token>'")
        raise Unauthorized("the Authorization header must be 'Bearer <token>'")
    record = store.token_find(digest(value.strip()))
    if record is None:
        _failed(client, limiter, "unknown or revoked token")
        raise Unauthorized("unknown or revoked token")
    if need == "admin" and record["scope"] != "admin":
        log.info(
            "token %r from %s has scope %s, not admin", record["name"], client, record["scope"]
        )
        raise Forbidden(f"token {record['name']!r} has scope {record['scope']}; needs admin")
    return record


def _failed(client: str, limiter: FailureLimiter | None, reason: str) -> None:
    """Count and log a failed token (the log names the address and reason, not the token)."""
    count = limiter.failed(client) if limiter is not None else 0
    log.warning("bearer token refused from %s: %s (%d recent failures)", client or "?", reason,
                count)  # fmt: skip
    if limiter is not None and count >= limiter.limit:
        log.warning("%s sent %d wrong tokens within %.0f s: refusing it (429) for a while",
                    client or "?", count, limiter.window)  # fmt: skip
