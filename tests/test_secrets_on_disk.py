"""Secrets on disk: no other account can read the database that deploy tokens come from.

The attack: a local account (any user, or the DHCP daemon's account that shares pxehook's
group so its hook can reach the spool) opens the SQLite database or its WAL, reads the server
secret, and mints the install-done token of any deploying machine. Checked as a user would:
``pxehook db init`` run as a process under the usual umask 022, a write, ``stat`` of every
file, then real reads as ``nobody`` (with and without pxehook's group).
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from pxehook import fsmodes
from pxehook.lifecycle.callback import deploy_secret
from pxehook.store import SQLiteStore

ROOT_ONLY = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as another user")

#: Reads each file given; prints the ones it could open, and whether the secret was in them.
READER = """
import sys
secret = sys.argv[1].encode()
for path in sys.argv[2:]:
    try:
        data = open(path, "rb").read()
    except OSError:
        continue
    print(path, "SECRET" if secret in data else "read")
"""


@pytest.fixture
def site() -> Iterator[Path]:
    """A directory every account may pass through (pytest's own tmp is root-only)."""
    base = Path(tempfile.mkdtemp(prefix="pxh-secrets-", dir="/tmp"))
    base.chmod(0o755)
    yield base
    shutil.rmtree(base, ignore_errors=True)


def _env(site: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PXEHOOK_")}
    env.update(
        PXEHOOK_DATABASE=f"sqlite:///{site}/state/pxehook.db",
        PXEHOOK_STATE_DIR=str(site / "state"),
        PXEHOOK_SPOOL_DIR=str(site / "state" / "spool"),
        PXEHOOK_INVENTORY=str(site / "inventory.yaml"),
    )
    return env


def _pxehook(pxehook_bin: str, site: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [pxehook_bin, *args], env=_env(site), capture_output=True, text=True, umask=0o022
    )


def _as_other(argv: list[str], *, groups: list[int]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv,
        user="nobody",
        group=groups[0] if groups else "nogroup",
        extra_groups=groups,
        capture_output=True,
        text=True,
        umask=0o022,
        cwd="/",
    )


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@ROOT_ONLY
def test_other_accounts_cannot_read_the_deploy_secret(pxehook_bin: str, site: Path) -> None:
    (site / "inventory.yaml").write_text("profiles: {}\nhosts: []\n")
    init = _pxehook(pxehook_bin, site, "db", "init")
    assert init.returncode == 0, init.stderr
    db = site / "state" / "pxehook.db"
    store = SQLiteStore(str(db), create=False)
    try:
        secret = deploy_secret(store).decode()  # a write: the secret now sits in the WAL
        files = [Path(p) for p in fsmodes.db_files(str(db))]
        assert {p.name for p in files} >= {"pxehook.db", "pxehook.db-wal", "pxehook.db-shm"}
        modes = {p.name: oct(_mode(p)) for p in files}
        assert set(modes.values()) == {oct(fsmodes.DB_FILE)}, modes
        assert oct(_mode(db.parent)) == oct(fsmodes.STATE_DIR)

        reader = [sys.executable, "-c", READER, secret, *map(str, files)]
        anyone = _as_other(reader, groups=[])
        assert anyone.returncode == 0, anyone.stderr
        assert anyone.stdout == "", f"nobody read: {anyone.stdout}"
        # The DHCP daemon's account in pxehook's group (what the hook needs): still nothing.
        hook_account = _as_other(reader, groups=[db.stat().st_gid])
        assert hook_account.stdout == "", f"the hook's group read: {hook_account.stdout}"
    finally:
        store.close()


@ROOT_ONLY
def test_the_hooks_group_can_still_append_to_the_spool(pxehook_bin: str, site: Path) -> None:
    hook = site / "bin" / "pxehook-hook"
    installed = _pxehook(pxehook_bin, site, "hook", "install", "--python", "--out", str(hook))
    assert installed.returncode == 0, installed.stderr
    spool_dir = site / "state" / "spool"
    assert oct(_mode(spool_dir)) == oct(fsmodes.SPOOL_DIR)
    assert oct(_mode(spool_dir.parent)) == oct(fsmodes.STATE_DIR)
    gid = spool_dir.stat().st_gid
    ran = _as_other([str(hook), "add", "52:54:00:00:00:01", "10.0.0.1"], groups=[gid])
    assert ran.returncode == 0 and "cannot write spool" not in ran.stderr, ran.stderr
    spool = spool_dir / "hook.spool"
    assert spool.stat().st_size > 0 and spool.stat().st_gid == gid
    # ... while an account outside the group cannot even see the spool.
    outsider = _as_other([str(hook), "add", "52:54:00:00:00:02", "10.0.0.2"], groups=[])
    assert "cannot write spool" in outsider.stderr


def test_db_status_warns_about_a_database_others_can_read(pxehook_bin: str, site: Path) -> None:
    (site / "inventory.yaml").write_text("profiles: {}\nhosts: []\n")
    assert _pxehook(pxehook_bin, site, "db", "init").returncode == 0
    clean = _pxehook(pxehook_bin, site, "db", "status")
    assert clean.returncode == 0 and "warning" not in clean.stderr, clean.stderr
    db = site / "state" / "pxehook.db"
    db.chmod(_mode(db) | stat.S_IROTH)  # an operator's chmod o+r
    status = _pxehook(pxehook_bin, site, "db", "status")
    assert status.returncode == 0, status.stderr
    assert f"warning: {db} is open to others" in status.stderr, status.stderr
    assert f"chmod 600 {db}" in status.stderr
    as_json = _pxehook(pxehook_bin, site, "db", "status", "--json")
    assert '"warnings"' in as_json.stdout and str(db) in as_json.stdout
