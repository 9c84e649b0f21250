"""The fleet page in a real browser (Playwright driving Debian's chromium) against a real
``pxehook serve`` on loopback holding 10,000 hosts.

The screenshots in docs/screenshots/ are made here: ``PXEHOOK_UPDATE_SCREENSHOTS=1`` writes
them and ``BUILD`` (the digest of the page's assets they were made from); every run checks
that ``BUILD`` matches the assets, so a page change without new screenshots fails.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pxehook import tokens
from pxehook.models import IpSource, Observation, State
from pxehook.store.writes import StateChange
from pxehook.templating import packaged_templates_dir
from tests.boot_server import BootServer, curl
from tests.conftest import SAMPLE_INVENTORY, STRICT

playwright_api = pytest.importorskip("playwright.sync_api") if not STRICT else None
if STRICT:
    import playwright.sync_api as playwright_api

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
N = 10_000
HOSTILE = "<img src=x onerror=\"document.title='pwned'\">x"
SHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
ASSETS = Path(packaged_templates_dir()) / "web"
#: the seeded mix of states (the rest stay new)
MIX = ((State.DEPLOYED, 0.70), (State.READY, 0.10), (State.DEPLOYING, 0.05),
       (State.FAILED, 0.03), (State.BROKEN, 0.02), (State.RESCUE, 0.02))  # fmt: skip


def build_digest() -> str:
    """The digest of the page's assets: what the committed screenshots were made from."""
    digest = hashlib.sha256()
    for path in sorted(ASSETS.iterdir()):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _mac(i: int) -> str:
    return f"52:54:00:{(i >> 16) & 255:02x}:{(i >> 8) & 255:02x}:{i & 255:02x}"


def _seed(store) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """10,000 hosts seen by the DHCP hook over a day, in a mix of states; one with a hostile
    DHCP hostname; one with a full boot on its timeline. Returns MACs by role."""
    now = time.time()
    arches = (7, 7, 0, 11, 16)
    for start in range(0, N, 1000):
        store.observe_many([
            Observation(mac=_mac(i), source="hook", ip=f"10.{i >> 16}.{(i >> 8) & 255}.{i & 255}",
                        ip_source=IpSource.HOOK, hostname=HOSTILE if i == 7 else f"node-{i:05d}",
                        arch=arches[i % len(arches)], at=now - (i * 8.64))
            for i in range(start, min(N, start + 1000))
        ])  # fmt: skip
    seeded = {_mac(i) for i in range(N)}
    hosts = [h for h in store.host_page(0, N + 100) if h.mac in seeded]
    shuffled = hosts[3:]  # 0 and 2 stay new (the action tests use them), 1 is booted below
    random.Random(18).shuffle(shuffled)
    changes, i = [], 0
    for state, share in MIX:
        for host in shuffled[i : i + int(N * share)]:
            changes.append(StateChange(host.id, state, source="seed"))
        i += int(N * share)
    store.set_states(changes)
    booted = hosts[1]
    t = now - 300
    for dt, kind, source, message, data in (
        (0.0, "dhcp.add", "hook", "lease 10.0.0.1", {"ip": "10.0.0.1"}),
        (1.2, "tftp.sent", "tftp", "sent snponly.efi (1 MB)", {"path": "snponly.efi"}),
        (2.9, "boot.config", "http", "ipxe ipxe/52-54-00-00-00-01: boot", {"loader": "ipxe"}),
        (4.4, "boot.kernel", "http", "sent vmlinuz", {"path": "vmlinuz", "bytes": 9_000_000}),
    ):  # fmt: skip
        store.event_add(booted.id, kind, source, message, data=data, at=t + dt)
    store.set_state(booted.id, State.DEPLOYING, source="seed")
    store.set_state(booted.id, State.DEPLOYED, source="callback:10.0.0.1",
                    message="installer finished")  # fmt: skip
    return {"booted": booted.mac, "hostile": _mac(7), "new": hosts[0].mac, "new2": hosts[2].mac,
            "failed": store.host_count(state="failed"),
            "deployed": store.host_count(state="deployed"),
            "total": store.host_count()}  # fmt: skip


@pytest.fixture(scope="module")
def fleet(tmp_path_factory) -> Iterator[tuple[BootServer, dict, str, str]]:  # type: ignore[type-arg]
    if not Path(CHROMIUM).exists():
        if STRICT:
            pytest.fail(f"{CHROMIUM} is missing (scripts/test-packages.txt)")
        pytest.skip(f"{CHROMIUM} is missing")
    work = tmp_path_factory.mktemp("fleet")
    shutil.copy(SAMPLE_INVENTORY, work / "inventory.yaml")
    binary = str(Path(sys.executable).parent / "pxehook")
    server = BootServer(work, work / "inventory.yaml", binary)
    store = server.ctx.store()
    roles = _seed(store)
    admin = tokens.create(store, "ui-admin", "admin")
    read = tokens.create(store, "ui-read", "read")
    server.start()
    yield server, roles, admin, read
    server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with playwright_api.sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield instance
        instance.close()


@pytest.fixture
def page(browser):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="en-US")
    tab = context.new_page()
    tab.set_default_timeout(15_000)
    yield tab
    context.close()


