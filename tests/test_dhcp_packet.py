"""DHCP packet codec: round trips, overload, and malformed input as ValueError."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pxehook.capture import packet as dp


def test_round_trip_of_a_pxe_discover():
    pkt = dp.DhcpPacket(
        op=1,
        xid=0x1234,
        flags=0x8000,
        chaddr=bytes.fromhex("525400123456"),
        options={
            dp.OPT_MESSAGE_TYPE: b"\x01",
            dp.OPT_CLIENT_ARCH: b"\x00\x07",
            dp.OPT_VENDOR_CLASS: b"PXEClient:Arch:00007:UNDI:003016",
            dp.OPT_USER_CLASS: b"iPXE",
            dp.OPT_CLIENT_UUID: b"\x00" + bytes(range(16)),
        },
    )
    back = dp.decode(pkt.encode())
    assert back.mac == "52:54:00:12:34:56" and back.message_name == "DHCPDISCOVER"
    assert back.options[dp.OPT_CLIENT_ARCH] == b"\x00\x07"
    assert back.uuid == "00010203-0405-0607-0809-0a0b0c0d0e0f"
    assert back.option_text(dp.OPT_VENDOR_CLASS).startswith("PXEClient")


def test_boot_file_prefers_option_67_and_strips_nul():
    pkt = dp.DhcpPacket(op=2, file=b"legacy.0", options={dp.OPT_BOOTFILE: b"snponly.efi\x00"})
    assert dp.decode(pkt.encode()).boot_file == "snponly.efi"
    assert (
        dp.decode(dp.DhcpPacket(op=2, file=b"undionly.kpxe").encode()).boot_file == "undionly.kpxe"
    )


def test_long_options_are_split_and_joined():
    value = bytes(range(256)) * 2
    pkt = dp.DhcpPacket(options={dp.OPT_MESSAGE_TYPE: b"\x01", 224: value})
    assert dp.decode(pkt.encode()).options[224] == value


def test_option_overload_reads_file_and_sname():
    pkt = dp.DhcpPacket(op=2, options={dp.OPT_MESSAGE_TYPE: b"\x02", dp.OPT_OVERLOAD: b"\x01"})
    raw = bytearray(pkt.encode())
    file_off = 44 + 64
    raw[file_off : file_off + 8] = bytes([67, 5]) + b"a.efi" + b"\xff"
    assert dp.decode(bytes(raw)).boot_file == "a.efi"


@pytest.mark.parametrize("data", [b"", b"\x01" * 10, b"\x03" + b"\x00" * 300])
def test_malformed_packets_raise_value_error(data):
    with pytest.raises(ValueError):
        dp.decode(data)


def test_truncated_option_is_an_error():
    raw = dp.DhcpPacket(options={dp.OPT_MESSAGE_TYPE: b"\x01"}).encode()[:240] + b"\x3c\x20ab"
    with pytest.raises(ValueError, match="option 60"):
        dp.decode(raw)


@given(st.binary(max_size=600))
def test_random_bytes_never_crash_the_decoder(data):
    with contextlib.suppress(ValueError):
        dp.decode(data)
