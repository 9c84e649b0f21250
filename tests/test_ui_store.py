"""The fleet page's reads, on both back ends: filtered, sorted pages with counts per state and
per effective arch, and "what changed since" that misses no write, even one that commits
after the reader looked."""

from __future__ import annotations

import sqlite3

import pytest

from pxehook.models import Host, Observation, State
from pxehook.store.listing import HostQuery

PI = "b8:27:eb:00:00:01"  # a Raspberry Pi: its boot ROM announces 0 (BIOS), it is ARM (41)


def _fleet(store) -> dict[str, Host]:
    """Six hosts: names, IPs, profiles, labels, states and arches that tell filters apart."""
    hosts = {}
    rows = [
        ("52:54:00:00:00:01", "web1", "10.0.0.11", "ubuntu", {"rack": "r1"}, 7),
        ("52:54:00:00:00:02", "web2", "10.0.0.12", "ubuntu", {"rack": "r2"}, 7),
        ("52:54:00:00:00:03", "db1", "10.0.0.13", "debian", {"rack": "r1"}, 0),
        ("52:54:00:00:00:04", "", "10.0.0.14", "", {}, None),
        ("52:54:00:aa:bb:05", "odd_name%", "", "debian", {}, 7),
        (PI, "pi1", "10.0.0.16", "", {}, 0),
    ]
    for i, (mac, name, ip, profile, labels, arch) in enumerate(rows):
        store.observe(Observation(mac=mac, source="hook", ip=ip, arch=arch, at=1000.0 + i))
        host = store.host_get(mac)
        host = store.host_put(host.with_(name=name, profile=profile, labels=labels))
        hosts[name or mac] = host
    store.set_state(hosts["web1"].id, State.DEPLOYED, source="test")
    store.set_state(hosts["db1"].id, State.DEPLOYED, source="test")
    store.set_state(hosts["web2"].id, State.DEPLOYING, source="test")
    return hosts


def _names(page) -> list[str]:
    return [h.name or h.mac for h in page.hosts]


def test_filters_each_narrow_the_list_and_counts_come_per_state(any_store):
    _fleet(any_store)
    page = any_store.host_search(HostQuery())
    assert page.total == 6 and page.states == {"new": 3, "deployed": 2, "deploying": 1}
    page = any_store.host_search(HostQuery(state="deployed"))
    assert sorted(_names(page)) == ["db1", "web1"] and page.total == 2
    assert page.states == {"new": 3, "deployed": 2, "deploying": 1}  # across its own filter
    assert _names(any_store.host_search(HostQuery(profile="ubuntu"))) == ["web1", "web2"]
    assert _names(any_store.host_search(HostQuery(label=("rack", "r1")))) == ["web1", "db1"]
    web = any_store.host_search(HostQuery(words=("web",)))
    assert _names(web) == ["web1", "web2"] and web.states == {"deployed": 1, "deploying": 1}
    assert _names(any_store.host_search(HostQuery(words=("10.0.0.13",)))) == ["db1"]
    assert _names(any_store.host_search(HostQuery(words=("deb", "r1")))) == []  # every word
    assert _names(any_store.host_search(HostQuery(words=("deb", "db")))) == ["db1"]


@pytest.mark.parametrize("spelling", ["aa:bb:05", "aabb05", "AA-BB-05", "aabb.05"])
def test_text_finds_a_mac_in_any_spelling(any_store, spelling):
    _fleet(any_store)
    found = any_store.host_search(HostQuery(words=(spelling.lower(),)))
    assert [h.mac for h in found.hosts] == ["52:54:00:aa:bb:05"]


@pytest.mark.parametrize("word", ["%", "_", "\\"])
def test_like_wildcards_in_the_text_match_only_themselves(any_store, word):
    """The attack: '%' or '_' typed (or sent) as text would match every host."""
    _fleet(any_store)
    found = _names(any_store.host_search(HostQuery(words=(word,))))
    assert found == (["odd_name%"] if word in "%_" else [])


def test_arch_filter_and_counts_use_the_effective_arch(any_store):
    """The Pi announced 0 (x86 BIOS); its MAC rule makes it ARM 41, as everywhere else."""
    _fleet(any_store)
    page = any_store.host_search(HostQuery())
    assert page.archs == {7: 3, 0: 1, 41: 1, None: 1}
    assert _names(any_store.host_search(HostQuery(arch=41))) == ["pi1"]
    assert _names(any_store.host_search(HostQuery(arch=0))) == ["db1"]
    page = any_store.host_search(HostQuery(arch=7, state="deployed"))
    assert _names(page) == ["web1"] and page.states == {"deployed": 1, "deploying": 1, "new": 1}
    assert page.archs == {7: 1, 0: 1}  # the deployed hosts, across the arch filter


def test_a_pi_that_reports_its_real_arch_keeps_it(any_store):
    any_store.observe(Observation(mac=PI, source="hook", arch=11))  # UEFI firmware on a Pi
    assert any_store.host_search(HostQuery()).archs == {11: 1}
    assert _names(any_store.host_search(HostQuery(arch=41))) == []


