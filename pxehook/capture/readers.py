"""Every registered daemon's capture reader, and which one a hook record belongs to.

Each daemon in pxehook/daemons.py has its reader in ``capture/<name>.py`` (a module-level
``READER``), loaded here by that name: adding a daemon edits no list here.
"""

from __future__ import annotations

import importlib
import logging

from pxehook.capture.sightings import DhcpSighting, LeaseParse, Reader, text
from pxehook.capture.spool import Record
from pxehook.daemons import DAEMONS
from pxehook.errors import InvalidInput

log = logging.getLogger("pxehook.capture.readers")

READERS: dict[str, Reader] = {
    d.name: importlib.import_module(f"pxehook.capture.{d.name}").READER for d in DAEMONS
}


def reader_for(rec: Record) -> Reader | None:
    """The daemon that wrote ``rec``: by its first argument, else by its environment."""
    first = rec.arg(0)
    for reader in READERS.values():
        if reader.first_arg.fullmatch(first):
            return reader
    entries = [f"{name}=" for name in rec.env]
    for reader in READERS.values():
        if any(entry.startswith(reader.daemon.hook_env) for entry in entries):
            return reader
    return None


def from_record(rec: Record) -> list[DhcpSighting]:
    """All sightings in one hook record; [] for actions pxehook ignores (init, arp, unknown)."""
    reader = reader_for(rec)
    if reader is None:
        log.info("spool record at %d: unknown action %r ignored", rec.offset, text(rec.arg(0), 40))
        return []
    try:
        return reader.hook_sightings(rec)
    except InvalidInput as exc:
        log.warning("spool record at %d skipped: %s", rec.offset, exc)
        return []


def parse_leases(daemon: str, data: str) -> LeaseParse:
    """The active leases (and the malformed lines) in the text of ``daemon``'s lease file."""
    return READERS[daemon].parse_leases(data)
