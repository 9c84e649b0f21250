"""The fleet page's API: pages with counts, changes since a cursor, the host panel, explain,
bulk actions, and what each scope may do."""

from __future__ import annotations

import pytest

from pxehook.models import Event, State
from pxehook.web.bootstages import last_boot
from tests.lifecycle_fixtures import *  # noqa: F403

S = State


def test_a_page_is_a_slice_with_counts_per_state_and_arch_by_name(
    api_client, make_host, read_headers
):  # type: ignore[no-untyped-def]
    for state in (S.NEW, S.NEW, S.READY, S.DEPLOYED):
        make_host(state)
    body = api_client.get("/api/v1/fleet?limit=2&sort=mac&order=desc", headers=read_headers).json
    assert body["total"] == 4 and len(body["hosts"]) == 2
    assert body["states"]["new"] == 2 and body["states"]["ready"] == 1
    assert body["hosts"][0]["mac"] > body["hosts"][1]["mac"]
    assert body["hosts"][0]["arch"] == {"code": None, "slug": "", "name": "unknown"}
    ready = api_client.get("/api/v1/fleet?state=ready", headers=read_headers).json
    assert [h["state"] for h in ready["hosts"]] == ["ready"] and ready["total"] == 1
    assert ready["states"]["new"] == 2  # the bar still counts every state


@pytest.mark.parametrize(
    "query",
    ["state=nope", "arch=zz", "sort=password", "order=up", "limit=501", "label=nokey",
     "q=" + "+".join(["w"] * 9), "offset=-1"],
)  # fmt: skip
def test_a_bad_parameter_is_a_400_naming_it(api_client, read_headers, query):  # type: ignore[no-untyped-def]
    response = api_client.get(f"/api/v1/fleet?{query}", headers=read_headers)
    assert response.status_code == 400 and response.json["error"]["code"] == "invalid_input"


def test_changes_since_a_cursor_carry_the_changed_hosts_and_fresh_counts(
    api_client, make_host, read_headers, admin_headers
):  # type: ignore[no-untyped-def]
    host = make_host(S.NEW)
    make_host(S.NEW)
    cursor = api_client.get("/api/v1/fleet?state=new", headers=read_headers).json["cursor"]
    quiet = api_client.get(f"/api/v1/fleet/changes?since={cursor}&state=new", headers=read_headers)
    assert quiet.json["hosts"] == [] and not quiet.json["resync"]
    done = api_client.post(f"/api/v1/hosts/{host.mac}/actions/accept", headers=admin_headers)
    assert done.status_code == 200
    changed = api_client.get(
        f"/api/v1/fleet/changes?since={quiet.json['cursor']}&state=new", headers=read_headers
    ).json
    assert [(h["mac"], h["state"], h["matches"]) for h in changed["hosts"]] == [
        (host.mac, "ready", False)
    ]
    assert changed["total"] == 1 and changed["states"]["ready"] == 1
    assert api_client.get("/api/v1/fleet/changes", headers=read_headers).status_code == 400


def test_read_token_sees_no_bytes_and_may_not_act(
    api_client, make_host, read_headers, admin_headers
):  # type: ignore[no-untyped-def]
    """The attack: a read-only token reads the deployment's callback token from explain's
    rendered bytes, or runs a bulk action."""
    host = make_host(S.DEPLOYING, ip="10.0.0.5")
    seen = api_client.get(f"/api/v1/hosts/{host.mac}/explain", headers=read_headers).json
    assert seen["answers"] and all(a["body"] is None for a in seen["answers"])
    assert all(a["reasons"] for a in seen["answers"])  # the decision chain is there
    full = api_client.get(f"/api/v1/hosts/{host.mac}/explain", headers=admin_headers).json
    assert any("pxehook.token=" in (a["body"] or "") for a in full["answers"])
    bulk = api_client.post("/api/v1/fleet/actions/fail", json={"macs": [host.mac]},
                           headers=read_headers)  # fmt: skip
    assert bulk.status_code == 403
    assert api_client.get("/api/v1/whoami", headers=read_headers).json["scope"] == "read"


