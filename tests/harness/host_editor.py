"""An operator's edits for the lost-update test: ``host_editor.py DB MAC PREFIX N``.

Runs ``pxehook --database DB host set MAC --var PREFIX_i=i`` N times in-process (the real
CLI, one store connection per run, as separate commands would). Prints one JSON line.
"""

from __future__ import annotations

import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))

from pxehook.cli import main as cli_main
from pxehook.errors import PxehookError


def main() -> int:
    db, mac, prefix, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    errors: list[str] = []
    for i in range(n):
        try:
            cli_main(["--database", db, "host", "set", mac, "--var", f"{prefix}_{i}={i}"])
        except SystemExit as exc:
            if exc.code:
                errors.append(f"exit {exc.code}")
        except PxehookError as exc:
            errors.append(str(exc))
    print(json.dumps({"prefix": prefix, "errors": errors}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
