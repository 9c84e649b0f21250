"""The YAML inventory (profiles, groups, hosts): read and check the file.

The inventory is the GitOps side: what operators want. The store is the observed side
plus life-cycle state; ``inventory.apply`` writes the wishes into it. A broken file raises
``ConfigError`` naming file and line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from pxehook import arch as archtable
from pxehook.errors import ConfigError, InvalidInput, yaml_error
from pxehook.mac import normalize_mac
from pxehook.models import Profile, State

PROFILE_KINDS = ("installer", "live", "local", "commissioning")
_PROFILE_KEYS = {
    "kind",
    "description",
    "kernel",
    "initrd",
    "cmdline",
    "one_shot",
    "templates",
    "vars",
}
_HOST_KEYS = {"mac", "macs", "name", "uuid", "profile", "state", "arch", "groups", "vars", "labels"}


class _Marked(dict):  # type: ignore[type-arg]
    """A mapping that remembers the line of each key (1-based)."""

    lines: dict[str, int]
    line: int


class _LineLoader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> _Marked:
    result = _Marked(loader.construct_mapping(node, deep=True))
    result.line = node.start_mark.line + 1
    result.lines = {str(k.value): k.start_mark.line + 1 for k, _ in node.value}
    return result


def _construct_int_or_text(loader: _LineLoader, node: yaml.ScalarNode) -> int | str:
    # YAML 1.1 reads 52:54:00:12:34:56 as a base-60 integer: keep such scalars as text.
    if ":" in str(node.value):
        return str(node.value)
    return loader.construct_yaml_int(node)


def _construct_float_or_text(loader: _LineLoader, node: yaml.ScalarNode) -> float | str:
    if ":" in str(node.value):
        return str(node.value)
    return loader.construct_yaml_float(node)


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_LineLoader.add_constructor("tag:yaml.org,2002:int", _construct_int_or_text)
_LineLoader.add_constructor("tag:yaml.org,2002:float", _construct_float_or_text)


@dataclass
class HostSpec:
    """One host as the inventory describes it."""

    macs: tuple[str, ...]
    name: str = ""
    uuid: str = ""
    profile: str = ""
    state: State | None = None
    arch: int | None = None
    groups: tuple[str, ...] = ()
    vars: dict[str, Any] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    line: int = 0


@dataclass
class Inventory:
    """A validated inventory."""

    path: str
    profiles: dict[str, Profile]
    groups: dict[str, dict[str, Any]]
    hosts: list[HostSpec]

    def host_vars(self, spec_groups: tuple[str, ...], host_vars: dict[str, Any]) -> dict[str, Any]:
        """Group vars (in listed order) overlaid by the host's own vars."""
        merged: dict[str, Any] = {}
        for group in spec_groups:
            merged.update(self.groups.get(group, {}).get("vars", {}))
        merged.update(host_vars)
        return merged


def _where(path: str, node: Any, key: str | None = None) -> str:
    if isinstance(node, _Marked):
        line = node.lines.get(key, node.line) if key else node.line
        return f"{path}:{line}"
    return path


def _fail(path: str, node: Any, key: str | None, message: str) -> ConfigError:
    return ConfigError(f"{_where(path, node, key)}: {message}")


