"""Ownership made visible (issue 17): an edit of a field the inventory declares warns (CLI)
or is refused with 409 (API) naming the file and line, unless forced; ``host show`` marks
inventory-owned fields; PATCH refuses fields it cannot set, naming them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pxehook.inventory import apply
from tests.lifecycle_fixtures import *  # noqa: F403

NODE01 = "52:54:00:12:34:01"


def _line(path: str, text: str, after: str = "name: node01") -> int:
    """The line of ``text`` in the inventory, the first one after ``after``."""
    lines = Path(path).read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == after)
    return next(i for i, line in enumerate(lines) if i > start and line.strip() == text) + 1


@pytest.fixture
def applied(settings, store):  # type: ignore[no-untyped-def]
    apply.sync_file(settings.inventory, store)
    return settings.inventory


def test_host_set_of_a_declared_field_warns_naming_file_and_line(cli, store, applied) -> None:  # type: ignore[no-untyped-def]
    line = _line(applied, "profile: debian-installer")
    r = cli("host", "set", NODE01, "--profile", "rescue")
    assert r.code == 0 and store.host_get(NODE01).profile == "rescue"
    assert r.err == (
        f"pxehook: warning: profile is declared by the inventory at {applied}:{line}: "
        "the next apply of the inventory sets it back\n"
    )
    r = cli("host", "set", NODE01, "--profile", "debian-installer", "--force")
    assert (r.code, r.err) == (0, "")
    r = cli("host", "set", NODE01, "--var", "disk=sdb", "--var", "preseed=mine")
    group_line = _line(applied, "preseed: lab", after="groups:")
    assert r.err == (
        f"pxehook: warning: vars.preseed is declared by the inventory at {applied}:"
        f"{group_line} (group lab): the next apply of the inventory sets it back\n"
    )  # disk is not the inventory's: no word about it


def test_host_show_marks_what_the_inventory_owns(cli, applied) -> None:  # type: ignore[no-untyped-def]
    out = cli("host", "show", NODE01).out
    rows = {line.split("  ", 1)[0]: line for line in out.splitlines()}
    assert rows["profile"].endswith(
        f"[inventory {applied}:{_line(applied, 'profile: debian-installer')}]"
    )
    assert rows["name"].endswith(
        f"[inventory {applied}:{_line(applied, 'name: node01', 'hosts:')}]"
    )
    assert "[inventory" not in rows["ip"] and "[inventory" not in rows["state"]
    assert "[inventory: preseed at" in rows["vars"]
    owned = json.loads(cli("host", "show", NODE01, "--json").out)["inventory"]
    assert owned["profile"] == f"{applied}:{_line(applied, 'profile: debian-installer')}"
    assert set(owned) >= {"name", "profile", "macs", "vars.preseed", "labels.groups"}


def test_api_refuses_an_edit_of_a_declared_field_unless_forced(
    api_client, store, applied, admin_headers
) -> None:  # type: ignore[no-untyped-def]
    line = _line(applied, "profile: debian-installer")
    r = api_client.patch(
        f"/api/v1/hosts/{NODE01}", json={"profile": "rescue"}, headers=admin_headers
    )
    assert r.status_code == 409
    message = r.get_json()["error"]["message"]
    assert f"profile is declared by the inventory at {applied}:{line}" in message
    assert "?force=true" in message and store.host_get(NODE01).profile == "debian-installer"
    r = api_client.patch(
        f"/api/v1/hosts/{NODE01}?force=true", json={"profile": "rescue"}, headers=admin_headers
    )
    assert r.status_code == 200 and store.host_get(NODE01).profile == "rescue"
    r = api_client.patch(
        f"/api/v1/hosts/{NODE01}", json={"vars": {"disk": "sdb"}}, headers=admin_headers
    )
    assert r.status_code == 200  # a variable the inventory does not declare


@pytest.mark.parametrize(
    ("body", "message", "hint"),
    [
        (
            {"state": "deployed"},
            "'state' cannot be set here",
            "POST /api/v1/hosts/<mac>/actions/<action>",
        ),
        ({"profil": "rescue"}, "unknown field 'profil'", "did you mean 'profile'?"),
        ({"name": "x", "ip": "10.0.0.1"}, "'ip' cannot be set here", "observed"),
        ({"version": "7"}, "'version' must be an integer", ""),
    ],
)
def test_patch_with_a_field_it_cannot_set_is_a_400_naming_it(
    api_client, store, make_host, admin_headers, body, message, hint
) -> None:  # type: ignore[no-untyped-def]
    host = make_host(name="before")
    r = api_client.patch(f"/api/v1/hosts/{host.mac}", json=body, headers=admin_headers)
    assert r.status_code == 400
    error = r.get_json()["error"]["message"]
    assert error.startswith(message) and hint in error
    assert store.host_get(host.mac) == host  # nothing changed, not even the valid part


def test_post_with_an_unknown_field_is_a_400(api_client, admin_headers) -> None:  # type: ignore[no-untyped-def]
    r = api_client.post(
        "/api/v1/hosts", json={"mac": "52:54:00:dd:00:01", "lables": {}}, headers=admin_headers
    )
    assert r.status_code == 400 and "unknown field 'lables'" in r.get_json()["error"]["message"]


def test_patch_with_the_version_read_is_refused_once_the_host_moved_on(
    api_client, store, make_host, admin_headers
) -> None:  # type: ignore[no-untyped-def]
    host = make_host()
    read = api_client.get(f"/api/v1/hosts/{host.mac}", headers=admin_headers).get_json()
    store.update_meta(host.id, {"seen": 1})  # someone else wrote meanwhile
    r = api_client.patch(
        f"/api/v1/hosts/{host.mac}",
        json={"name": "x", "version": read["version"]},
        headers=admin_headers,
    )
    assert r.status_code == 409 and "not version" in r.get_json()["error"]["message"]
    fresh = api_client.get(f"/api/v1/hosts/{host.mac}", headers=admin_headers).get_json()
    r = api_client.patch(
        f"/api/v1/hosts/{host.mac}",
        json={"name": "x", "version": fresh["version"]},
        headers=admin_headers,
    )
    assert r.status_code == 200 and r.get_json()["name"] == "x"
