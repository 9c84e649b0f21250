"""Every host write is conditional on what its writer read (issue 11, "Life-cycle state is
never lost"): on SQLite and on the real PostgreSQL the tests start, a write based on a stale
read is refused (Stale) or re-applied to a fresh read, never applied blindly."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pxehook.errors import Conflict, Stale
from pxehook.lifecycle import callback, table
from pxehook.lifecycle.hosts import HostChanges, apply_changes
from pxehook.models import Host, Observation, Profile, State
from pxehook.store import open_store
from pxehook.store.writes import HostPatch, HostWrite, StateChange

MAC = "52:54:00:c0:00:01"
EDITOR = Path(__file__).parent / "harness" / "host_editor.py"


def _host(store, **kw):  # type: ignore[no-untyped-def]
    store.profiles_replace([Profile(name="inst", kind="installer", kernel={"x86": "/k"})])
    return store.host_put(Host(id=None, macs=(MAC,), profile="inst", **kw), source="test")


def test_every_write_to_the_row_moves_its_version(any_store) -> None:  # type: ignore[no-untyped-def]
    h0 = _host(any_store)
    h1 = any_store.host_update(h0.id, HostPatch(name="a"), version=h0.version, source="t")
    h2, _ = any_store.observe(Observation(mac=MAC, source="dnsmasq", ip="10.0.0.9"))
    h3 = any_store.set_state(h2.id, State.READY, version=h2.version, source="t")
    h4 = any_store.update_meta(h3.id, {"k": 1}, version=h3.version)
    assert [h.version for h in (h0, h1, h2, h3, h4)] == [0, 1, 2, 3, 4]
    assert any_store.host_by_id(h0.id) == h4


@pytest.mark.parametrize(
    "stale_write",
    [
        lambda s, h: s.host_put(h.with_(name="stale"), source="t"),
        lambda s, h: s.host_update(h.id, HostPatch(name="stale"), version=h.version, source="t"),
        lambda s, h: s.set_state(h.id, State.BROKEN, version=h.version, source="t"),
        lambda s, h: s.update_meta(h.id, {"stale": True}, version=h.version),
    ],
    ids=["host_put", "host_update", "set_state", "update_meta"],
)
def test_a_write_based_on_a_stale_read_is_refused(any_store, stale_write) -> None:  # type: ignore[no-untyped-def]
    read = _host(any_store)
    # another writer lands between the read and the write: a DHCP sighting moves the IP
    newer, _ = any_store.observe(Observation(mac=MAC, source="dnsmasq", ip="10.0.0.7"))
    with pytest.raises(Stale, match="changed since it was read"):
        stale_write(any_store, read)
    assert any_store.host_by_id(read.id) == newer  # nothing of the stale write landed


def test_a_patch_changes_only_the_fields_it_names(any_store) -> None:  # type: ignore[no-untyped-def]
    h = _host(any_store, vars={"a": "1"}, labels={"rack": "r1"})
    h = any_store.host_update(h.id, HostPatch(vars={"b": "2"}), version=None, source="t")
    h = any_store.host_update(
        h.id, HostPatch(vars={"a": None}, labels={"row": "x"}), version=None, source="t"
    )
    assert (h.vars, h.labels, h.profile) == ({"b": "2"}, {"rack": "r1", "row": "x"}, "inst")
    event = any_store.events(h.id)[-1]
    assert (event.kind, event.data["changed"]) == ("host.updated", ["vars.a", "labels.row"])


def test_a_batch_applies_each_item_on_its_own_in_one_transaction(any_store) -> None:  # type: ignore[no-untyped-def]
    a = _host(any_store)
    b = any_store.host_put(Host(id=None, macs=("52:54:00:c0:00:02",)), source="t")
    any_store.observe(Observation(mac=b.mac, source="dnsmasq", ip="10.0.0.8"))  # b is stale
    generation = any_store.generation()
    results = any_store.host_writes(
        [
            HostWrite(source="t", host_id=a.id, patch=HostPatch(name="A"), version=a.version),
            HostWrite(source="t", host_id=b.id, patch=HostPatch(name="B"), version=b.version),
            HostWrite(source="t", new=Host(id=None, macs=("52:54:00:c0:00:03",), name="C")),
            HostWrite(source="t", new=Host(id=None, macs=(MAC,))),  # MAC taken
        ]
    )
    assert [type(r).__name__ for r in results] == ["Host", "Stale", "Host", "Conflict"]
    assert any_store.host_by_id(a.id).name == "A" and any_store.host_by_id(b.id).name == ""
    assert any_store.host_get("52:54:00:c0:00:03").name == "C"
    assert any_store.generation() == generation + 1  # one transaction for the batch
    changes = [
        StateChange(host_id=a.id, state=State.READY, source="t", version=results[0].version),
        StateChange(host_id=b.id, state=State.READY, source="t", version=b.version),
    ]
    done = any_store.set_states(changes)
    assert isinstance(done[0], Host) and isinstance(done[1], Stale)


def test_an_edit_whose_read_went_stale_is_re_applied_to_the_fresh_host(any_store) -> None:  # type: ignore[no-untyped-def]
    """``host set --var b=2`` racing another edit: re-read and re-applied, nothing lost."""
    h = _host(any_store, vars={"a": "1"})
    update = any_store.host_update
    raced = []

    def racing_update(host_id, patch, **kw):  # type: ignore[no-untyped-def]
        if not raced:  # someone else's edit lands between the read and this write
            raced.append(update(host_id, HostPatch(vars={"c": "3"}), version=None, source="x"))
        return update(host_id, patch, **kw)

    any_store.host_update = racing_update
    try:
        after, _ = apply_changes(any_store, MAC, HostChanges(set_vars={"b": "2"}), source="cli")
    finally:
        del any_store.host_update
    assert after.vars == {"a": "1", "b": "2", "c": "3"} == any_store.host_by_id(h.id).vars


def test_a_transition_is_re_decided_when_the_host_changed_meanwhile(any_store) -> None:  # type: ignore[no-untyped-def]
    h = _host(any_store, state=State.READY)
    any_store.observe(Observation(mac=MAC, source="dnsmasq", ip="10.0.0.5"))  # only a fact
    assert table.transition(any_store, h, "deploy", source="t").state == State.DEPLOYING
    h = any_store.host_get(MAC)
    table.transition(any_store, h, "release", source="op")  # the state itself changed
    with pytest.raises(Conflict, match="changed meanwhile: it is ready"):
        table.transition(any_store, h, "fail", source="timeout")
    assert any_store.host_get(MAC).state == State.READY


def test_a_callback_verified_on_a_stale_read_does_not_end_the_next_deployment(any_store) -> None:  # type: ignore[no-untyped-def]
    """The installer of deployment 1 calls back while an operator releases and deploys
    again: the old token must not mark deployment 2 as done."""
    h = table.transition(any_store, _host(any_store, state=State.READY), "deploy", source="t")
    token = callback.deploy_token(any_store, h.id, h.meta["deployment"])
    set_state = any_store.set_state

    def redeploy_first(*args, **kw):  # type: ignore[no-untyped-def]
        any_store.set_state = set_state
        fresh = any_store.host_by_id(h.id)
        table.transition(any_store, fresh, "release", source="op")
        table.transition(any_store, any_store.host_by_id(h.id), "deploy", source="op")
        return set_state(*args, **kw)

    any_store.set_state = redeploy_first
    try:
        with pytest.raises(Conflict):
            callback.install_done(any_store, MAC, token, source="callback:old")
    finally:
        any_store.__dict__.pop("set_state", None)
    after = any_store.host_get(MAC)
    assert after.state == State.DEPLOYING and after.meta["deployment"] != h.meta["deployment"]


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_concurrent_cli_edits_of_one_host_lose_nothing(tmp_path, request, backend) -> None:  # type: ignore[no-untyped-def]
    """Four processes each run ``pxehook host set MAC --var wN_i=…`` on the same host; every
    variable set by every process is there at the end (no write from a stale snapshot)."""
    if backend == "sqlite":
        db = f"sqlite:///{tmp_path}/edits.db"
    else:
        db = request.getfixturevalue("pg_server").new_database()
    store = open_store(db)
    store.host_put(Host(id=None, macs=(MAC,)), source="test")
    writers, edits = 4, 40
    procs = [
        subprocess.Popen(
            [sys.executable, str(EDITOR), db, MAC, f"w{n}", str(edits)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(writers)
    ]
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        assert json.loads(out.strip().splitlines()[-1])["errors"] == [], err
    got = store.host_get(MAC).vars
    want = {f"w{n}_{i}": str(i) for n in range(writers) for i in range(edits)}
    missing = sorted(set(want) - set(got))
    assert not missing, f"{len(missing)} edits lost, e.g. {missing[:5]}"
    store.close()
