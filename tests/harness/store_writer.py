"""A writer process for the store concurrency test: ``store_writer.py ROLE DB N``.

Roles write the way pxehook's real writers do: ``hook`` merges DHCP observations (what the
spool ingester calls), ``web`` records boot events and request observations (what boot
routes call), ``cli`` runs ``pxehook host set`` in-process. Prints one JSON line of counts.
"""

from __future__ import annotations

import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))

from pxehook.errors import PxehookError
from pxehook.models import ArchSource, Observation
from pxehook.store import open_store


def main() -> int:
    role, db, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    errors: list[str] = []
    done = 0
    if role == "cli":
        from pxehook.cli import main as cli_main

        for i in range(n):
            try:
                cli_main(
                    [
                        "--database",
                        db,
                        "host",
                        "set",
                        f"02:cc:00:00:{i >> 8:02x}:{i & 255:02x}",
                        "--name",
                        f"cli-{i}",
                        "--var",
                        f"i={i}",
                    ]
                )
            except SystemExit as exc:
                if exc.code:
                    errors.append(f"exit {exc.code}")
                    continue
            done += 1
    else:
        store = open_store(db)
        for i in range(n):
            mac = f"02:{'aa' if role == 'hook' else 'bb'}:00:00:{i >> 8:02x}:{i & 255:02x}"
            try:
                if role == "hook":
                    store.observe(
                        Observation(
                            mac=mac,
                            source="dnsmasq",
                            ip=f"10.9.{i >> 8}.{i & 255}",
                            arch=7,
                            vendor_class="PXEClient:Arch:00007",
                        )
                    )
                else:
                    host, _ = store.observe(
                        Observation(mac=mac, source="http", arch=0, arch_source=ArchSource.REQUEST)
                    )
                    store.event_add(host.id, "boot.config", "http", data={"i": i})
                done += 1
            except PxehookError as exc:
                errors.append(str(exc))
    print(json.dumps({"role": role, "done": done, "errors": errors[:5], "n_errors": len(errors)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
