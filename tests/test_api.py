"""REST API: every endpoint, both scopes, and the error shape."""

from __future__ import annotations

import json

import pytest

from pxehook.lifecycle.hooks import LifecycleBootHooks
from pxehook.models import State
from tests.lifecycle_fixtures import *  # noqa: F403

S = State

READ_ENDPOINTS = [
    "/api/v1/hosts",
    "/api/v1/hosts/{mac}",
    "/api/v1/hosts/{mac}/state",
    "/api/v1/hosts/{mac}/events",
    "/api/v1/profiles",
    "/api/v1/profiles/installer",
]
ADMIN_ENDPOINTS = [
    ("POST", "/api/v1/hosts", {"mac": "52:54:00:bb:00:01"}),
    ("PATCH", "/api/v1/hosts/{mac}", {"name": "x"}),
    ("DELETE", "/api/v1/hosts/{mac}", None),
    ("POST", "/api/v1/hosts/{mac}/actions/deploy", {}),
    ("POST", "/api/v1/clone", {"source": "{mac}", "destinations": ["{mac}"]}),
    ("GET", "/api/v1/tokens", None),
    ("POST", "/api/v1/tokens", {"name": "n", "scope": "read"}),
    ("DELETE", "/api/v1/tokens/test-read", None),
]


def _error(response, status: int, code: str) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "status"}
    assert body["error"]["status"] == status and body["error"]["code"] == code
    return body["error"]


def _fill(value, mac: str):  # type: ignore[no-untyped-def]
    if isinstance(value, str):
        return value.replace("{mac}", mac)
    if isinstance(value, dict):
        return {k: _fill(v, mac) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, mac) for v in value]
    return value


@pytest.mark.parametrize("path", READ_ENDPOINTS)
def test_reads_need_a_token_and_read_scope_suffices(
    api_client, make_host, read_headers, path
) -> None:  # type: ignore[no-untyped-def]
    url = path.format(mac=make_host(S.READY).mac)
    _error(api_client.get(url), 401, "unauthorized")
    _error(api_client.get(url, headers={"Authorization": "Bearer pxh_nope"}), 401, "unauthorized")
    _error(api_client.get(url, headers={"Authorization": "Basic abc"}), 401, "unauthorized")
    assert api_client.get(url, headers=read_headers).status_code == 200


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ENDPOINTS)
def test_changes_need_admin(api_client, store, make_host, read_headers, method, path, body) -> None:  # type: ignore[no-untyped-def]
    mac = make_host(S.READY).mac
    kw = {"json": _fill(body, mac)} if body is not None else {}
    _error(api_client.open(_fill(path, mac), method=method, **kw), 401, "unauthorized")
    _error(
        api_client.open(_fill(path, mac), method=method, headers=read_headers, **kw),
        403,
        "forbidden",
    )
    assert store.host_get(mac).state == S.READY and len(store.token_list()) == 1


def test_host_crud(api_client, store, make_host, admin_headers, read_headers) -> None:  # type: ignore[no-untyped-def]
    h = admin_headers
    r = api_client.post(
        "/api/v1/hosts",
        json={
            "mac": "52-54-00-BB-00-02",
            "name": "web1",
            "labels": {"rack": "a"},
            "vars": {"disk": "sda"},
        },
        headers=h,
    )
    assert r.status_code == 201 and r.get_json()["mac"] == "52:54:00:bb:00:02"
    _error(
        api_client.post("/api/v1/hosts", json={"mac": "52:54:00:bb:00:02"}, headers=h),
        409,
        "conflict",
    )
    r = api_client.patch(
        "/api/v1/hosts/525400bb0002",
        headers=h,
        json={"profile": "installer", "labels": {"rack": None, "row": "2"}},
    )
    assert r.status_code == 200
    assert r.get_json()["labels"] == {"row": "2"} and r.get_json()["profile"] == "installer"
    listed = api_client.get("/api/v1/hosts?label=row=2&state=new", headers=read_headers).get_json()
    assert [x["mac"] for x in listed] == ["52:54:00:bb:00:02"]
    assert api_client.get("/api/v1/hosts?profile=rescue", headers=read_headers).get_json() == []
    assert api_client.delete("/api/v1/hosts/52:54:00:bb:00:02", headers=h).status_code == 204
    _error(api_client.get("/api/v1/hosts/52:54:00:bb:00:02", headers=h), 404, "not_found")


