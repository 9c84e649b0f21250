"""Hosts by name everywhere a MAC is accepted (CLI and API), as MAAS and Cobbler do: one
function (``lifecycle.hosts.find_host``) turns "a MAC or a name" into a host; a key that is
one host's MAC and another's name is refused, never guessed."""

from __future__ import annotations

import json

import pytest

from pxehook.models import Host, State
from tests.lifecycle_fixtures import *  # noqa: F403

S = State


@pytest.fixture
def web1(make_host):  # type: ignore[no-untyped-def]
    return make_host(S.READY, name="web1", profile="installer")


def test_every_host_command_takes_a_name(cli, store, make_host, web1) -> None:  # type: ignore[no-untyped-def]
    other = make_host(S.READY, name="web2", profile="")
    assert json.loads(cli("host", "show", "web1", "--json").out)["mac"] == web1.mac
    assert cli("host", "set", "web1", "--label", "rack=r1").code == 0
    assert store.host_get(web1.mac).labels == {"rack": "r1"}
    assert json.loads(cli("host", "state", "web1", "--json").out)["state"] == "ready"
    r = cli("host", "deploy", "web1", "--json")
    assert r.code == 0 and json.loads(r.out)["state"] == "deploying"
    assert cli("host", "events", "web1").code == 0
    assert cli("host", "clone", "web1", "web2").code == 0
    assert store.host_get(other.mac).profile == "installer"
    explained = json.loads(cli("explain", "web1", "--json").out)
    assert explained["mac"] == web1.mac and explained["known"]
    assert cli("host", "rm", "web2", "--yes").code == 0
    assert store.host_get(other.mac) is None


def test_unknown_names_and_creating_by_name(cli, store) -> None:  # type: ignore[no-untyped-def]
    r = cli("host", "show", "nosuch")
    assert r.code == 4 and "no host with name 'nosuch'" in r.err
    r = cli("host", "set", "nosuch", "--profile", "installer")
    assert r.code == 4 and "to create a host, give its MAC" in r.err
    assert cli("host", "set", "52:54:00:7e:00:01", "--name", "db1").code == 0
    assert cli("host", "show", "db1").code == 0
    r = cli("host", "set", "52:54:00:7e:00:02", "--name", "db1")
    assert r.code == 7 and "already named 'db1'" in r.err
    r = cli("host", "set", "52:54:00:7e:00:02", "--name", "525400aabbcc")
    assert r.code == 3 and "reads as a MAC" in r.err
    assert store.host_get("52:54:00:7e:00:02") is None  # refused before anything was written


def test_an_ambiguous_key_is_refused(cli, api_client, store, admin_headers) -> None:  # type: ignore[no-untyped-def]
    """A name recorded before names were checked, spelling another host's MAC."""
    target = store.host_put(Host(id=None, macs=("52:54:00:aa:bb:cc",)), source="test")
    store.host_put(Host(id=None, macs=("52:54:00:7e:00:09",), name="525400aabbcc"), source="t")
    r = cli("host", "deploy", "525400aabbcc", "--profile", "installer")
    assert r.code == 7 and "ambiguous" in r.err and len(r.err.strip().splitlines()) == 1
    response = api_client.get("/api/v1/hosts/525400aabbcc", headers=admin_headers)
    assert response.status_code == 409 and "ambiguous" in response.get_json()["error"]["message"]
    assert store.host_get(target.mac).state == S.NEW
    assert cli("host", "show", "52:54:00:aa:bb:cc").code == 0  # colons: a MAC, never a name


def test_every_api_host_route_takes_a_name(
    api_client, store, make_host, web1, admin_headers
) -> None:  # type: ignore[no-untyped-def]
    web2 = make_host(S.READY, name="web2", profile="")
    r = api_client.get("/api/v1/hosts/web1", headers=admin_headers)
    assert r.status_code == 200 and r.get_json()["mac"] == web1.mac
    r = api_client.patch("/api/v1/hosts/web1", json={"labels": {"a": "b"}}, headers=admin_headers)
    assert r.status_code == 200 and r.get_json()["labels"] == {"a": "b"}
    assert api_client.get("/api/v1/hosts/web1/state", headers=admin_headers).status_code == 200
    r = api_client.post("/api/v1/hosts/web1/actions/deploy", json={}, headers=admin_headers)
    assert r.status_code == 200 and r.get_json()["state"] == "deploying"
    assert api_client.get("/api/v1/hosts/web1/events", headers=admin_headers).status_code == 200
    r = api_client.post(
        "/api/v1/clone", json={"source": "web1", "destinations": ["web2"]}, headers=admin_headers
    )
    assert r.status_code == 200 and r.get_json()["changed"] == [web2.mac]
    r = api_client.get("/api/v1/hosts/nosuch", headers=admin_headers)
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "not_found"
    r = api_client.patch("/api/v1/hosts/web1", json={"name": "zz:zz"}, headers=admin_headers)
    assert r.status_code == 400
    assert api_client.delete("/api/v1/hosts/web1", headers=admin_headers).status_code == 204
    assert store.host_get(web1.mac) is None