def parse(text: str, path: str = "<inventory>") -> Inventory:
    """Parse and validate inventory text; errors name ``path`` and the line."""
    try:
        data = yaml.load(text, Loader=_LineLoader)  # noqa: S506 - SafeLoader subclass
    except yaml.YAMLError as exc:
        raise yaml_error(path, exc) from None
    if data is None:
        data = _Marked()
        data.line, data.lines = 1, {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the inventory must be a mapping with profiles/groups/hosts")
    unknown = [k for k in data if k not in ("profiles", "groups", "hosts")]
    if unknown:
        raise _fail(
            path,
            data,
            unknown[0],
            f"unknown section '{unknown[0]}' (expected profiles, groups, hosts)",
        )
    profiles = _parse_profiles(path, data.get("profiles") or {}, data)
    groups = _parse_groups(path, data.get("groups") or {}, data)
    hosts = _parse_hosts(path, data.get("hosts") or [], data, profiles, groups)
    return Inventory(path=path, profiles=profiles, groups=groups, hosts=hosts)


def load(path: str) -> Inventory:
    """Read and parse the inventory file at ``path``."""
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except FileNotFoundError:
        raise ConfigError(f"{path}: inventory file not found") from None
    except (PermissionError, IsADirectoryError) as exc:
        raise ConfigError(f"{path}: cannot read inventory: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: inventory is not valid UTF-8") from None
    return parse(text, path)


def _parse_profiles(path: str, raw: Any, parent: Any) -> dict[str, Profile]:
    if not isinstance(raw, dict):
        raise _fail(path, parent, "profiles", "'profiles' must be a mapping of name: profile")
    profiles = {}
    for name, body in raw.items():
        if not isinstance(body, dict):
            raise _fail(path, raw, name, f"profile '{name}' must be a mapping")
        bad = [k for k in body if k not in _PROFILE_KEYS]
        if bad:
            raise _fail(path, body, bad[0], f"profile '{name}': unknown key '{bad[0]}'")
        kind = body.get("kind", "installer")
        if kind not in PROFILE_KINDS:
            raise _fail(
                path,
                body,
                "kind",
                f"profile '{name}': kind '{kind}' is not one of " + ", ".join(PROFILE_KINDS),
            )
        for key in ("kernel", "initrd", "templates", "vars"):
            if key in body and not isinstance(body[key], dict):
                raise _fail(path, body, key, f"profile '{name}': '{key}' must be a mapping")
        if "cmdline" in body and not isinstance(body["cmdline"], str):
            raise _fail(path, body, "cmdline", f"profile '{name}': 'cmdline' must be a string")
        profiles[str(name)] = Profile.from_dict({"name": str(name), **body})
    if "local" not in profiles:
        profiles["local"] = Profile(
            name="local", kind="local", description="Boot from the local disk"
        )
    return profiles


def _parse_groups(path: str, raw: Any, parent: Any) -> dict[str, dict[str, Any]]:
    if not isinstance(raw, dict):
        raise _fail(path, parent, "groups", "'groups' must be a mapping of name: {vars: …}")
    for name, body in raw.items():
        if not isinstance(body, dict) or not isinstance(body.get("vars", {}), dict):
            raise _fail(path, raw, name, f"group '{name}' must be a mapping with 'vars'")
    return {str(k): dict(v) for k, v in raw.items()}


def _parse_hosts(
    path: str,
    raw: Any,
    parent: Any,
    profiles: dict[str, Profile],
    groups: dict[str, dict[str, Any]],
) -> list[HostSpec]:
    if not isinstance(raw, list):
        raise _fail(path, parent, "hosts", "'hosts' must be a list")
    hosts, seen = [], {}
    for body in raw:
        if not isinstance(body, dict):
            raise _fail(path, parent, "hosts", "each host must be a mapping")
        bad = [k for k in body if k not in _HOST_KEYS]
        if bad:
            raise _fail(path, body, bad[0], f"host: unknown key '{bad[0]}'")
        raw_macs = body.get("macs") or ([body["mac"]] if "mac" in body else [])
        if not raw_macs:
            raise _fail(path, body, None, "host needs 'mac' or 'macs'")
        macs = []
        for value in raw_macs:
            try:
                macs.append(normalize_mac(str(value)))
            except InvalidInput as exc:
                raise _fail(path, body, "macs" if "macs" in body else "mac", str(exc)) from None
        for mac in macs:
            if mac in seen:
                raise _fail(
                    path, body, "mac", f"MAC {mac} is listed twice (also on line {seen[mac]})"
                )
            seen[mac] = _where(path, body).rsplit(":", 1)[-1]
        profile = str(body.get("profile", ""))
        if profile and profile not in profiles:
            raise _fail(path, body, "profile", f"host {macs[0]}: unknown profile '{profile}'")
        state = None
        if "state" in body:
            try:
                state = State(str(body["state"]))
            except ValueError:
                raise _fail(
                    path,
                    body,
                    "state",
                    f"host {macs[0]}: state '{body['state']}' is "
                    "not one of " + ", ".join(s.value for s in State),
                ) from None
        arch = None
        if "arch" in body:
            arch = archtable.code_of(body["arch"])
            if arch is None:
                raise _fail(
                    path,
                    body,
                    "arch",
                    f"host {macs[0]}: unknown arch "
                    f"'{body['arch']}' (an option-93 code or a slug such as efi-x64)",
                )
        host_groups = tuple(str(g) for g in body.get("groups") or ())
        for group in host_groups:
            if group not in groups:
                raise _fail(path, body, "groups", f"host {macs[0]}: unknown group '{group}'")
        for key in ("vars", "labels"):
            if key in body and not isinstance(body[key], dict):
                raise _fail(path, body, key, f"host {macs[0]}: '{key}' must be a mapping")
        hosts.append(
            HostSpec(
                macs=tuple(macs),
                name=str(body.get("name", "")),
                uuid=str(body.get("uuid", "")),
                profile=profile,
                state=state,
                arch=arch,
                groups=host_groups,
                vars=dict(body.get("vars") or {}),
                labels={str(k): str(v) for k, v in (body.get("labels") or {}).items()},
                line=getattr(body, "line", 0),
            )
        )
    return hosts
