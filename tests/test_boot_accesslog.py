"""The access-log ingester on real files and a real store: what a line means, and that a
line is never lost when the store fails while it is being recorded."""

from __future__ import annotations

import pytest

from pxehook.boot.accesslog import AccessLogIngester, parse_line, served_file
from pxehook.errors import StoreError
from pxehook.inventory.apply import sync
from pxehook.inventory.parse import load
from pxehook.models import Observation
from tests.conftest import SAMPLE_INVENTORY

NODE02 = "52:54:00:12:34:02"


def test_lines_of_both_formats_and_which_file_they_name() -> None:
    new = parse_line("1.5 10.0.0.9 206 10 - buildarch=x86_64&platform=efi /ipxe/52-54-00-12-34-02")
    assert new is not None and new.at == 1.5 and new.client_ip == "10.0.0.9"
    assert (new.path, new.query) == ("/ipxe/52-54-00-12-34-02", "buildarch=x86_64&platform=efi")
    assert served_file(new.path) == ("ipxe", NODE02)
    old = parse_line("2.0 10.0.0.9 200 10 /bootfiles/pxelinux.cfg/01-52-54-00-12-34-02 -")
    assert old is not None and served_file(old.path) == ("pxelinux", NODE02)
    assert parse_line("3.0 10.0.0.9 200 10 127.0.0.1:8070 - /ipxe/52-54-00-12-34-02") is None
    assert parse_line("3.0 10.0.0.9 404 0 - - /ipxe/52-54-00-12-34-02") is None
    assert parse_line("garbage") is None
    assert served_file("/ipxe/52-54-00-12-34-02/x") is None
    assert served_file("/pxelinux.cfg/01-52-54-00-12-34-02") == ("pxelinux", NODE02)


class FailingOnce:
    """The real store, except that the first batch of timeline rows meets a locked database."""

    def __init__(self, store) -> None:  # type: ignore[no-untyped-def]
        self.store, self.failed = store, False

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return getattr(self.store, name)

    def event_add_many(self, rows):  # type: ignore[no-untyped-def]
        if not self.failed:
            self.failed = True
            raise StoreError("database stayed locked")
        return self.store.event_add_many(rows)


def test_lines_whose_rows_could_not_be_written_are_read_again(ctx, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    store = ctx.store()
    sync(load(str(SAMPLE_INVENTORY)), store)
    store.observe(Observation(NODE02, "dhcp", arch=0))
    log = tmp_path / "access.log"
    log.write_text("".join(f"{i}.0 10.0.0.9 200 9 - - /ipxe/52-54-00-12-34-02\n" for i in range(5)))
    ingester = AccessLogIngester(ctx, str(log))
    failing = FailingOnce(store)
    monkeypatch.setattr(ctx, "store", lambda: failing)
    with pytest.raises(StoreError):
        ingester.poll()
    assert ingester.poll() == 5 and ingester.poll() == 0
    host = store.host_get(NODE02)
    hits = [e for e in store.events(host.id) if e.kind == "boot.config" and e.source == "nginx"]
    assert [e.at for e in hits] == [0.0, 1.0, 2.0, 3.0, 4.0]  # each once, none lost