def test_create_straight_as_deployed_records_a_state_event(
    api_client, store, admin_headers
) -> None:  # type: ignore[no-untyped-def]
    r = api_client.post(
        "/api/v1/hosts",
        json={"mac": "52:54:00:bb:00:03", "state": "deployed"},
        headers=admin_headers,
    )
    assert r.get_json()["state"] == "deployed"
    host = store.host_get("52:54:00:bb:00:03")
    assert [(e.kind, e.source) for e in store.events(host.id)][-1] == (
        "state.changed",
        "api:test-admin",
    )
    r = api_client.post(
        "/api/v1/hosts",
        json={"mac": "52:54:00:bb:00:04", "state": "deploying"},
        headers=admin_headers,
    )
    _error(r, 400, "invalid_input")


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"),
    [
        ("GET", "/api/v1/hosts/zz:zz", None, 400, "invalid_input"),
        ("GET", "/api/v1/hosts?limit=0", None, 400, "invalid_input"),
        ("GET", "/api/v1/hosts?limit=x", None, 400, "invalid_input"),
        ("GET", "/api/v1/hosts?state=bogus", None, 400, "invalid_input"),
        ("GET", "/api/v1/hosts?label=nokey", None, 400, "invalid_input"),
        ("GET", "/api/v1/hosts/52:54:00:00:00:99/events", None, 404, "not_found"),
        ("GET", "/api/v1/profiles/nope", None, 404, "not_found"),
        ("POST", "/api/v1/hosts", [1, 2], 400, "invalid_input"),
        ("POST", "/api/v1/hosts", {"mac": 5}, 400, "invalid_input"),
        (
            "POST",
            "/api/v1/hosts",
            {"mac": "52:54:00:bb:00:09", "labels": {"a": 1}},
            400,
            "invalid_input",
        ),
        (
            "POST",
            "/api/v1/hosts",
            {"mac": "52:54:00:bb:00:09", "profile": "nope"},
            404,
            "not_found",
        ),
        (
            "POST",
            "/api/v1/hosts",
            {"mac": "52:54:00:bb:00:09", "arch": "z80"},
            400,
            "invalid_input",
        ),
        ("PATCH", "/api/v1/hosts/{mac}", {"vars": "x"}, 400, "invalid_input"),
        ("POST", "/api/v1/hosts/{mac}/actions/fly", {}, 400, "invalid_input"),
        ("POST", "/api/v1/hosts/{mac}/actions/reinstall", {}, 409, "conflict"),
        ("POST", "/api/v1/hosts/{mac}/actions/deploy", {"profile": "nope"}, 404, "not_found"),
        (
            "POST",
            "/api/v1/clone",
            {"source": "{mac}", "destinations": ["52:54:00:00:00:99"]},
            404,
            "not_found",
        ),
        ("POST", "/api/v1/clone", {"source": "{mac}", "destinations": []}, 400, "invalid_input"),
        ("POST", "/api/v1/clone", {"destinations": ["{mac}"]}, 400, "invalid_input"),
        ("POST", "/api/v1/tokens", {"name": "bad name!"}, 400, "invalid_input"),
        ("POST", "/api/v1/tokens", {"name": "test-admin"}, 409, "conflict"),
        ("DELETE", "/api/v1/tokens/none", None, 404, "not_found"),
        ("PUT", "/api/v1/hosts", None, 405, "method_not_allowed"),
    ],
)
def test_errors_have_the_stable_shape(
    api_client, make_host, admin_headers, method, path, body, status, code
) -> None:  # type: ignore[no-untyped-def]
    mac = make_host(S.READY).mac
    kw = {"json": _fill(body, mac)} if body is not None else {}
    _error(
        api_client.open(_fill(path, mac), method=method, headers=admin_headers, **kw), status, code
    )


