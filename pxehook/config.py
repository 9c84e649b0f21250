"""Settings as data: one table, one load order, validated at start.

Load order (later wins): built-in defaults < ``/etc/pxehook/pxehook.yaml`` (or ``--config``)
< ``PXEHOOK_<NAME>`` environment variables < command-line flags. docs/configuration.md holds
the same table; a test fails when they drift (``pxehook config docs`` prints it).
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from pxehook.daemons import NAMES as DAEMON_NAMES
from pxehook.errors import ConfigError, yaml_error

DEFAULT_CONFIG_FILE = "/etc/pxehook/pxehook.yaml"
ENV_PREFIX = "PXEHOOK_"
#: PXEHOOK_* variables that are not settings (the settings file; the test suite's strict flag).
_NOT_SETTINGS = frozenset({ENV_PREFIX + "CONFIG", ENV_PREFIX + "REQUIRE_ALL"})


def _str(value: Any) -> str:
    if isinstance(value, (dict, list)):
        raise ValueError("a string")
    return "" if value is None else str(value)


def _int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("a whole number")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValueError("a whole number") from None


def _positive_int(value: Any) -> int:
    number = _int(value)
    if number <= 0:
        raise ValueError("a whole number above 0")
    return number


def _non_negative_int(value: Any) -> int:
    number = _int(value)
    if number < 0:
        raise ValueError("a whole number, 0 or more")
    return number


def _port(value: Any) -> int:
    try:
        number = _int(value)
    except ValueError:
        raise ValueError("a port number 1-65535") from None
    if not 0 < number < 65536:
        raise ValueError("a port number 1-65535")
    return number


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ValueError("true or false")


def _ip_or_empty(value: Any) -> str:
    text = _str(value).strip()
    if text:
        try:
            ipaddress.IPv4Address(text)
        except ValueError:
            raise ValueError("an IPv4 address such as 192.0.2.10") from None
    return text


def _choice(*choices: str) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        text = _str(value).strip()
        if text not in choices:
            raise ValueError("one of " + ", ".join(choices))
        return text

    return check


def _list(value: Any) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    if isinstance(value, list) and all(isinstance(v, (str, int)) for v in value):
        return [str(v) for v in value]
    raise ValueError("a list of strings (YAML list, or comma-separated in the environment)")


def _cidr_list(value: Any) -> list[str]:
    items = _list(value)
    for item in items:
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise ValueError(f"a list of CIDR subnets (bad: {item!r})") from None
    return items


@dataclass(frozen=True)
class Setting:
    """One setting: its name, type check, default and the line the docs print."""

    name: str
    parse: Callable[[Any], Any]
    default: Any
    help: str
    kind: str

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.name.upper()


def _s(name: str, parse: Callable[[Any], Any], default: Any, kind: str, help: str) -> Setting:
    return Setting(name=name, parse=parse, default=default, help=help, kind=kind)


SETTINGS: tuple[Setting, ...] = (
    _s(
        "database",
        _str,
        "sqlite:////var/lib/pxehook/pxehook.db",
        "url",
        "Store URL: sqlite:///ABSOLUTE/PATH (embedded default), a bare file path, or "
        "postgresql://USER@HOST/DB (needs the postgres extra).",
    ),
    _s(
        "db_busy_timeout_ms",
        _positive_int,
        5000,
        "int",
        "How long a writer waits for a locked database before giving up (ms).",
    ),
    _s(
        "inventory",
        _str,
        "/etc/pxehook/inventory.yaml",
        "path",
        "YAML inventory of profiles, groups and hosts; watched and re-read on change.",
    ),
    _s(
        "state_dir",
        _str,
        "/var/lib/pxehook",
        "path",
        "Directory for pxehook's own state (spool, rendered files).",
    ),
    _s(
        "spool_dir",
        _str,
        "/var/lib/pxehook/spool",
        "path",
        "Append-only spool the DHCP hooks write to; ingested into the store.",
    ),
    _s(
        "site_templates",
        _str,
        "",
        "path",
        "Directory of site templates, searched before the packaged ones.",
    ),
    _s("bind", _ip_or_empty, "127.0.0.1", "ip", "Address the HTTP resolver (gunicorn) listens on."),
    _s("port", _port, 8070, "port", "TCP port of the HTTP resolver."),
    _s("workers", _positive_int, 2, "int", "Number of gunicorn worker processes."),
    _s(
        "server_ip",
        _ip_or_empty,
        "",
        "ip",
        "Address clients reach this host's TFTP/HTTP at (next-server, boot URLs).",
    ),
    _s(
        "http_base_url",
        _str,
        "",
        "url",
        "Base URL of the resolver as clients see it; default http://SERVER_IP:PORT.",
    ),
    _s("tftp_root", _str, "/srv/tftp", "path", "Directory holding the boot loaders."),
    _s(
        "tftp_bind",
        _ip_or_empty,
        "",
        "ip",
        "Address pxehook's own TFTP server binds to (empty: server_ip, else 127.0.0.1).",
    ),
    _s("tftp_port", _port, 69, "port", "UDP port of pxehook's own TFTP server."),
    _s(
        "tftp_serve",
        _bool,
        False,
        "bool",
        "Run pxehook's own TFTP server inside 'pxehook serve' (else: 'pxehook tftp').",
    ),
    _s(
        "unknown_hosts",
        _choice("discover", "local", "ignore"),
        "discover",
        "choice",
        "What an unknown MAC boots: discover (enlist, then local), local, or ignore (404).",
    ),
    _s(
        "deploy_timeout",
        _positive_int,
        3600,
        "int",
        "Seconds a host may stay 'deploying' before it is marked failed.",
    ),
    _s(
        "boot_once_window",
        _positive_int,
        120,
        "int",
        "Seconds between install-kernel fetches that still count as one boot session "
        "(one-shot profiles go local after the session).",
    ),
    _s(
        "lifecycle_sweep_interval",
        _positive_int,
        10,
        "int",
        "Seconds between life-cycle sweeps (deploy time-outs, boot-once, auto-adopt).",
    ),
    _s(
        "adopt_mac_prefixes",
        _list,
        [],
        "list",
        "Auto-adopt rule: new hosts whose MAC starts with one of these prefixes.",
    ),
    _s("adopt_arches", _list, [], "list", "Auto-adopt rule: new hosts of these arch slugs/codes."),
    _s("adopt_subnets", _cidr_list, [], "list", "Auto-adopt rule: new hosts seen in these CIDRs."),
    _s(
        "adopt_state",
        _choice("deployed", "ready"),
        "deployed",
        "choice",
        "State an auto-adopted host moves to (deployed: it already runs a workload).",
    ),
    _s(
        "local_boot",
        _choice("auto", "exit", "sanboot", "grub-esp"),
        "auto",
        "choice",
        "Default local-boot method (auto: by firmware).",
    ),
    _s(
        "dhcp_interface",
        _str,
        "",
        "str",
        "Interface dnsmasq listens on in generated configs (empty: all).",
    ),
    _s(
        "dhcp_subnets",
        _list,
        [],
        "list",
        "Subnets (CIDR) the DHCP generators declare, e.g. 192.0.2.0/24.",
    ),
    _s(
        "dhcp_range",
        _str,
        "",
        "str",
        "Address range for full-DHCP mode: FIRST,LAST (inside a dhcp_subnets entry).",
    ),
    _s(
        "dhcp_lease_time",
        _positive_int,
        3600,
        "int",
        "Lease time (seconds) in generated full-DHCP configs.",
    ),
    _s(
        "dhcp_lease_max",
        _positive_int,
        1000,
        "int",
        "dnsmasq dhcp-lease-max in generated configs; lint warns when fleet_size exceeds it.",
    ),
    _s(
        "tftp_max",
        _positive_int,
        1024,
        "int",
        "dnsmasq tftp-max (concurrent transfers), sized for a boot storm (dnsmasq default 50).",
    ),
    _s(
        "fleet_size",
        _non_negative_int,
        0,
        "int",
        "Machines that may boot at once (0: unknown); lint compares it to the limits.",
    ),
    _s(
        "boot_modes",
        _list,
        [],
        "list",
        "Per-arch boot mode overrides SLUG=MODE (e.g. bios=pxelinux); default: the arch table.",
    ),
    _s(
        "http_boot_url",
        _str,
        "",
        "url",
        "URL prefix UEFI HTTP-boot clients fetch loaders from; default http://SERVER_IP.",
    ),
    _s(
        "kea_hooks_dir",
        _str,
        "/usr/lib/x86_64-linux-gnu/kea/hooks",
        "path",
        "Directory holding Kea's hook libraries (libdhcp_run_script.so).",
    ),
    _s(
        "kea_lease_file",
        _str,
        "/var/lib/kea/kea-leases4.csv",
        "path",
        "Kea memfile lease file in the generated config.",
    ),
    _s(
        "kea_control_socket",
        _str,
        "/run/kea/kea4-ctrl-socket",
        "path",
        "Kea control socket in the generated config (gen kea --reload uses it).",
    ),
    _s(
        "hook_path",
        _str,
        "/usr/local/libexec/pxehook/pxehook-hook",
        "path",
        "Where 'pxehook hook install' puts the DHCP hook the DHCP configs call.",
    ),
    _s(
        "hook_fsync",
        _choice("async", "sync", "off"),
        "async",
        "choice",
        "How the hook makes a spool record durable: async (background fdatasync), sync, off.",
    ),
    _s(
        "listen_interface",
        _str,
        "",
        "str",
        "Interface the passive DHCP listener watches in 'pxehook serve' (empty: off).",
    ),
    _s(
        "lease_files",
        _list,
        [],
        "list",
        f"Lease files 'pxehook serve' watches, as KIND:PATH ({', '.join(DAEMON_NAMES)}).",
    ),
    _s(
        "files_dir",
        _str,
        "/srv/pxehook/files",
        "path",
        "Directory served read-only at /files/ (kernels, initrds, squashfs; sendfile, Range).",
    ),
    _s(
        "files_url",
        _str,
        "",
        "url",
        "URL templates call files_url (default: the resolver's base URL + /files).",
    ),
    _s("rescue_profile", _str, "rescue", "str", "Profile a host in state 'rescue' boots."),
    _s(
        "commissioning_profile",
        _str,
        "commissioning",
        "str",
        "Profile a host in state 'commissioning' boots.",
    ),
    _s(
        "state_boot",
        _list,
        [],
        "list",
        "Overrides of what a state boots: STATE=local|profile|ignore|PROFILE (e.g. ready=local).",
    ),
    _s(
        "local_boot_arch",
        _list,
        [],
        "list",
        "Per-arch local-boot method: SLUG=exit|sanboot|grub-esp (e.g. efi-x64=exit).",
    ),
    _s(
        "prerender_dir",
        _str,
        "",
        "path",
        "Directory where per-MAC configs are pre-rendered for nginx (empty: off).",
    ),
    _s(
        "access_log",
        _str,
        "",
        "path",
        "nginx access log (format 'pxehook') ingested into host timelines (empty: off).",
    ),
    _s("boot_retries", _positive_int, 3, "int", "Kernel/initrd fetch attempts before local boot."),
    _s(
        "log_level",
        _choice("debug", "info", "warning", "error"),
        "info",
        "choice",
        "Logging level of the server processes.",
    ),
)

BY_NAME: dict[str, Setting] = {s.name: s for s in SETTINGS}


class Settings(Mapping[str, Any]):
    """Validated settings; read as ``settings.port`` or ``settings["port"]``."""

    def __init__(self, values: dict[str, Any], origins: dict[str, str]) -> None:
        self._values = values
        self._origins = origins

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __getattr__(self, key: str) -> Any:
        try:
            return self._values[key]
        except KeyError:
            raise AttributeError(key) from None

    def origin(self, key: str) -> str:
        """Where a value came from: default, a file path, an env variable or a flag."""
        return self._origins[key]

    @property
    def base_url(self) -> str:
        """``http_base_url``, or one derived from server_ip/bind and port."""
        if self.http_base_url:
            return str(self.http_base_url).rstrip("/")
        host = self.server_ip or self.bind or "127.0.0.1"
        return f"http://{host}:{self.port}"

    def replace(self, **changes: Any) -> Settings:
        values, origins = dict(self._values), dict(self._origins)
        for key, value in changes.items():
            values[key] = _parse(BY_NAME[key], value, "override")
            origins[key] = "override"
        return Settings(values, origins)


def _parse(setting: Setting, raw: Any, origin: str) -> Any:
    try:
        return setting.parse(raw)
    except ValueError as exc:
        raise ConfigError(
            f"{origin}: setting '{setting.name}' is {raw!r}; expected {exc}"
        ) from None


def read_config_file(path: str) -> dict[str, Any]:
    """Parse a settings YAML file; errors name the file, line and key."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = yaml.safe_load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{path}: settings file not found") from None
    except PermissionError:
        raise ConfigError(f"{path}: settings file is not readable by this user") from None
    except yaml.YAMLError as exc:
        raise yaml_error(path, exc) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of setting: value at the top level")
    unknown = sorted(k for k in data if k not in BY_NAME)
    if unknown:
        raise ConfigError(
            f"{path}: unknown setting '{unknown[0]}'",
            hint="see 'pxehook config show' for the valid names",
        )
    return data


