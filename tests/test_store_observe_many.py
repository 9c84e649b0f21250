"""Many observations in one transaction (lease files): the same rules as one at a time."""

from __future__ import annotations

from pxehook.models import Host, Observation, State


def test_observe_many_merges_in_order_and_returns_what_the_store_holds(any_store):
    two = any_store.host_put(Host(id=None, macs=("52:54:00:00:09:01", "52:54:00:00:09:02")))
    batch = [
        Observation("52:54:00:00:09:03", "leases", ip="10.0.0.3", hostname="n3", at=100.0),
        Observation("52:54:00:00:09:03", "leases", ip="10.0.0.4", arch=7, at=200.0),
        Observation("52:54:00:00:09:01", "leases", ip="10.0.0.1", at=150.0),
        Observation("52:54:00:00:09:02", "leases", hostname="second", at=160.0),
    ]
    out = any_store.observe_many(batch)
    assert [created for _, created in out] == [True, False, False, False]
    first, again = out[0][0], out[1][0]
    assert (first.state, first.ip, first.dhcp_hostname, first.first_seen) == (
        State.NEW,
        "10.0.0.3",
        "n3",
        100.0,
    )
    assert (again.id, again.ip, again.arch, again.last_seen) == (first.id, "10.0.0.4", 7, 200.0)
    assert out[3][0].ip == "10.0.0.1" and out[3][0].dhcp_hostname == "second"  # one host, both MACs
    for host, _ in (out[1], out[3]):  # each host as its last observation left it
        assert any_store.host_by_id(host.id) == host
    # a DHCP hostname is a fact of its own, never the name; the moved IP is on the timeline
    assert [e.kind for e in any_store.events(first.id)] == ["host.discovered", "ip.changed"]
    found = any_store.hosts_by_mac(["52:54:00:00:09:02", "52:54:00:00:09:03", "52:54:00:00:09:99"])
    assert sorted(found) == ["52:54:00:00:09:02", "52:54:00:00:09:03"]
    assert found["52:54:00:00:09:02"].id == two.id and found["52:54:00:00:09:02"].macs == two.macs
    assert any_store.observe_many([]) == [] and any_store.hosts_by_mac([]) == {}


def test_host_page_walks_every_host_once_in_id_order(any_store):
    made = [
        any_store.host_put(
            Host(id=None, macs=(f"52:54:00:00:0a:{i:02x}", f"52:54:00:00:0b:{i:02x}"))
        )
        for i in range(7)
    ]
    seen, after = [], 0
    while page := any_store.host_page(after, 3):
        assert len(page) <= 3
        seen += page
        after = page[-1].id
    assert seen == made and seen == any_store.host_all()