def test_bulk_action_on_a_filter_does_each_host_and_names_refusals(
    api_client, make_host, admin_headers, store
):  # type: ignore[no-untyped-def]
    fresh = [make_host(S.NEW) for _ in range(3)]
    deployed = make_host(S.DEPLOYED)
    body = api_client.post("/api/v1/fleet/actions/accept", json={"filter": {"state": "new"}},
                           headers=admin_headers).json  # fmt: skip
    assert sorted(h["mac"] for h in body["done"]) == sorted(h.mac for h in fresh)
    assert all(store.host_get(h.mac).state == S.READY for h in fresh)
    mixed = api_client.post(
        "/api/v1/fleet/actions/allocate", json={"macs": [fresh[0].mac, deployed.mac]},
        headers=admin_headers,
    ).json  # fmt: skip
    assert [h["mac"] for h in mixed["done"]] == [fresh[0].mac]
    assert mixed["failed"][0]["mac"] == deployed.mac and "deployed" in mixed["failed"][0]["error"]
    both = api_client.post("/api/v1/fleet/actions/accept", json={}, headers=admin_headers)
    assert both.status_code == 400


def test_bulk_action_refuses_a_filter_wider_than_one_answer(
    api_client, make_host, admin_headers, monkeypatch
):  # type: ignore[no-untyped-def]
    """The fault: a filter matching the whole fleet would run one request for minutes."""
    monkeypatch.setattr("pxehook.web.fleet.MAX_PAGE", 2)
    for _ in range(3):
        make_host(S.NEW)
    wide = api_client.post("/api/v1/fleet/actions/accept", json={"filter": {}},
                           headers=admin_headers)  # fmt: skip
    assert wide.status_code == 400 and "3 hosts" in wide.json["error"]["message"]


def test_panel_shows_timeline_and_the_last_boot(api_client, make_host, read_headers, store):  # type: ignore[no-untyped-def]
    host = make_host(S.DEPLOYING)
    for at, kind, source in (
        (10.0, "dhcp.add", "hook"),
        (11.5, "tftp.sent", "tftp"),
        (12.0, "boot.config", "http"),
        (14.0, "boot.kernel", "http"),
    ):
        store.event_add(host.id, kind, source, kind, at=at)  # fmt: skip
    panel = api_client.get(f"/api/v1/hosts/{host.mac}/panel", headers=read_headers).json
    assert panel["view"]["state"] == "deploying" and "fail" in panel["view"]["allowed"]
    stages = {s["stage"]: s for s in panel["boot"]}
    assert stages["loader"]["after"] == 1.5 and stages["kernel"]["after"] == 2.0
    assert stages["callback"]["at"] is None
    assert panel["events"][-1]["kind"] == "boot.kernel"


def _event(i: int, at: float, kind: str, source: str = "x", **data) -> Event:  # type: ignore[no-untyped-def]
    return Event(id=i, host_id=1, at=at, kind=kind, source=source, data=data)


def test_last_boot_starts_at_the_dhcp_before_the_newest_config():
    events = [
        _event(1, 1.0, "dhcp.add"), _event(2, 2.0, "boot.config"), _event(3, 3.0, "boot.kernel"),
        _event(4, 50.0, "dhcp.old"), _event(5, 51.0, "tftp.sent"), _event(6, 52.0, "boot.config"),
        _event(7, 60.0, "state.changed", "callback:10.0.0.5", to="deployed"),
        _event(8, 99.0, "dhcp.renew"),
    ]  # fmt: skip
    rows = {r["stage"]: (r["at"], r["after"]) for r in last_boot(events)}
    assert rows == {"dhcp": (50.0, None), "loader": (51.0, 1.0), "config": (52.0, 1.0),
                    "kernel": (None, None), "callback": (60.0, 8.0)}  # fmt: skip
