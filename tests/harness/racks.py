"""Several racks of one fleet for tests: each a real ``pxehook serve`` (gunicorn + its
supervisor) on its own loopback address, all on one PostgreSQL database.

Each rack has its own state directory, spool and copy of the inventory (as each rack's
machine would); they share only the database. Probes go to 127.0.0.0/8 only.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from tests.boot_server import curl


def free_port(address: str) -> int:
    with socket.socket() as sock:
        sock.bind((address, 0))
        return int(sock.getsockname()[1])


def wait_until(check: Callable[[], object], timeout: float, what: str) -> float:
    """Seconds it took for ``check()`` to hold (AssertionError after ``timeout``)."""
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < timeout, f"timed out waiting for {what}"
        time.sleep(0.05)
    return time.monotonic() - started


class Rack:
    """One resolver: ``pxehook serve`` with all its services, named ``name``."""

    def __init__(
        self, name: str, address: str, database: str, inventory: Path, workdir: Path,
        pxehook_bin: str, **extra: str,
    ) -> None:  # fmt: skip
        assert address.startswith("127."), f"racks live on loopback only, not {address}"
        self.name, self.address, self.workdir = name, address, workdir
        self.port = free_port(address)
        self.url = f"http://{address}:{self.port}"
        workdir.mkdir(parents=True, exist_ok=True)
        shutil.copy(inventory, workdir / "inventory.yaml")
        for sub in ("state", "tftp", "files", "spool"):
            (workdir / sub).mkdir(exist_ok=True)
        self.env = {
            "PXEHOOK_DATABASE": database,
            "PXEHOOK_RACK_NAME": name,
            "PXEHOOK_INVENTORY": str(workdir / "inventory.yaml"),
            "PXEHOOK_STATE_DIR": str(workdir / "state"),
            "PXEHOOK_SPOOL_DIR": str(workdir / "spool"),
            "PXEHOOK_TFTP_ROOT": str(workdir / "tftp"),
            "PXEHOOK_FILES_DIR": str(workdir / "files"),
            "PXEHOOK_BIND": address,
            "PXEHOOK_PORT": str(self.port),
            "PXEHOOK_HTTP_BASE_URL": self.url,
            "PXEHOOK_WORKERS": "1",
            "PXEHOOK_LEADER_CHECK_INTERVAL": "1",
            "PXEHOOK_LIFECYCLE_SWEEP_INTERVAL": "1",
            **extra,
        }
        self.bin = pxehook_bin
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30) -> Rack:
        log = open(self.workdir / "serve.log", "ab")  # noqa: SIM115 - the child's output
        keep = {k: v for k, v in os.environ.items() if not k.startswith("PXEHOOK_")}
        self.proc = subprocess.Popen(
            [self.bin, "serve"], env={**keep, **self.env}, stdout=log, stderr=log,
            start_new_session=True,
        )  # fmt: skip
        log.close()
        wait_until(lambda: self._up(), timeout, f"rack {self.name} to answer")
        return self

    def _up(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(f"rack {self.name} exited: {self.log_text()}")
        return self.health()[0] in (200, 503)

    def health(self) -> tuple[int, dict]:
        status, body = curl(self.url + "/healthz")
        return status, json.loads(body) if body.startswith(b"{") else {}

    def role(self) -> str:
        return str(self.health()[1].get("role", ""))

    def log_text(self) -> str:
        return (self.workdir / "serve.log").read_text(errors="replace")

    def kill9(self) -> None:
        """SIGKILL the supervisor (gunicorn dies with it: PR_SET_PDEATHSIG)."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        elif self.proc is not None:  # killed by the test: reap what is left of its group
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
