"""The boot fast path (web/fastpath.py) answers byte for byte what the Flask route does.

Each request shape goes once through the app's Flask WSGI callable and once through the
fast path in front of it, on the same real SQLite store, and the two answers (status line,
every header in order, body) must be identical; the fast path must really take the boot
GETs (not quietly hand them all to Flask), record each on the timeline, and step aside
when the app has a per-request hook that Flask would run."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from typing import Any

import pytest
from werkzeug.test import EnvironBuilder

from pxehook.inventory.apply import sync
from pxehook.inventory.parse import load
from pxehook.models import IpSource, Observation, State
from pxehook.web import create_app, metrics
from pxehook.web.fastpath import FastPath

DEPLOYING, DEPLOYED, RESCUE = "52:54:00:12:34:01", "52:54:00:12:34:02", "52:54:00:12:34:03"
UNKNOWN = "52:54:00:99:00:01"
TRUSTED_IP = "127.0.0.9"  # DEPLOYED's address as the DHCP server's hook recorded it
Answer = tuple[str, list[tuple[str, str]], bytes]


@pytest.fixture
def app(settings, ctx, env):  # type: ignore[no-untyped-def]
    store = ctx.store()
    sync(load(env["PXEHOOK_INVENTORY"]), store)
    store.observe(Observation(DEPLOYED, "dnsmasq", ip=TRUSTED_IP, ip_source=IpSource.HOOK))
    flask_app = create_app(settings)
    yield flask_app
    found = flask_app.extensions.get("pxehook.resolver")
    if found is not None:
        found.recorder.flush()


def call(wsgi: Callable[..., Iterable[bytes]], environ: dict[str, Any]) -> Answer:
    got: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info=None):  # type: ignore[no-untyped-def]
        got["status"], got["headers"] = status, list(headers)

    body_iter = wsgi(environ, start_response)
    try:
        body = b"".join(body_iter)
    finally:
        if hasattr(body_iter, "close"):
            body_iter.close()
    return got["status"], got["headers"], body


def environ_for(
    path: str, *, method: str = "GET", remote: str = "127.0.0.1", headers: dict | None = None
) -> dict[str, Any]:
    path, _, query = path.partition("?")
    builder = EnvironBuilder(
        path=path, query_string=query, method=method, headers=headers or {},
        environ_base={"REMOTE_ADDR": remote},
    )  # fmt: skip
    try:
        environ = builder.get_environ()
    finally:
        builder.close()
    if "%" in path:  # EnvironBuilder decodes the path; keep the raw spelling too
        environ["RAW_URI"] = environ["REQUEST_URI"] = path
    return environ


def shapes() -> list[tuple[str, dict[str, Any]]]:
    """Request shapes: (label, environ_for keyword arguments incl. the path)."""
    dashed = DEPLOYING.replace(":", "-")
    pxe = "01-" + DEPLOYED.replace(":", "-")
    found: list[tuple[str, dict[str, Any]]] = []
    paths = [
        f"/ipxe/{DEPLOYING}",
        f"/ipxe/{dashed}?buildarch=x86_64&platform=efi",
        f"/ipxe/{dashed.upper()}?buildarch=i386&platform=pcbios",
        f"/ipxe/{DEPLOYED}?buildarch=arm64&platform=efi",
        f"/ipxe/{RESCUE}?uuid=x&serial=y&buildarch=x86_64&platform=efi",
        f"/ipxe/{dashed}?buildarch=%3Cscript%3E&platform=efi",
        f"/ipxe/{dashed}?buildarch=x86_64&buildarch=arm64&platform=efi&platform=",
        f"/ipxe/{dashed}?buildarch=%ZZ&platform=%E2%82",
        f"/ipxe/{dashed}?buildarch=" + "x" * 300 + "&platform=efi",
        f"/ipxe/{dashed}?;;&&==",
        f"/ipxe/{UNKNOWN}",
        "/ipxe/not-a-mac",
        "/ipxe/" + "a" * 400,
        "/ipxe/%00",
        f"/ipxe/{dashed}/",
        "/boot.ipxe",
        "/boot.ipxe?x=1",
        f"/grub/grub.cfg-{pxe}",
        f"/grub/x86_64-efi/grub.cfg-{pxe}",
        "/grub/grub.cfg",
        "/grub/grub.cfg-7F000009",
        "/grub/not-a-name",
        "/grub/../../etc/passwd",
        f"/pxelinux.cfg/{pxe}",
        f"/bootfiles/arm/pxelinux.cfg/{pxe}",
        "/pxelinux.cfg/default",
        "/pxelinux.cfg/7F000009",
        "/pxelinux.cfg/00000000-0000-0000-0000-000000000000",
        "/boot/grub.cfg",
        "/some/other/file",
        "/pxelinux.cfg/..%2f..%2fetc%2fpasswd",
        "/healthz",
        "/api/hosts",
        "/uefi/snponly.efi",
    ]
    for path in paths:
        found.append((f"GET {path}", {"path": path}))
        found.append((f"HEAD {path}", {"path": path, "method": "HEAD"}))
    for remote in ("127.0.0.1", "::1", "10.9.8.7", TRUSTED_IP):
        forwarded = {"X-Forwarded-For": f"203.0.113.5, {TRUSTED_IP}"}
        for path in ("/pxelinux.cfg/default", "/grub/grub.cfg", f"/ipxe/{dashed}"):
            found.append((f"{path} XFF from {remote}",
                          {"path": path, "remote": remote, "headers": forwarded}))  # fmt: skip
        found.append((f"/pxelinux.cfg/default from {remote}",
                       {"path": "/pxelinux.cfg/default", "remote": remote}))  # fmt: skip
    found.append(("POST /ipxe", {"path": f"/ipxe/{DEPLOYING}", "method": "POST"}))
    found.append(("OPTIONS /ipxe", {"path": f"/ipxe/{DEPLOYING}", "method": "OPTIONS"}))
    return found


def test_the_fast_path_and_the_flask_route_send_the_same_bytes(app) -> None:  # type: ignore[no-untyped-def]
    fast = app.wsgi_app
    assert isinstance(fast, FastPath)
    call(fast.flask, environ_for(f"/ipxe/{UNKNOWN}"))  # enlisted by its first request
    differences = []
    for label, kwargs in shapes():
        by_flask = call(fast.flask, environ_for(**kwargs))
        by_fast = call(fast, environ_for(**kwargs))
        if by_flask != by_fast:
            differences.append((label, by_flask, by_fast))
    assert not differences, differences


def test_a_state_change_reaches_the_next_fast_answer(app, ctx) -> None:  # type: ignore[no-untyped-def]
    path = f"/ipxe/{DEPLOYING}?buildarch=x86_64&platform=efi"
    before = call(app.wsgi_app, environ_for(path))
    assert b"kernel" in before[2]
    host = ctx.store().host_get(DEPLOYING)
    ctx.store().set_state(host.id, State.DEPLOYED, source="test")
    after = call(app.wsgi_app, environ_for(path))
    assert b"kernel" not in after[2] and after == call(app.wsgi_app.flask, environ_for(path))


def test_boot_gets_take_the_fast_path_and_each_is_on_the_timeline(app, ctx, env) -> None:  # type: ignore[no-untyped-def]
    fast = app.wsgi_app
    through_flask = []
    flask_wsgi = fast.flask

    def counting(environ, start_response):  # type: ignore[no-untyped-def]
        through_flask.append(environ["PATH_INFO"])
        return flask_wsgi(environ, start_response)

    fast.flask = counting
    host = ctx.store().host_get(DEPLOYED)
    before = len(ctx.store().events(host.id))
    pxe = "01-" + DEPLOYED.replace(":", "-")
    urls = [f"/ipxe/{DEPLOYED}", f"/grub/grub.cfg-{pxe}", f"/pxelinux.cfg/{pxe}"] * 5
    metrics._last_dump = 0.0  # the next request writes this worker's snapshot
    for url in urls:
        assert call(fast, environ_for(url))[0] == "200 OK"
    assert through_flask == []
    app.extensions["pxehook.resolver"].recorder.flush()
    assert len(ctx.store().events(host.id)) - before == len(urls)
    # /metrics sums the workers' snapshots: a fast request must write this one's
    snapshot = os.path.join(env["PXEHOOK_STATE_DIR"], "metrics", f"{os.getpid()}.json")
    with open(snapshot, encoding="utf-8") as fh:
        assert any(r[0] == "/ipxe/<mac>" for r in json.load(fh)["requests"])
    call(fast, environ_for("/healthz"))
    assert through_flask == ["/healthz"]


def test_an_after_request_hook_turns_the_fast_path_off(app) -> None:  # type: ignore[no-untyped-def]
    """Fault: a header added app-wide (a security header in an after_request hook) would
    be missing from fast answers; the fast path sees the hook and lets Flask answer."""

    @app.after_request
    def stamp(response):  # type: ignore[no-untyped-def]
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    status, headers, _ = call(app.wsgi_app, environ_for(f"/ipxe/{DEPLOYING}"))
    assert status == "200 OK" and ("X-Content-Type-Options", "nosniff") in headers
    assert app.wsgi_app.enabled is False