def test_refused_transition_names_state_and_allowed(api_client, make_host, admin_headers) -> None:  # type: ignore[no-untyped-def]
    mac = make_host(S.READY).mac
    err = _error(
        api_client.post(f"/api/v1/hosts/{mac}/actions/reinstall", headers=admin_headers),
        409,
        "conflict",
    )
    assert "host is ready" in err["message"] and "deploy" in err["message"]


def test_actions_and_state_and_events(
    api_client, store, make_host, admin_headers, read_headers
) -> None:  # type: ignore[no-untyped-def]
    mac = make_host(S.READY, profile="").mac
    r = api_client.post(
        f"/api/v1/hosts/{mac}/actions/deploy",
        json={"profile": "installer", "message": "go"},
        headers=admin_headers,
    )
    body = r.get_json()
    assert (
        r.status_code == 200
        and body["state"] == "deploying"
        and body["host"]["profile"] == "installer"
    )
    assert (
        body["callback_url"].endswith(f"/api/v1/hosts/{mac}/deployed")
        and len(body["deploy_token"]) == 32
    )
    state = api_client.get(f"/api/v1/hosts/{mac}/state", headers=read_headers).get_json()
    assert state["allowed"] == ["deployed", "release", "mark-broken", "fail"]
    events = api_client.get(f"/api/v1/hosts/{mac}/events", headers=read_headers).get_json()
    assert events[0]["kind"] == "state.changed"  # newest first
    assert events[0]["source"] == "api:test-admin" and "(go)" in events[0]["message"]
    ids = [e["id"] for e in events][::-1]
    assert ids == sorted(ids)
    since = api_client.get(
        f"/api/v1/hosts/{mac}/events?since={ids[0]}&limit=1", headers=read_headers
    )
    assert [e["id"] for e in since.get_json()] == ids[1:2]


def test_callback_endpoint(api_client, ctx, store, make_host, admin_headers) -> None:  # type: ignore[no-untyped-def]
    mac = make_host(S.READY, ip="127.0.0.1").mac  # the test client's address, from the hook
    api_client.post(f"/api/v1/hosts/{mac}/actions/deploy", headers=admin_headers)
    host = store.host_get(mac)
    token = LifecycleBootHooks(ctx).boot_vars(host)["deploy_token"]
    _error(
        api_client.post(f"/api/v1/hosts/{mac}/deployed", json={"token": "f" * 32}), 403, "forbidden"
    )
    assert store.host_get(mac).state == S.DEPLOYING
    r = api_client.post(
        f"/api/v1/hosts/{mac}/deployed",
        data=f"token={token}",
        content_type="application/x-www-form-urlencoded",
    )
    assert r.status_code == 200 and r.get_json() == {
        "mac": mac,
        "state": "deployed",
        "changed": True,
    }
    r = api_client.post(f"/api/v1/hosts/{mac}/deployed?token={token}")
    assert r.status_code == 200 and r.get_json()["changed"] is False
    r = api_client.post(f"/api/v1/hosts/{mac}/deployed", data=json.dumps({"token": token}))
    assert r.status_code == 200 and r.get_json()["changed"] is False
    kinds = [e.kind for e in store.events(host.id)]
    assert kinds.count("callback.refused") == 1


