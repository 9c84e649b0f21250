"""Fetch one Debian package and unpack it, without installing anything.

``apt-get download`` + ``dpkg-deb -x`` into a cache directory keyed by package,
architecture and version (a second run with the same candidate downloads nothing). A
package of another architecture than the machine's (the arm64 GRUB on amd64) comes through
apt lists of its own under the cache (``APT::Architecture``), never multiarch: dpkg's
architectures and the system's apt lists stay as they are.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from pxehook.errors import PxehookError

#: (package, version) of each stanza ``apt-cache show`` prints
_STANZA = re.compile(r"^Package: (\S+)$.*?^Version: (\S+)$", re.M | re.S)


class Apt:
    """apt and dpkg over one cache directory (``--cache``, default /var/cache/pxehook/loaders)."""

    def __init__(self, cache: str, native: str | None = None) -> None:
        self.cache = Path(cache)
        self.native = native or _run(["dpkg", "--print-architecture"]).strip()
        self._updated: set[str] = set()

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """One pxehook at a time in this cache (apt's own lock only covers system lists)."""
        self.cache.mkdir(parents=True, exist_ok=True)
        with open(self.cache / ".lock", "w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            yield

    def _opts(self, deb_arch: str) -> list[str]:
        if deb_arch in ("all", self.native):
            return []
        base = self.cache / f"apt-{deb_arch}"
        (base / "lists" / "partial").mkdir(parents=True, exist_ok=True)
        (base / "archives" / "partial").mkdir(parents=True, exist_ok=True)
        return [
            f"-oAPT::Architecture={deb_arch}",
            f"-oAPT::Architectures={deb_arch}",
            f"-oDir::State::Lists={base / 'lists'}",
            f"-oDir::Cache={base}",
            "-oDir::Cache::pkgcache=",
            "-oDir::Cache::srcpkgcache=",
        ]

    def candidates(self, packages: list[str], deb_arch: str) -> dict[str, str]:
        """The version apt would fetch of each package (one apt-cache call per
        architecture). A foreign architecture's private lists are filled (``apt-get
        update``) on first use; the system's lists are the operator's."""
        opts = self._opts(deb_arch)
        found: dict[str, str] = {}
        for attempt in (1, 2):
            shown = subprocess.run(
                ["apt-cache", *opts, "show", "--no-all-versions", *packages],
                capture_output=True,
                text=True,
                timeout=120,
            )
            found = dict(_STANZA.findall(shown.stdout))
            if all(p in found for p in packages):
                return found
            if attempt == 1 and opts:
                self.update(deb_arch)
        missing = ", ".join(p for p in packages if p not in found)
        hint = "run 'apt-get update'" if not opts else "check the machine's apt sources"
        raise PxehookError(f"apt knows no package {missing} ({deb_arch})", hint=hint)

    def update(self, deb_arch: str) -> None:
        """Refresh the private lists of a foreign architecture (once per run)."""
        if deb_arch not in self._updated:
            _run(["apt-get", *self._opts(deb_arch), "-q", "update"], timeout=600)
            self._updated.add(deb_arch)

    def fetch(self, package: str, deb_arch: str, version: str) -> Path:
        """The unpacked tree of ``package`` at ``version`` (downloaded once, then cached)."""
        name = re.sub(r"[^A-Za-z0-9.+_-]", "_", f"{package}_{deb_arch}_{version}")
        dest = self.cache / "unpacked" / name
        if dest.is_dir():
            return dest
        dest.parent.mkdir(parents=True, exist_ok=True)
        spec = package if deb_arch == "all" else f"{package}:{deb_arch}"
        with tempfile.TemporaryDirectory(dir=self.cache) as tmp:
            os.chmod(tmp, 0o755)  # noqa: S103 - apt's _apt account downloads into it
            argv = ["apt-get", *self._opts(deb_arch), "-q", "download", f"{spec}={version}"]
            _run(argv, cwd=tmp, timeout=600)
            debs = list(Path(tmp).glob("*.deb"))
            if len(debs) != 1:
                raise PxehookError(f"apt-get download {spec}={version} gave {len(debs)} files")
            staging = Path(tmp) / "tree"
            _run(["dpkg-deb", "-x", str(debs[0]), str(staging)], timeout=300)
            shutil.rmtree(dest, ignore_errors=True)
            staging.rename(dest)
        return dest


def _run(argv: list[str], *, timeout: float = 120, cwd: str | None = None) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=cwd)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PxehookError(f"{argv[0]} failed: {exc}") from None
    if done.returncode != 0:
        last = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise PxehookError(f"{' '.join(argv)} failed (exit {done.returncode}): {last[0]}")
    return done.stdout
