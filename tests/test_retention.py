"""The timeline's retention on real databases (SQLite and PostgreSQL): which events a prune
removes, which survive (the newest per host, the state changes of the last deployments),
batched walks giving the same answer, dry runs, the background pruner and paging."""

from __future__ import annotations

import json
import time

import pytest

from pxehook.models import Host, State
from pxehook.store import retention
from pxehook.store.retention import DAY, Pruner, Retention, prune

#: The tests' clock: hosts are created (their ``host.created`` event) at about this time.
NOW = time.time()


def _host(store, n: int) -> Host:  # type: ignore[no-untyped-def]
    return store.host_put(
        Host(id=None, macs=(f"52:54:00:00:10:{n:02x}",), name=f"node{n:02d}"), source="t"
    )


def _install(store, host_id: int, at: float) -> None:  # type: ignore[no-untyped-def]
    """One install as the life cycle records it: deploying, configs fetched, deployed."""
    store.event_add(host_id, "state.changed", "t", "ready -> deploying",
                    {"from": "ready", "to": "deploying"}, at)  # fmt: skip
    for i in range(5):
        store.event_add(host_id, "boot.config", "http", "config", {"n": i}, at + 1 + i)
    store.event_add(host_id, "state.changed", "t", "deploying -> deployed",
                    {"from": "deploying", "to": "deployed"}, at + 10)  # fmt: skip


def _fleet(store):  # type: ignore[no-untyped-def]
    """Host A: 4 installs a day apart 200..197 days ago, then 300 config fetches 8 hours
    apart over the last 100 days. Host B: 20 recent events only. Host C: one install 150
    days ago."""
    a, b, c = _host(store, 1), _host(store, 2), _host(store, 3)
    for k in range(4):
        _install(store, a.id, NOW - (200 - k) * DAY)
    rows = [(a.id, "boot.config", "http", "cfg", None, NOW - 100 * DAY + i * 28800.0)
            for i in range(300)]  # fmt: skip
    rows += [(b.id, "boot.config", "http", "cfg", None, NOW - i * 60.0) for i in range(20)]
    store.event_add_many(rows)
    _install(store, c.id, NOW - 150 * DAY)
    return a, b, c


def _kinds(store, host_id: int) -> list[str]:  # type: ignore[no-untyped-def]
    return [e.kind for e in store.events(host_id)]


def _state_targets(store, host_id: int) -> list[str]:  # type: ignore[no-untyped-def]
    return [e.data["to"] for e in store.events(host_id) if e.kind == "state.changed"]


def test_prune_by_count_keeps_newest_and_last_deployments(any_store) -> None:
    a, b, c = _fleet(any_store)
    before_a = len(any_store.events(a.id))
    assert before_a == 1 + 4 * 7 + 300  # host.created, installs, configs

    done = prune(any_store, Retention(max_age_days=0, per_host=50, keep_deployments=2), now=NOW)

    events_a = any_store.events(a.id)
    # the newest 50 survive, and the state changes of the last 2 installs (4 events)
    assert len(events_a) == 54
    assert _state_targets(any_store, a.id) == ["deploying", "deployed"] * 2
    assert [e.kind for e in events_a[4:]] == ["boot.config"] * 50
    assert events_a[-1].at == NOW - 100 * DAY + 299 * 28800.0
    # the others are under the limit: untouched
    assert len(any_store.events(b.id)) == 21 and len(any_store.events(c.id)) == 8
    assert done.by_count == before_a - 54 and done.by_age == 0


def test_prune_by_age_spares_the_last_deployments(any_store) -> None:
    a, b, c = _fleet(any_store)
    done = prune(any_store, Retention(max_age_days=90, per_host=0, keep_deployments=1), now=NOW)
    # A: its creation, the configs of the last 90 days and its last install's two state
    # changes; C: its creation and its only install's state changes; B untouched.
    recent = sum(1 for i in range(300) if NOW - 100 * DAY + i * 28800.0 >= NOW - 90 * DAY)
    assert 0 < recent < 300
    assert (
        _kinds(any_store, a.id)
        == ["host.created"] + ["state.changed"] * 2 + ["boot.config"] * recent
    )
    assert _state_targets(any_store, a.id) == ["deploying", "deployed"]
    assert _kinds(any_store, c.id) == ["host.created", "state.changed", "state.changed"]
    assert len(any_store.events(b.id)) == 21
    assert done.by_age == (28 + 300 - 2 - recent) + 5


def test_keep_deployments_zero_protects_nothing(any_store) -> None:
    a, _, c = _fleet(any_store)
    prune(any_store, Retention(max_age_days=90, per_host=0, keep_deployments=0), now=NOW)
    assert "state.changed" not in _kinds(any_store, a.id)
    assert _kinds(any_store, c.id) == ["host.created"]


def test_real_state_changes_are_protected(any_store) -> None:
    """The protection reads the events the store itself writes on a state change."""
    host = _host(any_store, 9)
    for target in (State.READY, State.DEPLOYING, State.DEPLOYED):
        host = any_store.set_state(host.id, target, source="t")
    any_store.event_add_many(
        [(host.id, "boot.config", "http", "", None, NOW + i) for i in range(30)]
    )
    prune(any_store, Retention(max_age_days=0, per_host=5, keep_deployments=1), now=NOW)
    assert _state_targets(any_store, host.id) == ["deploying", "deployed"]
    assert len(any_store.events(host.id)) == 7


