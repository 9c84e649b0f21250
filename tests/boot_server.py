"""Test helper: a real ``pxehook serve`` (gunicorn) on a free loopback port, and curl."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from pxehook.config import load_settings
from pxehook.context import Context
from pxehook.inventory.apply import sync
from pxehook.inventory.parse import load

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


class BootServer:
    """Starts ``pxehook serve`` (web only unless services=True) in a temp dir; stops by PID."""

    def __init__(self, workdir: Path, inventory: Path, pxehook_bin: str, **extra: str) -> None:
        self.port = free_port()
        self.url = f"http://{LOOPBACK}:{self.port}"
        self.workdir = workdir
        self.env = {
            "PXEHOOK_DATABASE": f"sqlite:///{workdir}/pxehook.db",
            "PXEHOOK_INVENTORY": str(inventory),
            "PXEHOOK_STATE_DIR": str(workdir / "state"),
            "PXEHOOK_SPOOL_DIR": str(workdir / "spool"),
            "PXEHOOK_TFTP_ROOT": str(workdir / "tftp"),
            "PXEHOOK_FILES_DIR": str(workdir / "files"),
            "PXEHOOK_BIND": LOOPBACK,
            "PXEHOOK_PORT": str(self.port),
            "PXEHOOK_HTTP_BASE_URL": self.url,
            **extra,
        }
        for sub in ("state", "tftp", "files"):
            (workdir / sub).mkdir(parents=True, exist_ok=True)
        self.ctx = Context(load_settings(env=self.env))
        sync(load(str(inventory)), self.ctx.store())
        self.bin = pxehook_bin
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 20, *, services: bool = False) -> BootServer:
        log = open(self.workdir / "serve.log", "wb")  # noqa: SIM115 - closed in stop()
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("PXEHOOK_")}, **self.env}
        self.proc = subprocess.Popen(
            [self.bin, "serve"] + ([] if services else ["--no-services"]),
            env=env,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        self._log = log
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"pxehook serve exited: {self.log_text()}")
            if curl(self.url + "/healthz")[0] == 200:
                return self
            time.sleep(0.1)
        raise RuntimeError(f"pxehook serve did not answer in {timeout}s: {self.log_text()}")

    def log_text(self) -> str:
        return (self.workdir / "serve.log").read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        self._log.close()
        self.ctx.close()


def curl(url: str, *extra: str, source: str = "") -> tuple[int, bytes]:
    """GET ``url`` with curl (loopback only); returns (status, body)."""
    host = url.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)[0]
    assert host.startswith("127."), f"refusing to curl non-loopback {url}"
    argv = ["curl", "-s", "--max-time", "10", "-o", "-", "-w", "\n%{http_code}", *extra]
    if source:
        argv += ["--interface", source]
    done = subprocess.run([*argv, url], capture_output=True, timeout=15)
    body, _, code = done.stdout.rpartition(b"\n")
    return int(code or 0), body


def events_when(store, host_id: int, ready, timeout: float = 5.0):  # type: ignore[no-untyped-def]
    """The host's events once ``ready(events)`` holds (events are written in batches)."""
    deadline = time.monotonic() + timeout
    while True:
        events = store.events(host_id)
        if ready(events) or time.monotonic() > deadline:
            return events
        time.sleep(0.05)
