"""A network-boot site in namespaces: dnsmasq + ``pxehook serve`` (+ a plain DHCP server).

::

    ns <p>-srv  eth0 10.231.N.1  dnsmasq (full: DHCP+TFTP; proxy: proxy-DHCP+TFTP)
                                 pxehook serve (gunicorn) :8070
    ns <p>-dhcp eth0 10.231.N.2  proxy mode only: a plain dnsmasq, addresses only ("the site")
    ns <p>-sw   bridge br0 + one tap per VM; QEMU runs here

dnsmasq is configured by what ``pxehook gen dnsmasq`` writes plus the minimal site lines a
user would have (interface, range, logging, TFTP root, an IPv6 RA so iPXE does not wait
~19 s for IPv6 autoconf). Everything is started through ``NetLab.spawn`` (tracked by PID,
killed by ``NetLab.close``) and every log is kept under the site's work directory.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pxehook import arch as archtable

from .netns import NetLab, Proc

REPO = Path(__file__).resolve().parents[2]
PORT = 8070
#: Where Debian ships the x86 iPXE loaders pxehook hands out (the ``ipxe`` package).
IPXE_DIR = Path("/usr/lib/ipxe")


@dataclass
class PxeSite:
    lab: NetLab
    #: full | proxy | listen ("can't touch DHCP": proxy + listener, the site's lease file
    #: unread: the listener alone vouches for a host's IP)
    dhcp_mode: str
    workdir: Path
    procs: dict[str, Proc] = field(default_factory=dict)
    srv_ip: str = ""
    dhcp_ip: str = ""
    #: Tests that break a link on purpose rewrite the generated drop-in with this.
    dropin_filter: Callable[[str], str] | None = None
    #: full mode only: the site's DHCP server (dnsmasq, or ISC dhcpd / Kea running the file
    #: ``pxehook gen isc`` / ``gen kea`` writes)
    dhcp_server: str = "dnsmasq"
    #: The clients' segment when they sit behind a DHCP relay (``dhcrelay`` in a router
    #: namespace between the two labs); None: the VMs share the server's segment.
    clients: NetLab | None = None
    #: Extra PXEHOOK_* settings of this site (e.g. ``PXEHOOK_BOOT_MODES``).
    settings: dict[str, str] = field(default_factory=dict)
    #: proxy/listen: the boot file the site's own DHCP server hands out with next-server =
    #: pxehook (docs/dhcp/dnsmasq.md, set-up 3; "" = it names no boot server)
    site_next_server: str = ""

    @property
    def vm_lab(self) -> NetLab:
        """The lab whose bridge the VMs are plugged into."""
        return self.clients or self.lab

    @property
    def mode_label(self) -> str:
        """The DHCP set-up as the hardware table names it."""
        server = "" if self.dhcp_server == "dnsmasq" else self.dhcp_server
        relay = "relay" if self.clients else ""
        nxt = "site next-server" if self.site_next_server else ""
        extra = [s for s in (server, relay, nxt) if s]
        return f"{self.dhcp_mode} ({', '.join(extra)})" if extra else self.dhcp_mode

    @property
    def proxied(self) -> bool:
        """The site's own DHCP server hands out addresses; pxehook's dnsmasq is ProxyDHCP."""
        return self.dhcp_mode in ("proxy", "listen")

    # --- paths ---------------------------------------------------------------------------
    @property
    def tftp_root(self) -> Path:
        return self.workdir / "tftp"

    @property
    def files_dir(self) -> Path:
        return self.workdir / "files"

    @property
    def hook_path(self) -> Path:
        return self.workdir / "pxehook-hook"

    @property
    def base_url(self) -> str:
        return f"http://{self.srv_ip}:{PORT}"

    @property
    def env(self) -> dict[str, str]:
        """PXEHOOK_* settings of this site (for ``pxehook`` commands and the server)."""
        return {
            "PXEHOOK_DATABASE": f"sqlite:///{self.workdir}/pxehook.db",
            "PXEHOOK_INVENTORY": str(self.workdir / "inventory.yaml"),
            "PXEHOOK_STATE_DIR": str(self.workdir / "state"),
            "PXEHOOK_SPOOL_DIR": str(self.workdir / "spool"),
            "PXEHOOK_TFTP_ROOT": str(self.tftp_root),
            "PXEHOOK_SERVER_IP": self.srv_ip,
            "PXEHOOK_BIND": self.srv_ip,
            "PXEHOOK_PORT": str(PORT),
            "PXEHOOK_WORKERS": "2",
            "PXEHOOK_DHCP_INTERFACE": "eth0",
            "PXEHOOK_DHCP_SUBNETS": ",".join(
                dict.fromkeys(f"{x.net}.0/24" for x in (self.lab, self.vm_lab))
            ),
            "PXEHOOK_DHCP_RANGE": f"{self.vm_lab.net}.100,{self.vm_lab.net}.199",
            # behind the relay the clients' gateway is the relay (docs/dhcp/dnsmasq.md)
            "PXEHOOK_DHCP_ROUTERS": f"{self.vm_lab.net}.0/24={self.vm_lab.net}.1"
            if self.clients
            else "",
            "PXEHOOK_HTTP_BASE_URL": self.base_url,
            "PXEHOOK_HOOK_PATH": str(self.hook_path),
            "PXEHOOK_FILES_DIR": str(self.files_dir),
            "PXEHOOK_TFTP_SERVE": "true",
            "PXEHOOK_TFTP_BIND": self.srv_ip,
            # Kea hands its hook no option 93: pxehook's listener reads it (docs/dhcp/kea.md)
            "PXEHOOK_LISTEN_INTERFACE": "eth0" if self.proxied or self.dhcp_server == "kea" else "",
            "PXEHOOK_KEA_LEASE_FILE": str(self.workdir / "kea-leases4.csv"),
            "PXEHOOK_KEA_CONTROL_SOCKET": str(self.workdir / "kea.sock"),
            # proxy mode: the site's server ACKs the leases the listener may learn (OVMF asks
            # for broadcast ACKs) and its lease file gives the rest (iPXE's ACKs are unicast,
            # never seen here): the two trusted sources of a host's IP (docs/api.md)
            "PXEHOOK_DHCP_TRUSTED_SERVERS": self.dhcp_ip if self.proxied else "",
            "PXEHOOK_LEASE_FILES": (
                f"dnsmasq:{self.workdir / 'dnsmasq-plain.leases'}"
                if self.dhcp_mode == "proxy"
                else ""
            ),
            # listen: only the listener could vouch for a host's IP, and it sees no ACK of the
            # BIOS iPXE ROM (unicast; observed: callback.refused "not known from a trusted
            # source"), so the callback is trusted by its token alone (docs/hardware.md)
            "PXEHOOK_CALLBACK_REQUIRE_HOST_IP": "false" if self.dhcp_mode == "listen" else "true",
            **self.settings,
        }

    def log_path(self, name: str) -> Path:
        return self.workdir / f"{name}.log"

    def log_text(self, name: str) -> str:
        """A daemon's log file, or the output of a process this site started (pxehook)."""
        if name in self.procs and not self.log_path(name).exists():
            return self.procs[name].log_text()
        try:
            return self.log_path(name).read_text(errors="replace")
        except FileNotFoundError:
            return ""

    # --- set-up ----------------------------------------------------------------------------
    def up(self, loaders: dict[str, Path], files: dict[str, Path], inventory: str) -> PxeSite:
        """Addresses, TFTP tree, files, inventory, dnsmasq(s), pxehook; waits until served."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.srv_ip = self.lab.add_host("srv", 1)
        ra_host = "srv"
        if self.proxied:
            self.dhcp_ip = self.lab.add_host("dhcp", 2)
            ra_host = "dhcp"
        self.lab.exec(
            self.lab.ns(ra_host), "ip", "-6", "addr", "add", "fd31::1/64", "dev", "eth0", "nodad"
        )
        for name, src in loaders.items():
            dest = self.tftp_root / name
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dest)
        self.files_dir.mkdir(parents=True, exist_ok=True)
        for name, src in files.items():
            shutil.copyfile(src, self.files_dir / name)
        (self.workdir / "inventory.yaml").write_text(inventory)
        spool = Path(self.env["PXEHOOK_SPOOL_DIR"]) / "hook.spool"
        self.cli("hook", "build", "--out", str(self.hook_path), "--spool", str(spool))
        self.cli("db", "init")
        self.cli("inventory", "sync")
        self._start_server()
        if self.clients is not None:
            self._start_relay(self.clients)
        if self.dhcp_server in ("isc", "kea"):
            self._start_isc_or_kea()
        else:
            self._start_dnsmasq()
        self.lab.wait_udp("srv", 67 if self.dhcp_mode == "full" else 4011, timeout=10)
        self._wait_http()
        self.lab.wait_udp("srv", 69, timeout=10)  # pxehook's TFTP server (tftp_serve)
        return self

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return pxehook_cli(self.env, *args, check=check)

    def _start_server(self) -> None:
        """``pxehook serve``: gunicorn + TFTP server, hook-spool ingester, listener (proxy
        mode), inventory watcher, life-cycle sweeper — as a user runs it."""
        env = {**os.environ, **self.env}
        env["GUNICORN_CMD_ARGS"] = (
            # %(D)s: microseconds gunicorn spent on the request (pxehook's share of a boot)
            "--access-logfile - --access-logformat '%(h)s \"%(r)s\" %(s)s %(b)s %(D)s'"
        )
        env["PXEHOOK_TFTP_ACCESS_LOG"] = "-"  # time to each TFTP answer's first packet
        self.procs["pxehook"] = self.lab.spawn("srv", "pxehook", pxehook_bin(), "serve", env=env)

    def _dnsmasq_conf(self) -> str:
        """Minimal site lines (logging, no DNS, RA) + the generated drop-in."""
        site = [
            "# site lines (what the admin has anyway)",
            "port=0",
            "no-resolv",
            "no-hosts",
            "user=root",
            "group=root",
            f"log-facility={self.log_path('dnsmasq')}",
            "log-dhcp",
            "no-ping",
            "bind-interfaces",
            f"dhcp-leasefile={self.workdir / 'dnsmasq.leases'}",
        ]
        if self.dhcp_mode == "full":
            site += ["dhcp-authoritative", "enable-ra", "dhcp-range=fd31::,ra-only,64,1h"]
        dropin = self._dropin()
        if self.dropin_filter is not None:
            dropin = self.dropin_filter(dropin)
        return "\n".join(site) + "\n" + dropin

    def _dropin(self) -> str:
        return self.cli("gen", "dnsmasq", "--mode", "proxy" if self.proxied else "full").stdout

    def _start_relay(self, clients: NetLab) -> None:
        """A router namespace between the labs: ``dhcrelay`` (giaddr = its client-side
        address), IPv4 forwarding, and IPv6 router advertisements on the client segment."""
        self.lab.add_host("relay", 254)
        relay = self.lab.ns("relay")
        clients.plug(relay, 1, "eth1")
        self.lab.exec(relay, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        via = f"{self.lab.net}.254"
        self.lab.exec(self.lab.ns("srv"), "ip", "route", "add", f"{clients.net}.0/24", "via", via)
        self.lab.exec(relay, "ip", "-6", "addr", "add", "fd32::1/64", "dev", "eth1", "nodad")
        ra = self.workdir / "dnsmasq-relay-ra.conf"
        lines = ["port=0", "no-resolv", "no-hosts", "user=root", "group=root", "interface=eth1"]
        lines += ["bind-interfaces", "enable-ra", "dhcp-range=fd32::,ra-only,64,1h"]
        ra.write_text("\n".join(lines) + "\n")
        self.procs["relay-ra"] = self.lab.spawn("relay", "relay-ra", "dnsmasq", "-k", "-C", str(ra))
        argv = ["dhcrelay", "-4", "-d", "-id", "eth1", "-iu", "eth0", self.srv_ip]
        self.procs["dhcrelay"] = self.lab.spawn("relay", "dhcrelay", *argv)

    def _start_isc_or_kea(self) -> None:
        """ISC dhcpd or Kea with the file ``pxehook gen isc`` / ``gen kea`` writes (each a
        complete configuration), plus a dnsmasq that only sends IPv6 router advertisements
        (as in the dnsmasq site)."""
        if self.dhcp_server == "isc":
            conf = self.workdir / "dhcpd.conf"
            self.cli("gen", "isc", "--out", str(conf))
            leases = self.workdir / "dhcpd.leases"
            leases.write_text("")
            pid = str(self.workdir / "dhcpd.pid")
            argv = ["dhcpd", "-4", "-f", "-d", "-cf", str(conf), "-lf", str(leases), "-pf", pid]
            self.procs["dhcpd"] = self.lab.spawn("srv", "dhcpd", *argv, "eth0")
        else:
            conf = self.workdir / "kea-dhcp4.conf"
            conf.write_text(self.cli("gen", "kea").stdout)
            run = {"KEA_PIDFILE_DIR": str(self.workdir), "KEA_LOCKFILE_DIR": str(self.workdir)}
            run["PATH"] = "/usr/sbin:/usr/bin:/sbin:/bin"
            self.procs["kea"] = self.lab.spawn("srv", "kea", "kea-dhcp4", "-c", str(conf), env=run)
        ra = self.workdir / "dnsmasq-ra.conf"
        lines = ["port=0", "no-resolv", "no-hosts", "user=root", "group=root", "interface=eth0"]
        lines += ["bind-interfaces", "enable-ra", "dhcp-range=fd31::,ra-only,64,1h"]
        lines.append(f"log-facility={self.log_path('dnsmasq-ra')}")
        ra.write_text("\n".join(lines) + "\n")
        self.procs["dnsmasq"] = self.lab.spawn(
            "srv", "dnsmasq-stdout", "dnsmasq", "-k", "-C", str(ra)
        )

    def _start_dnsmasq(self) -> None:
        conf = self.workdir / "dnsmasq.conf"
        conf.write_text(self._dnsmasq_conf())
        check = subprocess.run(
            ["dnsmasq", "--test", "-C", str(conf)], capture_output=True, text=True, timeout=20
        )
        if check.returncode != 0:
            raise RuntimeError(
                f"dnsmasq rejects {conf}: {check.stderr.strip()}\n{conf.read_text()}"
            )
        self.procs["dnsmasq"] = self.lab.spawn(
            "srv", "dnsmasq-stdout", "dnsmasq", "-k", "-C", str(conf)
        )
        if self.proxied:
            net = self.lab.net
            plain = self.workdir / "dnsmasq-plain.conf"
            plain.write_text(
                "\n".join(
                    [
                        "# the site's existing DHCP server: addresses only, no boot options",
                        "port=0",
                        "no-resolv",
                        "no-hosts",
                        "user=root",
                        "group=root",
                        f"log-facility={self.log_path('dnsmasq-plain')}",
                        "log-dhcp",
                        "no-ping",
                        "interface=eth0",
                        "bind-interfaces",
                        f"dhcp-leasefile={self.workdir / 'dnsmasq-plain.leases'}",
                        "dhcp-authoritative",
                        f"dhcp-range={net}.100,{net}.199,255.255.255.0,1h",
                        f"dhcp-option=option:router,{self.dhcp_ip}",
                        *(
                            [f"dhcp-boot={self.site_next_server},,{self.srv_ip}"]
                            if self.site_next_server
                            else []
                        ),
                        "enable-ra",
                        "dhcp-range=fd31::,ra-only,64,1h",
                    ]
                )
                + "\n"
            )
            self.procs["dnsmasq-plain"] = self.lab.spawn(
                "dhcp", "dnsmasq-plain-stdout", "dnsmasq", "-k", "-C", str(plain)
            )
            self.lab.wait_udp("dhcp", 67, timeout=10)

    def _wait_http(self, timeout: float = 20) -> None:
        deadline, answer = time.monotonic() + timeout, ""
        while time.monotonic() < deadline:
            r = self.lab.exec(
                self.lab.ns("srv"),
                sys.executable,
                "-c",
                _HEALTHZ_PROBE,
                f"{self.base_url}/healthz",
                check=False,
            )
            if r.returncode == 0:
                return
            answer = (r.stdout or r.stderr or "")[-1000:]
            if not self.procs["pxehook"].alive():
                break
            time.sleep(0.2)
        raise RuntimeError(
            f"pxehook did not answer /healthz with 200; its last answer: {answer}\n"
            f"{self.log_text('pxehook')[-3000:]}"
        )

    # --- what a user would look at ----------------------------------------------------------
    def host(self, mac: str) -> dict:
        """``pxehook host show MAC --json``."""
        return json.loads(self.cli("host", "show", mac, "--json").stdout)

    def events(self, mac: str) -> list[dict]:
        """The host's timeline (``pxehook host events`` when present, else the store)."""
        r = self.cli("host", "events", mac, "--json", check=False)
        if r.returncode == 0:
            return json.loads(r.stdout)
        return store_events(self.env, mac)

    def logs(self) -> str:
        """Everything worth printing when a boot fails."""
        parts = []
        names = (
            "dnsmasq",
            "dnsmasq-plain",
            "dhcpd",
            "kea",
            "dhcrelay",
            "pxehook",
            "dnsmasq-stdout",
        )
        for name in names:
            text = self.log_text(name)
            if text:
                parts.append(f"----- {name} ({self.log_path(name)}) -----\n{text[-6000:]}")
        return "\n".join(parts)


