"""The storage protocol: the only way any layer reads or writes persistent state.

``sql.py`` implements it once for every SQL database; ``sqlite.py`` (the embedded default)
and ``postgres.py`` hold only their dialects, so callers never know which one they hold.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from pxehook.errors import PxehookError
from pxehook.models import Event, Host, Instant, Observation, Profile, State
from pxehook.store.dialect import EventData
from pxehook.store.leader import LeaderLock
from pxehook.store.listing import MAX_PAGE, HostChanges, HostPage, HostQuery
from pxehook.store.writes import Declaration, DeclaredItem, HostPatch, HostWrite, StateChange


class Store(Protocol):
    """Narrow storage interface. Every method is one transaction.

    Every host write is conditional on what its writer read: it names the ``version`` of the
    host it read and fails with ``errors.Stale`` when the row changed since (the writer reads
    again and re-applies its change), and changes only the fields it means to change.
    """

    # hosts -----------------------------------------------------------------
    def host_get(self, mac: str) -> Host | None:
        """Host owning ``mac`` (normalised), or None."""

    def host_by_id(self, host_id: int) -> Host | None: ...

    def hosts_by_mac(self, macs: list[str]) -> dict[str, Host]:
        """MAC -> host for each of ``macs`` that is known (one read for many)."""

    def host_by_ip(self, ip: str) -> Host | None:
        """Host holding ``ip`` as its trusted IP (``Host.trusted_ip``), or None. An IP
        only a client claimed never finds a host."""

    def host_by_uuid(self, uuid: str) -> Host | None:
        """Host holding ``uuid`` (never for a placeholder UUID such as all-zero)."""

    def host_by_name(self, name: str) -> Host | None:
        """Host named ``name`` (names are unique), or None."""

    def host_list(
        self,
        *,
        state: str | None = None,
        profile: str | None = None,
        label: tuple[str, str] | None = None,
        limit: int | None = None,
    ) -> list[Host]: ...

    def host_count(self, *, state: str | None = None, seen_since: float | None = None) -> int:
        """How many hosts are in ``state`` / were first seen at or after ``seen_since``."""

    def host_all(self) -> list[Host]:
        """Every host, read in bulk (two queries): for exports."""

    def host_page(self, after_id: int, limit: int) -> list[Host]:
        """Up to ``limit`` hosts with an id above ``after_id``, in id order: for walking every
        host (the nginx pre-render) without holding them all in memory."""

    def host_search(self, query: HostQuery) -> HostPage:
        """One page of the hosts ``query`` selects, sorted, with their total and the counts
        per state and per effective arch (each facet across its own filter)."""

    def host_changes(self, since: int, query: HostQuery, limit: int = MAX_PAGE) -> HostChanges:
        """Hosts written at or after cursor ``since`` (a ``HostPage.cursor`` or
        ``HostChanges.cursor``), each marked whether it matches ``query``."""

    def host_timeline(self, host_id: int, limit: int) -> tuple[list[Event], bool]:
        """The host's newest ``limit`` events, oldest first, and whether older ones exist."""

    def host_many(self, host_ids: Iterable[int]) -> dict[int, Host]:
        """The hosts of ``host_ids`` that exist, by id, read in bulk."""

    def mac_owners(self, macs: Iterable[str]) -> dict[str, int]:
        """The host id owning each of ``macs`` that some host owns."""

    def name_owners(self, names: Iterable[str]) -> dict[str, int]:
        """The host id holding each of ``names`` that some host holds."""

    def uuid_owners(self, uuids: Iterable[str]) -> dict[str, int]:
        """The host id holding each of ``uuids`` (as ``usable_uuid`` spells them)."""

    def state_clocks(self, state: State) -> list[tuple[Any, ...]]:
        """(id, profile, state_changed, state_clock, state_boot) of every host in ``state``,
        read cheaply (the sweep's first look)."""

    def host_put(self, host: Host, *, source: str = "api", message: str = "") -> Host:
        """Create (id None) or replace a host and its MAC list; records an event. Replacing
        is conditional on ``host.version`` (Stale if the row moved on)."""

    def host_update(
        self, host_id: int, patch: HostPatch, *, version: int | None, source: str,
        message: str = "",
    ) -> Host:  # fmt: skip
        """Apply ``patch`` if the host is still at ``version`` (None: unconditionally);
        records a ``host.updated`` event naming the fields that changed."""

    def host_writes(self, writes: list[HostWrite]) -> list[Host | PxehookError]:
        """Several creates and patches in one transaction; each item's result is its host or
        the error it met (Stale, Conflict, NotFound), the others are still applied."""

    def host_delete(self, host_id: int) -> None: ...

    def observe(self, obs: Observation) -> tuple[Host, bool]:
        """Merge what a source saw into the MAC's host (creating a ``new`` host on first
        sighting). Never replaces a known arch with unknown, nor a stronger arch source with
        a weaker one, nor a trusted IP with a claimed one; never takes a UUID another host
        holds; every IP change is an ``ip.changed`` event. Returns (host, created)."""

    def observe_many(self, observations: list[Observation]) -> list[tuple[Host, bool]]:
        """``observe`` each of ``observations`` in order, in one transaction."""

    def set_state(
        self,
        host_id: int,
        state: State,
        *,
        expected: State | None = None,
        version: int | None = None,
        source: str,
        message: str = "",
        meta: dict[str, Any] | None = None,
        at: Instant | None = None,
    ) -> Host:
        """Change state if still ``expected`` and at ``version``; stamp the change on both
        clocks (``at``, default now), merge ``meta``, record an event."""

    def set_states(self, changes: list[StateChange]) -> list[Host | PxehookError]:
        """Several ``set_state`` in one transaction; each item's result is its host or error."""

    def update_meta(
        self, host_id: int, changes: dict[str, Any], *, version: int | None = None
    ) -> Host:
        """Merge ``changes`` into the host's meta (None values delete keys)."""

    def update_metas(
        self, items: list[tuple[int, dict[str, Any], int | None]]
    ) -> list[Host | PxehookError]:
        """Several ``update_meta`` (host_id, changes, version) in one transaction."""

    # what the inventory declared ---------------------------------------------------------
    def declared_index(self) -> list[DeclaredItem]:
        """The cheap columns of every host's declaration."""

    def declarations(self, host_ids: Iterable[int]) -> dict[int, Declaration]:
        """The full declarations of ``host_ids`` that have one."""

    def inventory_file(self, path: str) -> tuple[str, dict[str, Any]] | None:
        """(fingerprint, info: host count and groups) of the last apply of ``path``."""

    def inventory_commit(
        self, path: str, digest: str, info: dict[str, Any], *,
        moved: dict[int, int] | None = None, dropped: Iterable[int] = (),
    ) -> None:  # fmt: skip
        """Finish an apply: the file's fingerprint, moved lines, dropped declarations."""

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

    def event_add_many(
        self,
        rows: list[tuple[int, str, str, str, EventData, float]],
        *,
        seen: Sequence[tuple[int, float, float]] = (),
    ) -> int:
        """Append (host_id, kind, source, message, data, at) rows in one transaction; ``data``
        may come encoded (``store.dialect.encode_json``) when many rows share it. In the same
        transaction, each (host_id, at, older) of ``seen`` moves the host's ``last_seen`` to
        ``at`` if it is empty or before ``older`` (else the row is not written at all)."""

    def events(self, host_id: int, *, since_id: int = 0, limit: int | None = None) -> list[Event]:
        """The host's events after ``since_id``, oldest first (a follower's read)."""

    def events_page(self, host_id: int, *, before_id: int | None = None, limit: int) -> list[Event]:
        """Up to ``limit`` of the host's events before ``before_id`` (None: the newest),
        newest first: one page of the timeline, the last event's id the next cursor."""

    # the timeline's retention (``store/retention.py`` drives these; see sql_prune.py) -----
    def events_aged(
        self, older_than: float, keep_deployments: int, *, after: tuple[float, int] | None,
        limit: int,
    ) -> tuple[list[int], tuple[float, int] | None]:  # fmt: skip
        """Ids of up to ``limit`` events older than ``older_than`` that may go, after the
        cursor ``after``; and the next cursor (None: the scan is complete)."""

    def events_beyond(
        self, host_id: int, keep: int, keep_deployments: int, *, not_older_than: float | None,
        after_id: int, limit: int,
    ) -> tuple[list[int], int | None]:  # fmt: skip
        """Ids of up to ``limit`` of the host's events beyond its newest ``keep`` that may go,
        after ``after_id``, and the next cursor (None: done). Events older than
        ``not_older_than`` are the age scan's: neither counted nor returned."""

    def event_hosts_over(
        self, keep: int, *, not_older_than: float | None, since_id: int, after_host: int,
        limit: int,
    ) -> list[int]:  # fmt: skip
        """Up to ``limit`` ids above ``after_host`` of hosts with more than ``keep`` events
        not older than ``not_older_than`` (only hosts with an event above ``since_id``, when
        it is not 0)."""

    def events_delete(self, ids: list[int]) -> int:
        """Delete the events ``ids`` (one transaction); returns how many were there."""

    def event_stats(self, *, count: bool = True) -> dict[str, Any]:
        """``last_id`` (the newest id, 0: none), ``oldest`` (time) and, with ``count`` (a
        scan of the table), ``events`` (how many)."""

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

    def leader_lock(self) -> LeaderLock:
        """A new handle on the fleet's leader lock: one process of all those sharing this
        database holds it at a time, on a connection of its own (``store/leader.py``)."""

    def schema_version(self) -> int: ...

    def migrate(self) -> int:
        """Bring the schema up to date; returns the new version."""

    def close(self) -> None: ...