def _login(page, server: BootServer, token: str, hash_: str = "") -> float:  # type: ignore[no-untyped-def]
    """Open the page, give it ``token``; seconds until the first host rows show."""
    page.goto(server.url + "/ui/" + hash_)
    page.fill("#token", token)
    started = time.monotonic()
    page.click("#login button[type=submit]")
    page.wait_for_selector("tr.host[data-mac]")
    return time.monotonic() - started


def _rows(page) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    return page.eval_on_selector_all(
        "tr.host[data-mac]",
        "rows => rows.map(r => ({mac: r.dataset.mac, name: r.children[2].textContent,"
        " state: r.querySelector('.state').textContent}))",
    )


def _wait_rows(page, predicate: str) -> None:  # type: ignore[no-untyped-def]
    """Wait until the drawn rows (at least one) all satisfy the JS ``predicate`` on a row."""
    page.wait_for_function(
        f"() => {{ const rows = [...document.querySelectorAll('tr.host[data-mac]')];"
        f" return rows.length > 0 && rows.every(r => {predicate}); }}"
    )


def _is(mac: str, state: str) -> str:
    """A row predicate: the row of ``mac``, showing ``state``."""
    return f"r.dataset.mac === '{mac}' && r.querySelector('.state').textContent === '{state}'"


def test_ten_thousand_hosts_show_at_once_and_scroll_to_the_end(fleet, page):  # type: ignore[no-untyped-def]
    server, roles, admin, _read = fleet
    elapsed = _login(page, server, admin)
    assert elapsed < 2.0, f"first rows took {elapsed:.2f} s"
    total = roles["total"]  # 10,000 and the sample inventory's hosts
    page.wait_for_function(f"() => document.getElementById('status').textContent"
                           f".startsWith('{total:,} host(s)')")  # fmt: skip
    assert len(_rows(page)) < 120  # only the rows in view exist
    counts = page.eval_on_selector_all(
        "#state-bar button",
        "bs => bs.map(b => [b.dataset.state, b.querySelector('.count').textContent])",
    )
    assert dict(counts)["deployed"] == f"{roles['deployed']:,}" and dict(counts)[""] == f"{total:,}"
    page.eval_on_selector("#viewport", "v => { v.scrollTop = v.scrollHeight; }")
    page.wait_for_selector(f'tr.host[aria-rowindex="{total + 1}"]')  # the last, fetched on demand
    if os.environ.get("PXEHOOK_UPDATE_SCREENSHOTS"):
        page.eval_on_selector("#viewport", "v => { v.scrollTop = 0; }")
        page.wait_for_selector('tr.host[aria-rowindex="2"]')
        SHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SHOTS / "fleet.png"))


def test_filter_by_state_bar_and_by_text(fleet, page):  # type: ignore[no-untyped-def]
    server, roles, admin, _read = fleet
    _login(page, server, admin)
    page.click('#state-bar button[data-state="failed"]')
    _wait_rows(page, "r.querySelector('.state').textContent === 'failed'")
    status = page.text_content("#status")
    assert status.startswith(f"{roles['failed']} host(s)")
    assert page.get_attribute('#state-bar button[data-state="failed"]', "aria-pressed") == "true"
    assert "state=failed" in page.evaluate("location.hash")
    page.click('#state-bar button[data-state=""]')  # all states again
    page.fill("#search", "node-04242")
    _wait_rows(page, "r.children[2].textContent === 'node-04242'")
    assert len(_rows(page)) == 1


def test_clicking_a_host_opens_its_panel_with_timeline_and_boot_stages(fleet, page):  # type: ignore[no-untyped-def]
    server, roles, admin, _read = fleet
    _login(page, server, admin)
    page.fill("#search", roles["booted"])
    _wait_rows(page, f"r.dataset.mac === '{roles['booted']}'")
    page.click(f'tr.host[data-mac="{roles["booted"]}"] td:nth-child(3)')
    page.wait_for_selector("#panel:not([hidden]) #timeline li")
    assert page.text_content("#panel-title") == "node-00001"  # its DHCP hostname: no name set
    assert page.evaluate("document.activeElement.id") == "panel-title"  # focus moved there
    stages = page.eval_on_selector_all("#boot-stages li", "ls => ls.map(l => l.textContent)")
    assert stages[1] == "loader+1.2 s" and stages[3] == "kernel+1.5 s"
    assert stages[4] == "callback+5 min"
    kinds = page.eval_on_selector_all("#timeline .kind", "ks => ks.map(k => k.textContent)")
    assert kinds[0] == "state.changed" and "boot.kernel" in kinds
    assert f"host={roles['booted']}" in page.evaluate("decodeURIComponent(location.hash)")
    if os.environ.get("PXEHOOK_UPDATE_SCREENSHOTS"):
        page.screenshot(path=str(SHOTS / "host-panel.png"))
    page.click("#explain-load")
    page.wait_for_selector("#explain ol li")
    page.keyboard.press("Escape")
    page.wait_for_selector("#panel", state="hidden")