def test_batched_walk_matches_and_dry_run_counts(any_store, monkeypatch) -> None:
    a, b, c = _fleet(any_store)
    rule = Retention(max_age_days=120, per_host=40, keep_deployments=2)
    dry = prune(any_store, rule, now=NOW, dry_run=True)
    assert dry.dry_run and dry.total > 0
    assert len(any_store.events(a.id)) == 329  # nothing went

    monkeypatch.setattr(retention, "BATCH", 7)
    monkeypatch.setattr(retention, "HOST_BATCH", 1)
    done = prune(any_store, rule, now=NOW)
    # A dry run counts an event the age pass drops and the count pass would drop again:
    # the real run's count pass only sees what is left.
    assert done.by_age == dry.by_age and done.total <= dry.total
    survivors = any_store.events(a.id)
    assert len(survivors) == 40 + 4
    assert _state_targets(any_store, a.id) == ["deploying", "deployed"] * 2
    assert len(any_store.events(c.id)) == 3 and len(any_store.events(b.id)) == 21
    again = prune(any_store, rule, now=NOW)
    assert again.total == 0


def test_count_pass_skips_hosts_without_new_events(any_store) -> None:
    a, b, _ = _fleet(any_store)
    rule = Retention(max_age_days=0, per_host=10, keep_deployments=0)
    high = any_store.event_stats()["last_id"]
    any_store.event_add_many([(b.id, "boot.config", "http", "", None, NOW + i) for i in range(5)])
    done = prune(any_store, rule, now=NOW, since_id=high)
    assert len(any_store.events(b.id)) == 10
    assert len(any_store.events(a.id)) == 329  # no new events: left for a full pass
    assert done.high_water > high


def test_background_pruner_runs_and_stops(any_store) -> None:
    a, _, _ = _fleet(any_store)
    pruner = Pruner(any_store, Retention(max_age_days=0, per_host=25, keep_deployments=1),
                    interval=3600, first_delay=0.0, pause=0.0)  # fmt: skip
    first = pruner.run_once()
    assert first.by_count > 0 and len(any_store.events(a.id)) == 27
    any_store.event_add_many([(a.id, "boot.config", "http", "", None, NOW + i) for i in range(3)])
    second = pruner.run_once()
    assert second.by_count == 3 and len(any_store.events(a.id)) == 27
    pruner.start()
    pruner.stop()
    assert not pruner.alive()


def test_events_page_newest_first_with_cursor(any_store) -> None:
    a, _, _ = _fleet(any_store)
    everything = any_store.events(a.id)
    seen, before = [], None
    while True:
        page = any_store.events_page(a.id, before_id=before, limit=100)
        if not page:
            break
        seen += page
        before = page[-1].id
    assert [e.id for e in seen] == [e.id for e in reversed(everything)]
    assert any_store.events_page(a.id, limit=3)[0].id == everything[-1].id


@pytest.mark.parametrize("days", [0, 1])
def test_event_stats(any_store, days: int) -> None:
    host = _host(any_store, 1)
    any_store.event_add(host.id, "boot.config", "http", "", None, NOW - days * DAY)
    stats = any_store.event_stats()
    assert stats["events"] == 2 and stats["last_id"] > 0


def test_db_prune_command(cli, store) -> None:  # type: ignore[no-untyped-def]
    a, _, _ = _fleet(store)
    settings = {"PXEHOOK_EVENT_RETENTION_PER_HOST": "30", "PXEHOOK_EVENT_KEEP_DEPLOYMENTS": "1"}
    dry = cli("db", "prune", "--dry-run", extra_env=settings)
    assert dry.code == 0 and dry.out.startswith("would prune ")
    assert len(store.events(a.id)) == 329
    done = cli("db", "prune", "--json", extra_env=settings)
    assert done.code == 0, done
    report = json.loads(done.out)
    assert report["total"] > 0 and report["left"]["events"] == 32 + 21 + 3
    assert len(store.events(a.id)) == 32  # 30 newest + the last install's 2 state changes
    off = cli("db", "prune", extra_env={"PXEHOOK_EVENT_RETENTION_DAYS": "0",
                                         "PXEHOOK_EVENT_RETENTION_PER_HOST": "0"})  # fmt: skip
    assert off.code != 0 and "nothing to prune" in off.err


def test_host_events_last(cli, store) -> None:  # type: ignore[no-untyped-def]
    a, _, _ = _fleet(store)
    everything = store.events(a.id)
    out = cli("host", "events", "node01", "--last", "3", "--json")
    assert out.code == 0, out
    assert [e["id"] for e in json.loads(out.out)] == [e.id for e in everything[-3:]]
    table = cli("host", "events", "node01", "--last", "2").out.splitlines()
    assert len(table) == 3 and table[-1].split()[0] == str(everything[-1].id)
    assert cli("host", "events", "node01", "--last", "2", "--since", "4").code == 2
