"""Spool parsing and record -> sighting rules (pure logic, no daemon)."""

from __future__ import annotations

import zlib

from pxehook import arch
from pxehook.capture import readers, sightings
from pxehook.capture import spool as sp
from pxehook.capture.hook_py import encode_record


def rec(args: list[bytes], env: dict[bytes, bytes] | None = None) -> sp.Record:
    data = encode_record(
        1_700_000_000_123_456_000, args, [k + b"=" + v for k, v in (env or {}).items()]
    )
    (record,) = sp.parse(data).records
    return record


def test_parse_resyncs_after_a_damaged_record_and_waits_for_a_partial_tail() -> None:
    good = [
        encode_record(i * 10**9, [b"add", b"52:54:00:00:00:0%d" % i, b"10.0.0.1"], [])
        for i in range(3)
    ]
    torn = good[1][: len(good[1]) // 2]  # a crash in the middle of a write
    data = good[0] + torn + good[2] + good[1][:10]
    chunk = sp.parse(data)
    assert [r.args[1][-1:] for r in chunk.records] == [b"0", b"2"]
    assert chunk.skipped == len(torn) and chunk.partial == 10
    assert chunk.end == len(data) - 10
    bad_crc = good[0].replace(b"%08x" % zlib.crc32(good[0].split(b"\n", 1)[1][:-1]), b"00000000")
    assert sp.parse(bad_crc + good[2]).records[0].args[1].endswith(b"2")


def test_dnsmasq_add_takes_arch_from_our_tags() -> None:
    efi = arch.lookup(7)
    (e,) = readers.from_record(
        rec(
            [b"add", b"52:54:00:AA:bb:01", b"10.0.0.5", b"node1"],
            {
                b"DNSMASQ_TAGS": f"{efi.dnsmasq_tag} eth0".encode(),
                b"DNSMASQ_VENDOR_CLASS": b"PXEClient:Arch:00000:UNDI:002001",
                b"DNSMASQ_USER_CLASS0": b"iPXE",
                b"DNSMASQ_INTERFACE": b"eth0",
            },
        )
    )
    assert (e.kind, e.mac, e.ip, e.hostname, e.arch) == (
        sightings.LEASE,
        "52:54:00:aa:bb:01",
        "10.0.0.5",
        "node1",
        7,
    )
    assert e.user_class == "iPXE" and e.data["interface"] == "eth0"


def test_dnsmasq_arch_falls_back_to_the_vendor_class() -> None:
    (e,) = readers.from_record(
        rec(
            [b"old", b"52:54:00:00:00:02", b"10.0.0.6"],
            {
                b"DNSMASQ_VENDOR_CLASS": b"PXEClient:Arch:00011:UNDI:003000",
                b"DNSMASQ_INTERFACE": b"eth0",
            },
        )
    )
    assert e.arch == 11 and e.kind == sightings.LEASE


def test_old_without_request_data_is_a_replay() -> None:
    replay = rec(
        [b"old", b"52:54:00:00:00:02", b"10.0.0.6"],
        {b"DNSMASQ_DATA_MISSING": b"1", b"DNSMASQ_INTERFACE": b"eth0"},  # as dnsmasq 2.90 sends it
    )
    fresh = rec(
        [b"old", b"52:54:00:00:00:02", b"10.0.0.6"],
        {
            b"DNSMASQ_INTERFACE": b"eth0",
            b"DNSMASQ_VENDOR_CLASS": b"PXEClient:Arch:00007:UNDI:003010",
        },
    )
    (r,) = readers.from_record(replay)
    assert (r.kind, r.arch, r.vendor_class) == (sightings.REPLAY, None, "")
    assert readers.from_record(fresh)[0].kind == sightings.LEASE


def test_tftp_del_arp_init_and_unknown_actions() -> None:
    (t,) = readers.from_record(rec([b"tftp", b"74213", b"10.0.0.5", b"/srv/tftp/undionly.kpxe"]))
    assert (t.kind, t.ip, t.data) == (
        sightings.TFTP,
        "10.0.0.5",
        {"size": "74213", "path": "/srv/tftp/undionly.kpxe"},
    )
    (d,) = readers.from_record(
        rec([b"del", b"52:54:00:00:00:02", b"10.0.0.6"], {b"DNSMASQ_INTERFACE": b"eth0"})
    )
    assert d.kind == sightings.GONE
    assert readers.from_record(rec([b"arp-add", b"52:54:00:00:00:02", b"10.0.0.6"])) == []
    assert readers.from_record(rec([b"relay-snoop", b"eth0", b"fe80::1", b"2001:db8::/56"])) == []
    assert readers.from_record(rec([b"some-future-action", b"x"], {b"DNSMASQ_TAGS": b"a"})) == []
    non_ethernet = rec([b"add", b"06-01:23:45:67:89:ab", b"10.0.0.6"])
    assert readers.from_record(non_ethernet) == []


def test_isc_execute_arguments_unpadded_mac_and_octal_escapes() -> None:
    (e,) = readers.from_record(
        rec(
            [
                b"isc",
                b"commit",
                b"10.0.0.9",
                b"52:54:0:a:b:c",
                b"PXEClient:Arch:00000:UNDI:002001",
                b"iPXE",
                b"we\\012ird",
                b"7",
            ]
        )
    )
    assert (e.source, e.action, e.mac, e.ip, e.arch) == (
        "isc",
        "commit",
        "52:54:00:0a:0b:0c",
        "10.0.0.9",
        7,
    )
    assert e.hostname == "we\nird" and e.user_class == "iPXE"
    assert "relay_address" not in e.data  # no RELAY argument (an older include)
    for giaddr, kept in (("10.0.5.1", "10.0.5.1"), ("0.0.0.0", None), ("10.0.5.1;x", None)):
        (relayed,) = readers.from_record(
            rec(
                [
                    b"isc",
                    b"commit",
                    b"10.0.5.9",
                    b"52:54:0:a:b:c",
                    b"",
                    b"",
                    b"",
                    b"7",
                    giaddr.encode(),
                ]
            )
        )
        assert relayed.data.get("relay_address") == kept, giaddr  # giaddr, when relayed
    (e2,) = readers.from_record(
        rec([b"isc", b"commit", b"10.0.0.9", b"52:54:0:a:b:c", b"PXEClient:Arch:00011:UNDI:003000"])
    )
    assert e2.arch == 11  # no option-93 argument: the vendor class
    (r,) = readers.from_record(rec([b"isc", b"expiry", b"10.0.0.9", b"52:54:0:a:b:c"]))
    assert r.kind == sightings.GONE


def test_kea_committed_and_single_lease_points() -> None:
    env = {
        b"LEASES4_SIZE": b"2",
        b"LEASES4_AT0_HWADDR": b"52:54:00:00:00:01",
        b"LEASES4_AT0_ADDRESS": b"10.0.0.7",
        b"LEASES4_AT0_HOSTNAME": b"n1.example.",
        b"LEASES4_AT1_HWADDR": b"52:54:00:00:00:02",
        b"LEASES4_AT1_ADDRESS": b"10.0.0.8",
        b"DELETED_LEASES4_SIZE": b"1",
        b"DELETED_LEASES4_AT0_HWADDR": b"52:54:00:00:00:03",
        b"DELETED_LEASES4_AT0_ADDRESS": b"10.0.0.9",
        b"QUERY4_GIADDR": b"10.0.5.1",  # relayed: the relay's address
    }
    out = readers.from_record(rec([b"leases4_committed"], env))
    assert out[0].data["relay_address"] == "10.0.5.1"
    assert [(e.mac[-2:], e.ip, e.kind) for e in out] == [
        ("01", "10.0.0.7", sightings.LEASE),
        ("02", "10.0.0.8", sightings.LEASE),
        ("03", "10.0.0.9", sightings.GONE),
    ]
    assert out[0].hostname == "n1.example" and len({e.rid for e in out}) == 3
    (rel,) = readers.from_record(
        rec(
            [b"lease4_release"],
            {b"LEASE4_HWADDR": b"52:54:00:00:00:01", b"LEASE4_ADDRESS": b"10.0.0.7"},
        )
    )
    assert (rel.action, rel.kind) == ("release", sightings.GONE)
    assert "relay_address" not in rel.data  # no QUERY4_GIADDR
    assert readers.from_record(rec([b"lease6_renew"], {b"LEASE6_ADDRESS": b"2001:db8::1"})) == []


def test_lease_file_parsers_keep_the_last_active_entry_and_clean_names() -> None:
    isc = (
        "lease 10.0.0.5 {\n  starts 2 2026/11/24 10:00:00;\n  binding state active;\n"
        '  hardware ethernet 52:54:00:0a:00:07;\n  client-hostname "we\\"ird\\012name";\n}\n'
        "lease 10.0.0.6 {\n  binding state active;\n  hardware ethernet 52:54:00:0a:00:08;\n}\n"
        "lease 10.0.0.6 {\n  binding state free;\n  hardware ethernet 52:54:00:0a:00:08;\n}\n"
    )
    (one,) = readers.parse_leases("isc", isc).leases
    assert (one.mac, one.ip, one.hostname) == ("52:54:00:0a:00:07", "10.0.0.5", 'we"ird\nname')
    assert one.at == 1795514400.0
    kea = (
        "address,hwaddr,client_id,valid_lifetime,expire,subnet_id,fqdn_fwd,fqdn_rev,hostname,state,user_context\n"
        "10.0.0.7,52:54:00:0b:00:01,,3600,1800003600,1,0,0,a&#x2cb,0,\n"
        "10.0.0.8,52:54:00:0b:00:02,,3600,1800003600,1,0,0,,0,\n"
        "10.0.0.8,52:54:00:0b:00:02,,0,1800000000,1,0,0,,2,\n"
    )
    (k,) = readers.parse_leases("kea", kea).leases
    assert (k.mac, k.hostname, k.at) == ("52:54:00:0b:00:01", "a,b", 1_800_000_000.0)
    dnsmasq = "1800000000 52:54:00:0c:00:01 10.0.0.9 * 01:52:54:00:0c:00:01\nduid 00:01\n"
    dnsmasq += "1800000000 1234 2001:db8::5 * 00:01:00:01\n"
    assert [(d.mac, d.ip, d.hostname) for d in readers.parse_leases("dnsmasq", dnsmasq).leases] == [
        ("52:54:00:0c:00:01", "10.0.0.9", "")
    ]


def test_listener_decodes_requests_and_acks_and_ignores_the_rest() -> None:
    import struct

    from pxehook.capture import packet as dp
    from pxehook.capture.listener import decode_frame, sighting_from

    def frame(pkt: dp.DhcpPacket) -> bytes:
        from tests.harness.dhcp_probe import ip_udp

        return (
            b"\xff" * 6
            + b"\x02" * 6
            + b"\x08\x00"
            + ip_udp("0.0.0.0", "255.255.255.255", 68, 67, pkt.encode())
        )

    mac = bytes.fromhex("525400ee0001")
    discover = dp.DhcpPacket(
        op=1,
        chaddr=mac,
        options={
            dp.OPT_MESSAGE_TYPE: bytes([dp.DISCOVER]),
            dp.OPT_CLIENT_ARCH: struct.pack("!H", 11),
            dp.OPT_USER_CLASS: b"\x04iPXE",
            dp.OPT_HOSTNAME: b"a\nb\xff",
        },
    )
    e = sighting_from(decode_frame(frame(discover)), 1.0)
    assert (e.mac, e.arch, e.user_class, e.hostname, e.action) == (
        "52:54:00:ee:00:01",
        11,
        "iPXE",
        "a\nb\\xff",
        "discover",
    )
    odd93 = dp.DhcpPacket(
        op=1,
        chaddr=mac,
        options={
            dp.OPT_MESSAGE_TYPE: bytes([dp.REQUEST]),
            dp.OPT_CLIENT_ARCH: b"\x07",
            dp.OPT_VENDOR_CLASS: b"PXEClient:Arch:00009:UNDI:003000",
        },
    )
    assert sighting_from(decode_frame(frame(odd93)), 1.0).arch == 9  # bad option 93: vendor class
    ack = dp.DhcpPacket(
        op=2, chaddr=mac, yiaddr="10.0.0.8", options={dp.OPT_MESSAGE_TYPE: bytes([dp.ACK])}
    )
    assert sighting_from(decode_frame(frame(ack)), 1.0) is None  # AckTrust judges ACKs
    offer = dp.DhcpPacket(
        op=2, chaddr=mac, yiaddr="10.0.0.8", options={dp.OPT_MESSAGE_TYPE: bytes([dp.OFFER])}
    )
    token_ring = dp.DhcpPacket(
        op=1, htype=6, chaddr=mac, options={dp.OPT_MESSAGE_TYPE: bytes([dp.DISCOVER])}
    )
    assert sighting_from(decode_frame(frame(offer)), 1.0) is None
    assert sighting_from(decode_frame(frame(token_ring)), 1.0) is None
    import pytest

    with pytest.raises(ValueError):
        decode_frame(frame(discover)[:60])
