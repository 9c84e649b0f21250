"""A throw-away PostgreSQL server for tests: initdb in a temp dir, Unix socket only.

No TCP listener at all (``listen_addresses=''``): clients connect through a socket
directory the test owns. Runs as the ``postgres`` system user (PostgreSQL refuses root).
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path


def pg_bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


class PgServer:
    """Start with ``start()``, get per-test databases from ``new_database()``, ``stop()``."""

    def __init__(self) -> None:
        bindir = pg_bindir()
        if bindir is None:
            raise RuntimeError("PostgreSQL server binaries not installed (package postgresql)")
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="pxehook-pg-"))
        self.data = self.root / "data"
        self.sock = self.root / "sock"
        self.proc: subprocess.Popen[bytes] | None = None
        self._names = itertools.count(1)

    def _as_postgres(self, *argv: str, **kw) -> subprocess.CompletedProcess[str]:  # type: ignore[no-untyped-def]
        return subprocess.run(
            ["runuser", "-u", "postgres", "--", *argv],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
            **kw,
        )

    def start(self) -> PgServer:
        pw = pwd.getpwnam("postgres")
        self.sock.mkdir(parents=True)
        for path in (self.root, self.sock):
            os.chown(path, pw.pw_uid, pw.pw_gid)
        self._as_postgres(
            str(self.bindir / "initdb"),
            "-D",
            str(self.data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
            "-E",
            "UTF8",
        )
        return self._launch()

    def _launch(self) -> PgServer:
        log = open(self.root / "postgres.log", "ab")  # noqa: SIM115 - child's stdout
        self.proc = subprocess.Popen(
            [
                "runuser",
                "-u",
                "postgres",
                "--",
                str(self.bindir / "postgres"),
                "-D",
                str(self.data),
                "-k",
                str(self.sock),
                "-c",
                "listen_addresses=",
                "-c",
                "fsync=off",
                "-c",
                "max_connections=50",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            ready = subprocess.run(
                [str(self.bindir / "pg_isready"), "-h", str(self.sock), "-q"], timeout=10
            )
            if ready.returncode == 0:
                return self
            time.sleep(0.1)
        raise RuntimeError("PostgreSQL did not start: " + (self.root / "postgres.log").read_text())

    def halt(self) -> None:
        """Stop the server (fast shutdown: sessions end), keeping its data: an outage."""
        if self.proc and self.proc.poll() is None:
            pg_ctl = str(self.bindir / "pg_ctl")
            self._as_postgres(pg_ctl, "stop", "-D", str(self.data), "-m", "fast", "-w")
            self.proc.wait(timeout=20)

    def resume(self) -> PgServer:
        """Start the halted server again on the same data and socket."""
        return self._launch()

    def dsn(self, database: str) -> str:
        return f"postgresql://postgres@/{database}?host={self.sock}"

    def new_database(self) -> str:
        name = f"t{next(self._names)}"
        self._as_postgres(str(self.bindir / "createdb"), "-h", str(self.sock), name)
        return self.dsn(name)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        with contextlib.suppress(OSError):
            shutil.rmtree(self.root)