def pxehook_bin() -> str:
    return str(Path(sys.executable).parent / "pxehook")


def pxehook_cli(
    env: dict[str, str], *args: str, check: bool = True
) -> subprocess.CompletedProcess[str]:
    r = subprocess.run(
        [pxehook_bin(), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **env},
    )
    if check and r.returncode != 0:
        raise RuntimeError(f"pxehook {' '.join(args)} failed ({r.returncode}): {r.stderr.strip()}")
    return r


def http_answers(log: str, ips: set[str]) -> list[tuple[str, int, float]]:
    """(request line, status, seconds) of every request from ``ips`` in pxehook's access log
    (format set in ``_start_server``)."""
    out = []
    for line in log.splitlines():
        m = _ACCESS.match(line)
        if m and m["ip"] in ips:
            out.append((m["req"], int(m["status"]), int(m["us"]) / 1e6))
    return out


#: GET /healthz; on an error answer, print its body (which part is unhealthy) and fail
_HEALTHZ_PROBE = """import sys, urllib.error, urllib.request
try:
    urllib.request.urlopen(sys.argv[1], timeout=2)
except urllib.error.HTTPError as exc:
    print(exc.code, exc.read().decode(errors="replace"))
    sys.exit(1)
"""

#: pxehook's log format prefixes each access line with ``<time> INFO [<pid>] gunicorn.access: ``
#: (pxehook/web/gunicorn_log.py); the bare form is gunicorn's own.
_ACCESS = re.compile(
    r"^(?:\S+ \w+ \[\d+\] gunicorn\.access: )?"
    r'(?P<ip>[\d.]+) "(?P<req>[^"]*)" (?P<status>\d{3}) \S+ (?P<us>\d+)$'
)


