"""The boot network cannot move a machine: attacks from a client namespace against a real
``pxehook serve`` (listener, gunicorn, lease watcher) beside a site DHCP server it does not
run ("can't touch DHCP" / proxy mode), all inside network namespaces the test creates.

    ns dhcp    10.231.N.1   the site's DHCP server (plain dnsmasq, no pxehook hook)
    ns pxe     10.231.N.2   pxehook serve: listener on eth0, dhcp_trusted_servers=.1,
                            lease_files=dnsmasq:<a copy of the site's lease file, made
                            when a test says so, as a site exports it (rsync, NFS)>
    ns evil    10.231.N.66  the attacker: forged DHCP packets, curl
    ns <name>  (leased)     machines: each its own namespace whose eth0 has the machine's MAC

Forged packets come from ``tests/harness/dhcp_forge.py``, clients from ``dhcp_probe.py``;
both refuse to run outside a namespace or to use addresses outside the lab's subnets.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from pxehook.config import load_settings
from pxehook.context import Context
from pxehook.mac import mac_pxelinux
from pxehook.models import IpSource, State
from pxehook.store import Store
from pxehook.templating import packaged_templates_dir
from tests.conftest import REPO, STRICT, require_tool
from tests.harness import netns
from tests.lifecycle_fixtures import PROFILES

pytestmark = [pytest.mark.netns, pytest.mark.daemon]

PROBE = str(REPO / "tests" / "harness" / "dhcp_probe.py")
FORGE = str(REPO / "tests" / "harness" / "dhcp_forge.py")
PORT = 8070
INSTALLER_KERNEL = b"http://files/linux"  # the 'installer' profile's kernel (PROFILES)
ZERO_UUID = "00000000-0000-0000-0000-000000000000"


class Site:
    """The lab, the server's settings and helpers to act as its machines and attacker."""

    def __init__(self, lab: netns.NetLab, work: Path) -> None:
        self.lab, self.work = lab, work
        self.dhcp_ip = lab.add_host("dhcp", 1)
        self.pxe_ip = lab.add_host("pxe", 2)
        self.evil_ip = lab.add_host("evil", 66)
        self.leases = work / "site.leases"
        self.exported = work / "exported.leases"
        self.env = {
            **os.environ,
            "PXEHOOK_DATABASE": f"sqlite:///{work}/pxehook.db",
            "PXEHOOK_INVENTORY": str(work / "inventory.yaml"),
            "PXEHOOK_STATE_DIR": str(work / "state"),
            "PXEHOOK_SPOOL_DIR": str(work / "spool"),
            "PXEHOOK_TFTP_ROOT": str(work / "tftp"),
            "PXEHOOK_SERVER_IP": self.pxe_ip,
            "PXEHOOK_BIND": self.pxe_ip,
            "PXEHOOK_PORT": str(PORT),
            "PXEHOOK_WORKERS": "1",
            "PXEHOOK_HTTP_BASE_URL": f"http://{self.pxe_ip}:{PORT}",
            "PXEHOOK_LISTEN_INTERFACE": "eth0",
            "PXEHOOK_DHCP_TRUSTED_SERVERS": self.dhcp_ip,
            "PXEHOOK_LEASE_FILES": f"dnsmasq:{self.exported}",
        }
        self.env.pop("PXEHOOK_CONFIG", None)
        self._ctx: Context | None = None

    @property
    def url(self) -> str:
        return f"http://{self.pxe_ip}:{PORT}"

    def start(self, pxehook_bin: str) -> None:
        inventory = yaml.safe_load(
            (Path(packaged_templates_dir()) / "samples" / "inventory.yaml").read_text()
        )
        profiles = inventory.setdefault("profiles", {})
        for p in PROFILES:
            body = {k: v for k, v in p.as_dict().items() if k != "name" and v not in ({}, "", [])}
            profiles.setdefault(p.name, body)
        (self.work / "inventory.yaml").write_text(yaml.safe_dump(inventory, sort_keys=False))
        conf = self.work / "site-dnsmasq.conf"  # somebody else's DHCP: no pxehook hook
        conf.write_text(
            "port=0\nno-resolv\nno-hosts\nuser=root\ngroup=root\nno-ping\ninterface=eth0\n"
            f"bind-interfaces\ndhcp-authoritative\ndhcp-range={self.lab.net}.100,"
            f"{self.lab.net}.150,1h\ndhcp-leasefile={self.leases}\n"
        )
        self.lab.spawn("dhcp", "site-dhcp", "dnsmasq", "-k", "-C", str(conf))
        self.lab.wait_udp("dhcp", 67)
        self.cli(pxehook_bin, "db", "init")
        self.serve = self.lab.spawn("pxe", "serve", pxehook_bin, "serve", env=self.env)
        deadline = time.monotonic() + 60
        while self.http("pxe", "GET", "/healthz")[0] != 200:
            assert self.serve.alive(), self.serve.log_text()
            assert time.monotonic() < deadline, self.serve.log_text()
            time.sleep(0.3)
        self.bin = pxehook_bin

    def store(self) -> Store:
        if self._ctx is None:
            self._ctx = Context(load_settings(env=self.env))
        return self._ctx.store()

    def close(self) -> None:
        if self._ctx is not None:
            self._ctx.close()

    def cli(self, pxehook_bin: str, *args: str) -> str:
        done = subprocess.run(
            [pxehook_bin, *args], env=self.env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    # machines --------------------------------------------------------------------------
    def machine(self, name: str, mac: str) -> str:
        """A namespace whose eth0 has ``mac`` (and no address until it leases one)."""
        self.lab.add_host(name, 0, address=False)
        self.lab.exec(self.lab.ns(name), "ip", "link", "set", "eth0", "address", mac)
        return name

    def dhcp(self, name: str, mac: str, *args: str) -> str:
        """A full DISCOVER/OFFER/REQUEST/ACK from machine ``name``; returns the leased IP."""
        out = self.lab.exec(
            self.lab.ns(name), sys.executable, PROBE, "--iface", "eth0", "--request",
            "--offers", "1", "--mac", mac, *args,
        )  # fmt: skip
        ack = json.loads(out.stdout)["replies"][-1]
        assert ack["type"] == "DHCPACK", out.stdout
        return ack["yiaddr"]

    def take(self, name: str, ip: str) -> None:
        """Machine ``name`` configures its leased ``ip`` (as its OS would)."""
        self.lab.exec(self.lab.ns(name), "ip", "addr", "add", f"{ip}/24", "dev", "eth0")

    def forge(self, mac: str, yiaddr: str, server_id: str, src: str, *extra: str) -> None:
        self.lab.exec(
            self.lab.ns("evil"), sys.executable, FORGE, "--iface", "eth0", "--mac", mac,
            "--yiaddr", yiaddr, "--server-id", server_id, "--src", src, *extra,
        )  # fmt: skip

    def http(
        self, name: str, method: str, path: str, data: str | None = None, token: str = ""
    ) -> tuple[int, bytes]:
        """``curl`` from machine ``name``'s namespace; returns (status, body)."""
        argv = ["curl", "-sS", "-o", "-", "-w", "\n%{http_code}", "-X", method]
        if data is not None:
            argv += ["-d", data]
        if token:
            argv += ["-H", f"Authorization: Bearer {token}"]
        done = subprocess.run(
            ["ip", "netns", "exec", self.lab.ns(name), *argv, self.url + path],
            capture_output=True, timeout=30,
        )  # fmt: skip
        if done.returncode != 0:
            return 0, done.stderr
        body, _, status = done.stdout.rpartition(b"\n")
        return int(status), body

    def wait_host(self, mac: str, what: str, check: Any, timeout: float = 15.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            host = self.store().host_get(mac)
            if host is not None and check(host):
                return host
            time.sleep(0.2)
        raise AssertionError(f"{mac}: {what} not reached; serve log:\n{self.serve.log_text()}")

    def deploying(self, mac: str) -> None:
        """The operator deploys the 'installer' profile on the host (the real CLI)."""
        self.cli(self.bin, "host", "deploy", mac, "--profile", "installer")
        assert self.store().host_get(mac).state == State.DEPLOYING


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    reason = netns.available()
    if reason:
        if STRICT:
            pytest.fail(reason)
        pytest.skip(reason)
    require_tool("dnsmasq", "curl")
    work = tmp_path_factory.mktemp("trust")
    lab = netns.NetLab(prefix=f"tb{os.getpid() % 10000}", subnet_index=7, workdir=work / "lab")
    lab.up()
    site = Site(lab, work)
    try:
        site.start(str(Path(sys.executable).parent / "pxehook"))
        yield site
    finally:
        site.close()
        lab.close()


def _events(site: Site, mac: str) -> list[Any]:
    host = site.store().host_get(mac)
    return site.store().events(host.id)


def test_forged_dhcpack_moves_no_ip_and_grants_nothing(site: Site) -> None:
    """A forged ACK (any source, any server id, even the trusted server's spoofed address
    without the client's REQUEST) changes no recorded IP; the forger cannot then deploy
    'local' for the host from that address, nor is it served the host's config by IP."""
    mac = "52:54:00:7b:00:01"
    site.machine("victim", mac)
    leased = site.dhcp("victim", mac, "--arch", "7")
    host = site.wait_host(mac, "trusted IP", lambda h: h.trusted_ip == leased)
    assert host.ip_source == IpSource.LISTENER
    site.deploying(mac)

    evil, server = site.evil_ip, site.dhcp_ip
    site.forge(mac, evil, evil, evil)  # its own address as server
    site.forge(mac, evil, server, evil)  # the trusted server's id, from its own address
    site.forge(mac, evil, server, server)  # spoofed source too, but answering no REQUEST
    site.wait_host(mac, "ignored ACKs logged", lambda _: "DHCPACK giving" in site.serve.log_text())
    time.sleep(1.0)  # the listener's writer thread had time to apply anything it accepted
    after = site.store().host_get(mac)
    assert (after.ip, after.ip_source) == (leased, IpSource.LISTENER)
    moves = [e.data["to"] for e in _events(site, mac) if e.kind.startswith("ip.")]
    assert moves == [leased]  # the real lease's event only

    body = json.dumps({"hosts": [{"macAddress": mac}]})
    status, answer = site.http("evil", "PUT", "/configurations/local/deploy", body)
    assert status == 401 and b"token" in answer
    assert site.store().host_get(mac).state == State.DEPLOYING

    for path in ("/pxelinux.cfg/default", "/grub/grub.cfg"):
        status, config = site.http("evil", "GET", path)
        assert INSTALLER_KERNEL not in config and mac not in config.decode(), (path, config)
    assert not [e for e in _events(site, mac) if e.kind.startswith("boot.")]


def test_listener_only_site_the_host_deploys_local_from_its_trusted_lease(site: Site) -> None:
    """Proxy / can't-touch-DHCP: the trusted server's broadcast ACK to the REQUEST the
    listener saw makes the lease trusted; the seed's unauthenticated PXE Pilot call from
    that address marks the host installed, the same call from elsewhere does not."""
    mac = "52:54:00:7b:00:02"
    site.machine("seed", mac)
    leased = site.dhcp("seed", mac, "--arch", "0")
    site.wait_host(mac, "trusted IP", lambda h: h.trusted_ip == leased)
    site.deploying(mac)
    body = json.dumps({"hosts": [{"macAddress": mac}]})
    assert site.http("evil", "PUT", "/configurations/local/deploy", body)[0] == 401
    site.take("seed", leased)
    status, answer = site.http("seed", "PUT", "/configurations/local/deploy", body)
    assert (status, answer) == (200, b"")
    assert site.store().host_get(mac).state == State.DEPLOYED
    assert _events(site, mac)[-1].source == f"pxepilot:self:{leased}"


def test_unicast_ack_unseen_the_site_lease_file_vouches(site: Site) -> None:
    """Proxy mode where the site server's ACK is unicast and never reaches the listener:
    the host's IP is unknown (the self-call is refused) until the site server's own lease
    file, watched by pxehook, vouches for it."""
    mac = "52:54:00:7b:00:03"
    site.machine("quiet", mac)
    leased = site.dhcp("quiet", mac, "--arch", "7", "--unicast")
    time.sleep(1.0)
    assert site.store().host_get(mac).trusted_ip == ""  # the listener saw no ACK
    body = json.dumps({"hosts": [{"macAddress": mac}]})
    site.take("quiet", leased)
    assert site.http("quiet", "PUT", "/configurations/local/deploy", body)[0] == 401
    shutil.copyfile(site.leases, site.exported)  # the site exports its lease file
    host = site.wait_host(mac, "lease-file IP", lambda h: h.trusted_ip == leased, timeout=20)
    assert host.ip_source == IpSource.LEASE_FILE  # not the listener: it saw no ACK
    site.deploying(mac)
    assert site.http("quiet", "PUT", "/configurations/local/deploy", body)[0] == 200
    assert site.store().host_get(mac).state == State.DEPLOYED


def test_placeholder_and_cloned_uuids_never_serve_another_machines_config(site: Site) -> None:
    """Two machines send the all-zero SMBIOS UUID, two cloned VMs the same real UUID:
    ``pxelinux.cfg/<uuid>`` from the second machine of each pair is a 404 (PXELINUX then
    asks by MAC), never the first machine's installer."""
    clone_uuid = "6f1c3b9e-2d4a-4f7e-9b1a-0c5d8e7f6a42"
    first, second, zero_a, zero_b = (f"52:54:00:7b:01:0{i}" for i in range(1, 5))
    ips = {}
    for name, mac, uuid in (
        ("vm1", first, clone_uuid), ("vm2", second, clone_uuid),
        ("za", zero_a, ZERO_UUID), ("zb", zero_b, ZERO_UUID),
    ):  # fmt: skip
        site.machine(name, mac)
        ips[name] = site.dhcp(name, mac, "--arch", "0", "--uuid", uuid)
        site.wait_host(mac, "trusted IP", lambda h, ip=ips[name]: h.trusted_ip == ip)
        site.take(name, ips[name])
    site.deploying(first)
    site.deploying(zero_a)
    for name, uuid in (("vm2", clone_uuid), ("zb", ZERO_UUID), ("za", ZERO_UUID)):
        status, config = site.http(name, "GET", f"/pxelinux.cfg/{uuid}")
        assert status == 404 and INSTALLER_KERNEL not in config, (name, config)
    status, config = site.http("vm1", "GET", f"/pxelinux.cfg/{clone_uuid}")
    assert status == 200 and INSTALLER_KERNEL in config  # the owner still gets its own
    status, config = site.http("vm2", "GET", f"/pxelinux.cfg/{mac_pxelinux(second)}")
    assert status == 200 and INSTALLER_KERNEL not in config  # by MAC: its own (new) config
    store = site.store()
    assert store.host_get(first).uuid == clone_uuid and store.host_get(second).uuid == ""
    assert store.host_get(zero_a).uuid == store.host_get(zero_b).uuid == ""


def test_dhcp_hostname_of_another_machine_is_no_name(site: Site) -> None:
    """A client that calls itself 'web1' in DHCP gets no name; the admin's PXE Pilot
    deploy by name reinstalls the machine the operator named web1, not the impostor."""
    real, impostor = "52:54:00:7b:02:01", "52:54:00:7b:02:02"
    site.machine("web1", real)
    site.dhcp("web1", real, "--arch", "7")
    site.wait_host(real, "seen", lambda h: h.trusted_ip != "")
    site.cli(site.bin, "host", "set", real, "--name", "web1", "--profile", "installer")
    site.machine("imp", impostor)
    site.dhcp("imp", impostor, "--arch", "7", "--hostname", "web1")
    host = site.wait_host(impostor, "dhcp hostname", lambda h: h.dhcp_hostname == "web1")
    token = site.cli(site.bin, "token", "create", "pilot", "--scope", "admin").strip()
    body = json.dumps({"hosts": [{"name": "web1"}]})
    status, answer = site.http("evil", "PUT", "/v1/configurations/installer/deploy", body, token)
    assert status == 200, answer
    assert site.store().host_get(impostor).state == State.NEW
    assert site.store().host_get(real).state == State.DEPLOYING
    assert site.store().host_get(impostor).name == host.name == ""
    shown = site.cli(site.bin, "host", "show", "web1", "--json")
    assert json.loads(shown)["mac"] == real


def test_tools_refuse_the_root_namespace() -> None:
    """The forger (like the probe) never sends a packet from the machine's own network."""
    if shutil.which("ip") is None:
        pytest.skip("iproute2 missing")
    done = subprocess.run(
        [sys.executable, FORGE, "--iface", "lo", "--mac", "52:54:00:00:00:01",
         "--yiaddr", "10.231.1.5", "--server-id", "10.231.1.1", "--src", "10.231.1.1"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert done.returncode == 2 and "refusing" in done.stderr
    outside = subprocess.run(
        [sys.executable, FORGE, "--iface", "lo", "--mac", "52:54:00:00:00:01",
         "--yiaddr", "192.0.2.5", "--server-id", "10.231.1.1", "--src", "10.231.1.1"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert outside.returncode != 0 and "refusing 192.0.2.5" in outside.stderr
