"""Storage: ``open_store`` picks the back end from the ``database`` setting.

Layout: ``base`` (the ``Store`` protocol), ``sql`` (every method once, over a dialect),
``transactions`` (the connection pool, retry loop), ``dialect`` (what differs),
``sqlite`` / ``postgres`` (the two dialects), ``migrations`` (one list of steps),
``merge`` (pure merge rules for observations).
"""

from __future__ import annotations

from pxehook.errors import ConfigError
from pxehook.store.base import Store
from pxehook.store.postgres import PostgresStore
from pxehook.store.sqlite import SQLiteStore
from pxehook.store.transactions import DEFAULT_POOL, PoolSettings

__all__ = ["PoolSettings", "PostgresStore", "SQLiteStore", "Store", "open_store", "sqlite_path"]


def sqlite_path(url: str) -> str | None:
    """The file path of a ``sqlite:///…`` URL or a bare path; None for other schemes."""
    if url.startswith("sqlite:///"):
        return "/" + url[len("sqlite:///") :].lstrip("/")
    if url.startswith("sqlite://"):
        return url[len("sqlite://") :]
    if "://" not in url:
        return url
    return None


def open_store(
    url: str,
    *,
    busy_timeout_ms: int = 5000,
    create: bool = True,
    migrate: bool = True,
    pool: PoolSettings = DEFAULT_POOL,
    rack: str = "",
) -> Store:
    """Open the store named by ``url`` (``sqlite:///path``, a path, or ``postgresql://…``);
    every event it records names ``rack``."""
    path = sqlite_path(url)
    if path is not None:
        return SQLiteStore(
            path, busy_timeout_ms=busy_timeout_ms, create=create, migrate=migrate, pool=pool,
            rack=rack,
        )  # fmt: skip
    scheme = url.split("://", 1)[0]
    if scheme in ("postgresql", "postgres"):
        return PostgresStore(
            url, busy_timeout_ms=busy_timeout_ms, migrate=migrate, pool=pool, rack=rack
        )
    raise ConfigError(
        f"database: unsupported scheme {scheme!r} in {url!r}",
        hint="use sqlite:///path/to/pxehook.db or postgresql://user@host/db",
    )
