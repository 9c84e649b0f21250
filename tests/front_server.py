"""Test helper: a real nginx in front of a real ``pxehook serve`` (the nginx front), loopback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from pxehook.boot.front import nginx_config
from pxehook.models import Observation
from tests.boot_server import LOOPBACK, BootServer, curl, free_port

REPO = Path(__file__).resolve().parent.parent
NODE01, NODE02 = "52:54:00:12:34:01", "52:54:00:12:34:02"


def wait_for(check, timeout: float = 15.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    return check()


class Front:
    """nginx (static per-MAC files, the rest proxied) + ``pxehook serve`` with its services."""

    def __init__(self, work: Path, **env: str) -> None:
        os.chmod(work, 0o755)
        self.work, self.log = work, work / "access.log"
        nport = free_port()
        self.srv = BootServer(
            work,
            REPO / "templates/samples/inventory.yaml",
            str(Path(sys.executable).parent / "pxehook"),
            PXEHOOK_PRERENDER_DIR=str(work / "pre"),
            PXEHOOK_ACCESS_LOG=str(self.log),
            **env,
        )
        self.srv.env["PXEHOOK_HTTP_BASE_URL"] = f"http://{LOOPBACK}:{nport}"
        self.store = self.srv.ctx.store()
        for mac in (NODE01, NODE02):
            self.store.observe(Observation(mac, "dhcp", arch=0))
        self.srv.start(services=True)
        server = nginx_config(
            str(work / "pre"), f"{LOOPBACK}:{self.srv.port}", f"{LOOPBACK}:{nport}", str(self.log)
        )
        conf = work / "nginx.conf"
        conf.write_text(
            f"user root; daemon off; worker_processes 1; pid {work}/nginx.pid;\n"
            f"error_log {work}/nginx.err warn; events {{ worker_connections 256; }}\n"
            f"http {{ client_body_temp_path {work}/b; proxy_temp_path {work}/p;\n"
            f"fastcgi_temp_path {work}/f; uwsgi_temp_path {work}/u; scgi_temp_path {work}/s;\n"
            f"{server}}}\n"
        )
        self.nginx = subprocess.Popen(
            ["nginx", "-c", str(conf)], start_new_session=True, stderr=subprocess.PIPE
        )
        self.url = f"http://{LOOPBACK}:{nport}"
        assert wait_for(lambda: curl(self.url + "/healthz")[0] == 200), self.nginx.stderr
        assert wait_for(self.file(NODE02).exists), self.srv.log_text()

    def file(self, mac: str) -> Path:
        return self.work / "pre" / "ipxe" / mac.replace(":", "-")

    def fetch(self, *paths: str) -> list[int]:
        """GET every path through nginx as written (no client-side clean-up), one curl."""
        argv = ["curl", "-s", "--path-as-is", "--max-time", "30"]
        for path in paths:
            argv += ["-o", "/dev/null", "-w", "%{http_code}\n", self.url + path]
        assert self.url.startswith(f"http://{LOOPBACK}:")
        out = subprocess.run(argv, capture_output=True, text=True, timeout=60).stdout
        return [int(code) for code in out.split()]

    def recorded(self, mac: str, source: str = "nginx") -> list:  # type: ignore[type-arg]
        host = self.store.host_get(mac)
        return [
            e for e in self.store.events(host.id) if e.kind == "boot.config" and e.source == source
        ]

    def supervisor(self, sig: signal.Signals) -> None:
        """Signal ``pxehook serve`` itself (not gunicorn): SIGSTOP holds the ingester."""
        assert self.srv.proc is not None
        os.kill(self.srv.proc.pid, sig)

    def reopen_logs(self) -> None:
        """What logrotate's postrotate does: nginx reopens its logs on USR1."""
        os.kill(int((self.work / "nginx.pid").read_text()), signal.SIGUSR1)

    def stop(self) -> None:
        os.killpg(self.nginx.pid, signal.SIGTERM)
        self.nginx.wait(timeout=10)
        self.srv.stop()
