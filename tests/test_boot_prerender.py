"""The pre-renderer on a real store and directory: what it writes, keeps and removes."""

from __future__ import annotations

from pathlib import Path

from pxehook.boot.prerender import Prerenderer
from pxehook.inventory.apply import sync
from pxehook.inventory.parse import load
from pxehook.models import Host, Observation, State
from tests.conftest import SAMPLE_INVENTORY

NODE02, ARM01 = "52:54:00:12:34:02", ("52:54:00:12:34:03", "52:54:00:12:34:13")


def files(out: Path) -> set[str]:
    return {
        str(p.relative_to(out)) for p in out.rglob("*") if p.is_file() and "index" not in p.name
    }


def test_a_restart_renders_nothing_and_a_change_moves_the_files(ctx, tmp_path) -> None:  # type: ignore[no-untyped-def]
    store, out = ctx.store(), tmp_path / "pre"
    sync(load(str(SAMPLE_INVENTORY)), store)
    store.observe(Observation(NODE02, "dhcp", arch=0))
    first = Prerenderer(ctx, str(out))
    assert first.sync() == len(store.host_all())
    written = files(out)
    assert {"ipxe/52-54-00-12-34-02", "ipxe/52-54-00-12-34-03", "ipxe/52-54-00-12-34-13"} <= written
    assert not any("52-54-00-12-34-01" in f for f in written)  # deploying: never a file
    again = Prerenderer(ctx, str(out))  # a restart: the index says what is on disk
    assert again.sync() == 0 and files(out) == written
    arm = store.host_get(ARM01[0])
    store.host_put(Host(arm.id, (ARM01[0],), arch=arm.arch, arch_source=arm.arch_source,
                        profile=arm.profile, state=State.RESCUE))  # fmt: skip
    assert again.sync() == 1
    assert "ipxe/52-54-00-12-34-13" not in files(out)  # the MAC it lost: file gone
    assert "ipxe/52-54-00-12-34-03" in files(out)
    store.host_delete(store.host_get(NODE02).id)
    assert again.sync() == 0
    assert not any("52-54-00-12-34-02" in f for f in files(out))