def tftp_answers(log: str, ips: set[str]) -> list[tuple[str, int, float]]:
    """(request, 0, seconds to the first packet) of every TFTP read request from ``ips`` in
    pxehook's log (``tftp_access_log: -``): pxehook's part; the rest is the client's pace."""
    out = []
    for m in _TFTP_ACCESS.finditer(log):
        if m["ip"] in ips:
            out.append((f"TFTP {m['name']}", 0, int(m["first"]) / 1e6))
    return out


_TFTP_ACCESS = re.compile(
    r' (?P<ip>[\d.]+) "RRQ (?P<name>\S+)" (?:complete|partial|error:\d+) \d+ (?P<first>\d+) \d+$',
    re.M,
)


def store_events(env: dict[str, str], mac: str) -> list[dict]:
    """The host's events read straight from the store (fallback for ``host events``)."""
    from pxehook.config import load_settings
    from pxehook.context import Context

    ctx = Context(load_settings(env=env))
    try:
        store = ctx.store()
        host = store.host_get(mac)
        return [] if host is None else [e.as_dict() for e in store.events(host.id)]
    finally:
        ctx.close()


def loader_sources(grub_arm64: Path | None) -> dict[str, Path]:
    """TFTP-root file name (from the arch table) -> the Debian file to put there."""
    out = {
        archtable.lookup(0).loader("ipxe"): IPXE_DIR / "undionly.kpxe",
        archtable.lookup(7).loader("ipxe"): IPXE_DIR / "snponly.efi",
    }
    if grub_arm64 is not None:
        out[archtable.lookup(11).loader("grub")] = grub_arm64
    return {k: v for k, v in out.items() if k}
