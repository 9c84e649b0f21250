"""The supervisor's side of racks, in-process over SQLite (whose leader lock is a ``flock``
beside the database file): fleet-wide services run only while this supervisor leads, and
start on another supervisor of the same database once the leader stops (docs/racks.md)."""

from __future__ import annotations

import threading

import pytest

from pxehook import servicestatus
from pxehook.config import load_settings
from pxehook.context import Context
from pxehook.services import FLEET_WIDE, Supervisor


class Job:
    """A service that counts how often it was started."""

    def __init__(self, name: str, starts: list[str]) -> None:
        self.name = name
        self.starts = starts
        self._stop = threading.Event()

    def start(self) -> None:
        self.starts.append(self.name)

    def stop(self) -> None:
        self._stop.set()


@pytest.fixture
def two_racks(env: dict[str, str]):  # type: ignore[no-untyped-def]
    """Two supervisors on one database file, each with its own state directory."""
    made = []
    for name in ("rack-a", "rack-b"):
        state_dir = f"{env['PXEHOOK_STATE_DIR']}-{name}"
        settings = load_settings(
            env={**env, "PXEHOOK_RACK_NAME": name, "PXEHOOK_STATE_DIR": state_dir}
        )
        made.append(Context(settings))
    yield made
    for ctx in made:
        ctx.close()


#: the services of these tests: one per rack, the rest fleet-wide
ALL = ["capture", "event-pruner", "inventory-watcher", "lifecycle-sweeper"]


def supervisor(ctx: Context, starts: list[str]) -> Supervisor:
    factories = [(name, lambda _ctx, n=name: Job(n, starts)) for name in
                 ("inventory-watcher", "lifecycle-sweeper", "event-pruner", "capture")]  # fmt: skip
    return Supervisor(ctx, factories, check_every=3600)  # rounds run by hand below


def test_fleet_wide_services_run_on_the_leader_only_and_move_when_it_stops(two_racks) -> None:  # type: ignore[no-untyped-def]
    a_ctx, b_ctx = two_racks
    started_a: list[str] = []
    started_b: list[str] = []
    a = supervisor(a_ctx, started_a).start()
    b = supervisor(b_ctx, started_b).start()
    try:
        assert sorted(started_a) == ALL
        assert started_b == ["capture"], "per-rack work everywhere, fleet-wide work once"
        status = servicestatus.read(b_ctx.settings.state_dir) or {}
        assert status["fleet"]["role"] == servicestatus.STANDBY
        assert status["fleet"]["rack"] == "rack-b"
        assert {status["services"][n]["status"] for n in FLEET_WIDE} == {servicestatus.STANDBY}
        assert servicestatus.problems(status) == {}, "standing by is not a problem"
        b.lead()  # the supervisor's round does this every leader_check_interval
        assert started_b == ["capture"]
        a.stop()  # a clean stop gives the lead up
        b.lead()
        b.publish()
        assert sorted(started_b) == ALL
        status = servicestatus.read(b_ctx.settings.state_dir) or {}
        assert status["fleet"]["role"] == servicestatus.LEADER
        assert {status["services"][n]["status"] for n in FLEET_WIDE} == {servicestatus.RUNNING}
    finally:
        b.stop()
        a.stop()


def test_rack_name_defaults_to_the_host_name_and_refuses_odd_names(env: dict[str, str]) -> None:
    import socket

    from pxehook.errors import ConfigError

    assert load_settings(env=env).rack == socket.gethostname()[:63]
    assert load_settings(env={**env, "PXEHOOK_RACK_NAME": "b2-row7"}).rack == "b2-row7"
    for bad in ("rack a", "<script>", "a" * 64, "-x"):
        with pytest.raises(ConfigError, match="rack_name"):
            load_settings(env={**env, "PXEHOOK_RACK_NAME": bad})
