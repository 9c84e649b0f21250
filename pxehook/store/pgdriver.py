"""PostgreSQL's driver, imported the first time a PostgreSQL database is used.

psycopg is an optional dependency (``pip install 'pxehook[postgres]'``) and importing it
costs ~180 ms that a SQLite command should not pay; every store module that talks to
PostgreSQL gets it here.
"""

from __future__ import annotations

from functools import cache
from types import ModuleType
from typing import Any


@cache
def psycopg_module() -> ModuleType | None:
    """psycopg with the submodules pxehook uses; None when it is not installed."""
    try:
        import psycopg
        import psycopg.conninfo
        import psycopg.errors
        import psycopg.types.json
    except ImportError:  # pragma: no cover - exercised only without the extra
        return None
    return psycopg


def pg() -> Any:
    """psycopg, for code that runs only once a PostgreSQL database is in use."""
    return psycopg_module()
