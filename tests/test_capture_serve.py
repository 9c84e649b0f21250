"""``pxehook serve`` ingests hook events in the background (watchdog on the spool dir)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from pathlib import Path

from tests.harness.capture import build_hooks, run_hook, wait_for


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_applies_hook_records_as_they_arrive(env, store, pxehook_bin, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    spool = Path(env["PXEHOOK_SPOOL_DIR"]) / "hook.spool"
    hook, _ = build_hooks(tmp_path / "bin", spool)
    serve = subprocess.Popen(
        [pxehook_bin, "serve", "--port", str(free_port()), "--workers", "1"],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=open(tmp_path / "serve.log", "wb"),  # noqa: SIM115 - closed with the process
        start_new_session=True,
    )
    try:
        wait_for(lambda: "serving on" in (tmp_path / "serve.log").read_text(), what="serve")
        env_hook = {"DNSMASQ_TAGS": "pxh-bios eth0", "DNSMASQ_INTERFACE": "eth0"}
        assert run_hook(hook, "add", "52:54:00:5e:00:01", "10.0.0.3", env=env_hook).returncode == 0
        wait_for(lambda: store.host_get("52:54:00:5e:00:01") is not None, what="the ingester")
    finally:
        os.killpg(serve.pid, signal.SIGTERM)
        serve.wait(timeout=30)
    assert store.host_get("52:54:00:5e:00:01").arch == 0
    assert "started capture" in (tmp_path / "serve.log").read_text()
