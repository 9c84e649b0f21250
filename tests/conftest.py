"""Shared fixtures: settings over a temp directory, a store, the CLI in-process, netns labs."""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from pxehook.config import load_settings
from pxehook.context import Context
from pxehook.store import open_store
from pxehook.templating import packaged_templates_dir
from tests.harness import netns

REPO = Path(__file__).resolve().parent.parent
SAMPLE_INVENTORY = Path(packaged_templates_dir()) / "samples" / "inventory.yaml"
STRICT = bool(os.environ.get("CI") or os.environ.get("PXEHOOK_REQUIRE_ALL"))


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """PXEHOOK_* environment pointing every path into ``tmp_path``."""
    inventory = tmp_path / "inventory.yaml"
    shutil.copy(SAMPLE_INVENTORY, inventory)
    return {
        "PXEHOOK_DATABASE": f"sqlite:///{tmp_path}/pxehook.db",
        "PXEHOOK_INVENTORY": str(inventory),
        "PXEHOOK_STATE_DIR": str(tmp_path / "state"),
        "PXEHOOK_SPOOL_DIR": str(tmp_path / "spool"),
        "PXEHOOK_TFTP_ROOT": str(tmp_path / "tftp"),
    }


@pytest.fixture
def settings(env: dict[str, str]):  # type: ignore[no-untyped-def]
    return load_settings(env=env)


@pytest.fixture
def ctx(settings):  # type: ignore[no-untyped-def]
    context = Context(settings)
    yield context
    context.close()


@pytest.fixture
def store(ctx):  # type: ignore[no-untyped-def]
    return ctx.store()


class CliResult:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err

    def __repr__(self) -> str:
        return f"CliResult(code={self.code}, out={self.out!r}, err={self.err!r})"


@pytest.fixture
def cli(env: dict[str, str]):  # type: ignore[no-untyped-def]
    """Run ``pxehook ARGS`` in-process with the test environment; returns CliResult.

    The database exists (as after ``pxehook db init --no-inventory``): read commands refuse
    a missing one. Tests of a fresh machine point ``--database`` elsewhere.
    """
    from pxehook.cli import main

    if "PXEHOOK_DATABASE" in env:  # (a test may pass its own "env", overriding the fixture)
        open_store(env["PXEHOOK_DATABASE"]).close()

    def run(
        *args: str, input: str | None = None, extra_env: dict[str, str] | None = None
    ) -> CliResult:
        runner = CliRunner()
        full_env = {**env, **(extra_env or {})}
        code = 0

        def entry() -> None:
            main(list(args))

        import click

        wrapper = click.Command("wrap", callback=entry)
        result = runner.invoke(wrapper, [], input=input, env=full_env, catch_exceptions=False)
        code = result.exit_code
        return CliResult(code, result.stdout, result.stderr)

    return run


@pytest.fixture
def pxehook_bin() -> str:
    """Absolute path of the installed ``pxehook`` console script of this interpreter."""
    path = Path(sys.executable).parent / "pxehook"
    assert path.exists(), f"pxehook is not installed in {sys.prefix} (pip install -e .)"
    return str(path)


@pytest.fixture(scope="session")
def pg_server():  # type: ignore[no-untyped-def]
    """A real PostgreSQL server (Unix socket only) for the whole session."""
    from tests.harness.pgserver import PgServer, pg_bindir

    if pg_bindir() is None or os.geteuid() != 0:
        message = "PostgreSQL tests need the postgresql package and root (runuser)"
        if STRICT:
            pytest.fail(message)
        pytest.skip(message)
    server = PgServer().start()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgres"])
def any_store(request, tmp_path):  # type: ignore[no-untyped-def]
    """The same contract tests against every back end."""
    from pxehook.store import open_store

    if request.param == "sqlite":
        store = open_store(f"sqlite:///{tmp_path}/contract.db")
    else:
        store = open_store(request.getfixturevalue("pg_server").new_database())
    yield store
    store.close()


_lab_counter = itertools.count(1)


@pytest.fixture
def netlab(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A fresh NetLab (bridge namespace) unique to this test; removed afterwards."""
    reason = netns.available()
    if reason:
        if STRICT:
            pytest.fail(reason)
        pytest.skip(reason)
    n = next(_lab_counter)
    index = (os.getpid() % 50) * 5 + (n % 5) + 1
    lab = netns.NetLab(
        prefix=f"ph{os.getpid() % 10000}{n}", subnet_index=index, workdir=tmp_path / "lab"
    )
    lab.up()
    try:
        yield lab
    finally:
        lab.close()


def require_tool(*names: str) -> None:
    """Fail (CI) or skip (a developer box) when a daemon/tool is not installed."""
    missing = [n for n in names if shutil.which(n) is None and not Path(n).exists()]
    if missing:
        message = f"not installed: {', '.join(missing)} (scripts/test.sh installs them)"
        if STRICT:
            pytest.fail(message)
        pytest.skip(message)


def run(argv: list[str], timeout: float = 60, **kw) -> subprocess.CompletedProcess[str]:  # type: ignore[no-untyped-def]
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kw)
