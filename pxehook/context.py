"""What a command or request needs: validated settings and a lazily opened store."""

from __future__ import annotations

from dataclasses import dataclass, field

from pxehook.config import Settings
from pxehook.errors import StoreError
from pxehook.store import PoolSettings, Store, open_store


@dataclass
class Context:
    """Settings plus the store they name, opened on first use.

    ``create_store`` says whether opening may create the database (a missing SQLite file,
    an empty schema). The CLI turns it off: only ``db init``, ``serve`` and the other
    servers ask for ``store(create=True)``; every other command refuses a database that
    does not exist, so a typo in ``--database`` is an error, never an empty fleet.
    """

    settings: Settings
    create_store: bool = True
    _store: Store | None = field(default=None, repr=False)

    def store(self, *, create: bool | None = None) -> Store:
        if self._store is None:
            may_create = self.create_store if create is None else create
            store = open_store(
                self.settings.database,
                busy_timeout_ms=self.settings.db_busy_timeout_ms,
                create=may_create,
                migrate=may_create,
                pool=PoolSettings(self.settings.db_pool_size, self.settings.db_pool_idle_timeout),
                rack=self.settings.rack,
            )
            if not may_create:
                _refuse_empty(store, self.settings.database)
            self._store = store
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None


def _refuse_empty(store: Store, url: str) -> None:
    """A database without pxehook's schema is not one to read: refuse it; an older
    schema is migrated as every start does."""
    try:
        if store.schema_version() == 0:
            raise StoreError(f"database {url} has no pxehook schema", hint="run 'pxehook db init'")
        store.migrate()
    except BaseException:
        store.close()
        raise
