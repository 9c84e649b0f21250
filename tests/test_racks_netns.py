"""A machine moves between racks on a real boot network: each rack in its own network
namespace with its own ``pxehook serve``, rack A with its own dnsmasq and pxehook's hook,
both on one PostgreSQL (reached over its Unix socket, which no namespace hides).

    ns ra   10.231.N.2   rack A: dnsmasq (full DHCP, dhcp-script = pxehook's C hook) and
                         pxehook serve (rack_name rack-a)
    ns rb   10.231.N.3   rack B: pxehook serve (rack_name rack-b)
    ns m    (leased)     the machine: its own namespace whose eth0 has its MAC

The machine leases at A (A's hook records its trusted IP), fetches its installer at A,
calls back through B from its leased address, then boots local at B and at A; the
timeline names the rack of each step (docs/racks.md)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pxehook import tokens
from pxehook.lifecycle.table import transition
from pxehook.models import State
from pxehook.store import open_store
from tests.conftest import REPO, SAMPLE_INVENTORY, require_tool
from tests.harness import netns
from tests.harness.capture import build_hooks, dnsmasq_conf
from tests.harness.racks import wait_until

pytestmark = [pytest.mark.netns, pytest.mark.daemon]

PROBE = str(REPO / "tests" / "harness" / "dhcp_probe.py")
PORT = 8070
MAC = "52:54:00:12:34:01"  # node01 of the sample inventory (profile debian-installer)


class NsRack:
    """``pxehook serve`` inside namespace ``host`` of the lab."""

    def __init__(self, lab: netns.NetLab, host: str, name: str, database: str, work: Path,
                 pxehook_bin: str) -> None:  # fmt: skip
        self.lab, self.host, self.name, self.work = lab, host, name, work
        self.ip = lab.ip_of(host)
        self.url = f"http://{self.ip}:{PORT}"
        for sub in ("state", "spool", "tftp", "files"):
            (work / sub).mkdir(parents=True, exist_ok=True)
        (work / "inventory.yaml").write_bytes(SAMPLE_INVENTORY.read_bytes())
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("PXEHOOK_")}
        self.env.update({
            "PXEHOOK_DATABASE": database, "PXEHOOK_RACK_NAME": name,
            "PXEHOOK_INVENTORY": str(work / "inventory.yaml"),
            "PXEHOOK_STATE_DIR": str(work / "state"), "PXEHOOK_SPOOL_DIR": str(work / "spool"),
            "PXEHOOK_TFTP_ROOT": str(work / "tftp"), "PXEHOOK_FILES_DIR": str(work / "files"),
            "PXEHOOK_SERVER_IP": self.ip, "PXEHOOK_BIND": self.ip, "PXEHOOK_PORT": str(PORT),
            "PXEHOOK_WORKERS": "1", "PXEHOOK_HTTP_BASE_URL": self.url,
        })  # fmt: skip
        self.serve = lab.spawn(host, f"serve-{name}", pxehook_bin, "serve", env=self.env)
        wait_until(lambda: self.get(self.host, "/healthz")[0] == 200 or self._dead(), 60,
                   f"{name} to answer")  # fmt: skip
        assert self.serve.alive(), self.serve.log_text()

    def _dead(self) -> bool:
        return not self.serve.alive()

    def get(self, client: str, path: str, *extra: str) -> tuple[int, bytes]:
        """``curl`` from ``client``'s namespace to this rack; (status, body)."""
        argv = ["curl", "-sS", "--max-time", "10", "-o", "-", "-w", "\n%{http_code}", *extra]
        done = subprocess.run(["ip", "netns", "exec", self.lab.ns(client), *argv,
                               self.url + path], capture_output=True, timeout=30)  # fmt: skip
        if done.returncode != 0:
            return 0, done.stderr
        body, _, status = done.stdout.rpartition(b"\n")
        return int(status), body


@pytest.fixture
def lab(netlab: netns.NetLab) -> Iterator[netns.NetLab]:
    require_tool("dnsmasq", "curl", "cc")
    yield netlab


def test_a_machine_moves_between_racks_on_a_real_boot_network(
    lab: netns.NetLab,
    tmp_path: Path,
    pg_server,
    pxehook_bin: str,  # type: ignore[no-untyped-def]
) -> None:
    database = pg_server.new_database()
    lab.add_host("ra", 2)
    lab.add_host("rb", 3)
    a = NsRack(lab, "ra", "rack-a", database, tmp_path / "a", pxehook_bin)
    b = NsRack(lab, "rb", "rack-b", database, tmp_path / "b", pxehook_bin)
    # rack A's DHCP server, its hook writing to rack A's spool
    hook = build_hooks(tmp_path / "hook", a.work / "spool" / "hook.spool")[0]
    conf = dnsmasq_conf(lab.net, tmp_path / "dnsmasq", hook)
    lab.spawn("ra", "dnsmasq", "dnsmasq", "-k", "-C", str(conf))
    lab.wait_udp("ra", 67)
    store = open_store(database, rack="operator")
    try:
        wait_until(lambda: store.host_get(MAC) is not None, 20, "the leader's inventory apply")
        host = store.set_state(store.host_get(MAC).id, State.READY, source="cli")
        transition(store, host, "deploy", source="cli")
        # the machine leases at rack A
        lab.add_host("m", 0, address=False)
        lab.exec(lab.ns("m"), "ip", "link", "set", "eth0", "address", MAC)
        out = lab.exec(lab.ns("m"), sys.executable, PROBE, "--iface", "eth0", "--request",
                       "--offers", "1", "--mac", MAC, "--arch", "7")  # fmt: skip
        ack = json.loads(out.stdout)["replies"][-1]
        assert ack["type"] == "DHCPACK", out.stdout
        leased = ack["yiaddr"]
        wait_until(lambda: store.host_get(MAC).trusted_ip == leased, 15, "rack A's hook ingest")
        lab.exec(lab.ns("m"), "ip", "addr", "add", f"{leased}/24", "dev", "eth0")
        # its installer at rack A, its callback through rack B
        status, installer = a.get("m", f"/ipxe/{MAC}?buildarch=x86_64&platform=efi")
        assert status == 200, installer
        token = re.search(rb"pxehook\.token=(\S+)", installer)
        assert token is not None, installer
        path = f"/api/v1/hosts/{MAC}/deployed?token={token.group(1).decode()}"
        status, body = b.get("m", path, "-X", "POST")
        assert status == 200 and b'"deployed"' in body, body
        # the next boot is local at either rack
        for rack in (b, a):
            status, answer = rack.get("m", f"/ipxe/{MAC}?buildarch=x86_64&platform=efi")
            assert status == 200 and b"pxehook.token" not in answer and b"kernel" not in answer
        time.sleep(0.5)  # the last boot's timeline row is written in a batch
        # the timeline, as the API shows it at either rack
        auth = f"Authorization: Bearer {tokens.create(store, 'reader', 'read')}"
        status, body = b.get("ra", f"/api/v1/hosts/{MAC}/events", "-H", auth)
        assert status == 200, body
        events = json.loads(body)
        seen = [(e["kind"], e["rack"]) for e in events]
        dhcp = [e["rack"] for e in events if e["kind"].startswith(("ip.", "dhcp."))]
        assert dhcp and set(dhcp) == {"rack-a"}, seen
        boots = [rack for kind, rack in seen if kind == "boot.config"]
        assert boots[:1] == ["rack-a"] and "rack-b" in boots, seen
        assert ("state.changed", "rack-b") in seen, seen
    finally:
        store.close()
        for rack in (a, b):
            lab.stop(rack.serve, timeout=15)