def test_clone_reports_exactly_what_changed(api_client, store, make_host, admin_headers) -> None:  # type: ignore[no-untyped-def]
    src = store.host_put(
        make_host(S.READY, profile="rescue").with_(labels={"r": "1"}, vars={"v": 2}), source="t"
    )
    same = store.host_put(
        make_host(S.READY, profile="rescue").with_(labels={"r": "1"}, vars={"v": 2}), source="t"
    )
    diff = make_host(S.READY)
    r = api_client.post(
        "/api/v1/clone",
        headers=admin_headers,
        json={"source": src.mac, "destinations": [diff.mac, same.mac]},
    )
    assert r.get_json()["changed"] == [diff.mac] and r.get_json()["unchanged"] == [same.mac]
    got = store.host_get(diff.mac)
    assert (got.profile, got.labels, got.vars) == ("rescue", {"r": "1"}, {"v": 2})
    before = store.host_get(same.mac)
    r = api_client.post(
        "/api/v1/clone",
        headers=admin_headers,
        json={"source": src.mac, "destinations": [same.mac, "52:54:00:00:00:98"]},
    )
    _error(r, 404, "not_found")
    assert store.host_get(same.mac) == before
    _error(
        api_client.post(
            "/api/v1/clone",
            headers=admin_headers,
            json={"source": src.mac, "destinations": [src.mac]},
        ),
        400,
        "invalid_input",
    )


def test_tokens_api(api_client, store, admin_headers) -> None:  # type: ignore[no-untyped-def]
    r = api_client.post(
        "/api/v1/tokens", json={"name": "ro", "scope": "read"}, headers=admin_headers
    )
    secret = r.get_json()["token"]
    assert r.status_code == 201 and secret.startswith("pxh_")
    listed = api_client.get("/api/v1/tokens", headers=admin_headers).get_json()
    assert {t["name"]: t["scope"] for t in listed} == {"ro": "read", "test-admin": "admin"}
    assert secret not in str(listed) and secret not in str(store.token_list())
    ro = {"Authorization": f"Bearer {secret}"}
    assert api_client.get("/api/v1/hosts", headers=ro).status_code == 200
    assert api_client.delete("/api/v1/tokens/ro", headers=admin_headers).status_code == 204
    _error(api_client.get("/api/v1/hosts", headers=ro), 401, "unauthorized")


def test_profiles(api_client, make_host, read_headers) -> None:  # type: ignore[no-untyped-def]
    names = [p["name"] for p in api_client.get("/api/v1/profiles", headers=read_headers).get_json()]
    assert names == ["installer", "local", "oneshot", "rescue"]
    assert (
        api_client.get("/api/v1/profiles/oneshot", headers=read_headers).get_json()["one_shot"]
        is True
    )


def test_events_pages_newest_first(api_client, store, make_host, read_headers) -> None:  # type: ignore[no-untyped-def]
    """A long timeline comes in pages (newest first, ``before`` and a Link to the next);
    followers read oldest first with ``since``; no request loads it all."""
    host = make_host(S.READY)
    store.event_add_many([(host.id, "boot.config", "http", f"n{i}", None, 1e9 + i)
                          for i in range(2500)])  # fmt: skip
    everything = [e.id for e in store.events(host.id)]
    url, seen = f"/api/v1/hosts/{host.mac}/events?limit=700", []
    while url:
        r = api_client.get(url, headers=read_headers)
        assert r.status_code == 200
        seen += [e["id"] for e in r.get_json()]
        link = r.headers.get("Link", "")
        url = link[link.index("/api/") : link.index(">")] if link else ""
    assert seen == everything[::-1]
    first = api_client.get(f"/api/v1/hosts/{host.mac}/events", headers=read_headers)
    assert len(first.get_json()) == 100 and first.get_json()[0]["id"] == everything[-1]
    huge = api_client.get(f"/api/v1/hosts/{host.mac}/events?limit=999999", headers=read_headers)
    assert len(huge.get_json()) == 1000
    follow = api_client.get(
        f"/api/v1/hosts/{host.mac}/events?since={everything[-3]}", headers=read_headers
    ).get_json()
    assert [e["id"] for e in follow] == everything[-2:]
    assert f"before={everything[-100]}" in first.headers["Link"]
    both = api_client.get(f"/api/v1/hosts/{host.mac}/events?since=1&before=9", headers=read_headers)
    assert both.status_code == 400 and "not both" in both.get_json()["error"]["message"]
