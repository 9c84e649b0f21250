"""The trust rules one by one: which IP sources count, which DHCPACKs the listener believes,
which UUIDs and names identify a machine, and the failed-token limiter's bounds. The store
rules run against both back ends (SQLite and a real PostgreSQL)."""

from __future__ import annotations

import socket

import pytest

from pxehook.capture import packet as dp
from pxehook.capture.apply import apply_sighting, ip_source_of
from pxehook.capture.listener import AckTrust
from pxehook.capture.sightings import LEASE, REPLAY, TFTP, DhcpSighting
from pxehook.errors import Conflict, InvalidInput
from pxehook.lifecycle.hosts import validate_identity
from pxehook.models import Host, IpSource, Observation, usable_uuid
from pxehook.tokens import FailureLimiter

MAC = "52:54:00:7d:00:01"
SERVER, RELAY, FORGER = "10.231.9.1", "10.231.9.254", "10.231.9.66"


# --- the listener's ACKs ------------------------------------------------------------------
def _request(xid: int = 7, ip: str = "10.231.9.100", server: str = SERVER) -> dp.DhcpPacket:
    options = {
        dp.OPT_MESSAGE_TYPE: bytes([dp.REQUEST]),
        dp.OPT_REQUESTED_IP: socket.inet_aton(ip),
        dp.OPT_SERVER_ID: socket.inet_aton(server),
    }
    return dp.DhcpPacket(op=1, xid=xid, chaddr=bytes.fromhex("5254007d0001"), options=options)


def _ack(xid: int = 7, ip: str = "10.231.9.100", server: str = SERVER) -> dp.DhcpPacket:
    options = {dp.OPT_MESSAGE_TYPE: bytes([dp.ACK]), dp.OPT_SERVER_ID: socket.inet_aton(server)}
    return dp.DhcpPacket(
        op=2, xid=xid, yiaddr=ip, chaddr=bytes.fromhex("5254007d0001"), options=options
    )


def test_an_ack_is_believed_only_from_a_trusted_server_answering_a_seen_request() -> None:
    trust = AckTrust([SERVER, f"{RELAY}/32"])
    assert "no DHCP server is trusted" in AckTrust([]).verdict(_ack(), SERVER, 1.0)
    assert "answers no DHCPREQUEST" in trust.verdict(_ack(), SERVER, 1.0)
    trust.request(_request(), 1.0)
    assert trust.verdict(_ack(), SERVER, 1.5) == ""
    assert trust.verdict(_ack(), RELAY, 1.5) == ""  # relayed: the relay sends it on
    assert "not a trusted DHCP server" in trust.verdict(_ack(server=FORGER), FORGER, 1.5)
    assert "sent from 10.231.9.66" in trust.verdict(_ack(), FORGER, 1.5)
    assert "asked for 10.231.9.100" in trust.verdict(_ack(ip="10.231.9.66"), SERVER, 1.5)
    assert "answers no DHCPREQUEST" in trust.verdict(_ack(xid=8), SERVER, 1.5)
    assert "answers no DHCPREQUEST" in trust.verdict(_ack(), SERVER, 40.0)  # too late
    trust.request(_request(xid=9, server=RELAY), 2.0)
    assert "named server 10.231.9.254" in trust.verdict(_ack(xid=9), SERVER, 2.1)


def test_the_listeners_request_memory_is_bounded() -> None:
    trust = AckTrust([SERVER], limit=100)
    for xid in range(1000):
        trust.request(_request(xid=xid), 1.0)
    assert len(trust._requests) == 100
    assert trust.verdict(_ack(xid=999), SERVER, 1.1) == ""
    assert trust.verdict(_ack(xid=0), SERVER, 1.1) != ""  # forgotten first


def test_ip_trust_follows_the_capture_source() -> None:
    def sighting(source: str) -> DhcpSighting:
        return DhcpSighting(source, "add", LEASE, 1.0, "r", mac=MAC, ip="10.0.0.5")

    assert ip_source_of(sighting("dnsmasq")) == IpSource.HOOK
    assert ip_source_of(sighting("kea")) == IpSource.HOOK
    assert ip_source_of(sighting("leases-isc")) == IpSource.LEASE_FILE
    assert ip_source_of(sighting("listener")) == IpSource.LISTENER
    assert ip_source_of(sighting("http")) == IpSource.NONE


# --- the store's IP rules (both back ends) -----------------------------------------------------
def test_a_claimed_ip_never_replaces_a_trusted_one_and_finds_no_host(any_store) -> None:  # type: ignore[no-untyped-def]
    claim = Observation(mac=MAC, source="http", ip="10.0.0.66", ip_source=IpSource.REQUEST)
    host, _ = any_store.observe(claim)
    assert (host.ip, host.trusted_ip) == ("10.0.0.66", "")
    assert any_store.host_by_ip("10.0.0.66") is None  # a claim finds nobody
    lease = Observation(mac=MAC, source="dnsmasq", ip="10.0.0.5", ip_source=IpSource.HOOK)
    host, _ = any_store.observe(lease)
    assert host.trusted_ip == "10.0.0.5" and any_store.host_by_ip("10.0.0.5").id == host.id
    host, _ = any_store.observe(claim)
    assert (host.ip, host.ip_source) == ("10.0.0.5", IpSource.HOOK)
    kinds = [(e.kind, e.data.get("to"), e.data.get("trusted")) for e in any_store.events(host.id)]
    assert kinds == [
        ("host.discovered", "10.0.0.66", False),
        ("ip.changed", "10.0.0.5", True),
    ]