def test_the_keyboard_moves_through_every_row_and_opens_one(fleet, page):  # type: ignore[no-untyped-def]
    """Only the rows in view exist: Up/Down/End move focus row by row, scrolling, to the last
    of them; Enter opens the panel with focus on its title; Escape gives focus back."""
    server, roles, admin, _read = fleet
    _login(page, server, admin)
    page.focus('tr.host[aria-rowindex="2"] button.open-host')
    for _ in range(3):
        page.keyboard.press("ArrowDown")
    focused = (
        "() => { const row = document.activeElement.closest('tr');"
        " return row ? row.getAttribute('aria-rowindex') : null; }"
    )
    assert page.evaluate(focused) == "5"
    page.keyboard.press("End")
    page.wait_for_function(f"() => ({focused})() === '{roles['total'] + 1}'")
    mac = page.evaluate("document.activeElement.dataset.mac")
    page.keyboard.press("Enter")
    page.wait_for_selector("#panel:not([hidden]) #panel-fields dd")
    assert page.evaluate("document.activeElement.id") == "panel-title"
    page.keyboard.press("Escape")
    page.wait_for_selector("#panel", state="hidden")
    assert page.evaluate("document.activeElement.dataset.mac") == mac


def test_a_deep_link_opens_the_host(fleet, page):  # type: ignore[no-untyped-def]
    server, roles, admin, _read = fleet
    _login(page, server, admin, f"#host={roles['hostile']}")
    page.wait_for_selector("#panel:not([hidden]) #panel-fields dd")
    assert roles["hostile"] in page.text_content("#panel-fields")


def test_admin_action_shows_without_a_reload(fleet, page):  # type: ignore[no-untyped-def]
    """Deploy (destructive: confirmed, with a profile) from the panel; then another client
    changes a host: both show in the table by themselves, the result stays."""
    server, roles, admin, _read = fleet
    _login(page, server, admin)
    mac = roles["new"]
    page.fill("#search", mac)
    _wait_rows(page, _is(mac, "new"))
    page.evaluate("window.__sameDocument = true")  # gone if the page reloads
    page.click(f'tr.host[data-mac="{mac}"] button.open-host')
    page.wait_for_selector('#panel-actions button[data-action="deploy"]')
    page.select_option("#action-profile", index=0)
    page.click('#panel-actions button[data-action="deploy"]')
    page.wait_for_selector("#confirm[open]")
    page.click("#confirm-ok")
    _wait_rows(page, "r.querySelector('.state').textContent === 'deploying'")
    assert "now deploying" in page.text_content("#result-text")
    other = roles["new2"]
    page.fill("#search", other)
    _wait_rows(page, _is(other, "new"))
    auth = f"Authorization: Bearer {admin}"
    code, _ = curl(f"{server.url}/api/v1/hosts/{other}/actions/accept", "-X", "POST", "-H", auth)
    assert code == 200
    _wait_rows(page, "r.querySelector('.state').textContent === 'ready'")  # by polling
    assert page.evaluate("window.__sameDocument") is True
    assert "now deploying" in page.text_content("#result-text")  # still there


def test_a_read_token_sees_no_action(fleet, page):  # type: ignore[no-untyped-def]
    server, _roles, _admin, read = fleet
    _login(page, server, read)
    page.click(f'tr.host[data-mac="{_mac(0)}"] button.open-host')
    page.wait_for_selector("#panel:not([hidden]) #panel-fields dd")
    page.wait_for_selector("#timeline li")
    assert page.locator("#panel-actions button").count() == 0
    assert page.is_hidden("#bulk") and page.locator("#hosts input[type=checkbox]").count() == 0
    assert "read" in page.text_content("#whoami")


def test_a_hostile_hostname_shows_as_text(fleet, page):  # type: ignore[no-untyped-def]
    """The attack: a DHCP client names itself with markup that runs script if parsed."""
    server, roles, admin, _read = fleet
    _login(page, server, admin)
    page.fill("#search", roles["hostile"])
    _wait_rows(page, f"r.dataset.mac === '{roles['hostile']}'")
    assert _rows(page)[0]["name"] == HOSTILE
    page.click(f'tr.host[data-mac="{roles["hostile"]}"] button.open-host')
    page.wait_for_selector("#panel:not([hidden]) #panel-fields dd")
    assert page.text_content("#panel-title") == HOSTILE
    assert page.locator("main img").count() == 0 and page.title() == "pxehook"


def test_screenshots_are_of_the_current_page():
    """docs/screenshots/BUILD names the assets the committed screenshots show."""
    if os.environ.get("PXEHOOK_UPDATE_SCREENSHOTS"):
        SHOTS.mkdir(exist_ok=True)
        (SHOTS / "BUILD").write_text(build_digest() + "\n")
    recorded = json.dumps((SHOTS / "BUILD").read_text().strip())
    assert recorded == json.dumps(build_digest()), (
        "the page changed since the screenshots were made: "
        "PXEHOOK_UPDATE_SCREENSHOTS=1 pytest tests/test_ui_browser.py"
    )
    assert (SHOTS / "fleet.png").stat().st_size > 10_000
    assert (SHOTS / "host-panel.png").stat().st_size > 10_000
