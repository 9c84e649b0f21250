"""The OpenAPI document: served == docs/openapi.json, and a property-based run of it
against the real app (schemathesis) finds no 5xx."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from pxehook import tokens
from pxehook.models import State, now
from pxehook.web import create_app
from pxehook.web.openapi import dumps
from tests.lifecycle_fixtures import *  # noqa: F403
from tests.lifecycle_fixtures import HostMaker

DOC = Path(__file__).resolve().parent.parent / "docs" / "openapi.json"
ADMIN = "pxh_fuzz-admin-token"


def test_served_document_equals_docs_copy(api_client) -> None:  # type: ignore[no-untyped-def]
    served = api_client.get("/api/v1/openapi.json")
    assert served.status_code == 200
    assert served.get_json() == json.loads(DOC.read_text()), (
        "docs/openapi.json is stale: python -m pxehook.web.openapi > docs/openapi.json"
    )
    assert DOC.read_text() == dumps()


def test_every_api_route_is_documented(api_client) -> None:  # type: ignore[no-untyped-def]
    app = api_client.application
    documented = set(json.loads(DOC.read_text())["paths"])
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith(("api.", "pxepilot.")):
            path = rule.rule.replace("<", "{").replace(">", "}")
            assert path in documented, f"{path} is not in the OpenAPI document"


@pytest.fixture
def fuzz_schema(settings, store):  # type: ignore[no-untyped-def]
    """The served document, loaded by schemathesis against the real app (WSGI, in-process),
    over a database holding a host in every state and an admin token."""
    maker = HostMaker(store)
    for state in State:
        maker(state, ip="127.0.0.1")
    store.token_put("fuzz", tokens.digest(ADMIN), "admin", now())
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", create_app(settings))


def _variants(operation, macs):  # type: ignore[no-untyped-def]
    """Strategies for one operation: valid and invalid requests with random path values,
    and (for per-host paths) valid and invalid requests aimed at existing hosts."""
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        yield operation.as_strategy(mode), 10
        if "{mac}" in operation.path:
            for mac in macs:
                yield operation.as_strategy(mode, path_parameters={"mac": mac}), 4


def test_no_server_errors(fuzz_schema, store) -> None:  # type: ignore[no-untyped-def]
    """Random valid and invalid requests for every operation: never a 5xx.

    (schemathesis' own pytest plugin does not run under pytest 9, so the operations'
    hypothesis strategies are driven directly.)"""
    operations = [result.ok() for result in fuzz_schema.get_all_operations()]
    assert len(operations) >= 20
    macs = [h.mac for h in store.host_list() if h.state in ("new", "deploying", "deployed")]
    for operation in operations:
        for strategy, examples in _variants(operation, macs):

            @given(case=strategy)
            @hsettings(
                max_examples=examples,
                deadline=None,
                database=None,
                derandomize=True,
                suppress_health_check=list(HealthCheck),
            )
            def run(case) -> None:  # type: ignore[no-untyped-def]
                case.call_and_validate(
                    headers={"Authorization": f"Bearer {ADMIN}"}, checks=[not_a_server_error]
                )

            run()
