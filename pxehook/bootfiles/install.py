"""Plan and apply a loaders run: each wanted file into each root, or why not.

A destination is written when it is missing, when it still holds what pxehook wrote
before (the manifest), or with ``force``; one that already holds the same bytes is
recorded as it is. Any other file is someone else's and is left alone ("refused"). Writes
are atomic (a temp file beside it, fsync, rename) and never follow a symlink out of the
package or out of the root.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from pxehook import __version__
from pxehook.bootfiles import ubootscript
from pxehook.bootfiles.apt import Apt
from pxehook.bootfiles.catalog import Part, Wanted
from pxehook.bootfiles.manifest import Manifest, sha256_of
from pxehook.errors import PxehookError

#: what happens to a destination
INSTALLED, UPDATED, UNCHANGED, REPLACED, REFUSED, UNPACKAGED = (
    "installed",
    "updated",
    "unchanged",
    "replaced",
    "refused",
    "not packaged",
)
CHANGES = frozenset({INSTALLED, UPDATED, REPLACED})


@dataclass(frozen=True)
class Row:
    """One destination file and what the run did (or, with ``check``, would do) to it."""

    path: str
    loader: str
    package: str
    version: str
    sha256: str
    action: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def source_file(tree: Path, part: Part) -> str:
    """The part's file inside an unpacked package: a regular file, no symlink on the way."""
    path = tree / part.source.lstrip("/")
    real, top = os.path.realpath(path), os.path.realpath(tree)
    if path.is_symlink() or not real.startswith(top + os.sep) or not os.path.isfile(real):
        raise PxehookError(
            f"{part.package}: {part.source} is missing or not a plain file in the package",
            hint="Debian changed the package; tell pxehook's maintainers",
        )
    return real


#: generator name (``Part.source`` of a generated part) -> the bytes it writes
GENERATORS = {"ubootscript": ubootscript.script_image}


def generated_file(cache: Path, part: Part) -> str:
    """A generated part's bytes, written into the cache (pxehook's version names it)."""
    data = GENERATORS[part.source]()
    path = cache / "generated" / f"{__version__}-{os.path.basename(part.dest)}"
    if not path.is_file() or path.read_bytes() != data:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".part")
        tmp.write_bytes(data)
        os.replace(tmp, path)
    return str(path)


def destination(root: str, rel: str) -> str:
    """``root/rel``, refused when a symlink would take the write out of ``root``."""
    path = os.path.join(root, rel)
    top = os.path.realpath(root)
    parent = os.path.realpath(os.path.dirname(path))
    if parent != top and not parent.startswith(top + os.sep):
        raise PxehookError(f"{path}: its directory leads out of {root}; not written")
    return path


def decide(path: str, new_sha: str, manifest: Manifest, *, force: bool) -> tuple[str, bool]:
    """(action, write?) for one destination."""
    if not os.path.lexists(path):
        return INSTALLED, True
    if os.path.islink(path) or not os.path.isfile(path):
        return (REPLACED, True) if force else (REFUSED, False)
    current = sha256_of(path)
    if current == new_sha:
        return UNCHANGED, False
    if manifest.owns(path, current):
        return UPDATED, True
    return (REPLACED, True) if force else (REFUSED, False)


def write_atomic(src: str, path: str) -> None:
    folder = os.path.dirname(path)
    os.makedirs(folder, mode=0o755, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".pxehook-", dir=folder)
    try:
        with os.fdopen(fd, "wb") as out, open(src, "rb") as inp:
            for block in iter(lambda: inp.read(1 << 20), b""):
                out.write(block)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o644)
        if os.path.isdir(path) and not os.path.islink(path):
            raise PxehookError(f"{path} is a directory; not replaced")
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def run(
    wanted: list[Wanted],
    roots: list[str],
    apt: Apt,
    manifest: Manifest,
    *,
    force: bool = False,
    check: bool = False,
) -> list[Row]:
    """Install every part of ``wanted`` into every root; rows in order. With ``check``
    nothing is written (the packages are still fetched into the cache to compare)."""
    rows: list[Row] = []
    versions: dict[tuple[str, str], str] = {}
    by_arch: dict[str, set[str]] = {}
    for part in (p for item in wanted for p in item.parts):
        if part.generated:
            versions[(part.package, part.deb_arch)] = __version__
        else:
            by_arch.setdefault(part.deb_arch, set()).add(part.package)
    with apt.locked():
        for deb_arch, packages in sorted(by_arch.items()):
            found = apt.candidates(sorted(packages), deb_arch)
            versions.update({(name, deb_arch): found[name] for name in packages})
        for item in wanted:
            if not item.parts:
                rows += [
                    Row(os.path.join(r, item.loader), item.loader, "", "", "", UNPACKAGED)
                    for r in roots
                ]
                continue
            for part in item.parts:
                key = (part.package, part.deb_arch)
                if part.generated:
                    src = generated_file(apt.cache, part)
                else:
                    src = source_file(apt.fetch(*key, versions[key]), part)
                sha = sha256_of(src)
                for root in roots:
                    path = destination(root, part.dest)
                    action, write = decide(path, sha, manifest, force=force)
                    if write and not check:
                        write_atomic(src, path)
                    if action != REFUSED and not check:
                        entry = {
                            "package": part.spec,
                            "version": versions[key],
                            "source": part.source,
                            "sha256": sha,
                        }
                        manifest.record(path, entry)
                    rows.append(Row(path, item.loader, part.spec, versions[key], sha, action))
    if not check:
        manifest.save()
    return rows


def status(wanted: list[Wanted], roots: list[str], manifest: Manifest) -> list[Row]:
    """What is in the roots now, from the manifest and the files (no apt, no network):
    installed, modified (pxehook's file, changed since), foreign, missing, not packaged."""
    rows = []
    for item in wanted:
        for root in roots:
            if not item.parts:
                rows.append(
                    Row(os.path.join(root, item.loader), item.loader, "", "", "", UNPACKAGED)
                )
            for part in item.parts:
                path = os.path.join(root, part.dest)
                entry = manifest.files.get(path, {})
                sha = sha256_of(path) if os.path.isfile(path) else ""
                if not sha:
                    state = "missing"
                elif not entry:
                    state = "foreign"
                else:
                    state = "installed" if entry.get("sha256") == sha else "modified"
                rows.append(
                    Row(
                        path,
                        item.loader,
                        entry.get("package", part.spec),
                        entry.get("version", ""),
                        sha,
                        state,
                    )
                )
    return rows
