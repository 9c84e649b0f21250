"""The web page: static, locked down by CSP, and never turns server data into markup."""

from __future__ import annotations

from pathlib import Path

import pytest

from pxehook.templating import packaged_templates_dir
from pxehook.web import create_app


@pytest.fixture
def client(settings):
    return create_app(settings).test_client()


def test_page_and_assets_are_served_with_a_strict_policy(client):
    page = client.get("/ui/")
    assert page.status_code == 200 and b"<title>pxehook</title>" in page.data
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp
    for asset, kind in (("app.js", "javascript"), ("style.css", "css")):
        r = client.get(f"/ui/{asset}")
        assert r.status_code == 200 and kind in r.headers["Content-Type"]
    assert client.get("/ui").status_code == 308


@pytest.mark.parametrize("path", ["/ui/secret.db", "/ui/..%2f..%2fetc%2fpasswd", "/ui/%00"])
def test_anything_else_is_refused(client, path):
    response = client.get(path)
    assert response.status_code in (400, 404)  # traversal: 400 from the boot routes' guard
    assert b"root:" not in response.data


def test_script_never_parses_server_data_as_html():
    source = (Path(packaged_templates_dir()) / "web" / "app.js").read_text()
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in source
    assert "textContent" in source
