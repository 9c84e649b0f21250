"""The CLI as a user meets it: help everywhere, JSON listings, one-line errors, exit codes."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import click
import pytest

from pxehook import __version__
from pxehook.cli.root import cli as root_group
from pxehook.errors import ExitCode


def all_commands(group: click.Group, prefix: tuple[str, ...] = ()):
    for name, cmd in sorted(group.commands.items()):
        yield (*prefix, name), cmd
        if isinstance(cmd, click.Group):
            yield from all_commands(cmd, (*prefix, name))


COMMANDS = [path for path, _ in all_commands(root_group)]


@pytest.mark.parametrize("path", COMMANDS, ids=[" ".join(p) for p in COMMANDS])
def test_every_command_has_help(cli, path):
    result = cli(*path, "--help")
    assert result.code == 0, result
    assert "Usage: pxehook " + " ".join(path) in result.out


def test_every_listing_has_json():
    listings = [(p, c) for p, c in all_commands(root_group) if p[-1] in ("list", "show")]
    assert listings
    for path, cmd in listings:
        assert any("--json" in param.opts for param in cmd.params), " ".join(path)


def test_version(cli):
    assert cli("--version").out.strip() == f"pxehook, version {__version__}"


def test_host_lifecycle_through_the_cli(cli):
    assert cli("db", "init").code == 0
    listed = json.loads(cli("host", "list", "--json").out)
    assert {h["mac"] for h in listed} == {
        "52:54:00:12:34:01",
        "52:54:00:12:34:02",
        "52:54:00:12:34:03",
    }
    r = cli(
        "host",
        "set",
        "AABB.CCDD.EEFF",
        "--name",
        "web1",
        "--arch",
        "efi-x64",
        "--var",
        "disk=/dev/sda",
        "--label",
        "rack=r2",
        "--json",
    )
    assert r.code == 0 and json.loads(r.out)["created"] is True
    shown = json.loads(cli("host", "show", "01-aa-bb-cc-dd-ee-ff", "--json").out)
    assert (shown["name"], shown["arch"], shown["vars"], shown["labels"]) == (
        "web1",
        7,
        {"disk": "/dev/sda"},
        {"rack": "r2"},
    )
    assert json.loads(cli("host", "list", "--label", "rack=r2", "--json").out)[0]["name"] == "web1"
    assert cli("host", "rm", "aa:bb:cc:dd:ee:ff", "--yes").code == 0
    assert cli("host", "show", "aa:bb:cc:dd:ee:ff").code == ExitCode.NOT_FOUND


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("host", "show", "zz:zz"), ExitCode.INVALID_INPUT, "invalid MAC address 'zz:zz'"),
        (
            ("host", "set", "52:54:00:00:00:01", "--var", "novalue"),
            ExitCode.INVALID_INPUT,
            "must look like key=value",
        ),
        (
            ("host", "set", "52:54:00:00:00:01", "--arch", "sparc"),
            ExitCode.INVALID_INPUT,
            "unknown architecture 'sparc'",
        ),
        (
            ("host", "set", "52:54:00:00:00:01", "--profile", "nope"),
            ExitCode.NOT_FOUND,
            "no profile named 'nope'",
        ),
        (("profile", "show", "nope"), ExitCode.NOT_FOUND, "no profile named 'nope'"),
    ],
)
def test_user_errors_are_one_line_with_a_named_exit_code(cli, args, code, message):
    cli("db", "init")
    result = cli(*args)
    assert result.code == code, result
    assert result.err.count("\n") == 1 and message in result.err
    assert "Traceback" not in result.err + result.out


def test_unknown_setting_and_bad_database_path_fail_cleanly(cli, tmp_path):
    r = cli("host", "list", extra_env={"PXEHOOK_WROKERS": "2"})
    assert r.code == ExitCode.CONFIG and "unknown setting variable PXEHOOK_WROKERS" in r.err
    (tmp_path / "afile").write_text("")
    r = cli("--database", f"sqlite:///{tmp_path}/afile/x.db", "db", "init")
    assert r.code == ExitCode.STORE and "cannot create database directory" in r.err
    assert "Traceback" not in r.err


def test_broken_inventory_names_file_and_line_and_changes_nothing(cli, env):
    assert cli("db", "init").code == 0
    before = cli("host", "list", "--json").out
    path = env["PXEHOOK_INVENTORY"]
    with open(path, "a") as fh:
        fh.write("  - mac: 52:54:00:12:34:99\n    profile: [broken\n")
    r = cli("inventory", "sync")
    assert r.code == ExitCode.CONFIG and f"{path}:" in r.err and "invalid YAML" in r.err
    assert cli("host", "list", "--json").out == before


def test_hostile_hostname_is_printed_escaped(cli, store):
    from pxehook.models import Observation

    store.observe(
        Observation(
            mac="52:54:00:00:66:66", source="dnsmasq", hostname="x\n; rm -rf / \x1b[31m\u202e"
        )
    )
    out = cli("host", "show", "52:54:00:00:66:66").out
    assert "x\\n; rm -rf / \\x1b[31m\\u202e" in out
    assert "\x1b" not in out and "\u202e" not in out


def test_console_script_runs_as_a_process(pxehook_bin, env):
    r = subprocess.run(
        [pxehook_bin, "arch", "show", "7", "--json"],
        capture_output=True,
        text=True,
        env={**env, "PATH": "/usr/bin:/bin"},
        timeout=30,
    )
    assert r.returncode == 0 and json.loads(r.stdout)["slug"] == "efi-x64"


def test_each_command_is_defined_by_the_modules_the_root_names():
    """``COMMAND_OWNERS`` is what lets a command import only its own modules: it must name
    every top-level command, and the modules it names must define that command."""
    from pxehook.cli import root

    assert set(root_group.commands) == set(root.COMMAND_OWNERS)
    owners = {m for mods in root.COMMAND_OWNERS.values() for m in mods}
    assert owners == set(root.COMMAND_MODULES)
    for name, modules in root.COMMAND_OWNERS.items():
        fresh = root.LazyGroup("probe")
        fresh.load(modules)
        assert name in fresh._commands, (name, modules)


def test_inventory_commands_do_not_import_the_web_server(pxehook_bin, env):
    """Every command used to import every command's modules (Flask, gunicorn, the
    generators: ~0.2 s of CPU per run); ``inventory check`` needs none of them (it does
    need Jinja2, to check templates)."""
    probe = (
        "import sys\n"
        "from pxehook.cli import main\n"
        "try:\n"
        "    main(['inventory', 'check'])\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
        "heavy = ('flask', 'gunicorn', 'pxehook.web', 'pxehook.gen')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    python = str(Path(pxehook_bin).parent / "python")
    r = subprocess.run([python, "-c", probe], capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1] == "[]", r.stdout
