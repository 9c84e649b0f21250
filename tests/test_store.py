"""Store contract (run against SQLite and PostgreSQL) plus each back end's own failure modes."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest

from pxehook.errors import Conflict, NotFound, StoreError
from pxehook.models import ArchSource, Host, Observation, Profile, State
from pxehook.store import SQLiteStore, migrations, open_store


def test_new_database_is_migrated_and_in_wal_mode(tmp_path):
    s = SQLiteStore(str(tmp_path / "a.db"))
    assert s.schema_version() == migrations.LATEST
    journal_mode = sqlite3.connect(tmp_path / "a.db").execute("PRAGMA journal_mode").fetchone()[0]
    assert journal_mode == "wal"
    assert SQLiteStore(str(tmp_path / "a.db")).schema_version() == migrations.LATEST


def test_host_round_trip_with_several_macs(any_store):
    h = any_store.host_put(
        Host(
            id=None,
            macs=("52:54:00:00:00:01", "52:54:00:00:00:02"),
            name="n1",
            uuid="ABCD",
            labels={"rack": "r1"},
            vars={"x": 1},
        )
    )
    assert any_store.host_get("52:54:00:00:00:02") == h
    assert h.uuid == "abcd" and any_store.host_by_uuid("ABCD") == h
    assert h.labels == {"rack": "r1"} and h.vars == {"x": 1}
    assert [e.kind for e in any_store.events(h.id)] == ["host.created"]
    assert any_store.host_list(label=("rack", "r1")) == [h]
    assert any_store.host_list(label=("rack", "r2")) == []


def test_a_mac_belongs_to_one_host_only(any_store):
    any_store.host_put(Host(id=None, macs=("52:54:00:00:00:01",)))
    with pytest.raises(Conflict):
        any_store.host_put(Host(id=None, macs=("52:54:00:00:00:01",)))


def test_observe_enlists_new_hosts_and_merges_facts(any_store):
    obs = Observation(
        mac="52:54:00:00:00:09",
        source="dnsmasq",
        ip="10.0.0.5",
        hostname="pc9",
        arch=7,
        vendor_class="PXEClient:Arch:00007:UNDI:003016",
        at=100.0,
    )
    h, created = any_store.observe(obs)
    assert created and h.state == State.NEW and h.arch == 7 and h.arch_source == "dhcp"
    assert (h.first_seen, h.last_seen, h.ip, h.name) == (100.0, 100.0, "10.0.0.5", "")
    assert h.dhcp_hostname == "pc9"  # what the client calls itself is not its name
    # a later event without class data (dnsmasq 'old' replay) never erases what we know
    h2, created2 = any_store.observe(
        Observation(mac=obs.mac, source="dnsmasq", ip="10.0.0.5", at=200.0)
    )
    assert not created2 and h2.arch == 7 and h2.vendor_class == obs.vendor_class
    assert h2.last_seen == 200.0 and h2.first_seen == 100.0
    kinds = [e.kind for e in any_store.events(h.id)]
    assert kinds == ["host.discovered"]


def test_weaker_arch_source_never_overrides_a_stronger_one(any_store):
    any_store.host_put(
        Host(id=None, macs=("b8:27:eb:00:00:01",), arch=11, arch_source=ArchSource.SETTING)
    )
    h, _ = any_store.observe(Observation(mac="b8:27:eb:00:00:01", source="dnsmasq", arch=0))
    assert (h.arch, h.arch_source) == (11, "setting")
    h, _ = any_store.observe(
        Observation(mac="b8:27:eb:00:00:02", source="http", arch=7, arch_source=ArchSource.REQUEST)
    )
    h, _ = any_store.observe(Observation(mac="b8:27:eb:00:00:02", source="dnsmasq", arch=9))
    assert (h.arch, h.arch_source) == (9, "dhcp")


def test_state_changes_are_compare_and_set_and_logged(any_store):
    h = any_store.host_put(Host(id=None, macs=("52:54:00:00:00:03",), state=State.DEPLOYING))
    h2 = any_store.set_state(h.id, State.DEPLOYED, expected=State.DEPLOYING, source="callback")
    assert h2.state == State.DEPLOYED
    with pytest.raises(Conflict):
        any_store.set_state(h.id, State.DEPLOYED, expected=State.DEPLOYING, source="callback")
    last = any_store.events(h.id)[-1]
    assert (last.kind, last.source, last.data) == (
        "state.changed",
        "callback",
        {"from": "deploying", "to": "deployed"},
    )


def test_events_are_append_only(store, settings):
    h = store.host_put(Host(id=None, macs=("52:54:00:00:00:04",)))
    path = settings.database.replace("sqlite:///", "/")
    with sqlite3.connect(path) as conn, pytest.raises(sqlite3.DatabaseError):
        conn.execute("UPDATE events SET kind='forged' WHERE host_id=?", (h.id,))
    assert store.events(h.id)[0].kind == "host.created"


def test_delete_removes_host_macs_and_events(any_store):
    h = any_store.host_put(Host(id=None, macs=("52:54:00:00:00:05",)))
    any_store.host_delete(h.id)
    assert any_store.host_get("52:54:00:00:00:05") is None and any_store.events(h.id) == []
    with pytest.raises(NotFound):
        any_store.host_delete(h.id)


def test_generation_grows_when_a_boot_answer_may_change(any_store):
    g0 = any_store.generation()
    h = any_store.host_put(Host(id=None, macs=("52:54:00:00:00:06",)))
    g1 = any_store.generation()
    any_store.observe(Observation(mac=h.mac, source="x", ip="10.0.0.9"))  # no arch change
    assert any_store.generation() == g1 > g0
    any_store.profiles_replace([Profile(name="p")])
    assert any_store.generation() > g1


def test_locked_database_waits_then_reports_clearly(tmp_path):
    path = str(tmp_path / "locked.db")
    s = SQLiteStore(path, busy_timeout_ms=300)
    blocker = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StoreError, match="stayed locked for 300 ms"):
            s.host_put(Host(id=None, macs=("52:54:00:00:00:07",)))
    finally:
        blocker.execute("ROLLBACK")
    # a lock shorter than the timeout is waited out
    blocker.execute("BEGIN IMMEDIATE")
    threading.Timer(0.1, lambda: blocker.execute("ROLLBACK")).start()
    t0 = time.monotonic()
    h = s.host_put(Host(id=None, macs=("52:54:00:00:00:07",)))
    assert h.id is not None and time.monotonic() - t0 >= 0.05


def test_unusable_paths_are_clear_errors(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(StoreError, match="cannot create database directory"):
        open_store(f"sqlite:///{tmp_path}/file/sub/db.sqlite")
    with pytest.raises(StoreError, match="does not exist"):
        open_store(str(tmp_path / "missing.db"), create=False)
    (tmp_path / "garbage.db").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError):
        open_store(str(tmp_path / "garbage.db"))


def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "new.db"
    SQLiteStore(str(path))
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version={migrations.LATEST + 1}")
    with pytest.raises(StoreError, match="newer than this pxehook"):
        SQLiteStore(str(path))


def test_profiles_tokens_and_meta_round_trip(any_store):
    any_store.profiles_replace([Profile(name="a", kernel={"x86": "k"}), Profile(name="b")])
    assert [p.name for p in any_store.profile_list()] == ["a", "b"]
    assert any_store.profile_get("a").kernel == {"x86": "k"}
    any_store.token_put("ops", "d1", "admin", 1.0)
    with pytest.raises(Conflict):
        any_store.token_put("ops", "d2", "read", 2.0)
    assert any_store.token_find("d1") == {"name": "ops", "scope": "admin", "created": 1.0}
    any_store.token_delete("ops")
    assert any_store.token_list() == []
    any_store.server_value_set("k", "v")
    any_store.server_value_set("k", "w")
    assert any_store.server_value_get("k") == "w"


def test_meta_merge_and_events_order(any_store):
    h = any_store.host_put(Host(id=None, macs=("52:54:00:00:00:08",), meta={"a": 1}))
    h = any_store.update_meta(h.id, {"b": 2, "a": None})
    assert h.meta == {"b": 2}
    for i in range(5):
        any_store.event_add(h.id, "boot.config", "http", data={"i": i})
    events = any_store.events(h.id)
    assert [e.data.get("i") for e in events[1:]] == [0, 1, 2, 3, 4]
    assert [e.id for e in any_store.events(h.id, since_id=events[2].id)] == [
        e.id for e in events[3:]
    ]


def test_postgres_events_are_append_only_and_errors_are_clear(pg_server):
    import psycopg

    from pxehook.store import open_store

    dsn = pg_server.new_database()
    store = open_store(dsn)
    h = store.host_put(Host(id=None, macs=("52:54:00:00:01:01",)))
    with psycopg.connect(dsn, autocommit=True) as conn, pytest.raises(psycopg.Error):
        conn.execute("UPDATE events SET kind='forged'")
    assert store.events(h.id)[0].kind == "host.created"
    with pytest.raises(StoreError, match="cannot connect to PostgreSQL") as info:
        open_store(f"postgresql://postgres:secret@/nope?host={pg_server.sock}")
    assert "secret" not in str(info.value)


def test_bulk_reads_and_event_batches(any_store):
    a = any_store.host_put(Host(id=None, macs=("52:54:00:00:02:01", "52:54:00:00:02:02")))
    b = any_store.host_put(Host(id=None, macs=("52:54:00:00:02:03",)))
    assert [(h.id, h.macs) for h in any_store.host_all()] == [(a.id, a.macs), (b.id, b.macs)]
    written = any_store.event_add_many(
        [
            (a.id, "boot.config", "http", "", {"path": "/x"}, 10.0),
            (b.id, "boot.kernel", "http", "", {}, 11.0),
            (999999, "boot.config", "http", "", {}, 12.0),  # a host deleted meanwhile: dropped
        ]
    )
    assert written == 3
    assert [e.kind for e in any_store.events(a.id)][-1] == "boot.config"
    assert any_store.events(a.id)[-1].data == {"path": "/x"}
    assert [e.kind for e in any_store.events(b.id)][-1] == "boot.kernel"
    assert any_store.events(999999) == []


def test_http_boot_twin_does_not_replace_the_pxe_code(any_store):
    mac = "52:54:00:00:03:01"
    any_store.observe(Observation(mac=mac, source="dnsmasq", arch=7))
    h, _ = any_store.observe(Observation(mac=mac, source="dnsmasq", arch=16))
    assert h.arch == 7  # OVMF's HTTP-boot attempt after PXE: same machine, same path
    h, _ = any_store.observe(Observation(mac=mac, source="dnsmasq", arch=11))
    assert h.arch == 11  # a different machine class is still news
    fresh = "52:54:00:00:03:02"
    any_store.observe(Observation(mac=fresh, source="dnsmasq", arch=16))
    h, _ = any_store.observe(Observation(mac=fresh, source="dnsmasq", arch=7))
    assert h.arch == 7  # PXE after HTTP: the PXE code wins either way


def test_generation_bumps_once_per_change_on_every_back_end(any_store):
    g0 = any_store.generation()
    mac = "52:54:00:00:04:01"
    any_store.observe(Observation(mac=mac, source="dnsmasq", arch=7))  # new host with an arch
    assert any_store.generation() == g0 + 1
    any_store.observe(Observation(mac=mac, source="dnsmasq", arch=11))
    assert any_store.generation() == g0 + 2
    any_store.observe(Observation(mac=mac, source="dnsmasq", ip="10.0.0.1"))
    assert any_store.generation() == g0 + 2


def test_a_taken_token_name_or_secret_is_a_quick_conflict(any_store):
    any_store.token_put("ops", "d1", "admin", 1.0)
    t0 = time.monotonic()
    with pytest.raises(Conflict, match="named 'ops'"):
        any_store.token_put("ops", "d2", "read", 2.0)
    with pytest.raises(Conflict, match="same secret"):
        any_store.token_put("other", "d1", "read", 2.0)
    assert time.monotonic() - t0 < 1  # no lock wait, no retry until the time-out
    assert any_store.token_list() == [{"name": "ops", "scope": "admin", "created": 1.0}]


def test_constraint_violations_are_conflicts_and_write_nothing(any_store):
    g0 = any_store.generation()
    with pytest.raises(Conflict):
        any_store.host_put(Host(id=None, macs=("52:54:00:00:04:02", "52:54:00:00:04:02")))
    with pytest.raises(Conflict):
        any_store.event_add(999999, "boot.config", "http")
    assert any_store.host_list() == [] and any_store.generation() == g0


def test_a_read_sees_one_snapshot(any_store):
    any_store.host_put(Host(id=None, macs=("52:54:00:00:04:03",)))

    def read(tx):  # type: ignore[no-untyped-def]
        before = tx.one("SELECT count(*) FROM hosts")[0]
        writer = threading.Thread(
            target=any_store.host_put, args=(Host(id=None, macs=("52:54:00:00:04:04",)),)
        )
        writer.start()
        writer.join()
        return before, tx.one("SELECT count(*) FROM hosts")[0]

    assert any_store._read(read) == (1, 1)  # a write committed meanwhile is not half-seen
    assert len(any_store.host_all()) == 2


def test_the_shared_sql_store_implements_the_protocol_as_declared():
    import inspect

    from pxehook.store import Store
    from pxehook.store.sql import SQLStore

    methods = [n for n, v in vars(Store).items() if inspect.isfunction(v) and n[0] != "_"]
    # 44 + inventory bulk reads (2) + leader_lock + retention (6) + fleet page (3)
    assert len(methods) == 56
    for name in methods:
        declared = inspect.signature(getattr(Store, name))
        assert inspect.signature(getattr(SQLStore, name)) == declared, name


def test_the_shared_sql_has_no_percent_sign_for_psycopg_to_misread():
    from pathlib import Path

    from pxehook.store import (
        sql_hosts,
        sql_inventory,
        sql_prune,
        sql_records,
        sql_writes,
        sqlcore,
    )

    for module in (sqlcore, sql_hosts, sql_writes, sql_inventory, sql_records, sql_prune):
        assert "%" not in Path(module.__file__).read_text(), module.__name__


def test_host_count_by_state_and_first_seen(any_store) -> None:  # type: ignore[no-untyped-def]
    """What the enlistment budget asks (boot/enlist.py), on every back end."""
    from pxehook.models import Observation, State

    for i, at in enumerate((1000.0, 2000.0, 3000.0)):
        any_store.observe(Observation(mac=f"52:54:00:cc:00:0{i}", source="test", at=at))
    assert any_store.host_count() == 3
    assert any_store.host_count(state=State.NEW) == 3
    assert any_store.host_count(state=State.DEPLOYED) == 0
    assert any_store.host_count(seen_since=2000.0) == 2
    assert any_store.host_count(state=State.NEW, seen_since=3000.5) == 0
