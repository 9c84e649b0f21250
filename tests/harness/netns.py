"""Isolated test networks in network namespaces (needs root, iproute2).

A ``NetLab`` holds a bridge in a "switch" namespace and any number of "hosts" (namespaces)
plugged into it with veth pairs, each with an address in a private /24 that exists only
inside these namespaces. Processes are started inside a host namespace, tracked by PID and
killed by PID; ``close()`` removes everything even after a failure.

Nothing is added to the root namespace: no address, no route, no interface.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

# Subnets used by tests: 10.231.<n>.0/24, n from 1 to 250. They exist only inside the labs.
SUBNET_PREFIX = "10.231"


def available() -> str | None:
    """None when netns tests can run here, else the reason they cannot."""
    if os.geteuid() != 0:
        return "network-namespace tests need root"
    if shutil.which("ip") is None:
        return "iproute2 ('ip') is not installed"
    return None


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check, timeout=20)


@dataclass
class Proc:
    """A process started inside a namespace."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_text(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except FileNotFoundError:
            return ""


@dataclass
class NetLab:
    """A bridge plus hosts. ``prefix`` must be short (netns and link names) and unique."""

    prefix: str
    subnet_index: int
    workdir: Path
    hosts: dict[str, str] = field(default_factory=dict)  # host name -> ip
    procs: list[Proc] = field(default_factory=list)
    _netns: list[str] = field(default_factory=list)

    @property
    def switch(self) -> str:
        return f"{self.prefix}-sw"

    @property
    def net(self) -> str:
        return f"{SUBNET_PREFIX}.{self.subnet_index}"

    def ns(self, host: str) -> str:
        return f"{self.prefix}-{host}"

    def ip_of(self, host: str) -> str:
        return self.hosts[host]

    def up(self) -> NetLab:
        self.close_namespaces()
        self.workdir.mkdir(parents=True, exist_ok=True)
        _ip("netns", "add", self.switch)
        self._netns.append(self.switch)
        self.exec(
            self.switch,
            "ip",
            "link",
            "add",
            "br0",
            "type",
            "bridge",
            "stp_state",
            "0",
            "forward_delay",
            "0",
        )
        self.exec(self.switch, "ip", "link", "set", "br0", "up")
        self.exec(self.switch, "ip", "link", "set", "lo", "up")
        return self

    def add_host(self, host: str, octet: int, *, ifname: str = "eth0", address: bool = True) -> str:
        """Create namespace ``host`` plugged into the bridge; returns its IP (or '')."""
        ns = self.ns(host)
        _ip("netns", "add", ns)
        self._netns.append(ns)
        self._cable(ns, ifname, f"{self.prefix[:6]}{len(self._netns)}b")
        self.exec(ns, "ip", "link", "set", "lo", "up")
        ip = f"{self.net}.{octet}" if address else ""
        if address:
            self.exec(ns, "ip", "addr", "add", f"{ip}/24", "dev", ifname)
        self.hosts[host] = ip
        return ip

    def plug(self, ns: str, octet: int, ifname: str) -> str:
        """Plug an existing namespace (e.g. another lab's host: a router or DHCP relay
        between two labs) into this bridge as ``ifname`` with ``<net>.<octet>``; returns the
        IP. The namespace stays its owner lab's (removed by that lab's ``close()``)."""
        self._cable(ns, ifname, f"{self.prefix[:6]}{len(self._netns)}p{octet % 100}")
        ip = f"{self.net}.{octet}"
        self.exec(ns, "ip", "addr", "add", f"{ip}/24", "dev", ifname)
        return ip

    def _cable(self, ns: str, ifname: str, peer: str) -> None:
        """A veth pair: ``ifname`` (up) in ``ns``, ``peer`` (up) on this lab's bridge."""
        _ip("link", "add", ifname + "x", "netns", ns, "type", "veth",
            "peer", "name", peer, "netns", self.switch)  # fmt: skip
        self.exec(ns, "ip", "link", "set", ifname + "x", "name", ifname)
        self.exec(self.switch, "ip", "link", "set", peer, "master", "br0")
        self.exec(self.switch, "ip", "link", "set", peer, "up")
        self.exec(ns, "ip", "link", "set", ifname, "up")

    def add_tap(self, name: str) -> str:
        """A tap device on the bridge (for QEMU run in the switch namespace)."""
        self.exec(self.switch, "ip", "tuntap", "add", "dev", name, "mode", "tap")
        self.exec(self.switch, "ip", "link", "set", name, "master", "br0")
        self.exec(self.switch, "ip", "link", "set", name, "up")
        return name

    def exec(
        self,
        ns: str,
        *argv: str,
        timeout: float = 30,
        check: bool = True,
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run a command inside namespace ``ns`` and wait for it (bounded)."""
        result = subprocess.run(
            ["ip", "netns", "exec", ns, *argv],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
        )
        if check and result.returncode != 0:
            raise RuntimeError(
                f"[{ns}] {' '.join(argv)} failed ({result.returncode}): "
                f"{result.stderr.strip() or result.stdout.strip()}"
            )
        return result

    def spawn(
        self, host_or_ns: str, name: str, *argv: str, env: dict[str, str] | None = None
    ) -> Proc:
        """Start a long-running process in a namespace, output to ``workdir/<name>.log``."""
        ns = host_or_ns if host_or_ns in self._netns else self.ns(host_or_ns)
        log = self.workdir / f"{name}.log"
        fh = open(log, "ab")  # noqa: SIM115 - handed to the child
        popen = subprocess.Popen(
            ["ip", "netns", "exec", ns, *argv],
            stdout=fh,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
        fh.close()
        proc = Proc(name=name, popen=popen, log=log)
        self.procs.append(proc)
        return proc

    def stop(self, proc: Proc, timeout: float = 5) -> None:
        if proc.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.popen.pid, signal.SIGTERM)
            try:
                proc.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.popen.pid, signal.SIGKILL)
                proc.popen.wait(timeout=timeout)

    def wait_udp(self, host: str, port: int, timeout: float = 10) -> None:
        """Wait until something listens on UDP ``port`` inside ``host``'s namespace."""
        self._wait_socket(host, ["ss", "-Huln", f"sport = :{port}"], port, timeout)

    def wait_tcp(self, host: str, port: int, timeout: float = 10) -> None:
        self._wait_socket(host, ["ss", "-Htln", f"sport = :{port}"], port, timeout)

    def _wait_socket(self, host: str, argv: list[str], port: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.exec(self.ns(host), *argv, check=False).stdout.strip():
                return
            time.sleep(0.05)
        raise TimeoutError(f"nothing listens on port {port} in {self.ns(host)} after {timeout}s")

    def close_namespaces(self) -> None:
        names = set(self._netns)
        listed = _ip("netns", "list", check=False).stdout.split("\n")
        names |= {
            line.split()[0]
            for line in listed
            if line.strip() and line.split()[0].startswith(self.prefix + "-")
        }
        for ns in names:
            pids = _ip("netns", "pids", ns, check=False).stdout.split()
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, ValueError):
                    os.kill(int(pid), signal.SIGKILL)
            _ip("netns", "del", ns, check=False)
        self._netns.clear()

    def close(self) -> None:
        for proc in reversed(self.procs):
            self.stop(proc)
        self.procs.clear()
        self.close_namespaces()
