"""The DHCP daemons pxehook works with: one record each, read by gen, capture, CLI and lint.

A daemon's name is its word everywhere: ``pxehook gen <name>``, its templates folder
(``templates/<name>/``), its generator (``pxehook/gen/<name>.py``), its capture reader
(``pxehook/capture/<name>.py``: hook records and lease file), the ``source`` of its events,
the ``KIND`` of a ``lease_files`` entry and the ``watch-leases --<name>`` option.

Adding a daemon: a record here, ``gen/<name>.py``, ``capture/<name>.py``, its templates,
tests and ``docs/dhcp/<name>.md``. The C hook (hooks/pxehook-hook.c) and the Python hook
(capture/hook_py.py) cannot import this module: they keep their own copy of
``HOOK_ENV``, and a test holds both equal to it.
"""

from __future__ import annotations

from dataclasses import dataclass

#: DHCP modes a generator may offer (``pxehook gen --mode``), with what each means.
DHCP_MODES = {
    "full": "full DHCP",
    "boot": "boot lines only, for a dnsmasq that already serves the range",
    "proxy": "ProxyDHCP beside another server",
    "tftp": "TFTP only",
}


@dataclass(frozen=True)
class Daemon:
    """What pxehook needs to know about one DHCP server."""

    name: str  # the word used everywhere (see the module docstring)
    display: str  # how people call it
    dhcp_modes: tuple[str, ...]  # keys of DHCP_MODES its generator can write
    check: tuple[str, ...]  # syntax check of a config: binary first, "{file}" for the file
    config_path: str  # where the generated config usually goes
    reload: tuple[str, ...]  # command that makes it re-read its config; () when none
    hook_wiring: str  # how its config calls the hook; "{hook}" for the hook's path
    hook_env: tuple[str, ...]  # environment the hook keeps: NAME_ prefixes or NAME= exactly
    lease_format: str  # its lease file's format, as people know it
    lease_path: str  # where that lease file usually is
    settings: tuple[str, ...] = ()  # settings only its generated config uses

    @property
    def binary(self) -> str:
        """The daemon's executable (the syntax check's first word)."""
        return self.check[0]

    def check_argv(self, binary_path: str, file: str) -> list[str]:
        """The syntax-check command for ``file``, run with the binary found at ``binary_path``."""
        return [binary_path, *(arg.replace("{file}", file) for arg in self.check[1:])]


DNSMASQ = Daemon(
    name="dnsmasq",
    display="dnsmasq",
    dhcp_modes=("full", "boot", "proxy", "tftp"),
    check=("dnsmasq", "--test", "--conf-file={file}"),
    config_path="/etc/dnsmasq.d/pxehook.conf",
    # dnsmasq re-reads its config files only at start.
    reload=("systemctl", "restart", "dnsmasq.service"),
    hook_wiring="dhcp-script={hook}",
    hook_env=("DNSMASQ_",),
    lease_format="dnsmasq leases",
    lease_path="/var/lib/misc/dnsmasq.leases",
)

ISC = Daemon(
    name="isc",
    display="ISC dhcpd",
    dhcp_modes=("full",),
    check=("dhcpd", "-4", "-t", "-q", "-cf", "{file}"),
    config_path="/etc/dhcp/pxehook.conf",
    # Debian's unit; dhcpd has no reload, so restart it (the unit runs dhcpd -t first).
    reload=("systemctl", "restart", "isc-dhcp-server.service"),
    hook_wiring='execute("{hook}", "isc", EVENT, IP, MAC, ...) on commit, release, expiry',
    hook_env=(),  # dhcpd passes everything as arguments
    lease_format="ISC dhcpd.leases",
    lease_path="/var/lib/dhcp/dhcpd.leases",
)

KEA = Daemon(
    name="kea",
    display="Kea DHCPv4",
    dhcp_modes=("full",),
    check=("kea-dhcp4", "-t", "{file}"),
    config_path="/etc/kea/kea-dhcp4.conf",
    # Debian's unit; its reload sends SIGHUP. The generator tries the control socket first.
    reload=("systemctl", "reload", "kea-dhcp4-server.service"),
    hook_wiring='libdhcp_run_script.so with "name": "{hook}"',
    hook_env=(
        "LEASE4_",
        "LEASES4_",
        "DELETED_LEASES4_",
        "QUERY4_",
        "SUBNET4_",
        "PKT4_",
        "REMOVE_LEASE=",
    ),
    lease_format="Kea memfile CSV",
    lease_path="/var/lib/kea/kea-leases4.csv",
    settings=("kea_hooks_dir", "kea_lease_file", "kea_control_socket"),
)

DAEMONS: tuple[Daemon, ...] = (DNSMASQ, ISC, KEA)
BY_NAME: dict[str, Daemon] = {d.name: d for d in DAEMONS}
NAMES: tuple[str, ...] = tuple(BY_NAME)

#: Every environment entry the hook keeps (the union of ``hook_env``, in registry order).
HOOK_ENV: tuple[str, ...] = tuple(dict.fromkeys(p for d in DAEMONS for p in d.hook_env))
