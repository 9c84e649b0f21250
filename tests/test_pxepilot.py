"""PXE Pilot compatibility: shapes, deploy semantics, self-deploy from the host's own IP."""

from __future__ import annotations

import pytest

from pxehook.models import State
from tests.lifecycle_fixtures import *  # noqa: F403

S = State
PREFIXES = ["/v1", ""]


def _put(client, name, hosts, prefix="/v1", ip="127.0.0.1", headers=None, raw=None):  # type: ignore[no-untyped-def]
    import json

    data = raw if raw is not None else json.dumps({"hosts": hosts})
    return client.put(
        f"{prefix}/configurations/{name}/deploy",
        data=data,  # no Content-Type, exactly like `curl -d`
        content_type="application/x-www-form-urlencoded",
        headers=headers or {},
        environ_base={"REMOTE_ADDR": ip},
    )


@pytest.mark.parametrize("prefix", PREFIXES)
def test_configurations_lists_profiles_and_local(
    api_client, store, make_host, read_headers, prefix
) -> None:  # type: ignore[no-untyped-def]
    r = api_client.get(f"{prefix}/configurations", headers=read_headers)
    assert r.get_json() == [{"name": n} for n in ("installer", "local", "oneshot", "rescue")]
    store.profiles_replace([])
    assert api_client.get(f"{prefix}/configurations", headers=read_headers).get_json() == [
        {"name": "local"}
    ]


@pytest.mark.parametrize("prefix", PREFIXES)
def test_hosts_shape(api_client, make_host, read_headers, prefix) -> None:  # type: ignore[no-untyped-def]
    a = make_host(S.DEPLOYING, name="h1", profile="installer")
    b = make_host(S.DEPLOYED, name="h2")
    c = make_host(S.NEW, profile="")
    got = api_client.get(f"{prefix}/hosts", headers=read_headers).get_json()
    assert got == [
        {
            "name": "h1",
            "macAddresses": [a.mac],
            "configuration": {"name": "installer"},
            "ipmi": None,
        },
        {"name": "h2", "macAddresses": [b.mac], "configuration": {"name": "local"}, "ipmi": None},
        {"name": c.mac, "macAddresses": [c.mac], "configuration": None, "ipmi": None},
    ]


@pytest.mark.parametrize("path", ["/v1/hosts", "/hosts", "/v1/configurations", "/configurations"])
def test_reads_need_a_read_token(api_client, path) -> None:  # type: ignore[no-untyped-def]
    r = api_client.get(path)
    assert r.status_code == 401 and r.get_json()["Message"]
    assert r.get_json()["error"]["code"] == "unauthorized"


@pytest.mark.parametrize("prefix", PREFIXES)
def test_seed_curl_from_the_host_itself_marks_it_deployed(
    api_client, store, make_host, prefix
) -> None:  # type: ignore[no-untyped-def]
    host = make_host(S.DEPLOYING, mac="23:34:a3:e9:09:cc", ip="10.0.0.5")
    r = _put(api_client, "local", [{"macAddress": "23:34:A3:E9:09:CC"}], prefix, ip="10.0.0.5")
    assert (r.status_code, r.get_data()) == (200, b"")
    after = store.host_get(host.mac)
    assert after.state == S.DEPLOYED
    assert store.events(host.id)[-1].source == "pxepilot:self:10.0.0.5"
    again = _put(api_client, "local", [{"macAddress": host.mac}], prefix, ip="10.0.0.5")
    assert again.status_code == 200 and store.host_get(host.mac) == after


