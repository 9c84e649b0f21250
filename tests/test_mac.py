"""The one MAC normaliser: every common spelling in, one spelling out, clear errors."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pxehook.errors import InvalidInput
from pxehook.mac import mac_bare, mac_dashes, mac_pxelinux, normalize_mac

MACS = st.binary(min_size=6, max_size=6)


def spellings(raw: bytes) -> list[str]:
    h = raw.hex()
    pairs = [h[i : i + 2] for i in range(0, 12, 2)]
    return [
        ":".join(pairs),
        ":".join(pairs).upper(),
        "-".join(pairs),
        "-".join(pairs).upper(),
        h,
        h.upper(),
        f"{h[0:4]}.{h[4:8]}.{h[8:12]}",
        "01-" + "-".join(pairs),
        "01-" + "-".join(pairs).upper(),
        f"  {':'.join(pairs)}\n",
    ]


@given(MACS)
def test_every_spelling_normalises_to_the_same_colon_form(raw):
    expected = ":".join(f"{b:02x}" for b in raw)
    assert {normalize_mac(s) for s in spellings(raw)} == {expected}


@given(MACS)
def test_derived_names_round_trip(raw):
    mac = normalize_mac(raw.hex())
    assert normalize_mac(mac_dashes(mac)) == mac
    assert normalize_mac(mac_pxelinux(mac)) == mac
    assert normalize_mac(mac_bare(mac)) == mac
    assert mac_pxelinux(mac).startswith("01-") and mac_pxelinux(mac) == mac_pxelinux(mac).lower()


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "zz:zz",
        "52:54:00:12:34",
        "52:54:00:12:34:56:78",
        "52:54:00:12:34:5g",
        "52:54-00:12:34:56",
        "02-52-54-00-12-34-56",
        "5254.0012.34",
        "../../etc/passwd",
        "52:54:00:12:34:56\x00",
        "52:54:00:12:34:56;reboot",
        "１２:34:56:78:9a:bc",
    ],
)
def test_bad_values_are_refused_with_the_value_named(bad):
    with pytest.raises(InvalidInput) as info:
        normalize_mac(bad)
    assert "invalid MAC address" in str(info.value)


@given(st.text(max_size=40))
def test_arbitrary_text_never_crashes(text):
    try:
        out = normalize_mac(text)
    except InvalidInput:
        return
    assert len(out) == 17 and out == out.lower()


def test_non_string_is_refused():
    with pytest.raises(InvalidInput):
        normalize_mac(525400123456)
