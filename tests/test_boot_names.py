"""Config-name parsing shared by HTTP and TFTP, the ARP table reader, explain, ignore policy."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pxehook.boot.loaders import parse_name
from pxehook.boot.names import clean_path
from pxehook.boot.neighbours import parse_arp
from pxehook.errors import InvalidInput
from pxehook.web import create_app

macs = st.lists(st.integers(0, 255), min_size=6, max_size=6)


@given(macs, st.sampled_from([":", "-"]), st.booleans())
def test_every_mac_spelling_names_the_same_host(octets, sep, upper) -> None:  # type: ignore[no-untyped-def]
    canonical = ":".join(f"{o:02x}" for o in octets)
    spelled = sep.join(f"{o:02x}" for o in octets)
    spelled = spelled.upper() if upper else spelled
    for path in (f"pxelinux.cfg/01-{spelled}", f"any/prefix/grub.cfg-01-{spelled}"):
        name = parse_name(path)
        assert name is not None and name.kind == "mac" and name.mac == canonical


def test_name_kinds() -> None:
    assert parse_name("pxelinux.cfg/default").kind == "generic"
    assert parse_name("boot/pxelinux.cfg/C0A8010A").ip == "192.168.1.10"
    assert parse_name("pxelinux.cfg/C0A8010").kind == "none"  # a narrowing step: 404 at once
    uuid = "4c4c4544-0000-1111-2222-333344445555"
    assert parse_name(f"pxelinux.cfg/{uuid}").uuid == uuid
    assert parse_name("pxelinux.cfg/default-arm-sunxi-sunxi").loader == "uboot"
    assert parse_name("grub/x86_64-efi/grub.cfg").kind == "generic"
    assert parse_name("grub.cfg-C0A8010A").ip == "192.168.1.10"
    assert parse_name("undionly.kpxe") is None


@pytest.mark.parametrize("bad", ["../x", "a/../../x", "a\x00b", "a\\..\\b", "a\nb"])
def test_clean_path_refuses_traversal(bad: str) -> None:
    with pytest.raises(InvalidInput):
        clean_path(bad)
    assert clean_path("/a//./b/") == "a/b"


def test_parse_arp_keeps_complete_entries_only() -> None:
    text = (
        "IP address       HW type     Flags       HW address            Mask     Device\n"
        "10.0.0.5         0x1         0x2         52:54:00:AA:bb:01     *        eth0\n"
        "10.0.0.6         0x1         0x0         00:00:00:00:00:00     *        eth0\n"
        "10.0.0.7         0x1         0x2         garbage               *        eth0\n"
    )
    assert parse_arp(text) == {"10.0.0.5": "52:54:00:aa:bb:01"}


def test_unknown_hosts_ignore_is_a_404_and_still_enlists(settings, store) -> None:  # type: ignore[no-untyped-def]
    app = create_app(settings.replace(unknown_hosts="ignore"))
    client = app.test_client()
    assert client.get("/ipxe/52:54:00:00:00:99").status_code == 404
    assert client.get("/pxelinux.cfg/01-52-54-00-00-00-99").status_code == 404
    host = store.host_get("52:54:00:00:00:99")
    assert host is not None and str(host.state) == "new"
    assert client.get("/ipxe/nonsense").status_code == 400


def test_explain_shows_the_chain_and_bytes(cli, store) -> None:  # type: ignore[no-untyped-def]
    from pxehook.inventory.apply import sync
    from pxehook.inventory.parse import load
    from tests.conftest import SAMPLE_INVENTORY

    sync(load(str(SAMPLE_INVENTORY)), store)
    result = cli("explain", "52-54-00-12-34-02", "--json")
    assert result.code == 0, result
    data = json.loads(result.out)
    assert {a["loader"] for a in data["answers"]} == {"ipxe", "grub", "pxelinux", "uboot"}
    assert {a["action"] for a in data["answers"]} == {"local"}
    assert all("state deployed boots local" in a["reasons"] for a in data["answers"])
    text = cli("explain", "52:54:00:12:34:01", "--path", "pxelinux.cfg/01-52-54-00-12-34-01")
    assert text.code == 0 and "== pxelinux: local" in text.out and "arch unknown" in text.out
    assert "LOCALBOOT 0" in text.out
    bad = cli("explain", "52:54:00:12:34:01", "--path", "nothing/here")
    assert bad.code == 3 and "not a boot config path" in bad.err
    before = len(store.events(store.host_get("52:54:00:12:34:01").id))
    assert len(store.events(store.host_get("52:54:00:12:34:01").id)) == before  # read-only
