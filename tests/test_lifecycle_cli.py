"""CLI: host state/deploy/reinstall/release/rescue/clone/events, lifecycle, token."""

from __future__ import annotations

import json
import sqlite3
import time

from pxehook import tokens
from pxehook.models import State
from tests.lifecycle_fixtures import *  # noqa: F403

S = State


def test_token_create_list_rm(cli, store) -> None:  # type: ignore[no-untyped-def]
    made = cli("token", "create", "ops", "--scope", "admin")
    assert made.code == 0
    secret = made.out.strip()
    assert secret.startswith("pxh_") and tokens.authorize(store, f"Bearer {secret}", "admin")
    listed = json.loads(cli("token", "list", "--json").out)
    assert listed == [{"name": "ops", "scope": "admin", "created": listed[0]["created"]}]
    assert secret not in cli("token", "list").out
    assert cli("token", "create", "ops").code == 7  # conflict
    assert cli("token", "rm", "ops").code == 0
    assert cli("token", "rm", "ops").code == 4
    assert cli("token", "create", "x", "--scope", "root").code == 2


def test_deploy_shows_callback_then_reinstall_cycle(cli, store, make_host) -> None:  # type: ignore[no-untyped-def]
    host = make_host(S.READY, profile="")
    r = cli("host", "deploy", host.mac, "--profile", "installer", "--json")
    assert r.code == 0, r
    view = json.loads(r.out)
    assert view["state"] == "deploying" and len(view["deploy_token"]) == 32
    assert view["callback_url"].endswith(f"/api/v1/hosts/{host.mac}/deployed")
    assert cli("host", "state", host.mac, "deployed").code == 0
    r = cli("host", "reinstall", host.mac)
    assert r.code == 0 and "deploying" in r.out and "deploy token" in r.out
    assert cli("host", "release", host.mac, "--json").code == 0
    assert store.host_get(host.mac).state == S.READY


def test_refused_transition_is_one_line_and_exit_7(cli, make_host) -> None:  # type: ignore[no-untyped-def]
    host = make_host(S.READY)
    r = cli("host", "reinstall", host.mac)
    assert r.code == 7
    assert "host is ready" in r.err and "allowed from ready" in r.err
    assert "Traceback" not in r.err and len(r.err.strip().splitlines()) == 1


def test_state_shows_allowed_actions(cli, make_host) -> None:  # type: ignore[no-untyped-def]
    host = make_host(S.DEPLOYED)
    view = json.loads(cli("host", "state", host.mac, "--json").out)
    assert view["allowed"] == ["reinstall", "release", "rescue", "mark-broken"]
    r = cli("host", "rescue", host.mac, "--profile", "rescue")
    assert r.code == 0 and "rescue" in r.out
    assert json.loads(cli("host", "state", host.mac, "exit-rescue", "--json").out)["state"] == (
        "deployed"
    )
    assert cli("host", "state", host.mac, "teleport").code == 2


def test_events_timeline(cli, store, make_host) -> None:  # type: ignore[no-untyped-def]
    host = make_host(S.READY)
    store.event_add(host.id, "dhcp.seen", "dnsmasq-hook", "DISCOVER arch 7")
    cli("host", "deploy", host.mac)
    table = cli("host", "events", host.mac).out.splitlines()
    assert table[0].split()[:5] == ["ID", "TIME", "KIND", "SOURCE", "MESSAGE"]
    kinds = [line.split()[3] for line in table[1:]]
    assert kinds == ["host.created", "dhcp.seen", "state.changed"]
    events = json.loads(cli("host", "events", host.mac, "--json", "--limit", "1").out)
    assert [e["kind"] for e in events] == ["host.created"]


def test_events_name_the_rack_when_several_racks_saw_the_host(cli, store, make_host) -> None:  # type: ignore[no-untyped-def]
    host = make_host(S.READY)
    store.event_add(host.id, "dhcp.seen", "dnsmasq-hook", "DISCOVER arch 7")
    with sqlite3.connect(store.path) as conn:  # as rack B's pxehook would have written it
        conn.execute(
            "INSERT INTO events(host_id, at, kind, source, message, data, rack) "
            "VALUES (?, ?, 'boot.config', 'http', 'served', '{}', 'rack-b')",
            (host.id, time.time()),
        )
    table = cli("host", "events", host.mac).out.splitlines()
    assert table[0].split() == ["ID", "TIME", "KIND", "SOURCE", "MESSAGE", "RACK"]
    assert table[-1].split()[-1] == "rack-b"


def test_clone(cli, store, make_host) -> None:  # type: ignore[no-untyped-def]
    src = store.host_put(make_host(S.READY, profile="rescue").with_(labels={"a": "1"}), source="t")
    dst = make_host(S.READY)
    r = cli("host", "clone", src.mac, dst.mac, "--part", "labels", "--json")
    assert json.loads(r.out)["changed"] == [dst.mac]
    got = store.host_get(dst.mac)
    assert got.labels == {"a": "1"} and got.profile == "installer"
    assert cli("host", "clone", src.mac, dst.mac).out.startswith("changed")
    assert cli("host", "clone", src.mac, "52:54:00:00:00:97").code == 4


def test_lifecycle_sweep_and_table(cli, store, make_host) -> None:  # type: ignore[no-untyped-def]
    host = make_host(S.DEPLOYING)
    r = cli("lifecycle", "sweep")
    assert "0 host(s) changed" in r.out  # not overdue within the default hour
    store.host_put(store.host_get(host.mac).with_(state_changed=1.0), source="t")
    r = cli("lifecycle", "sweep", "--json", extra_env={"PXEHOOK_DEPLOY_TIMEOUT": "1"})
    assert json.loads(r.out) == [{"mac": host.mac, "from": "deploying", "to": "failed"}]
    table = json.loads(cli("lifecycle", "table", "--json").out)
    assert {"action": "reinstall", "from": ["deployed"], "to": "deploying"}.items() <= table[
        5
    ].items()


def test_docs_show_the_real_refusal(cli, make_host) -> None:  # type: ignore[no-untyped-def]
    from pathlib import Path

    r = cli("host", "reinstall", make_host(S.READY).mac)
    docs = Path(__file__).resolve().parent.parent / "docs"
    message = r.err.strip().removeprefix("pxehook: error: ")
    assert r.err.strip() in (docs / "lifecycle.md").read_text()
    assert message in (docs / "api.md").read_text()
