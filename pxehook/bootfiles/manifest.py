"""What ``pxehook loaders install`` put where: ``<state_dir>/loaders.json``.

One entry per file it wrote (absolute path -> package, version, source path in the
package, sha256). A file under the roots with no entry, or whose content no longer has the
recorded checksum, is not pxehook's: ``install`` leaves it alone unless forced.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from typing import Any

from pxehook import fsmodes
from pxehook.errors import ConfigError

NAME = "loaders.json"


def sha256_of(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class Manifest:
    """The recorded files, read at start and written once at the end of a run."""

    def __init__(self, state_dir: str) -> None:
        self.path = os.path.join(state_dir, NAME)
        self.files: dict[str, dict[str, Any]] = {}
        try:
            with open(self.path, encoding="utf-8") as fh:
                data = json.load(fh)
            self.files = dict(data["files"])
        except FileNotFoundError:
            pass
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(
                f"{self.path}: not a loaders manifest ({exc})",
                hint="move it away; 'pxehook loaders install --force' then starts a new one",
            ) from None

    def owns(self, path: str, sha256: str) -> bool:
        """True when pxehook wrote ``path`` and it still holds what pxehook wrote."""
        entry = self.files.get(path)
        return bool(entry) and entry.get("sha256") == sha256

    def record(self, path: str, entry: dict[str, Any]) -> None:
        self.files[path] = entry

    def save(self) -> None:
        folder = os.path.dirname(self.path)
        fsmodes.make_dir(folder, fsmodes.STATE_DIR)
        fd, tmp = tempfile.mkstemp(prefix=".loaders.", dir=folder)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump({"files": dict(sorted(self.files.items()))}, fh, indent=1)
                fh.write("\n")
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o644)
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
