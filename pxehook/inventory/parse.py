"""The YAML inventory (profiles, groups, hosts): read and check the file.

The inventory is the GitOps side: what operators want. The store is the observed side
plus life-cycle state; ``inventory.apply`` writes the wishes into it. A broken file raises
``ConfigError`` naming file and line.

Hosts are parsed one item at a time (``layout.split``), so ``read`` can leave unchanged
items unparsed (``Inventory.spec`` parses one when asked); a file that cannot be cut that
way is parsed whole, with the same results.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pxehook import arch as archtable
from pxehook.errors import ConfigError, InvalidInput
from pxehook.inventory.layout import Item, digest, split
from pxehook.inventory.loader import Marked, load_yaml, marked, no_gc, plain_item
from pxehook.mac import normalize_mac
from pxehook.models import Profile, State

PROFILE_KINDS = ("installer", "live", "local", "commissioning")
_PROFILE_KEYS = {"kind", "description", "kernel", "initrd", "cmdline", "one_shot", "templates"}
_PROFILE_KEYS |= {"vars"}
_HOST_KEYS = {"mac", "macs", "name", "uuid", "profile", "state", "arch", "groups", "vars", "labels"}


class Unsplit(Exception):
    """A host item did not parse on its own: parse the whole file instead."""


@dataclass
class HostSpec:
    """One host as the inventory describes it.

    ``lines`` gives the line of each key (``profile``, ``vars.x``…) as an offset from
    ``line``; ``digest`` fingerprints the host's text."""

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
    lines: dict[str, int] = field(default_factory=dict)
    digest: str = ""


@dataclass
class Entry:
    """One host item of the file: its first line, fingerprint and, once parsed, its spec."""

    line: int
    digest: str
    text: str | None = None
    spec: HostSpec | None = None


@dataclass
class Inventory:
    """A validated inventory (hosts parsed now or on demand, see ``spec``)."""

    path: str
    profiles: dict[str, Profile]
    groups: dict[str, dict[str, Any]]
    entries: list[Entry] = field(default_factory=list)
    digest: str = ""
    profile_lines: dict[str, int] = field(default_factory=dict)
    group_lines: dict[str, int] = field(default_factory=dict)
    text: str = field(default="", repr=False)
    #: group variables by list of groups (``declare`` fills it)
    origins: dict[tuple[str, ...], dict[str, Any]] = field(default_factory=dict, repr=False)

    @property
    def hosts(self) -> list[HostSpec]:
        """Every host, in file order (parsing those not parsed yet)."""
        return self.specs()

    def specs(self, progress: Callable[[str, int, int], None] | None = None) -> list[HostSpec]:
        """Every host, in file order, parsed and checked; ``progress("read", done, total)``."""
        total = len(self.entries)
        try:
            with no_gc():
                specs = []
                for done, entry in enumerate(self.entries, 1):
                    specs.append(self.spec(entry))
                    if progress is not None and done % 256 == 0:
                        progress("read", done, total)
        except Unsplit:
            self.whole()
            specs = [entry.spec for entry in self.entries if entry.spec is not None]
        if progress is not None:
            progress("read", len(specs), len(specs))
        check_duplicates(self.path, specs)
        return specs

    def whole(self) -> None:
        """Parse the whole text at once (a host item would not parse on its own)."""
        with no_gc():
            self.entries = _parse(self.text, self.path, whole=True).entries

    def spec(self, entry: Entry) -> HostSpec:
        """The parsed host of ``entry`` (Unsplit if its text does not parse on its own)."""
        if entry.spec is None:
            assert entry.text is not None
            body = plain_item(entry.text, entry.line - 1)
            if body is None:
                try:
                    value = load_yaml(entry.text, self.path, offset=entry.line - 1)
                except ConfigError:
                    raise Unsplit(entry.line) from None
                if not (isinstance(value, list) and len(value) == 1):
                    raise Unsplit(entry.line)
                body = value[0]
                if not isinstance(body, dict):
                    raise Unsplit(entry.line)
            entry.spec = host_spec(self.path, body, self.profiles, self.groups, entry.digest)
            entry.text = None
        return entry.spec

    def host_vars(self, spec_groups: tuple[str, ...], host_vars: dict[str, Any]) -> dict[str, Any]:
        """Group vars (in listed order) overlaid by the host's own vars."""
        merged: dict[str, Any] = {}
        for group in spec_groups:
            merged.update(self.groups.get(group, {}).get("vars", {}))
        merged.update(host_vars)
        return merged

    def group_digests(self) -> dict[str, dict[str, Any]]:
        """Each group's line, the line of each of its variables, and its fingerprint (what
        the store keeps between applies)."""
        return {
            name: {
                "line": self.group_lines.get(name, 0),
                "vars": dict(getattr(body.get("vars"), "lines", {})),
                "digest": digest(_canonical(body)),
            }
            for name, body in self.groups.items()
        }


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _where(path: str, node: Any, key: str | None = None) -> str:
    if isinstance(node, Marked):
        line = node.lines.get(key, node.line) if key else node.line
        return f"{path}:{line}"
    return path


def _fail(path: str, node: Any, key: str | None, message: str) -> ConfigError:
    return ConfigError(f"{_where(path, node, key)}: {message}")


