"""Time-outs survive clock steps (issue 11, "Clocks"); sweeps read cheaply and write only
the hosts whose state changes, batched (issue 13)."""

from __future__ import annotations

import time

import pytest

from pxehook.inventory import apply
from pxehook.inventory import parse as inventory
from pxehook.lifecycle import auto, table
from pxehook.lifecycle.hooks import LifecycleBootHooks
from pxehook.models import Instant, State
from pxehook.store.sqlite import SQLiteDialect
from tests.lifecycle_fixtures import *  # noqa: F403

S = State
DAY = 86400.0


def _deploying(store, make_host, **kw):  # type: ignore[no-untyped-def]
    return table.transition(store, make_host(S.READY, **kw), "deploy", source="t")


@pytest.fixture
def write_transactions(monkeypatch):  # type: ignore[no-untyped-def]
    """Counts the write transactions the SQLite store opens from now on."""
    opened: list[int] = []
    original = SQLiteDialect.transaction

    def counting(self, conn, *, write):  # type: ignore[no-untyped-def]
        if write:
            opened.append(1)
        return original(self, conn, write=write)

    monkeypatch.setattr(SQLiteDialect, "transaction", counting)
    return opened


def _step_wall_clock(monkeypatch, seconds: float) -> None:  # type: ignore[no-untyped-def]
    """NTP (or an operator) steps the wall clock; the boot-time clock does not move."""
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + seconds)


# --- clocks ---------------------------------------------------------------------------------
def test_a_wall_clock_step_forward_fails_no_deploying_host(
    ctx, store, make_host, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    hosts = [_deploying(store, make_host) for _ in range(5)]
    one_shot = _deploying(store, make_host, profile="oneshot")
    one_shot = LifecycleBootHooks(ctx).on_boot_event(one_shot, "boot.kernel", {"path": "/linux"})
    _step_wall_clock(monkeypatch, 2 * DAY)  # far beyond deploy_timeout and boot_once_window
    assert auto.sweep(ctx.settings, store) == []
    for host in [*hosts, one_shot]:
        assert LifecycleBootHooks(ctx).before_decide(store.host_by_id(host.id)).state == S.DEPLOYING
    assert {store.host_by_id(h.id).state for h in [*hosts, one_shot]} == {S.DEPLOYING}


def test_time_that_really_passed_still_times_out(ctx, store, make_host, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    host = _deploying(store, make_host)
    _step_wall_clock(monkeypatch, -DAY)  # and a step back does not hold it either
    later = Instant(
        wall=time.time(),
        clock=host.state_clock + ctx.settings.deploy_timeout + 1,
        boot=host.state_boot,
    )
    assert auto.sweep(ctx.settings, store, later) == [
        {"mac": host.mac, "from": "deploying", "to": "failed"}
    ]


def test_a_stamp_from_another_boot_is_measured_on_the_wall_clock(ctx, store, make_host) -> None:  # type: ignore[no-untyped-def]
    host = _deploying(store, make_host)
    other_boot = store.host_put(host.with_(state_boot="another-boot"), source="t")
    now = Instant(
        wall=host.state_changed + 60, clock=host.state_clock + 10 * DAY, boot=host.state_boot
    )
    assert auto.sweep(ctx.settings, store, now) == []  # 60 s on the wall clock: not due
    late = Instant(
        wall=host.state_changed + ctx.settings.deploy_timeout + 1, clock=0.0, boot=host.state_boot
    )
    assert auto.sweep(ctx.settings, store, late)[0]["mac"] == other_boot.mac


# --- sweeps ---------------------------------------------------------------------------------
def _declared(tmp_path, n: int) -> str:  # type: ignore[no-untyped-def]
    lines = ["profiles:", "  inst:", "    kernel: {x86: /linux}", "hosts:"]
    for i in range(n):
        lines += [
            f'  - mac: "52:54:02:00:{i >> 8:02x}:{i & 255:02x}"',
            "    profile: inst",
            "    state: deploying",
        ]
    path = tmp_path / "declared.yaml"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_hosts_declared_deploying_cost_the_sweep_no_write(
    ctx, store, tmp_path, write_transactions
) -> None:  # type: ignore[no-untyped-def]
    apply.sync(inventory.load(_declared(tmp_path, 2000)), store)
    generation, write_transactions[:] = store.generation(), []
    assert auto.sweep(ctx.settings, store) == []
    assert write_transactions == [] and store.generation() == generation


def test_many_due_hosts_are_written_in_a_few_transactions(
    ctx, store, tmp_path, write_transactions
) -> None:  # type: ignore[no-untyped-def]
    apply.sync(inventory.load(_declared(tmp_path, 2000)), store)
    write_transactions[:] = []
    changes = auto.sweep(ctx.settings, store, time.time() + ctx.settings.deploy_timeout + 60)
    assert len(changes) == 2000 and {c["to"] for c in changes} == {"failed"}
    assert len(write_transactions) <= 2000 // 500 + 1  # batches, not one per host


def test_a_sweep_writes_only_the_hosts_whose_state_changes(
    ctx, store, make_host, write_transactions
) -> None:  # type: ignore[no-untyped-def]
    hosts = [_deploying(store, make_host) for _ in range(30)]
    due = hosts[:3]
    for host in due:  # entered deploying long ago (another boot: the wall clock says so)
        store.host_put(
            store.host_by_id(host.id).with_(state_changed=1.0, state_clock=None), source="t"
        )
    before = {h.id: store.host_by_id(h.id) for h in hosts}
    write_transactions[:] = []
    changes = auto.sweep(ctx.settings, store)
    assert sorted(c["mac"] for c in changes) == sorted(h.mac for h in due)
    assert len(write_transactions) == 1
    for host in hosts[3:]:
        assert store.host_by_id(host.id) == before[host.id]  # not even its version moved


def test_a_sweep_never_fails_a_host_that_finished_while_it_ran(ctx, store, make_host) -> None:  # type: ignore[no-untyped-def]
    hosts = [_deploying(store, make_host) for _ in range(4)]
    late = time.time() + ctx.settings.deploy_timeout + 60
    real = store.set_states
    finished = hosts[1]

    def install_done_lands_first(changes):  # type: ignore[no-untyped-def]
        # the installer's callback lands between the sweep's read and its write
        current = store.host_by_id(finished.id)
        table.transition(store, current, "deployed", source="callback")
        return real(changes)

    store.set_states = install_done_lands_first
    try:
        changes = auto.sweep(ctx.settings, store, late)
    finally:
        del store.set_states
    assert store.host_by_id(finished.id).state == S.DEPLOYED
    assert sorted(c["mac"] for c in changes) == sorted(h.mac for h in hosts if h is not finished)
    assert {store.host_by_id(h.id).state for h in hosts if h is not finished} == {S.FAILED}
