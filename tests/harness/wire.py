"""On-the-wire checks of generated DHCP configs: probe cases, the expected answer from the
arch table, and helpers to run the scripted client and the daemons in a NetLab.

The oracle (``expected``) is written from pxehook/arch/ directly, not from the generator's
site layout, so a generator bug cannot hide behind its own expectations.
"""

from __future__ import annotations

import json
import os
import stat
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from pxehook import arch

REPO = Path(__file__).resolve().parent.parent.parent
PROBE = str(REPO / "tests" / "harness" / "dhcp_probe.py")
UNKNOWN_CODE = 0x0FFF
CODES = [a.code for a in arch.TABLE] + [UNKNOWN_CODE]
VARIANTS = ("pxe", "ipxe-uc", "ipxe-175", "httpclient")


@dataclass(frozen=True)
class Site:
    """The addresses and URLs a lab's generated config uses."""

    server_ip: str
    base_url: str
    http_boot_url: str
    boot_modes: tuple[tuple[str, str], ...] = ()  # (arch slug, boot mode): setting boot_modes

    def boot_mode(self, row: arch.Arch) -> str | None:
        """The boot mode ``row`` boots in at this site."""
        return dict(self.boot_modes).get(row.slug, row.default_boot_mode)

    @property
    def ipxe_url(self) -> str:
        return f"{self.base_url}/boot.ipxe"


def case(code: int, variant: str, **extra: object) -> dict:
    """A probe case: option 93 = code, shaped as firmware PXE, iPXE or UEFI HTTP boot."""
    c: dict = {"arch": code, **extra}
    if variant == "ipxe-uc":
        c["user_class"] = "iPXE"
    elif variant == "ipxe-175":
        c["ipxe_175"] = True
    elif variant == "httpclient":
        c["vendor_class"] = f"HTTPClient:Arch:{code:05d}:UNDI:003000"
    return c


#: Clients whose MAC prefix is in arch.MAC_RULES: each rule's machine announcing the code its
#: firmware lies with (it must get the rule's arch's loader), also as iPXE, plus machines of
#: the same make whose firmware tells the truth (UEFI 11, U-Boot 22: the rule must not apply).
RULE_PAIRS = [
    (rule.announces, variant, f"{rule.prefix}:{0x10 + i:02x}:00:{n:02x}")
    for i, rule in enumerate(arch.MAC_RULES)
    for n, variant in enumerate(("pxe", "ipxe-uc"))
] + [(11, "pxe", f"{arch.MAC_RULES[0].prefix}:20:00:01")]
RULE_PAIRS += [(22, "pxe", f"{arch.MAC_RULES[-1].prefix}:20:00:02")]


def expected(code: int, variant: str, site: Site, mac: str = "") -> str | None:
    """The boot file the arch table says this client must get (None: no boot file at all).

    A MAC rule (``arch.MAC_RULES``) replaces the code its machines announce wrongly. iPXE
    gets the resolver's script, unless it announces a code iPXE exists for (an iPXE build,
    not HTTP boot) whose boot mode is another loader: then that loader (``bios=pxelinux``:
    ``lpxelinux.0``); a MAC rule's machines keep the script."""
    rule = arch.rule_for_mac(mac) if mac else None
    ruled = rule is not None and rule.announces == code
    if variant.startswith("ipxe"):
        row = arch.BY_CODE.get(code)
        mode = site.boot_mode(row) if row else None
        handoff = (
            row is not None
            and not ruled
            and row.ipxe_buildarch
            and not row.is_http
            and mode not in (None, "ipxe")
        )
        return (row.loader(mode) or site.ipxe_url) if handoff else site.ipxe_url
    if ruled:
        code = rule.arch
    row = arch.BY_CODE.get(code)
    loader = row.loader(site.boot_mode(row)) if row else None
    if not loader:
        return None
    url = f"{site.http_boot_url}/{loader}"
    if variant == "httpclient":
        return url if (row.is_efi or row.is_http) else None
    return url if row.is_http else loader


def expected_proxy(code: int, variant: str, site: Site, mac: str = "") -> str | None:
    """What a ProxyDHCP answers: TFTP loaders to PXE firmware (BIOS, UEFI) only, by the code
    the client announces (a MAC rule then picks the loader), nothing to UEFI HTTP boot
    (dnsmasq 2.90 cannot), the resolver's script to iPXE."""
    if variant == "httpclient":
        return None
    want = expected(code, variant, site, mac)
    if variant.startswith("ipxe"):
        return want
    announced = arch.BY_CODE.get(code)
    if announced is None or announced.firmware not in (arch.BIOS, arch.UEFI):
        return None
    return want if want and not want.startswith("http://") else None


def run_probe(lab, cases: list[dict], workdir: Path, timeout: float = 3.0) -> list[dict]:  # type: ignore[no-untyped-def]
    """Run all cases in one probe process inside the lab's "cli" namespace."""
    path = workdir / f"cases-{time.monotonic_ns()}.json"
    path.write_text(json.dumps(cases))
    result = lab.exec(
        lab.ns("cli"),
        sys.executable,
        PROBE,
        "--iface",
        "eth0",
        "--batch",
        str(path),
        "--timeout",
        str(timeout),
        timeout=60,
    )
    results = json.loads(result.stdout)["results"]
    report = os.environ.get("PXH_WIRE_REPORT")
    if report:  # a JSON-lines record per case, for the results table in the docs
        with open(report, "a") as fh:
            for res in results:
                fh.write(json.dumps({"lab": lab.prefix, **res}) + "\n")
    return results


