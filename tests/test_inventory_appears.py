"""A fresh machine: no inventory yet is no error, and one created later is loaded.

Before: ``db init`` failed (exit 5) when /etc/pxehook/inventory.yaml did not exist, and
``serve`` did not watch an inventory that was missing at start, so a file written later
was never applied until a restart.
"""

from __future__ import annotations

import time
from pathlib import Path

from pxehook import services
from pxehook.inventory.watch import InventoryWatcher
from tests.test_inventory import GOOD

MAC = "52:54:00:aa:00:01"


def _wait(cond, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


def test_db_init_without_an_inventory_says_so_and_goes_on(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    missing = tmp_path / "etc" / "inventory.yaml"
    db = tmp_path / "fresh.db"
    result = cli("--database", f"sqlite:///{db}", "--inventory", str(missing), "db", "init")
    assert result.code == 0, result
    assert f"inventory {missing} does not exist: nothing loaded" in result.out
    assert db.exists() and not missing.exists()


def test_serve_loads_an_inventory_created_after_start(ctx) -> None:  # type: ignore[no-untyped-def]
    path = Path(ctx.settings.inventory)
    path.unlink()
    factory = dict(services.FACTORIES)["inventory-watcher"]
    service = factory(ctx)
    assert service is not None, "serve must watch for an inventory that is not there yet"
    service.start()
    try:
        service.watcher.wait_loaded(10)
        assert service.alive() and service.inventory()["error"] == ""
        path.write_text(GOOD)
        _wait(lambda: ctx.store().host_get(MAC) is not None)
        assert ctx.store().host_get(MAC).name == "a1"
    finally:
        service.stop()


def test_a_directory_created_after_start_is_watched(tmp_path: Path, store) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "etc" / "pxehook"
    watcher = InventoryWatcher(str(folder / "inventory.yaml"), store, debounce=0.05, dir_poll=0.1)
    watcher.start()
    try:
        assert watcher.alive()  # waiting for the directory is not a dead service
        folder.mkdir(parents=True)
        _wait(lambda: bool(watcher._observers))
        (folder / "inventory.yaml").write_text(GOOD)
        _wait(lambda: store.host_get(MAC) is not None)
    finally:
        watcher.stop()