def test_a_trusted_lease_takes_the_ip_from_its_previous_holder(any_store) -> None:  # type: ignore[no-untyped-def]
    old, _ = any_store.observe(
        Observation(mac=MAC, source="dnsmasq", ip="10.0.0.5", ip_source=IpSource.HOOK)
    )
    new, _ = any_store.observe(
        Observation(mac="52:54:00:7d:00:02", source="listener", ip="10.0.0.5",
                    ip_source=IpSource.LISTENER)
    )  # fmt: skip
    assert any_store.host_by_ip("10.0.0.5").id == new.id
    old = any_store.host_by_id(old.id)
    assert (old.ip, old.trusted_ip) == ("", "")
    last = any_store.events(old.id)[-1]
    assert (last.kind, last.data["from"], last.data["to"]) == ("ip.changed", "10.0.0.5", "")


def test_a_replay_upgrades_an_unconfirmed_ip_once(any_store) -> None:  # type: ignore[no-untyped-def]
    host, _ = any_store.observe(
        Observation(mac=MAC, source="http", ip="10.0.0.5", ip_source=IpSource.REQUEST)
    )
    replay = DhcpSighting("leases-dnsmasq", "lease", REPLAY, 2.0, "r", mac=MAC, ip="10.0.0.5")
    assert apply_sighting(any_store, replay) == "observed"
    assert any_store.host_get(MAC).ip_source == IpSource.LEASE_FILE
    assert apply_sighting(any_store, replay) == "unchanged"
    assert [e.kind for e in any_store.events(host.id)][-1] == "ip.confirmed"
    tftp = DhcpSighting("dnsmasq", "tftp", TFTP, 3.0, "t", ip="10.0.0.5", data={"path": "x"})
    assert apply_sighting(any_store, tftp) == "event"  # attributed by the trusted IP


def test_placeholder_and_taken_uuids_are_never_recorded(any_store) -> None:  # type: ignore[no-untyped-def]
    for uuid in ("00000000-0000-0000-0000-000000000000", "FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF",
                 "03000200-0400-0500-0006-000700080009"):  # fmt: skip
        host, _ = any_store.observe(Observation(mac=MAC, source="listener", uuid=uuid))
        assert host.uuid == "" and any_store.host_by_uuid(uuid) is None
    real = "6F1C3B9E-2D4A-4F7E-9B1A-0C5D8E7F6A42"
    first, _ = any_store.observe(Observation(mac=MAC, source="listener", uuid=real))
    second, _ = any_store.observe(Observation(mac="52:54:00:7d:00:02", source="x", uuid=real))
    assert (first.uuid, second.uuid) == (real.lower(), "")
    assert any_store.host_by_uuid(real).id == first.id


def test_a_dhcp_hostname_is_a_fact_not_a_name(any_store) -> None:  # type: ignore[no-untyped-def]
    any_store.host_put(Host(id=None, macs=(MAC,), name="web1"))
    other, _ = any_store.observe(
        Observation(mac="52:54:00:7d:00:02", source="dnsmasq", hostname="web1")
    )
    assert (other.name, other.dhcp_hostname) == ("", "web1")
    assert any_store.host_by_name("web1").mac == MAC
    with pytest.raises(Conflict):  # names are unique in the database too
        any_store.host_put(other.with_(name="web1"))


def test_usable_uuid() -> None:
    assert usable_uuid(" 6F1C3B9E-2D4A-4F7E-9B1A-0C5D8E7F6A42 ") == (
        "6f1c3b9e-2d4a-4f7e-9b1a-0c5d8e7f6a42"
    )
    for placeholder in ("", "0" * 32, "11111111-1111-1111-1111-111111111111"):
        assert usable_uuid(placeholder) == ""


def test_identity_validator(store) -> None:  # type: ignore[no-untyped-def]
    web1 = store.host_put(
        Host(id=None, macs=(MAC,), name="web1", uuid="6f1c3b9e-2d4a-4f7e-9b1a-0c5d8e7f6a42")
    )
    other = Host(id=None, macs=("52:54:00:7d:00:02",))
    validate_identity(store, web1)  # its own name and UUID
    for name in ("52:54:00:00:00:01", "525400000001", "5254.0000.0001", "a:b"):
        with pytest.raises(InvalidInput, match="reads as a MAC"):
            validate_identity(store, other.with_(name=name))
    with pytest.raises(Conflict, match="already named"):
        validate_identity(store, other.with_(name="web1"))
    with pytest.raises(InvalidInput, match="placeholder"):
        validate_identity(store, other.with_(uuid="ffffffff-ffff-ffff-ffff-ffffffffffff"))
    with pytest.raises(Conflict, match="already has UUID"):
        validate_identity(store, other.with_(uuid=web1.uuid))


# --- failed tokens ------------------------------------------------------------------------------
def test_failure_limiter_window_and_memory_bound() -> None:
    limiter = FailureLimiter(limit=3, window=60.0, max_clients=100)
    assert [limiter.failed("a", t) for t in (0.0, 1.0, 2.0)] == [1, 2, 3]
    assert limiter.retry_after("a", 2.5) == 58 and limiter.retry_after("b", 2.5) == 0
    assert limiter.retry_after("a", 59.5) == 1
    assert limiter.retry_after("a", 60.5) == 0  # the first failure has aged out
    assert limiter.failed("a", 60.5) == 3 and limiter.retry_after("a", 60.5) == 1
    for n in range(10_000):  # a spray from many addresses
        limiter.failed(f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}", 100.0)
    assert len(limiter) == 100