def _suboptions(hexdata: str | None) -> dict[int, bytes] | None:
    """Encapsulated options (code, length, value…; 255 may end the list)."""
    if hexdata is None:
        return None
    data, out, i = bytes.fromhex(hexdata), {}, 0
    while i + 1 < len(data) and data[i] != 255:
        out[data[i]] = data[i + 2 : i + 2 + data[i + 1]]
        i += 2 + data[i + 1]
    return out


def check_reply(reply: dict, want: str | None, variant: str, site: Site) -> list[str]:
    """Mismatches between one full-mode OFFER/ACK and the expectation (empty: all good).

    Checked: the boot file (option 67, else the ``file`` field) with its exact bytes, siaddr,
    no option 66, option 60 echoed only to HTTPClient, and iPXE's 175.176 no-pxedhcp.
    """
    errors = []
    raw67 = reply.get("option67_raw")
    if raw67 is not None:
        data = bytes.fromhex(raw67)
        body = data[:-1] if data.endswith(b"\x00") else data
        if b"\x00" in body or b"\xff" in body:
            errors.append(f"option 67 carries stray bytes: {raw67}")
    got = reply["boot_file"] or None
    if got != want:
        errors.append(f"boot file {got!r} != {want!r}")
    if want and reply["siaddr"] != site.server_ip:
        errors.append(f"siaddr {reply['siaddr']} != {site.server_ip}")
    if reply.get("option66") is not None:
        errors.append(f"unexpected option 66 {reply['option66']!r}")
    no_pxedhcp = _suboptions(reply["options"].get("175")) == {176: b"\x01"}
    if no_pxedhcp != variant.startswith("ipxe"):
        errors.append(f"option 175 {reply['options'].get('175')!r} for a {variant} client")
    echo = reply.get("option60") == "HTTPClient"
    if echo != (variant == "httpclient"):
        errors.append(f"option 60 {reply.get('option60')!r} for a {variant} client")
    return errors


def write_hook(path: Path, log: Path) -> str:
    """An executable hook that appends its argv and some dnsmasq/Kea env to ``log``."""
    path.write_text(
        "#!/bin/sh\n"
        f'echo "$* tags=$DNSMASQ_TAGS kea=$LEASES4_AT0_HWADDR giaddr=$QUERY4_GIADDR" >> {log}\n'
        "exit 0\n"
    )
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return str(path)


def wait_for(predicate, timeout: float = 5.0, step: float = 0.05) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


def gen_env(lab, tmp: Path, hook: str, **more: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """PXEHOOK_* settings for a generator run against this lab."""
    net = lab.net
    env = {
        "PXEHOOK_SERVER_IP": f"{net}.1",
        "PXEHOOK_HTTP_BASE_URL": f"http://{net}.1:8070",
        "PXEHOOK_DHCP_SUBNETS": f"{net}.0/24",
        "PXEHOOK_DHCP_RANGE": f"{net}.10,{net}.249",
        "PXEHOOK_DHCP_INTERFACE": "eth0",
        "PXEHOOK_TFTP_ROOT": str(tmp / "tftp"),
        "PXEHOOK_HOOK_PATH": hook,
        "PXEHOOK_KEA_LEASE_FILE": str(tmp / "kea-leases4.csv"),
        "PXEHOOK_KEA_CONTROL_SOCKET": str(tmp / "kea.sock"),
    }
    env.update(more)
    os.makedirs(tmp / "tftp", exist_ok=True)
    return env


def site_of(lab, boot_modes: str = "") -> Site:  # type: ignore[no-untyped-def]
    """The lab's site; ``boot_modes`` as the setting's text (``bios=pxelinux``)."""
    pairs = tuple(tuple(e.split("=", 1)) for e in boot_modes.split(",") if e.strip())
    return Site(
        server_ip=f"{lab.net}.1",
        base_url=f"http://{lab.net}.1:8070",
        http_boot_url=f"http://{lab.net}.1:8070/uefi",  # the default: pxehook's /uefi/ route
        boot_modes=pairs,  # type: ignore[arg-type]
    )


# --- the daemons' command lines in a lab (one place for every wire test) --------------------


def dnsmasq_argv(workdir: Path, name: str, conf: str | Path) -> list[str]:
    """dnsmasq in the foreground, DHCP only (no DNS), its DHCP log, leases and pid file
    under ``workdir`` named after ``name`` (``<name>.dnsmasq.log``, ``<name>.leases``)."""
    return [
        "dnsmasq", "--keep-in-foreground", "--port=0", "--no-resolv", "--no-hosts",
        "--user=root", "--group=root", "--no-ping", "--log-dhcp", "--bind-interfaces",
        f"--log-facility={workdir / (name + '.dnsmasq.log')}",
        f"--dhcp-leasefile={workdir / (name + '.leases')}",
        f"--pid-file={workdir / (name + '.pid')}",
        f"--conf-file={conf}",
    ]  # fmt: skip


def dhcpd_argv(workdir: Path, conf: str | Path, interface: str = "eth0") -> list[str]:
    """ISC dhcpd in the foreground on ``interface``, with an empty lease file and its pid
    file in ``workdir``."""
    leases = workdir / "dhcpd.leases"
    leases.write_text("")
    return ["dhcpd", "-4", "-f", "-d", "-cf", str(conf), "-lf", str(leases),
            "-pf", str(workdir / "dhcpd.pid"), interface]  # fmt: skip


def kea_env(workdir: Path) -> dict[str, str]:
    """The environment kea-dhcp4 runs with: its pid and lock files in ``workdir``."""
    return {
        "KEA_PIDFILE_DIR": str(workdir),
        "KEA_LOCKFILE_DIR": str(workdir),
        "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
    }
