"""Hosts a batch creates (``Store.host_writes``, an inventory's first sync): their ids come
from the dialect up front and their change stamp is written by the INSERT itself (migration
step 8), on both back ends. What a user would check: each new host reads back as created,
with an id no other writer takes and version 0; each shows on the fleet page's "what
changed since" listing; the writers after the batch go on as before."""

from __future__ import annotations

from pathlib import Path

from pxehook.errors import Conflict
from pxehook.inventory import apply
from pxehook.models import Host, Observation
from pxehook.store.listing import HostQuery
from pxehook.store.writes import HostPatch, HostWrite

INVENTORY = """\
profiles:
  local:
    kind: local
hosts:
"""


def _new(i: int, **fields: object) -> HostWrite:
    mac = f"52:54:00:cd:00:{i:02x}"
    host = Host(id=None, macs=(mac,), name=f"b{i}", labels={"rack": "r1"}, **fields)  # type: ignore[arg-type]
    return HostWrite(source="test", message=f"created b{i}", new=host)


def test_a_batch_gives_new_hosts_fresh_ids_and_version_0(any_store) -> None:  # type: ignore[no-untyped-def]
    first = any_store.host_put(Host(id=None, macs=("52:54:00:cd:01:01",), name="old"))
    patch = HostWrite(
        source="test", host_id=first.id, version=first.version,
        patch=HostPatch(labels={"rack": "r9"}),
    )  # fmt: skip
    # more new hosts than a writer racing for a taken id retries (``RACE_ATTEMPTS``)
    results = any_store.host_writes([_new(1), patch, *(_new(i) for i in range(2, 8))])
    created = [results[0], *results[2:]]
    ids = [h.id for h in created]
    assert ids == sorted(ids) and len(set(ids)) == 7 and min(ids) > first.id
    for host in created:
        stored = any_store.host_by_id(host.id)
        assert stored == host and stored.version == 0 and stored.labels == {"rack": "r1"}
        assert [e.kind for e in any_store.events(host.id)] == ["host.created"]
    assert results[1].labels == {"rack": "r9"} and results[1].version == first.version + 1
    # the writers after the batch take ids past the batch's, and write its hosts by version
    later = any_store.host_put(Host(id=None, macs=("52:54:00:cd:01:02",)))
    seen, _ = any_store.observe(Observation(mac="52:54:00:cd:01:03", source="hook"))
    assert max(ids) < later.id < seen.id
    moved = any_store.host_update(ids[0], HostPatch(name="b1x"), version=0, source="test")
    assert moved.version == 1 and any_store.host_by_id(ids[0]).name == "b1x"


def test_a_create_that_fails_in_a_batch_writes_nothing_of_its_own(any_store) -> None:  # type: ignore[no-untyped-def]
    taken = any_store.host_put(Host(id=None, macs=("52:54:00:cd:00:02",)))
    before = any_store.host_count()
    results = any_store.host_writes([_new(1), _new(2), _new(3)])
    assert isinstance(results[1], Conflict) and "52:54:00:cd:00:02" in results[1].message
    assert [h.name for h in (results[0], results[2])] == ["b1", "b3"]
    assert any_store.host_count() == before + 2
    assert any_store.host_get("52:54:00:cd:00:02") == taken  # the MAC's holder untouched
    assert any_store.host_get("52:54:00:cd:00:03").id == results[2].id


def test_hosts_a_batch_creates_show_in_what_changed_since(any_store) -> None:  # type: ignore[no-untyped-def]
    """The fault: a host inserted without its change stamp (``changed`` left 0) never shows
    on the fleet page until something else writes it."""
    any_store.host_put(Host(id=None, macs=("52:54:00:cd:01:01",), name="old"))
    cursor = any_store.host_search(HostQuery()).cursor
    results = any_store.host_writes([_new(1), _new(2)])
    changes = any_store.host_changes(cursor, HostQuery())
    assert sorted(h.name for h in changes.hosts) == ["b1", "b2"] and not changes.resync
    assert changes.matching == {h.id for h in results}
    assert any_store.host_changes(changes.cursor, HostQuery()).hosts == []
    # single inserts stamp themselves too (a put, a first sighting)
    put = any_store.host_put(Host(id=None, macs=("52:54:00:cd:01:02",), name="put"))
    seen, _ = any_store.observe(Observation(mac="52:54:00:cd:01:03", source="hook"))
    after = any_store.host_changes(changes.cursor, HostQuery())
    assert sorted(h.id for h in after.hosts) == sorted([put.id, seen.id])


def test_hosts_the_first_sync_creates_show_in_what_changed_since(tmp_path, any_store) -> None:  # type: ignore[no-untyped-def]
    path = Path(tmp_path / "inv.yaml")
    hosts = "".join(
        f'  - mac: "52:54:00:ce:{i >> 8:02x}:{i & 255:02x}"\n    name: n{i}\n    profile: local\n'
        for i in range(1200)  # three write batches
    )
    path.write_text(INVENTORY + hosts)
    cursor = any_store.host_search(HostQuery()).cursor
    outcome = apply.sync_file(str(path), any_store)
    assert outcome.created == 1200
    changes = any_store.host_changes(cursor, HostQuery(), limit=2000)
    assert len(changes.hosts) == 1200 and not changes.resync
    assert {h.name for h in changes.hosts} == {f"n{i}" for i in range(1200)}
    assert len({h.id for h in changes.hosts}) == 1200
    assert all(h.version == 0 and h.profile == "local" for h in changes.hosts)
    # a later write of one of them shows from the next cursor, alone
    one = any_store.host_get("52:54:00:ce:00:07")
    any_store.host_update(one.id, HostPatch(labels={"k": "v"}), version=0, source="test")
    again = any_store.host_changes(changes.cursor, HostQuery())
    assert [h.name for h in again.hosts] == ["n7"]


def test_a_new_host_takes_a_name_an_earlier_write_of_the_batch_frees(any_store) -> None:  # type: ignore[no-untyped-def]
    """Inserts run in the batch's order with its updates: the rename runs first, so the
    unique name is free when the new host's row is written."""
    old = any_store.host_put(Host(id=None, macs=("52:54:00:cd:01:01",), name="b1"))
    rename = HostWrite(
        source="test", host_id=old.id, version=old.version, patch=HostPatch(name="old-b1")
    )
    renamed, created = any_store.host_writes([rename, _new(1)])
    assert renamed.name == "old-b1" and created.name == "b1" and created.id != old.id
    assert any_store.host_by_name("b1").id == created.id
