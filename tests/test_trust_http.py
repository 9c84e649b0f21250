"""Trust over real HTTP (``pxehook serve`` on loopback; clients on distinct loopback source
addresses): the install-done callback needs the host's trusted IP as well as its token,
an unauthenticated PXE Pilot deploy learns nothing, wrong bearer tokens are limited per
client address and logged without the token."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from pxehook.config import load_settings
from pxehook.context import Context
from pxehook.models import IpSource, Observation, State
from tests.lifecycle_fixtures import LiveServer, admin_token, start_server

pytestmark = pytest.mark.daemon


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with start_server(tmp_path_factory.mktemp("trust-http"), api_token_failures="5") as srv:
        yield srv


def _record_lease(server: LiveServer, mac: str, ip: str, source: str = IpSource.HOOK) -> None:
    """What the DHCP server's hook records for ``mac`` (or, with ``source``, another)."""
    ctx = Context(load_settings(env=server.env))
    try:
        ctx.store().observe(Observation(mac=mac, source="dnsmasq", ip=ip, ip_source=source))
    finally:
        ctx.close()


def _deploy(server: LiveServer, admin: dict[str, str], mac: str) -> dict:
    status, _ = server.call("POST", "/api/v1/hosts", {"mac": mac}, headers=admin)
    assert status == 201
    status, body = server.call(
        "POST", f"/api/v1/hosts/{mac}/actions/deploy", {"profile": "installer"}, headers=admin
    )
    assert status == 200, body
    return body


def _state(server: LiveServer, admin: dict[str, str], mac: str) -> str:
    return server.call("GET", f"/api/v1/hosts/{mac}/state", headers=admin)[1]["state"]


def _callback(server: LiveServer, body: dict, source_ip: str) -> tuple[int, object]:
    return server.call(
        "POST",
        body["callback_url"].replace(server.base_url, ""),
        raw=f"token={body['deploy_token']}",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        source_ip=source_ip,
    )


def test_callback_with_the_token_from_another_machine_is_refused(server: LiveServer) -> None:
    """The deploy token is in the host's boot config, which any machine can fetch: with it,
    a neighbour still cannot end the installation; the host itself can."""
    admin = {"Authorization": "Bearer " + admin_token(server)}
    mac = "52:54:00:7c:00:01"
    body = _deploy(server, admin, mac)
    _record_lease(server, mac, "127.0.0.21")
    status, answer = _callback(server, body, "127.0.0.22")  # the right token, wrong machine
    assert status == 403 and answer["error"]["message"].startswith("callback refused")
    assert "127.0.0.21" not in json.dumps(answer)  # the caller learns nothing more
    assert _state(server, admin, mac) == State.DEPLOYING
    _, events = server.call("GET", f"/api/v1/hosts/{mac}/events", headers=admin)
    refused = [e for e in events if e["kind"] == "callback.refused"]
    assert refused and "sent from 127.0.0.22" in refused[0]["message"]  # newest first
    status, answer = _callback(server, body, "127.0.0.21")
    assert (status, answer["state"]) == (200, "deployed")


def test_callback_from_an_address_only_the_client_claimed_is_refused(server: LiveServer) -> None:
    """An IP recorded from a boot request (the client's own claim) is not the host's IP."""
    admin = {"Authorization": "Bearer " + admin_token(server)}
    mac = "52:54:00:7c:00:02"
    body = _deploy(server, admin, mac)
    _record_lease(server, mac, "127.0.0.23", source=IpSource.REQUEST)
    assert _callback(server, body, "127.0.0.23")[0] == 403
    assert _state(server, admin, mac) == State.DEPLOYING


def test_callback_ip_check_can_be_relaxed(tmp_path: Path) -> None:
    """``callback_require_host_ip: false``: the token alone is enough (docs/security.md)."""
    with start_server(tmp_path / "relaxed", callback_require_host_ip="false") as srv:
        admin = {"Authorization": "Bearer " + admin_token(srv)}
        mac = "52:54:00:7c:00:03"
        body = _deploy(srv, admin, mac)
        assert _callback(srv, body, "127.0.0.24")[0] == 200


def test_unauthenticated_pxe_pilot_put_reveals_nothing(server: LiveServer) -> None:
    """Without a token every refusal is the same 401: an unknown configuration, an unknown
    MAC or name, a known host from another address, a non-local configuration."""
    admin = {"Authorization": "Bearer " + admin_token(server)}
    known = "52:54:00:7c:00:10"
    server.call("POST", "/api/v1/hosts", {"mac": known, "name": "known1"}, headers=admin)
    _record_lease(server, known, "127.0.0.30")
    cases = [
        ("no-such-config", {"macAddress": known}),
        ("installer", {"macAddress": known}),
        ("local", {"macAddress": "52:54:00:7c:00:99"}),
        ("local", {"name": "no-such-host"}),
        ("local", {"name": "known1"}),
        ("local", {"macAddress": known}),
    ]
    answers = set()
    for config, host in cases:
        status, answer = server.call(
            "PUT", f"/v1/configurations/{config}/deploy", raw=json.dumps({"hosts": [host]}),
            source_ip="127.0.0.31",
        )  # fmt: skip
        assert status == 401, (config, host, answer)
        answers.add(json.dumps(answer, sort_keys=True))
    assert len(answers) == 1
    status, _ = server.call(
        "PUT", "/v1/configurations/no-such-config/deploy",
        raw=json.dumps({"hosts": [{"macAddress": known}]}), headers=admin,
    )  # fmt: skip
    assert status == 404  # with a token, the answer may say what is missing


def _raw_call(server: LiveServer, path: str, token: str, source_ip: str):  # type: ignore[no-untyped-def]
    conn = http.client.HTTPConnection(
        server.host, server.port, timeout=10, source_address=(source_ip, 0)
    )
    try:
        conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def test_guessing_tokens_is_limited_per_address_and_logged_without_the_token(
    server: LiveServer,
) -> None:
    """An attacker guessing bearer tokens gets 401 five times, then 429 with Retry-After,
    even for a right token; another address is unaffected; the log names the address and
    never the guesses."""
    good = admin_token(server, scope="read")
    guesses = [f"pxh_guess{i:02d}-{'x' * 30}" for i in range(8)]
    statuses = []
    for guess in guesses:
        status, headers, _ = _raw_call(server, "/api/v1/hosts", guess, "127.0.0.41")
        statuses.append(status)
    assert statuses == [401] * 5 + [429] * 3
    status, headers, body = _raw_call(server, "/api/v1/hosts", good, "127.0.0.41")
    assert status == 429 and 1 <= int(headers["Retry-After"]) <= 60
    assert json.loads(body)["error"]["code"] == "too_many_requests"
    status, headers, _ = _raw_call(server, "/v1/hosts", good, "127.0.0.41")  # PXE Pilot too
    assert status == 429 and "Retry-After" in headers
    assert _raw_call(server, "/api/v1/hosts", good, "127.0.0.42")[0] == 200
    assert _raw_call(server, "/api/v1/hosts", guesses[0], "127.0.0.42")[0] == 401
    log = server.log.read_text(errors="replace")
    assert "bearer token refused from 127.0.0.41: unknown or revoked token" in log
    assert "127.0.0.41 sent 5 wrong tokens" in log
    assert not any(guess in log for guess in guesses) and good not in log