def load_settings(
    config_file: str | None = None,
    *,
    env: Mapping[str, str] | None = None,
    flags: Mapping[str, Any] | None = None,
) -> Settings:
    """Build validated settings from defaults, file, environment and flags, in that order."""
    env = os.environ if env is None else env
    values = {s.name: s.default for s in SETTINGS}
    origins = dict.fromkeys(values, "default")

    path = config_file or env.get(ENV_PREFIX + "CONFIG")
    if path is None and os.path.exists(DEFAULT_CONFIG_FILE):
        path = DEFAULT_CONFIG_FILE
    if path:
        for key, raw in read_config_file(path).items():
            values[key] = _parse(BY_NAME[key], raw, path)
            origins[key] = path

    for key, raw in env.items():
        if not key.startswith(ENV_PREFIX) or key in _NOT_SETTINGS:
            continue
        name = key[len(ENV_PREFIX) :].lower()
        setting = BY_NAME.get(name)
        if setting is None:
            raise ConfigError(
                f"environment: unknown setting variable {key}",
                hint="see 'pxehook config show' for the valid names",
            )
        values[name] = _parse(setting, raw, f"environment {key}")
        origins[name] = f"env {key}"

    for name, raw in (flags or {}).items():
        if raw is None:
            continue
        setting = BY_NAME[name]
        values[name] = _parse(setting, raw, f"flag --{name.replace('_', '-')}")
        origins[name] = "flag"
    return Settings(values, origins)


def docs_table() -> str:
    """The Markdown table of every setting (docs/configuration.md embeds it verbatim)."""
    lines = ["| setting | environment | type | default | meaning |", "|---|---|---|---|---|"]
    for s in SETTINGS:
        default = s.default if s.default not in ("", []) else "(empty)"
        lines.append(f"| `{s.name}` | `{s.env}` | {s.kind} | `{default}` | {s.help} |")
    return "\n".join(lines) + "\n"
