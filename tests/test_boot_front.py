"""The nginx front: pre-rendered per-MAC files served by a real nginx, hits on the timeline."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pxehook.boot.accesslog import parse_line
from pxehook.boot.front import nginx_config
from pxehook.models import Observation, State
from tests.boot_server import LOOPBACK, BootServer, curl, events_when, free_port
from tests.conftest import require_tool

pytestmark = pytest.mark.daemon
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


@pytest.fixture(scope="module")
def front(tmp_path_factory):  # type: ignore[no-untyped-def]
    require_tool("nginx", "curl")
    work = tmp_path_factory.mktemp("front")
    os.chmod(work, 0o755)
    nport = free_port()
    srv = BootServer(
        work,
        REPO / "templates/samples/inventory.yaml",
        str(Path(sys.executable).parent / "pxehook"),
        PXEHOOK_PRERENDER_DIR=str(work / "pre"),
        PXEHOOK_ACCESS_LOG=str(work / "access.log"),
    )
    srv.env["PXEHOOK_HTTP_BASE_URL"] = f"http://{LOOPBACK}:{nport}"
    store = srv.ctx.store()
    for mac in (NODE01, NODE02):
        store.observe(Observation(mac, "dhcp", arch=0))
    srv.start(services=True)
    server = nginx_config(
        str(work / "pre"), f"{LOOPBACK}:{srv.port}", f"{LOOPBACK}:{nport}", str(work / "access.log")
    )
    conf = work / "nginx.conf"
    conf.write_text(
        f"user root; daemon off; worker_processes 1; pid {work}/nginx.pid;\n"
        f"error_log {work}/nginx.err warn; events {{ worker_connections 256; }}\n"
        f"http {{ client_body_temp_path {work}/b; proxy_temp_path {work}/p;\n"
        f"fastcgi_temp_path {work}/f; uwsgi_temp_path {work}/u; scgi_temp_path {work}/s;\n"
        f"{server}}}\n"
    )
    ngx = subprocess.Popen(
        ["nginx", "-c", str(conf)], start_new_session=True, stderr=subprocess.PIPE
    )
    url = f"http://{LOOPBACK}:{nport}"
    assert wait_for(lambda: curl(url + "/healthz")[0] == 200), ngx.stderr
    mac_file = work / "pre" / "ipxe" / NODE02.replace(":", "-")
    assert wait_for(mac_file.exists), srv.log_text()
    yield {"url": url, "srv": srv, "work": work}
    os.killpg(ngx.pid, signal.SIGTERM)
    ngx.wait(timeout=10)
    srv.stop()


def static_hits(work: Path) -> list[str]:
    return [ln for ln in (work / "access.log").read_text().splitlines() if parse_line(ln)]


def test_nginx_serves_the_prerendered_answer_and_it_is_recorded(front) -> None:  # type: ignore[no-untyped-def]
    srv, url = front["srv"], front["url"]
    direct = curl(srv.url + "/ipxe/" + NODE02)[1]
    status, body = curl(url + "/ipxe/52-54-00-12-34-02?buildarch=x86_64&platform=efi")
    assert status == 200 and body == direct and b"sanboot" in body
    assert wait_for(
        lambda: any("/ipxe/52-54-00-12-34-02" in ln for ln in static_hits(front["work"]))
    )
    host = srv.ctx.store().host_get(NODE02)

    def recorded():  # type: ignore[no-untyped-def]
        return [
            e
            for e in srv.ctx.store().events(host.id)
            if e.kind == "boot.config" and e.source == "nginx"
        ]

    events = wait_for(recorded)
    assert events and events[-1].data["action"] == "local"
    mismatch = [e for e in srv.ctx.store().events(host.id) if e.kind == "boot.arch_mismatch"]
    assert mismatch and mismatch[-1].source == "nginx"


def test_state_change_rerenders_the_file(front) -> None:  # type: ignore[no-untyped-def]
    srv, url = front["srv"], front["url"]
    path = url + "/bootfiles/pxelinux.cfg/01-52-54-00-12-34-01"
    assert b"KERNEL" in curl(path)[1]
    host = srv.ctx.store().host_get(NODE01)
    srv.ctx.store().set_state(host.id, State.DEPLOYED, source="test")
    started = time.monotonic()

    def local() -> bool:
        body = curl(path)[1]
        return b"DEFAULT local" in body and b"KERNEL" not in body

    assert wait_for(local, timeout=10)
    assert time.monotonic() - started < 5  # re-rendered on change within seconds


def test_unknown_mac_falls_back_to_gunicorn(front) -> None:  # type: ignore[no-untyped-def]
    srv, url = front["srv"], front["url"]
    status, body = curl(url + "/ipxe/52-54-00-aa-bb-cc?buildarch=x86_64&platform=efi")
    assert status == 200 and b"exit 1" in body
    host = srv.ctx.store().host_get("52:54:00:aa:bb:cc")
    assert host is not None and host.state == State.NEW
    events = events_when(
        srv.ctx.store(), host.id, lambda evs: any(e.kind == "boot.config" for e in evs)
    )
    time.sleep(1)  # the ingester had time to (wrongly) record the proxied line too
    events = srv.ctx.store().events(host.id)
    sources = {e.source for e in events if e.kind == "boot.config"}
    assert sources == {"http"}  # recorded once, by gunicorn, not again from the log
