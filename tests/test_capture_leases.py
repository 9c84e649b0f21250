"""The lease-file watcher with real files: bad lines, rewrites in place, many leases."""

from __future__ import annotations

import json
import time

from pxehook.capture import status
from pxehook.capture.leases import LeaseFile, LeaseWatchService
from pxehook.web import create_app

ISC_BAD_TIME_AND_UNCLOSED = """\
# The format of this file is documented in the dhcpd.leases(5) manual page.
authoring-byte-order little-endian;
lease 10.0.0.5 {
  starts 2 2026/11/24 10:00:00;
  cltt 2 2026/11/24 25:61:00;
  binding state active;
  hardware ethernet 52:54:00:0e:00:05;
}
lease 10.0.0.6 {
  starts 2 2026/11/24 10:00:00;
  binding state active;
  hardware ethernet 52:54:00:0e:00:06;
lease 10.0.0.7 {
  starts 2 2026/11/24 10:00:07;
  binding state active;
  hardware ethernet 52:54:00:0e:00:07;
  client-hostname "seven";
}
"""


def dnsmasq_line(i: int, expiry: int = 2_000_000_000) -> str:
    return f"{expiry} 52:54:00:0d:{i >> 8:02x}:{i & 255:02x} 10.0.{i >> 8}.{i & 255} n{i} *\n"


def dhcp_events(store, mac: str) -> list[str]:  # type: ignore[no-untyped-def]
    host = store.host_get(mac)
    return [e.kind for e in store.events(host.id) if e.kind.startswith("dhcp.")] if host else []


