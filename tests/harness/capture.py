"""Helpers for the capture tests: build the real hook, run it like a DHCP server does."""

from __future__ import annotations

import subprocess
from pathlib import Path

from pxehook import arch
from pxehook.capture.build import build_c, build_python


def build_hooks(workdir: Path, spool: Path) -> tuple[Path, Path]:
    """The C hook and the Python fallback, both with ``spool`` compiled in."""
    workdir.mkdir(parents=True, exist_ok=True)
    return (
        build_c(workdir / "pxehook-hook", str(spool)),
        build_python(workdir / "pxehook-hook.py", str(spool)),
    )


def run_hook(
    hook: Path, *args: str | bytes, env: dict[str | bytes, str | bytes] | None = None
) -> subprocess.CompletedProcess[bytes]:
    """One invocation as dnsmasq makes it: argv + only the given environment."""
    return subprocess.run(
        [str(hook), *args], env=env or {}, capture_output=True, timeout=30, check=False
    )


def dnsmasq_arch_matches() -> list[str]:
    """``dhcp-match`` lines tagging every option-93 code with its arch-table tag."""
    return [f"dhcp-match=set:{a.dnsmasq_tag},option:client-arch,{a.code}" for a in arch.TABLE]


def dnsmasq_conf(
    net: str, workdir: Path, hook: Path, *, iface: str = "eth0", extra: tuple[str, ...] = ()
) -> Path:
    """A minimal full-DHCP dnsmasq (DNS off, TFTP on) calling ``hook`` as dhcp-script."""
    tftp = workdir / "tftp"
    tftp.mkdir(parents=True, exist_ok=True)
    (tftp / "undionly.kpxe").write_bytes(b"\x55" * 4096)
    lines = [
        "port=0",
        "no-resolv",
        "no-hosts",
        "user=root",
        "group=root",
        "log-dhcp",
        "no-ping",
        f"interface={iface}",
        "bind-interfaces",
        "dhcp-authoritative",
        f"dhcp-range={net}.100,{net}.150,255.255.255.0,1h",
        f"dhcp-leasefile={workdir / 'dnsmasq.leases'}",
        f"dhcp-script={hook}",
        *dnsmasq_arch_matches(),
        "enable-tftp",
        f"tftp-root={tftp}",
        f"pid-file={workdir / 'dnsmasq.pid'}",
        *extra,
    ]
    conf = workdir / "dnsmasq.conf"
    conf.write_text("\n".join(lines) + "\n")
    return conf


def wait_for(predicate, timeout: float = 15.0, what: str = "condition") -> None:  # type: ignore[no-untyped-def]
    """Poll ``predicate`` until true; fail after ``timeout`` seconds."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}")


def spool_records(spool: Path) -> int:
    from pxehook.capture.spool import parse

    return len(parse(spool.read_bytes()).records) if spool.exists() else 0


def isc_conf(net: str, workdir: Path, hook: Path) -> Path:
    """dhcpd.conf whose on commit/release/expiry call ``hook`` with pxehook's ISC contract."""
    workdir.mkdir(parents=True, exist_ok=True)
    h = f'"{hook}"'
    conf = workdir / "dhcpd.conf"
    conf.write_text(
        f"""authoritative;
default-lease-time 3600;
max-lease-time 7200;
ddns-update-style none;
subnet {net}.0 netmask 255.255.255.0 {{
  range {net}.100 {net}.150;
  on commit {{
    set pxhip = binary-to-ascii(10, 8, ".", leased-address);
    set pxhhw = binary-to-ascii(16, 8, ":", substring(hardware, 1, 6));
    execute({h}, "isc", "commit", pxhip, pxhhw,
            pick-first-value(option vendor-class-identifier, ""),
            pick-first-value(option user-class, ""),
            pick-first-value(option host-name, ""),
            pick-first-value(binary-to-ascii(10, 16, ",", option pxe-system-type), ""));
  }}
  on release {{ execute({h}, "isc", "release", pxhip, pxhhw); }}
  on expiry {{ execute({h}, "isc", "expiry", pxhip, pxhhw); }}
}}
"""
    )
    (workdir / "dhcpd.leases").touch()
    return conf


def kea_conf(net: str, workdir: Path, hook: Path, iface: str = "eth0") -> Path:
    """kea-dhcp4 config with the run_script hook calling ``hook``."""
    import json
    import platform

    workdir.mkdir(parents=True, exist_ok=True)
    libdir = f"/usr/lib/{platform.machine()}-linux-gnu/kea/hooks"
    conf = {
        "Dhcp4": {
            "interfaces-config": {"interfaces": [iface]},
            "lease-database": {
                "type": "memfile",
                "persist": True,
                "name": str(workdir / "kea-leases4.csv"),
                "lfc-interval": 0,
            },
            "valid-lifetime": 3600,
            "subnet4": [
                {"id": 1, "subnet": f"{net}.0/24", "pools": [{"pool": f"{net}.100 - {net}.150"}]}
            ],
            "hooks-libraries": [
                {
                    "library": f"{libdir}/libdhcp_run_script.so",
                    "parameters": {"name": str(hook), "sync": False},
                }
            ],
            "loggers": [
                {"name": "kea-dhcp4", "output_options": [{"output": "stdout"}], "severity": "INFO"}
            ],
        }
    }
    path = workdir / "kea-dhcp4.conf"
    path.write_text(json.dumps(conf, indent=2))
    return path