def test_same_curl_from_elsewhere_needs_a_token(
    api_client, store, make_host, admin_headers, read_headers
) -> None:  # type: ignore[no-untyped-def]
    host = make_host(S.DEPLOYING, ip="10.0.0.5")
    other = make_host(S.DEPLOYING, ip="10.0.0.6")
    for ip, hosts in (
        ("10.0.0.6", [{"macAddress": host.mac}]),  # a neighbour
        ("10.0.0.5", [{"macAddress": host.mac}, {"macAddress": other.mac}]),  # itself + another
    ):
        r = _put(api_client, "local", hosts, ip=ip)
        assert r.status_code == 401 and "token" in r.get_json()["Message"]
    r = _put(api_client, "local", [{"macAddress": host.mac}], ip="10.0.0.6", headers=read_headers)
    assert r.status_code == 403
    assert store.host_get(host.mac).state == S.DEPLOYING
    r = _put(api_client, "local", [{"macAddress": host.mac}], ip="10.0.0.6", headers=admin_headers)
    assert r.status_code == 200 and store.host_get(host.mac).state == S.DEPLOYED


def test_self_deploy_only_for_local(api_client, store, make_host) -> None:  # type: ignore[no-untyped-def]
    host = make_host(S.DEPLOYED, ip="10.0.0.5")
    r = _put(api_client, "installer", [{"macAddress": host.mac}], ip="10.0.0.5")
    assert r.status_code == 401 and store.host_get(host.mac).state == S.DEPLOYED


def test_deploy_a_profile_reinstalls_or_deploys(
    api_client, store, make_host, admin_headers
) -> None:  # type: ignore[no-untyped-def]
    deployed = make_host(S.DEPLOYED, name="d1", profile="local")
    ready = make_host(S.READY, profile="")
    r = _put(
        api_client, "installer", [{"name": "d1"}, {"mac_address": ready.mac}], headers=admin_headers
    )
    assert r.status_code == 200
    for mac in (deployed.mac, ready.mac):
        got = store.host_get(mac)
        assert (got.state, got.profile) == (S.DEPLOYING, "installer")


def test_adopt_with_local(api_client, store, make_host, admin_headers) -> None:  # type: ignore[no-untyped-def]
    host = make_host(S.NEW)
    assert (
        _put(api_client, "local", [{"macAddress": host.mac}], headers=admin_headers).status_code
        == 200
    )
    assert store.host_get(host.mac).state == S.DEPLOYED


@pytest.mark.parametrize(
    ("name", "hosts", "raw", "status"),
    [
        ("nope", [{"macAddress": "52:54:00:aa:00:01"}], None, 404),
        ("local", [{"macAddress": "52:54:00:00:00:99"}], None, 404),
        ("local", [{"name": "ghost"}], None, 404),
        ("local", [{}], None, 400),
        ("local", None, "not json", 400),
        ("local", None, '{"hosts": "x"}', 400),
        ("local", [{"macAddress": "zz"}], None, 400),
        (
            "local",
            [{"macAddress": "52:54:00:aa:00:01"}, {"macAddress": "52-54-00-aa-00-01"}],
            None,
            409,
        ),
        ("local", [{"macAddress": "52:54:00:aa:00:01", "configuration": "x"}], None, 409),
        ("local", [{"macAddress": "52:54:00:aa:00:01", "name": "other"}], None, 409),
        ("installer", [{"macAddress": "52:54:00:aa:00:01"}], None, 409),  # broken: not allowed
    ],
)
def test_errors_pxe_pilot_shape(
    api_client, store, make_host, admin_headers, name, hosts, raw, status
) -> None:  # type: ignore[no-untyped-def]
    host = make_host(S.BROKEN, name="h1")
    before = store.host_get(host.mac)
    r = _put(api_client, name, hosts, raw=raw, headers=admin_headers)
    assert r.status_code == status
    body = r.get_json()
    assert isinstance(body["Message"], str) and body["error"]["status"] == status
    assert store.host_get(host.mac) == before


def test_all_or_nothing_when_one_host_cannot_move(
    api_client, store, make_host, admin_headers
) -> None:  # type: ignore[no-untyped-def]
    ok = make_host(S.READY)
    broken = make_host(S.BROKEN)
    r = _put(
        api_client,
        "installer",
        [{"macAddress": ok.mac}, {"macAddress": broken.mac}],
        headers=admin_headers,
    )
    assert r.status_code == 409
    assert store.host_get(ok.mac).state == S.READY
