"""Issue 11's acceptance test: saving the inventory while machines install loses no install.

A real ``pxehook serve`` (gunicorn workers, the inventory watcher) holds 1,000 hosts declared
``deploying``. The operator saves an edit touching every host; while the server applies it,
installers call back over HTTP in waves: before the apply starts, as its first writes land,
and as it goes on. Every callback that answered "deployed" must still be deployed afterwards,
with its event on the timeline: an apply must never undo a newer change.
"""

from __future__ import annotations

import http.client
import json
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from pxehook.lifecycle.callback import callback_vars
from pxehook.models import Event, Host, State
from pxehook.store import open_store
from tests.boot_server import LOOPBACK, BootServer

HOSTS = 1000
PROFILE = """\
profiles:
  inst:
    kind: installer
    kernel: {x86: "{{ files_url }}/linux"}
    cmdline: "n={{ n }}"
hosts:
"""


def _mac(i: int) -> str:
    return f"52:54:01:00:{i >> 8:02x}:{i & 255:02x}"


def _inventory(path: Path, n: int) -> None:
    hosts = [
        f'  - mac: "{_mac(i)}"\n    name: m{i}\n    profile: inst\n    state: deploying\n'
        f'    vars: {{n: "{n}"}}\n'
        for i in range(HOSTS)
    ]
    tmp = path.with_suffix(".tmp")
    tmp.write_text(PROFILE + "".join(hosts))
    tmp.replace(path)  # as editors save: the watcher sees one complete file


def _callback(port: int, mac: str, token: str) -> tuple[int, dict]:
    conn = http.client.HTTPConnection(LOOPBACK, port, timeout=30)
    try:
        conn.request(
            "POST", f"/api/v1/hosts/{mac}/deployed", body=f"token={token}",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )  # fmt: skip
        response = conn.getresponse()
        body = response.read().decode()
    finally:
        conn.close()
    try:
        return response.status, json.loads(body)
    except ValueError:
        return response.status, {"text": body}


def _applied(db: Path) -> int:
    """How many hosts the running apply has written so far (read beside it, WAL)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        sql = "SELECT count(*) FROM events WHERE kind='host.updated' AND source='inventory'"
        return int(conn.execute(sql).fetchone()[0])
    finally:
        conn.close()


@pytest.mark.daemon
@pytest.mark.slow
def test_an_inventory_apply_racing_install_callbacks_undoes_none(tmp_path, pxehook_bin) -> None:  # type: ignore[no-untyped-def]
    inventory = tmp_path / "inventory.yaml"
    _inventory(inventory, 1)
    # 1,000 installers call back from one loopback address: the token alone authorises
    # them here (the host-IP check is tested in test_trust_http.py)
    server = BootServer(
        tmp_path, inventory, pxehook_bin, PXEHOOK_WORKERS="2",
        PXEHOOK_CALLBACK_REQUIRE_HOST_IP="false",
    )  # fmt: skip
    store, settings = server.ctx.store(), server.ctx.settings
    hosts = [store.host_get(_mac(i)) for i in range(HOSTS)]
    assert {h.state for h in hosts} == {State.DEPLOYING}
    tokens = {h.mac: callback_vars(settings, store, h)["deploy_token"] for h in hosts}
    # waves of installers, each on hosts of a different part of the file
    waves = [
        (0, [_mac(i) for i in range(0, 1000, 50)]),  # before the apply writes anything
        (1, [_mac(i) for i in range(995, 400, -30)]),  # as its first writes land
        (250, [_mac(i) for i in range(997, 600, -25)]),  # a quarter in
        (500, [_mac(i) for i in range(999, 700, -20)]),  # half-way
        (750, [_mac(i) for i in range(998, 900, -10)]),  # late
    ]
    answers: dict[str, tuple[int, dict]] = {}
    lock = threading.Lock()
    db = tmp_path / "pxehook.db"
    server.start(services=True)
    try:
        with ThreadPoolExecutor(max_workers=16) as pool:
            _inventory(inventory, 2)  # the save: every host's n changes
            started = time.monotonic()
            for threshold, macs in waves:
                while _applied(db) < threshold and time.monotonic() - started < 120:
                    time.sleep(0.005)
                fresh = [m for m in dict.fromkeys(macs) if m not in answers]
                for mac, answer in zip(
                    fresh,
                    pool.map(lambda m: _callback(server.port, m, tokens[m]), fresh),
                    strict=True,
                ):
                    with lock:
                        answers[mac] = answer
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                done = store.host_list()
                if all(h.vars.get("n") == "2" for h in done):
                    break
                time.sleep(0.2)
        time.sleep(1.5)  # a second apply of the same save would have started by now
    finally:
        server.stop()
    after = {h.mac: h for h in open_hosts(server)}
    assert all(h.vars["n"] == "2" for h in after.values()), "the apply did not finish"
    deployed = [
        m
        for m, (status, body) in answers.items()
        if status == 200 and body.get("state") == "deployed"
    ]
    assert len(deployed) >= 60, answers  # the installers were answered
    lost = [m for m in deployed if after[m].state != State.DEPLOYED]
    assert not lost, f"{len(lost)} installs undone by the apply: {lost[:8]}"
    for mac in deployed:
        events = store_events(server, after[mac].id)
        assert any(
            e.kind == "state.changed"
            and e.source.startswith("callback:")
            and e.data["to"] == "deployed"
            for e in events
        ), mac


def open_hosts(server: BootServer) -> list[Host]:
    store = open_store(server.env["PXEHOOK_DATABASE"])
    try:
        return store.host_list()
    finally:
        store.close()


def store_events(server: BootServer, host_id: int) -> list[Event]:
    store = open_store(server.env["PXEHOOK_DATABASE"])
    try:
        return store.events(host_id)
    finally:
        store.close()