def test_sorts_put_blanks_last_either_way_and_pages_do_not_overlap(any_store):
    _fleet(any_store)
    by_name = _names(any_store.host_search(HostQuery(sort="name")))
    assert by_name[:5] == ["db1", "odd_name%", "pi1", "web1", "web2"]
    assert by_name[5] == "52:54:00:00:00:04"
    down = _names(any_store.host_search(HostQuery(sort="name", descending=True)))
    assert down == ["web2", "web1", "pi1", "odd_name%", "db1", "52:54:00:00:00:04"]
    by_ip = _names(any_store.host_search(HostQuery(sort="ip", descending=True)))
    assert by_ip[-1] == "odd_name%"  # no IP: last
    states = [h.state for h in any_store.host_search(HostQuery(sort="state")).hosts]
    assert states == [State.NEW] * 3 + [State.DEPLOYING] + [State.DEPLOYED] * 2  # table order
    pages = [any_store.host_search(HostQuery(sort="mac", offset=o, limit=2)) for o in (0, 2, 4)]
    macs = [h.mac for p in pages for h in p.hosts]
    assert macs == sorted(macs) and len(set(macs)) == 6 and pages[2].total == 6
    seen = _names(any_store.host_search(HostQuery(sort="last_seen", descending=True)))
    assert seen[0] == "pi1" and seen[-1] == "web1"


def test_changes_since_a_cursor_are_the_hosts_written_since(any_store):
    hosts = _fleet(any_store)
    query = HostQuery(state="deployed")
    cursor = any_store.host_search(query).cursor
    quiet = any_store.host_changes(cursor, query)
    assert quiet.hosts == [] and not quiet.resync and quiet.page is None
    any_store.observe(Observation(mac="52:54:00:00:00:02", source="hook", ip="10.0.0.99"))
    any_store.set_state(hosts["db1"].id, State.RESCUE, source="test")
    changed = any_store.host_changes(quiet.cursor, query)
    assert [h.name for h in changed.hosts] == ["web2", "db1"]
    assert changed.hosts[0].ip == "10.0.0.99" and changed.matching == frozenset()
    assert changed.page.total == 1 and changed.page.states["rescue"] == 1
    assert any_store.host_changes(changed.cursor, query).hosts == []
    new, _ = any_store.observe(Observation(mac="52:54:00:00:00:77", source="hook"))
    again = any_store.host_changes(changed.cursor, HostQuery(state="new"))
    assert [h.mac for h in again.hosts] == [new.mac] and again.matching == {new.id}


def test_a_delete_or_too_many_changes_ask_for_a_resync(any_store):
    hosts = _fleet(any_store)
    cursor = any_store.host_search(HostQuery()).cursor
    for i in range(5):
        any_store.observe(Observation(mac=f"52:54:00:00:01:{i:02x}", source="hook"))
    few = any_store.host_changes(cursor, HostQuery(), limit=3)
    assert few.resync and len(few.hosts) == 3 and few.page.total == 11
    after = any_store.host_changes(few.cursor, HostQuery())
    assert not after.resync
    any_store.host_delete(hosts["web1"].id)
    gone = any_store.host_changes(after.cursor, HostQuery())
    assert gone.resync and gone.removed and gone.page.total == 10
    assert not any_store.host_changes(gone.cursor, HostQuery()).resync


def _open_writer(store):
    """A raw connection of the store's database, its own write transaction left open."""
    dialect = store.dialect
    if hasattr(dialect, "dsn"):
        import psycopg

        conn = psycopg.connect(dialect.dsn)
        return conn, "UPDATE hosts SET ip = %s WHERE name = %s"
    conn = sqlite3.connect(dialect.path, isolation_level=None, timeout=10)
    conn.execute("BEGIN IMMEDIATE")
    return conn, "UPDATE hosts SET ip = ? WHERE name = ?"


def test_a_write_committing_after_the_reader_looked_is_not_missed(any_store):
    """The fault: a writer stamps its row, a reader takes its cursor before that writer
    commits (on PostgreSQL: while a later writer has committed already); the next read from
    that cursor must still return the row."""
    _fleet(any_store)
    cursor = any_store.host_search(HostQuery()).cursor
    conn, update = _open_writer(any_store)
    try:
        conn.execute(update, ("10.0.0.201", "web1"))  # stamped, not committed
        if hasattr(any_store.dialect, "dsn"):  # writers run at once: a later one commits
            any_store.observe(Observation(mac="52:54:00:00:00:03", source="hook", ip="10.0.0.202"))
        looked = any_store.host_changes(cursor, HostQuery())
        assert "web1" not in [h.name for h in looked.hosts]
        conn.commit()
    finally:
        conn.close()
    later = any_store.host_changes(looked.cursor, HostQuery())
    assert [h.ip for h in later.hosts if h.name == "web1"] == ["10.0.0.201"]


def test_timeline_is_the_newest_events_oldest_first(any_store):
    host, _ = any_store.observe(Observation(mac="52:54:00:00:00:01", source="hook"))
    for i in range(5):
        any_store.event_add(host.id, "note", "test", f"n{i}", at=2000.0 + i)
    events, more = any_store.host_timeline(host.id, 3)
    assert [e.message for e in events] == ["n2", "n3", "n4"] and more
    events, more = any_store.host_timeline(host.id, 10)
    assert events[0].kind == "host.discovered" and not more