def wait_for(check, timeout: float = 20.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    return check()


def test_watch_leases_once_skips_a_bad_isc_time_and_an_unclosed_block(cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Before: a malformed time was a traceback and the open block swallowed the next lease."""
    leases = tmp_path / "dhcpd.leases"
    leases.write_text(ISC_BAD_TIME_AND_UNCLOSED)
    result = cli("watch-leases", "--isc", str(leases), "--once", "--json")
    assert result.code == 0 and "Traceback" not in result.err, result
    assert json.loads(result.out) == {"observed": 2, "bad_lines": 2}
    assert f"{leases} line 5 skipped: bad time" in result.err
    assert f"{leases} line 9 skipped: lease 10.0.0.6 not closed before line 13" in result.err
    five = json.loads(cli("host", "show", "52:54:00:0e:00:05", "--json").out)
    seven = json.loads(cli("host", "show", "52:54:00:0e:00:07", "--json").out)
    assert (five["ip"], seven["ip"], seven["dhcp_hostname"]) == ("10.0.0.5", "10.0.0.7", "seven")
    assert cli("host", "show", "52:54:00:0e:00:06").code != 0  # the unclosed one: skipped


def test_malformed_dnsmasq_lines_are_counted_and_named(cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    leases = tmp_path / "dnsmasq.leases"
    leases.write_text(
        dnsmasq_line(1)
        + "1800000000 52:54:00:0d:00:02 10.0.0.300 bad-ip *\n"
        + "garbage\n"
        + dnsmasq_line(4)
        + "1800000000 20-aa:bb:cc 10.0.0.5 infiniband *\n"  # not Ethernet: not an error
        + "duid 00:01:00:01:2c:5f:00:00:52:54:00:00:00:01\n"
        + "1800000000 1234 2001:db8::5 * 00:01\n"  # DHCPv6: not ours
    )
    result = cli("watch-leases", "--dnsmasq", str(leases), "--once", "--json")
    assert result.code == 0 and json.loads(result.out) == {"observed": 2, "bad_lines": 2}
    assert f"{leases} line 2 skipped: bad IPv4 address '10.0.0.300'" in result.err
    assert f"{leases} line 3 skipped: 1 fields, expected 5" in result.err


def test_one_bad_file_never_stops_the_watcher_for_the_others(store, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Before: the bad ISC time killed the thread; the dnsmasq file was never imported."""
    isc, dnsmasq = tmp_path / "dhcpd.leases", tmp_path / "dnsmasq.leases"
    isc.write_text(ISC_BAD_TIME_AND_UNCLOSED)
    dnsmasq.write_text(dnsmasq_line(1))
    service = LeaseWatchService(store, [("isc", str(isc)), ("dnsmasq", str(dnsmasq))])
    service.start()
    try:
        assert wait_for(lambda: store.host_get("52:54:00:0d:00:01")), "dnsmasq file not imported"
        assert store.host_get("52:54:00:0e:00:07") is not None
        with dnsmasq.open("a") as fh:  # a later change is still followed
            fh.write(dnsmasq_line(2))
        assert wait_for(lambda: store.host_get("52:54:00:0d:00:02")), "watcher stopped"
        assert service._thread is not None and service._thread.is_alive()
    finally:
        service.stop()


def test_metrics_count_leases_and_bad_lines_per_file(store, settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    isc, dnsmasq = tmp_path / "dhcpd.leases", tmp_path / "dnsmasq.leases"
    isc.write_text(ISC_BAD_TIME_AND_UNCLOSED)
    dnsmasq.write_text(dnsmasq_line(1) + dnsmasq_line(2))
    specs = [("isc", str(isc)), ("dnsmasq", str(dnsmasq))]
    service = LeaseWatchService(store, specs, status_file=status.path_in(settings.state_dir))
    service.scan_all()
    shown = create_app(settings).test_client().get("/metrics").get_data(as_text=True)
    assert f'pxehook_lease_file_bad_lines{{kind="isc",path="{isc}"}} 2' in shown
    assert f'pxehook_lease_file_leases{{kind="isc",path="{isc}"}} 2' in shown
    assert f'pxehook_lease_file_bad_lines{{kind="dnsmasq",path="{dnsmasq}"}} 0' in shown
    assert f'pxehook_lease_file_leases{{kind="dnsmasq",path="{dnsmasq}"}} 2' in shown


def test_a_truncated_read_is_not_a_deletion_but_a_real_one_is(store, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A file caught mid-rewrite (dnsmasq truncates, then writes) lacks leases: they are
    deleted only when two quiet reads ``confirm`` seconds apart both lack them.
    Before: every lease after the cut got a dhcp.del, and a dhcp.lease on the next read."""
    path = tmp_path / "dnsmasq.leases"
    lines = [dnsmasq_line(i) for i in range(1, 41)]
    full = "".join(lines)
    path.write_text(full)
    watched = LeaseFile(store, "dnsmasq", str(path))
    watched.quiet, watched.confirm = 0.0, 0.5  # (a quiet file: unchanged for 0 s)
    assert watched.scan() == {"observed": 40}
    path.write_text("".join(lines[:10]))  # a prefix, as a reader sees it during the rewrite
    assert watched.scan() == {}  # nothing deleted yet: 30 deletions pending
    path.write_text("".join(lines[:20]) + lines[20][:15])  # cut mid-line: look again soon
    assert watched.scan() == {} and watched.due is not None
    path.write_text(full)  # the rewrite finished
    time.sleep(0.6)
    assert watched.scan() == {} and watched.status()["pending_deletions"] == 0
    for i in (1, 20, 40):
        assert dhcp_events(store, f"52:54:00:0d:00:{i:02x}") == []
    path.write_text(full.replace(dnsmasq_line(40), ""))  # the lease really went away
    assert watched.scan() == {}
    assert dhcp_events(store, "52:54:00:0d:00:28") == []
    time.sleep(0.6)
    assert watched.scan() == {"event": 1}
    assert dhcp_events(store, "52:54:00:0d:00:28") == ["dhcp.del"]


def test_a_file_still_being_written_waits_until_it_is_quiet(store, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "dnsmasq.leases"
    lines = [dnsmasq_line(i) for i in range(1, 11)]
    path.write_text("".join(lines))
    watched = LeaseFile(store, "dnsmasq", str(path))
    watched.quiet, watched.confirm = 0.5, 0.0
    watched.scan()
    path.write_text("".join(lines[:5]))  # just written: maybe not finished
    assert watched.scan() == {} and watched.status()["pending_deletions"] == 0
    assert watched.due is not None and watched.due > time.time()
    time.sleep(0.6)
    assert watched.scan() == {"event": 5}  # quiet, and confirm=0: deleted at once
