"""What a command or request needs: validated settings and a lazily opened store."""

from __future__ import annotations

from dataclasses import dataclass, field

from pxehook.config import Settings
from pxehook.store import PoolSettings, Store, open_store


@dataclass
class Context:
    """Settings plus the store they name, opened on first use."""

    settings: Settings
    _store: Store | None = field(default=None, repr=False)

    def store(self, *, create: bool = True) -> Store:
        if self._store is None:
            self._store = open_store(
                self.settings.database,
                busy_timeout_ms=self.settings.db_busy_timeout_ms,
                create=create,
                pool=PoolSettings(self.settings.db_pool_size, self.settings.db_pool_idle_timeout),
                rack=self.settings.rack,
            )
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None
