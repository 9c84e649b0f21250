"""The nginx front: pre-rendered per-MAC files served by a real nginx, hits on the timeline."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from pxehook.boot.accesslog import parse_line
from pxehook.models import State
from tests.boot_server import curl, events_when
from tests.conftest import require_tool
from tests.front_server import NODE01, NODE02, Front, wait_for

pytestmark = pytest.mark.daemon


@pytest.fixture(scope="module")
def front(tmp_path_factory):  # type: ignore[no-untyped-def]
    require_tool("nginx", "curl")
    running = Front(tmp_path_factory.mktemp("front"))
    yield running
    running.stop()


def static_hits(work: Path) -> list[str]:
    return [ln for ln in (work / "access.log").read_text().splitlines() if parse_line(ln)]


def test_nginx_serves_the_prerendered_answer_and_it_is_recorded(front) -> None:  # type: ignore[no-untyped-def]
    srv, url = front.srv, front.url
    direct = curl(srv.url + "/ipxe/" + NODE02)[1]
    status, body = curl(url + "/ipxe/52-54-00-12-34-02?buildarch=x86_64&platform=efi")
    assert status == 200 and body == direct and b"sanboot" in body
    assert wait_for(lambda: any("/ipxe/52-54-00-12-34-02" in ln for ln in static_hits(front.work)))
    events = wait_for(lambda: front.recorded(NODE02))
    assert events and events[-1].data["action"] == "local"
    host = front.store.host_get(NODE02)
    mismatch = [e for e in front.store.events(host.id) if e.kind == "boot.arch_mismatch"]
    assert mismatch and mismatch[-1].source == "nginx"


def test_every_spelling_nginx_serves_is_recorded_against_the_file_it_served(front) -> None:  # type: ignore[no-untyped-def]
    """Before: nginx normalised these to the host's file and served it, but the ingester
    read the raw request URI, found no MAC in it and recorded nothing."""
    spellings = [
        "/ipxe/../ipxe/52-54-00-12-34-02",
        "/ipxe%2F52-54-00-12-34-02",
        "//ipxe//52-54-00-12-34-02",
        "/ipxe/52-54-00-12-34-0%32",
        "/x/./../ipxe/52-54-00-12-34-02?buildarch=x86_64&platform=pcbios",
        "/bootfiles/../pxelinux.cfg/01-52-54-00-12-34-02",
    ]
    before = len(front.recorded(NODE02))
    assert front.fetch(*spellings) == [200] * len(spellings)
    assert front.fetch("/ipxe/52-54-00-12-34-02", "-H", "Range: bytes=0-9")  # (a 206)
    events = wait_for(lambda: len(front.recorded(NODE02)) >= before + len(spellings) + 1)
    assert events, [e.data["path"] for e in front.recorded(NODE02)]
    paths = sorted({e.data["path"] for e in front.recorded(NODE02)[before:]})
    assert paths == ["/ipxe/52-54-00-12-34-02", "/pxelinux.cfg/01-52-54-00-12-34-02"]
    assert {e.data["via"] for e in front.recorded(NODE02)[before:]} == {"nginx"}


def test_a_deploying_host_is_never_prerendered_and_every_spelling_is_recorded(front) -> None:  # type: ignore[no-untyped-def]
    """Its answer holds the deploy token and changes by the clock: gunicorn answers it."""
    assert front.store.host_get(NODE01).state == State.DEPLOYING
    assert not front.file(NODE01).exists()
    before = len(front.recorded(NODE01, "http"))
    spellings = [
        "/ipxe/52-54-00-12-34-01",
        "/ipxe%2F52-54-00-12-34-01",
        "//ipxe//52-54-00-12-34-01",  # nginx passes the raw URI on: gunicorn refuses
        "/ipxe/../ipxe/52-54-00-12-34-01",
    ]
    codes = front.fetch(*spellings)
    served = codes.count(200)
    assert served >= 2 and all(c == 200 or 400 <= c < 500 for c in codes), codes
    assert wait_for(lambda: len(front.recorded(NODE01, "http")) >= before + served)
    assert front.recorded(NODE01) == []


def test_state_change_rerenders_the_file(front) -> None:  # type: ignore[no-untyped-def]
    path = front.url + "/bootfiles/pxelinux.cfg/01-52-54-00-12-34-01"
    assert b"KERNEL" in curl(path)[1]
    host = front.store.host_get(NODE01)
    front.store.set_state(host.id, State.DEPLOYED, source="test")
    started = time.monotonic()

    def local() -> bool:
        body = curl(path)[1]
        return b"DEFAULT local" in body and b"KERNEL" not in body

    assert wait_for(local, timeout=10)
    assert time.monotonic() - started < 5  # re-rendered on change within seconds
    assert wait_for(front.file(NODE01).exists)


def test_unknown_mac_falls_back_to_gunicorn(front) -> None:  # type: ignore[no-untyped-def]
    srv, url = front.srv, front.url
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


def test_an_overdue_deploying_host_never_gets_the_installer_from_nginx(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Before: its pre-rendered installer stayed in nginx's root until the sweep noticed
    the time-out and the front re-rendered — the installer was served past the deadline."""
    require_tool("nginx", "curl")
    running = Front(tmp_path, PXEHOOK_DEPLOY_TIMEOUT="4", PXEHOOK_LIFECYCLE_SWEEP_INTERVAL="30")
    try:
        path = running.url + "/ipxe/52-54-00-12-34-01"
        host = running.store.host_get(NODE01)
        running.store.set_state(host.id, State.DEPLOYED, source="test")
        host = running.store.set_state(host.id, State.DEPLOYING, source="test")  # clock starts
        time.sleep(1.0)  # the front had time to re-render
        assert b"kernel" in curl(path)[1]  # the installer, while the deployment runs
        time.sleep(max(0.0, host.state_changed + 4 - time.time()) + 0.3)
        body = curl(path)[1]
        assert b"kernel" not in body, body  # past the deadline: never the installer again
        assert running.store.host_get(NODE01).state == State.FAILED
    finally:
        running.stop()
