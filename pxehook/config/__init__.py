"""Settings as data: one table, one load order, validated at start.

Load order (later wins): built-in defaults < ``/etc/pxehook/pxehook.yaml`` (or ``--config``)
< ``PXEHOOK_<NAME>`` environment variables < command-line flags. docs/configuration.md holds
the same table; a test fails when they drift (``pxehook config docs`` prints it).

- ``table.py``: the ``Setting`` record and ``SETTINGS``, every setting declared as data;
- ``checks.py``: the value checks the table names (port, boolean, CIDR list, ...);
- here: ``Settings`` (the validated values), ``load_settings`` and the docs table.
"""

from __future__ import annotations

import difflib
import os
import socket
from collections.abc import Mapping
from typing import Any

import yaml

from pxehook.config.setting import ENV_PREFIX, Setting
from pxehook.config.table import BY_NAME, SETTINGS
from pxehook.errors import ConfigError, yaml_error

__all__ = [
    "BY_NAME",
    "DEFAULT_CONFIG_FILE",
    "ENV_PREFIX",
    "SETTINGS",
    "Setting",
    "Settings",
    "docs_table",
    "load_settings",
    "read_config_file",
]

DEFAULT_CONFIG_FILE = "/etc/pxehook/pxehook.yaml"
#: PXEHOOK_* variables that are not settings (the settings file; the test suite's strict flag;
#: the PID ``pxehook serve`` hands its gunicorn so that it dies with it).
_NOT_SETTINGS = frozenset(
    {ENV_PREFIX + "CONFIG", ENV_PREFIX + "REQUIRE_ALL", ENV_PREFIX + "SUPERVISOR_PID"}
)


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

    @property
    def rack(self) -> str:
        """``rack_name``, or this machine's host name (its first 63 characters)."""
        return str(self.rack_name) or socket.gethostname()[:63]

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
        raise ConfigError(f"{path}: unknown setting '{unknown[0]}'", hint=_near(unknown[0]))
    return data


def _near(name: object, prefix: str = "") -> str:
    """The hint for an unknown setting name: the closest valid ones, if any are close."""
    close = difflib.get_close_matches(str(name).lower(), BY_NAME, n=2, cutoff=0.75)
    if close:
        return (
            "did you mean "
            + " or ".join(f"'{prefix}{c.upper() if prefix else c}'" for c in close)
            + "?"
        )
    return "see 'pxehook config show' for the valid names"


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
                f"environment: unknown setting variable {key}", hint=_near(name, ENV_PREFIX)
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
