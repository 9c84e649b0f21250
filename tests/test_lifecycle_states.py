"""The state table (``models.STATES``) is the one statement of the life-cycle's states:
every consumer — decide, the API's validation, PXE Pilot, OpenAPI, the page — learns a
state from it, so adding a row is enough for each of them to know the state."""

from __future__ import annotations

from pathlib import Path

import pytest

from pxehook import config
from pxehook.boot.decide import DEFAULT_STATE_BOOT, Policy
from pxehook.lifecycle import table
from pxehook.models import STATES, State, creatable_states
from pxehook.templating import packaged_templates_dir
from pxehook.web.openapi import document
from tests.lifecycle_fixtures import *  # noqa: F403


def test_every_state_has_exactly_one_row() -> None:
    assert set(STATES) == set(State)  # the table's order is the display order
    for state, info in STATES.items():
        assert info.description.strip(), state
        assert info.pilot in ("", "local", "profile"), state


@pytest.mark.parametrize("state", list(State))
def test_each_row_is_consistent_with_the_transition_table(state: State) -> None:
    info = STATES[state]
    if info.boots.startswith("@"):
        assert info.boots[1:] in config.BY_NAME, f"{state}: no setting {info.boots[1:]!r}"
    if info.create_action:
        assert info.creatable, state
        op = table.OPERATIONS[info.create_action]  # a new host is created new, then this
        assert State.NEW in op.sources and op.target == state
    elif info.creatable:
        assert state == State.NEW, f"{state} is creatable but no action gets a new host there"
    assert any(state in op.sources or op.target == state for op in table.OPERATIONS.values())


def test_decide_reads_the_boots_column() -> None:
    assert {state: info.boots for state, info in STATES.items()} == DEFAULT_STATE_BOOT
    resolved = Policy.from_settings({}).state_boot
    assert set(resolved) == set(State)
    for state, target in resolved.items():
        boots = STATES[state].boots  # "@setting" resolves to that setting's default
        want = config.BY_NAME[boots[1:]].default if boots.startswith("@") else boots
        assert target == want, state


@pytest.mark.parametrize("state", list(State))
def test_api_validation_knows_every_state(api_client, admin_headers, state: State) -> None:  # type: ignore[no-untyped-def]
    listed = api_client.get(f"/api/v1/hosts?state={state}", headers=admin_headers)
    assert listed.status_code == 200, listed.get_json()
    mac = f"52:54:00:cc:00:{list(State).index(state):02x}"
    created = api_client.post(
        "/api/v1/hosts", json={"mac": mac, "state": str(state)}, headers=admin_headers
    )
    if STATES[state].creatable:
        assert created.status_code == 201 and created.get_json()["state"] == state
    else:
        assert created.status_code == 400
        message = created.get_json()["error"]["message"]
        assert ", ".join(creatable_states()) in message


def test_states_listing_follows_the_tables(api_client, read_headers) -> None:  # type: ignore[no-untyped-def]
    assert api_client.get("/api/v1/states").status_code == 401
    response = api_client.get("/api/v1/states", headers=read_headers)
    assert response.status_code == 200
    assert response.get_json() == [
        {
            "state": str(state),
            "description": info.description,
            "creatable": info.creatable,
            "create_action": info.create_action or None,
            "allowed": table.allowed_actions(state),
        }
        for state, info in STATES.items()
    ]


def test_openapi_enums_come_from_the_table() -> None:
    doc = document()
    schemas = doc["components"]["schemas"]
    assert schemas["State"]["enum"] == [str(s) for s in STATES]
    for state, info in STATES.items():
        assert f"`{state}`: {info.description}" in schemas["State"]["description"]
    state_ref = {"$ref": "#/components/schemas/State"}
    assert schemas["Host"]["properties"]["state"] == state_ref
    assert schemas["HostState"]["properties"]["state"] == state_ref
    hosts = doc["paths"]["/api/v1/hosts"]
    query = {p["name"]: p for p in hosts["get"]["parameters"]}
    assert query["state"]["schema"] == state_ref
    body = hosts["post"]["requestBody"]["content"]["application/json"]["schema"]["allOf"][1]
    assert body["properties"]["state"]["enum"] == [str(s) for s in creatable_states()]


@pytest.mark.parametrize("state", list(State))
def test_pxe_pilot_shows_the_pilot_column(api_client, make_host, read_headers, state) -> None:  # type: ignore[no-untyped-def]
    host = make_host(state, profile="installer")
    shown = {
        h["macAddresses"][0]: h for h in api_client.get("/v1/hosts", headers=read_headers).json
    }
    expected = {"local": {"name": "local"}, "profile": {"name": "installer"}, "": None}
    assert shown[host.mac]["configuration"] == expected[STATES[state].pilot]


def test_the_page_spells_no_state_and_asks_the_server() -> None:
    source = (Path(packaged_templates_dir()) / "web" / "app.js").read_text()
    assert 'api("states")' in source
    for state in State:
        for quoted in (f'"{state}"', f"'{state}'", f"`{state}`"):
            assert quoted not in source, f"app.js restates the state {state}"