def read_text(path: str) -> str:
    """The inventory file's text, or a ConfigError saying why not."""
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    except FileNotFoundError:
        raise ConfigError(f"{path}: inventory file not found") from None
    except (PermissionError, IsADirectoryError) as exc:
        raise ConfigError(f"{path}: cannot read inventory: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: inventory is not valid UTF-8") from None


def parse(text: str, path: str = "<inventory>", *, lazy: bool = False) -> Inventory:
    """Parse and validate inventory text; errors name ``path`` and the line. With ``lazy``,
    host items are parsed when asked for (``Inventory.spec``, ``Inventory.specs``)."""
    with no_gc():
        inv = _parse(text, path)
    if not lazy:
        inv.specs()
    return inv


def _parse(text: str, path: str, *, whole: bool = False) -> Inventory:
    layout = None if whole else split(text)
    data: Any = None
    if layout is not None:
        try:
            data = load_yaml(layout.head, path)
        except ConfigError:
            layout = None
        if isinstance(data, dict) and data.get("hosts") is not None:
            layout = None
    if layout is None:
        data = load_yaml(text, path)
    if data is None:
        data = marked()
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
    raw_profiles, raw_groups = data.get("profiles") or {}, data.get("groups") or {}
    inv = Inventory(
        path=path,
        profiles=_parse_profiles(path, raw_profiles, data),
        groups=_parse_groups(path, raw_groups, data),
        digest=digest(text),
        profile_lines=dict(getattr(raw_profiles, "lines", {})),
        group_lines=dict(getattr(raw_groups, "lines", {})),
        text=text,
    )
    if layout is not None:
        inv.entries = [_entry(item) for item in layout.items]
        return inv
    raw_hosts = data.get("hosts") or []
    if not isinstance(raw_hosts, list):
        raise _fail(path, data, "hosts", "'hosts' must be a list")
    for body in raw_hosts:
        if not isinstance(body, dict):
            raise _fail(path, data, "hosts", "each host must be a mapping")
        fingerprint = "y:" + digest(_canonical([body, sorted(body.lines.items())]))
        spec = host_spec(path, body, inv.profiles, inv.groups, fingerprint)
        inv.entries.append(Entry(line=spec.line, digest=fingerprint, spec=spec))
    return inv


def _entry(item: Item) -> Entry:
    return Entry(line=item.line, digest=item.digest, text=item.text)


def read(path: str) -> Inventory:
    """Read the inventory file at ``path``, hosts parsed on demand."""
    return parse(read_text(path), path, lazy=True)


def load(path: str) -> Inventory:
    """Read and parse the inventory file at ``path`` (every host)."""
    return parse(read_text(path), path)


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


def check_duplicates(path: str, specs: list[HostSpec]) -> None:
    """A MAC, a name or a UUID listed twice is an error naming both lines (each identifies
    one machine)."""
    seen: dict[str, int] = {}
    names: dict[str, int] = {}
    uuids: dict[str, int] = {}
    for spec in specs:
        for mac in spec.macs:
            if mac in seen:
                line = spec.line + spec.lines.get("macs", 0)
                raise ConfigError(
                    f"{path}:{line}: MAC {mac} is listed twice (also on line {seen[mac]})"
                )
            seen[mac] = spec.line
        for what, value, taken in (("name", spec.name, names), ("UUID", spec.uuid.lower(), uuids)):
            if value and value in taken:
                raise ConfigError(
                    f"{path}:{spec.line}: {what} {value} is given twice (also on line "
                    f"{taken[value]}): it must identify one machine"
                )
            if value:
                taken[value] = spec.line


def host_spec(
    path: str,
    body: Any,
    profiles: dict[str, Profile],
    groups: dict[str, dict[str, Any]],
    fingerprint: str,
) -> HostSpec:
    """One host item checked and read (MACs, profile, state, arch, groups, vars, labels)."""
    bad = [k for k in body if k not in _HOST_KEYS]
    if bad:
        raise _fail(path, body, bad[0], f"host: unknown key '{bad[0]}'")
    raw_macs = body.get("macs") or ([body["mac"]] if "mac" in body else [])
    if not raw_macs:
        raise _fail(path, body, None, "host needs 'mac' or 'macs'")
    if not isinstance(raw_macs, list):
        raise _fail(path, body, "macs", "'macs' must be a list")
    macs = []
    for value in raw_macs:
        try:
            macs.append(normalize_mac(str(value)))
        except InvalidInput as exc:
            raise _fail(path, body, "macs" if "macs" in body else "mac", str(exc)) from None
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
    return HostSpec(
        macs=tuple(macs),
        name=str(body.get("name", "")),
        uuid=str(body.get("uuid", "")),
        profile=profile,
        state=state,
        arch=arch,
        groups=host_groups,
        vars=dict(body.get("vars") or {}),
        labels={str(k): str(v) for k, v in (body.get("labels") or {}).items()},
        line=body.line,
        lines=_key_lines(body),
        digest=fingerprint,
    )


def _key_lines(body: Marked) -> dict[str, int]:
    """Offsets from the host's first line of each key, and of each var and label."""
    lines = {("macs" if k == "mac" else k): v - body.line for k, v in body.lines.items()}
    for part in ("vars", "labels"):
        inner = body.get(part)
        if isinstance(inner, Marked):
            lines.update({f"{part}.{k}": v - body.line for k, v in inner.lines.items()})
    return lines
