"""The OpenAPI document: served == docs/openapi.json, it names every route the app has, and
a property-based run of it (schemathesis) over real HTTP against a real ``pxehook serve``
finds no 5xx and no invalid JSON on any route, with and without a token."""

from __future__ import annotations

import json
import re
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from pxehook import tokens
from pxehook.models import State, now
from pxehook.web.openapi import document, dumps
from tests.boot_server import BootServer
from tests.conftest import SAMPLE_INVENTORY
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


def test_every_route_is_documented(api_client) -> None:  # type: ignore[no-untyped-def]
    """Every route the app serves (boot, API, PXE Pilot, health, metrics, page) is in the
    document, so the fuzz run below reaches it."""
    documented = set(json.loads(DOC.read_text())["paths"])
    for rule in api_client.application.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule)
        assert path in documented, f"{path} ({rule.endpoint}) is not in the OpenAPI document"


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory, pxehook_bin_module) -> Iterator[tuple[BootServer, list[str]]]:  # type: ignore[no-untyped-def]
    """A real ``pxehook serve`` over a database holding a host in every state, an admin
    token, a file under /files and a loader under the TFTP root."""
    work = tmp_path_factory.mktemp("fuzz")
    shutil.copy(SAMPLE_INVENTORY, work / "inventory.yaml")
    # the fuzzer sends thousands of bad tokens from one address: the failure limiter
    # (tested in test_trust_http.py) would soon answer 429 to everything
    server = BootServer(
        work, work / "inventory.yaml", pxehook_bin_module, PXEHOOK_API_TOKEN_FAILURES="1000000"
    )
    store = server.ctx.store()
    maker = HostMaker(store)
    for state in State:
        maker(state, ip="127.0.0.1")
    store.token_put("fuzz", tokens.digest(ADMIN), "admin", now())
    (work / "files" / "vmlinuz").write_bytes(b"kernel" * 100)
    (work / "tftp" / "snponly.efi").write_bytes(b"loader" * 100)
    macs = [h.mac for h in store.host_list() if h.state in ("new", "deploying", "deployed")]
    server.start()
    yield server, macs
    server.stop()


@pytest.fixture(scope="module")
def pxehook_bin_module() -> str:
    path = Path(sys.executable).parent / "pxehook"
    assert path.exists()
    return str(path)


def _variants(operation, macs):  # type: ignore[no-untyped-def]
    """Strategies for one operation: valid and invalid requests with random path values,
    and (for per-host paths) valid and invalid requests aimed at existing hosts."""
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        yield operation.as_strategy(mode), 8, mode
        if "{mac}" in operation.path:
            for mac in macs:
                yield operation.as_strategy(mode, path_parameters={"mac": mac}), 3, mode


def _strict_json(response) -> None:  # type: ignore[no-untyped-def]
    """A JSON answer must be JSON: no NaN/Infinity, whatever was stored."""
    if "json" in response.headers.get("Content-Type", ""):

        def refuse(name: str) -> None:
            raise AssertionError(f"{response.request.url}: {name} in a JSON answer")

        json.loads(response.text, parse_constant=refuse)


def test_no_server_errors_on_any_route(fuzz_server) -> None:  # type: ignore[no-untyped-def]
    """Random valid and invalid requests for every operation of every route, over HTTP,
    with the admin token and without one: never a 5xx, never invalid JSON.

    (schemathesis' own pytest plugin does not run under pytest 9, so the operations'
    hypothesis strategies are driven directly.)"""
    server, macs = fuzz_server
    assert server.url.startswith("http://127.0.0.1:"), "fuzz loopback only"
    schema = schemathesis.openapi.from_dict(document())
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 30
    session = requests.Session()
    for operation in operations:
        for strategy, examples, mode in _variants(operation, macs):

            @given(case=strategy, authorized=st.booleans())
            @hsettings(
                max_examples=examples,
                deadline=None,
                database=None,
                derandomize=True,
                suppress_health_check=list(HealthCheck),
            )
            def run(case, authorized: bool) -> None:  # type: ignore[no-untyped-def]
                headers = {"Authorization": f"Bearer {ADMIN}"} if authorized else {}
                response = case.call(base_url=server.url, session=session, headers=headers,
                                     timeout=10)  # fmt: skip
                case.validate_response(response, checks=[not_a_server_error])
                _strict_json(response)

            try:
                run()
            except Unsatisfiable:  # nothing to make invalid (no parameters, no body)
                assert mode == GenerationMode.NEGATIVE, operation.path


def test_malformed_bodies_get_4xx(fuzz_server) -> None:  # type: ignore[no-untyped-def]
    """The inputs that made 5xx or invalid JSON, by name, over HTTP."""
    server, macs = fuzz_server
    auth = {"Authorization": f"Bearer {ADMIN}", "Content-Type": "application/json"}
    url = server.url + "/api/v1"
    deep = "[" * 100_000 + "]" * 100_000
    cases = [
        ("POST", "/hosts", deep),
        ("POST", "/hosts", '{"mac": "52:54:00:77:00:01", "vars": ' + "[" * 40 + "]" * 40 + "}"),
        ("POST", "/hosts", '{"mac": "52:54:00:77:00:02", "vars": {"x": NaN}}'),
        ("POST", "/hosts", '{"mac": "52:54:00:77:00:03", "vars": {"x": -Infinity}}'),
        ("POST", "/hosts", '{"mac": "52:54:00:77:00:04", "name": "\\ud800"}'),
        ("PATCH", f"/hosts/{macs[0]}", '{"vars": {"x": Infinity}}'),
        ("POST", f"/hosts/{macs[0]}/deployed", '{"token": ' + "[" * 100_000 + "}"),
        ("GET", "/hosts?limit=" + "9" * 40, ""),
        ("GET", f"/hosts/{macs[0]}/events?since=" + "9" * 40, ""),
        ("GET", f"/hosts/{macs[0]}/events?limit=-1", ""),
    ]
    for method, path, body in cases:
        response = requests.request(method, url + path, data=body, headers=auth, timeout=10)
        assert 400 <= response.status_code < 500, (method, path, response.text[:200])
        assert response.json()["error"]["message"], response.text[:200]
    for mac in ("52:54:00:77:00:02", "52:54:00:77:00:03", "52:54:00:77:00:04"):
        assert requests.get(f"{url}/hosts/{mac}", headers=auth, timeout=10).status_code == 404
