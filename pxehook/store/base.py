"""The storage protocol: the only way any layer reads or writes persistent state.

``sql.py`` implements it once for every SQL database; ``sqlite.py`` (the embedded default)
and ``postgres.py`` hold only their dialects, so callers never know which one they hold.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from pxehook.models import Event, Host, Observation, Profile, State
from pxehook.store.dialect import EventData


class Store(Protocol):
    """Narrow storage interface. Every method is one transaction."""

    # hosts -----------------------------------------------------------------
    def host_get(self, mac: str) -> Host | None:
        """Host owning ``mac`` (normalised), or None."""

    def host_by_id(self, host_id: int) -> Host | None: ...

    def hosts_by_mac(self, macs: list[str]) -> dict[str, Host]:
        """MAC -> host for each of ``macs`` that is known (one read for many)."""

    def host_by_ip(self, ip: str) -> Host | None:
        """Host last seen with ``ip`` (most recently seen wins)."""

    def host_by_uuid(self, uuid: str) -> Host | None: ...

    def host_list(
        self,
        *,
        state: str | None = None,
        profile: str | None = None,
        label: tuple[str, str] | None = None,
        limit: int | None = None,
    ) -> list[Host]: ...

    def host_all(self) -> list[Host]:
        """Every host, read in bulk (two queries): for exports."""

    def host_page(self, after_id: int, limit: int) -> list[Host]:
        """Up to ``limit`` hosts with an id above ``after_id``, in id order: for walking every
        host (the nginx pre-render) without holding them all in memory."""

    def host_put(self, host: Host, *, source: str = "api", message: str = "") -> Host:
        """Create (id None) or replace a host and its MAC list; records an event."""

    def host_delete(self, host_id: int) -> None: ...

    def observe(self, obs: Observation) -> tuple[Host, bool]:
        """Merge what a source saw into the MAC's host (creating a ``new`` host on first
        sighting). Never replaces a known arch with unknown, nor a stronger arch source with
        a weaker one. Returns (host, created)."""

    def observe_many(self, observations: list[Observation]) -> list[tuple[Host, bool]]:
        """``observe`` each of ``observations`` in order, in one transaction."""

    def set_state(
        self,
        host_id: int,
        state: State,
        *,
        expected: State | None = None,
        source: str,
        message: str = "",
        meta: dict[str, Any] | None = None,
    ) -> Host:
        """Change state atomically (compare-and-set on ``expected``) and record an event."""

    def update_meta(self, host_id: int, changes: dict[str, Any]) -> Host:
        """Merge ``changes`` into the host's meta (None values delete keys)."""

    # events ----------------------------------------------------------------
    def event_add(
        self,
        host_id: int,
        kind: str,
        source: str,
        message: str = "",
        data: dict[str, Any] | None = None,
        at: float | None = None,
    ) -> Event: ...

    def event_add_many(self, rows: list[tuple[int, str, str, str, EventData, float]]) -> int:
        """Append (host_id, kind, source, message, data, at) rows in one transaction; ``data``
        may come encoded (``store.dialect.encode_json``) when many rows share it."""

    def events(
        self, host_id: int, *, since_id: int = 0, limit: int | None = None
    ) -> list[Event]: ...

    # profiles ----------------------------------------------------------------
    def profiles_replace(self, profiles: Iterable[Profile]) -> None:
        """Replace the whole profile set (from the YAML inventory)."""

    def profile_get(self, name: str) -> Profile | None: ...

    def profile_list(self) -> list[Profile]: ...

    # tokens ------------------------------------------------------------------
    def token_put(self, name: str, digest: str, scope: str, created: float) -> None: ...

    def token_find(self, digest: str) -> dict[str, Any] | None: ...

    def token_list(self) -> list[dict[str, Any]]: ...

    def token_delete(self, name: str) -> None: ...

    # housekeeping --------------------------------------------------------------
    # The server's own values (the generation counter, the deploy secret): not a host's meta.
    def server_value_get(self, key: str, default: str | None = None) -> str | None: ...

    def server_value_set(self, key: str, value: str) -> None: ...

    def server_value_setdefault(self, key: str, value: str) -> str:
        """Store ``value`` under ``key`` unless a value exists; return the value in force."""

    def generation(self) -> int:
        """A number that grows whenever anything that changes a boot answer changes."""

    def schema_version(self) -> int: ...

    def migrate(self) -> int:
        """Bring the schema up to date; returns the new version."""

    def close(self) -> None: ...
