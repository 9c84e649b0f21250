"""The transition table: every (state, action) pair is allowed or refused as specified."""

from __future__ import annotations

import pytest

from pxehook.errors import Conflict, InvalidInput
from pxehook.lifecycle import table
from pxehook.models import State
from tests.lifecycle_fixtures import *  # noqa: F403

S = State
ALL = set(State)

# The specification, written out independently of pxehook/lifecycle/table.py.
EXPECTED: dict[str, tuple[set[State], State | None]] = {
    "commission": ({S.NEW, S.READY, S.FAILED, S.BROKEN}, S.COMMISSIONING),
    "commissioned": ({S.COMMISSIONING}, S.READY),
    "accept": ({S.NEW}, S.READY),
    "allocate": ({S.READY}, S.ALLOCATED),
    "deploy": ({S.NEW, S.READY, S.ALLOCATED}, S.DEPLOYING),
    "reinstall": ({S.DEPLOYED}, S.DEPLOYING),
    "deployed": ({S.DEPLOYING}, S.DEPLOYED),
    "adopt": ({S.NEW, S.READY, S.ALLOCATED, S.FAILED}, S.DEPLOYED),
    "release": ({S.ALLOCATED, S.DEPLOYING, S.DEPLOYED, S.FAILED}, S.READY),
    "rescue": ({S.READY, S.ALLOCATED, S.DEPLOYED, S.FAILED, S.BROKEN}, S.RESCUE),
    "exit-rescue": ({S.RESCUE}, None),
    "mark-broken": (ALL - {S.BROKEN}, S.BROKEN),
    "mark-fixed": ({S.BROKEN}, S.READY),
    "fail": ({S.COMMISSIONING, S.DEPLOYING, S.RESCUE}, S.FAILED),
}

PAIRS = [(state, action) for action in EXPECTED for state in State]


def test_table_has_exactly_the_specified_actions() -> None:
    assert set(table.OPERATIONS) == set(EXPECTED)


@pytest.mark.parametrize(("state", "action"), PAIRS, ids=[f"{s}-{a}" for s, a in PAIRS])
def test_every_pair(store, make_host, state: State, action: str) -> None:  # type: ignore[no-untyped-def]
    """Allowed pairs move the host and record who did it; refused ones change nothing."""
    sources, target = EXPECTED[action]
    host = make_host(state, rescue_from="deployed" if state == S.RESCUE else None)
    before = len(store.events(host.id))
    if state in sources:
        after = table.transition(store, host, action, source="unit-test")
        assert after.state == (target or S.DEPLOYED)
        last = store.events(host.id)[-1]
        assert (last.kind, last.source) == ("state.changed", "unit-test")
        assert last.data == {"from": str(state), "to": str(after.state)}
    else:
        with pytest.raises(Conflict) as err:
            table.transition(store, host, action, source="unit-test")
        message = str(err.value)
        assert f"host is {state}" in message
        for allowed in table.allowed_actions(state):
            assert allowed in message
        assert store.host_by_id(host.id).state == state
        assert len(store.events(host.id)) == before


def test_every_state_pair_is_reachable_or_not_as_specified() -> None:
    expected = set()
    for sources, target in EXPECTED.values():
        targets = EXPECTED["rescue"][0] if target is None else {target}
        expected |= {(a, b) for a in sources for b in targets}
    assert table.edges() == expected
    for a in State:
        for b in State:
            assert ((a, b) in table.edges()) == ((a, b) in expected)


def test_unknown_action_is_invalid_input(store, make_host) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInput, match="unknown action"):
        table.transition(store, make_host(S.READY), "explode", source="t")


def test_failure_kind_is_kept_and_cleared(store, make_host) -> None:  # type: ignore[no-untyped-def]
    for state, kind in (
        (S.COMMISSIONING, "commissioning"),
        (S.DEPLOYING, "deployment"),
        (S.RESCUE, "rescue"),
    ):
        failed = table.transition(store, make_host(state), "fail", source="t")
        assert failed.meta["failure"] == kind
        assert table.host_view(failed)["failure"] == kind
        assert "failure" not in table.transition(store, failed, "release", source="t").meta


def test_exit_rescue_returns_to_the_state_before(store, make_host) -> None:  # type: ignore[no-untyped-def]
    for start in (S.DEPLOYED, S.BROKEN, S.READY):
        host = table.transition(store, make_host(start), "rescue", source="t")
        assert host.meta["rescue_from"] == str(start)
        back = table.transition(store, host, "exit-rescue", source="t")
        assert back.state == start and "rescue_from" not in back.meta


def test_deploy_issues_a_new_deployment_each_time(store, make_host) -> None:  # type: ignore[no-untyped-def]
    host = table.transition(store, make_host(S.READY), "deploy", source="t")
    first = host.meta["deployment"]
    host = table.transition(store, host, "deployed", source="t")
    host = table.transition(store, host, "reinstall", source="t")
    assert host.meta["deployment"] != first
    released = table.transition(store, host, "release", source="t")
    assert table.deployment_of(released) == ""


def test_deploy_needs_an_installable_profile(store, make_host) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(Conflict, match="no profile"):
        table.transition(store, make_host(S.READY, profile=""), "deploy", source="t")
    with pytest.raises(Conflict, match="local disk"):
        table.transition(store, make_host(S.READY, profile="local"), "deploy", source="t")


def test_compare_and_set_refuses_a_stale_host(store, make_host) -> None:  # type: ignore[no-untyped-def]
    host = make_host(S.DEPLOYING)
    table.transition(store, host, "deployed", source="first")
    with pytest.raises(Conflict):
        table.transition(store, host, "fail", source="stale")  # still thinks: deploying
    assert store.host_by_id(host.id).state == S.DEPLOYED


def test_perform_refuses_a_local_profile_before_changing_anything(store, make_host) -> None:  # type: ignore[no-untyped-def]
    host = make_host(S.READY, profile="installer")
    with pytest.raises(Conflict, match="local disk"):
        table.perform(store, host.mac, "deploy", source="t", profile="local")
    assert store.host_get(host.mac) == host
