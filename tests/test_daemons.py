"""The daemon registry is the one list: generators, readers, hooks, templates and docs follow it."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from pxehook import daemons
from pxehook.capture import hook_py, readers
from pxehook.capture import spool as sp
from pxehook.config import SETTINGS
from pxehook.gen import GENERATORS

ROOT = Path(__file__).resolve().parent.parent


def c_hook_prefixes() -> tuple[str, ...]:
    """The PREFIXES array compiled into hooks/pxehook-hook.c, read from its source."""
    source = (ROOT / "hooks" / "pxehook-hook.c").read_text()
    body = re.search(r"PREFIXES\[\]\s*=\s*\{(.*?)\};", source, re.S)
    assert body, "hooks/pxehook-hook.c has no PREFIXES array"
    items = [item.strip() for item in body.group(1).split(",") if item.strip()]
    assert items[-1] == "NULL", "the C PREFIXES array must end with NULL"
    assert all(re.fullmatch(r'"[A-Z0-9_]+=?"', item) for item in items[:-1]), items
    return tuple(item.strip('"') for item in items[:-1])


def test_the_c_hook_keeps_exactly_the_registry_environment() -> None:
    assert c_hook_prefixes() == daemons.HOOK_ENV, "copy daemons.HOOK_ENV into the C PREFIXES"


def test_the_python_hook_keeps_exactly_the_registry_environment() -> None:
    found = tuple(p.decode() for p in hook_py.PREFIXES)
    assert found == daemons.HOOK_ENV, "copy daemons.HOOK_ENV into capture/hook_py.py PREFIXES"


def test_no_module_but_the_registry_spells_a_daemon_name() -> None:
    spelled = []
    for path in sorted((ROOT / "pxehook").rglob("*.py")):
        if path.name == "daemons.py" and path.parent.name == "pxehook":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and node.value in daemons.NAMES:
                spelled.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value!r}")
    assert not spelled, "read the name from pxehook.daemons instead:\n" + "\n".join(spelled)


def test_names_are_unique_words_and_modes_known() -> None:
    assert len(set(daemons.NAMES)) == len(daemons.DAEMONS)
    for d in daemons.DAEMONS:
        assert re.fullmatch(r"[a-z][a-z0-9]*", d.name), d.name
        assert d.dhcp_modes and set(d.dhcp_modes) <= set(daemons.DHCP_MODES), d.name
        assert "{file}" in " ".join(d.check) and d.binary == d.check[0]
        assert "{hook}" in d.hook_wiring
        assert d.config_path.startswith("/") and d.lease_path.startswith("/")
        assert all(re.fullmatch(r"[A-Z0-9_]+(_|=)", p) for p in d.hook_env), d.hook_env


def test_daemon_settings_exist() -> None:
    names = {s.name for s in SETTINGS}
    for d in daemons.DAEMONS:
        assert set(d.settings) <= names, d.name


@pytest.mark.parametrize("daemon", daemons.DAEMONS, ids=daemons.NAMES)
def test_every_daemon_has_a_generator_reader_templates_and_docs(daemon: daemons.Daemon) -> None:
    assert GENERATORS[daemon.name].daemon is daemon
    assert readers.READERS[daemon.name].daemon is daemon
    suffix = GENERATORS[daemon.name].suffix
    for dhcp_mode in daemon.dhcp_modes:
        assert (ROOT / "templates" / daemon.name / f"{dhcp_mode}.{suffix}.j2").is_file()
    assert (ROOT / "docs" / "dhcp" / f"{daemon.name}.md").is_file()
    assert daemon.check_argv("/x/bin", "/tmp/f.conf")[0] == "/x/bin"
    assert "/tmp/f.conf" in " ".join(daemon.check_argv("/x/bin", "/tmp/f.conf"))


def record(args: list[bytes], env: dict[str, bytes] | None = None) -> sp.Record:
    return sp.Record(offset=0, end=0, at=1.0, args=tuple(args), env=env or {})


@pytest.mark.parametrize(
    ("first", "env", "owner"),
    [
        (b"add", {}, "dnsmasq"),
        (b"tftp", {}, "dnsmasq"),
        (b"arp-del", {}, "dnsmasq"),
        (b"some-future-action", {"DNSMASQ_TAGS": b"a"}, "dnsmasq"),
        (b"isc", {}, "isc"),
        (b"leases4_committed", {"LEASES4_SIZE": b"0"}, "kea"),
        (b"lease4_expire", {"REMOVE_LEASE": b"1"}, "kea"),
        (b"lease6_renew", {}, "kea"),
        (b"something", {"QUERY4_TYPE": b"DHCPREQUEST"}, "kea"),
        (b"something", {}, None),
    ],
)
def test_each_hook_record_belongs_to_one_daemon(
    first: bytes, env: dict[str, bytes], owner: str | None
) -> None:
    rec = record([first], env)
    matching = [name for name, r in readers.READERS.items() if r.first_arg.fullmatch(rec.arg(0))]
    assert len(matching) <= 1, matching
    found = readers.reader_for(rec)
    assert (found.daemon.name if found else None) == owner
