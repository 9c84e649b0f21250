"""Boot artifacts for the VM tests, built at test time from Debian packages and cached.

* ``kernel_amd64()`` — the current ``linux-image-*-amd64`` (``apt-get download`` + extract,
  never installed): ``vmlinuz`` plus the NIC driver modules the installer needs.
* ``installer_initrd(kernel)`` — a tiny busybox initramfs that plays the installer: it loads
  the NIC driver, runs udhcpc, reads ``pxehook.callback`` / ``pxehook.token`` from the kernel
  command line, POSTs the callback, prints markers on the serial console and reboots.
* ``local_disk()`` — a raw disk whose MBR (``mbr.S``, assembled with binutils) and FAT ESP
  (GRUB EFI built by ``grub-mkstandalone``) both print ``PXEHOOK-LOCALDISK-OK``.
* ``grub_arm64()`` — Debian's signed ``grubnetaa64.efi`` (an arm64 package fetched on amd64
  with a private apt lists directory, no multiarch).
* ``pxelinux_bios()`` — the installed ``lpxelinux.0`` and its modules (``ldlinux.c32``, …).
* ``signed_x64()`` / ``local_disk_secure_boot()`` — Debian's signed shim and GRUBs, and a disk
  whose ESP boots under Secure Boot: shim as ``EFI/BOOT/BOOTX64.EFI``, the signed disk GRUB
  beside it, ``EFI/debian/grub.cfg`` printing the marker.

Everything lands under ``PXH_E2E_CACHE`` (default ``/var/cache/pxehook-e2e``), keyed
by package version (and a hash of our own inputs), built once under a file lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import gzip
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pxehook import arch as archtable
from pxehook.bootfiles import catalog

HERE = Path(__file__).resolve().parent
E2E_DIR = HERE.parent / "e2e"
CACHE = Path(os.environ.get("PXH_E2E_CACHE", "/var/cache/pxehook-e2e"))

#: Serial markers printed by the artifacts (the tests and the runner look for these).
LOCALDISK_MARKER = "PXEHOOK-LOCALDISK-OK"
INSTALLER_START = "PXEHOOK-INSTALLER-START"
INSTALLER_NET = "PXEHOOK-INSTALLER-NET"
INSTALLER_CALLBACK_OK = "PXEHOOK-INSTALLER-CALLBACK-OK"
INSTALLER_CALLBACK_FAILED = "PXEHOOK-INSTALLER-CALLBACK-FAILED"
INSTALLER_REBOOT = "PXEHOOK-INSTALLER-REBOOT"

#: NIC drivers the installer loads (QEMU models the tests use), dependencies found from
#: each module's own ``depends=`` field.
NIC_MODULES = ("e1000", "virtio_pci", "virtio_net")
#: arm64: virtio-net on PCI (AAVMF) and on virtio-mmio (U-Boot, docs/arm.md); a driver
#: built into the kernel is simply not in the module tree.
NIC_MODULES_ARM64 = ("virtio_mmio", "virtio_pci", "virtio_net")


def _run(argv: list[str], timeout: float = 300, **kw) -> subprocess.CompletedProcess[str]:  # type: ignore[no-untyped-def]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kw)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({r.returncode}): {r.stderr[-2000:]}")
    return r


@contextlib.contextmanager
def _locked(name: str) -> Iterator[None]:
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / f".{name}.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _digest(*parts: bytes | str) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p.encode() if isinstance(p, str) else p)
    return h.hexdigest()[:12]


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.+_-]", "_", text)


# --- apt helpers ------------------------------------------------------------------------


def _apt_field(package: str, field: str, apt_opts: tuple[str, ...] = ()) -> str:
    """A field of the candidate version (``apt-cache show``), updating lists once if empty."""
    for attempt in (1, 2):
        r = subprocess.run(
            ["apt-cache", *apt_opts, "show", "--no-all-versions", package],
            capture_output=True,
            text=True,
            timeout=60,
        )
        m = re.search(rf"^{field}: (.+)$", r.stdout, re.M)
        if m:
            return m.group(1).strip()
        if attempt == 1:
            _run(["apt-get", *apt_opts, "-q", "update"], timeout=300)
    raise RuntimeError(f"apt-cache knows no {package} ({' '.join(apt_opts)})")


def _download_extract(package: str, dest: Path, apt_opts: tuple[str, ...] = ()) -> Path:
    """``apt-get download`` + ``dpkg -x`` into ``dest`` (no install, no root-owned state)."""
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        os.chmod(tmp, 0o755)  # _apt may write here (avoids the unsandboxed warning)
        _run(["apt-get", *apt_opts, "-q", "download", package], cwd=tmp, timeout=600)
        debs = list(Path(tmp).glob("*.deb"))
        if len(debs) != 1:
            raise RuntimeError(f"apt-get download {package} gave {debs}")
        staging = dest.with_name(dest.name + ".part")
        shutil.rmtree(staging, ignore_errors=True)
        _run(["dpkg", "-x", str(debs[0]), str(staging)], timeout=300)
        shutil.rmtree(dest, ignore_errors=True)
        staging.rename(dest)
    return dest


def _arm64_apt_opts() -> tuple[str, ...]:
    lists = CACHE / "apt-arm64" / "lists"
    (lists / "partial").mkdir(parents=True, exist_ok=True)
    (CACHE / "apt-arm64" / "archives" / "partial").mkdir(parents=True, exist_ok=True)
    return (
        "-oAPT::Architecture=arm64",
        "-oAPT::Architectures=arm64",
        f"-oDir::State::Lists={lists}",
        f"-oDir::Cache={CACHE / 'apt-arm64'}",
        "-oDir::Cache::pkgcache=",
        "-oDir::Cache::srcpkgcache=",
    )


# --- kernel -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Kernel:
    package: str
    version: str
    vmlinuz: Path
    modules: tuple[Path, ...]  # NIC drivers + dependencies, in load order


def _module_index(root: Path) -> dict[str, Path]:
    return {p.name.removesuffix(".ko").replace("-", "_"): p for p in root.rglob("*.ko")}


def _depends(ko: Path) -> list[str]:
    m = re.search(rb"depends=([^\0]*)\0", ko.read_bytes())
    return [d.replace("-", "_") for d in m.group(1).decode().split(",") if d] if m else []


def _load_order(index: dict[str, Path], wanted: tuple[str, ...]) -> list[Path]:
    order: list[Path] = []

    def visit(name: str) -> None:
        path = index[name]
        if path in order:
            return
        for dep in _depends(path):
            visit(dep)
        order.append(path)

    for name in wanted:
        if name in index:  # else built into the kernel
            visit(name)
    return order


def _fetch_current(resolve, dest_of, apt_opts: tuple[str, ...] = ()) -> tuple[str, str, Path]:  # type: ignore[no-untyped-def]
    """(package, version, dir) of the candidate ``resolve()`` names, extracted into
    ``dest_of(package, version)`` unless cached. Stale lists (the mirror no longer has that
    version) get one ``apt-get update`` and a fresh look."""
    for attempt in (1, 2):
        package, version = resolve()
        dest = dest_of(package, version)
        if dest.is_dir():
            return package, version, dest
        try:
            _download_extract(package, dest, apt_opts)
            return package, version, dest
        except RuntimeError:
            if attempt == 2:
                raise
            _run(["apt-get", *apt_opts, "-q", "update"], timeout=300)
    raise AssertionError("unreachable")


def _current_kernel(arch: str = "amd64", opts: tuple[str, ...] = ()) -> tuple[str, str]:
    meta = _apt_field(f"linux-image-{arch}", "Depends", opts)
    package = re.match(r"(linux-image-[^\s,(]+)", meta).group(1)  # type: ignore[union-attr]
    return package, _apt_field(package, "Version", opts)


def kernel_amd64() -> Kernel:
    """The current Debian amd64 kernel, extracted (not installed), cached by version."""
    with _locked("kernel"):
        package, version, dest = _fetch_current(
            _current_kernel, lambda p, v: CACHE / f"kernel-{_safe(p)}-{_safe(v)}"
        )
    vmlinuz = next((dest / "boot").glob("vmlinuz-*"))
    index = _module_index(dest / "lib" / "modules")
    return Kernel(package, version, vmlinuz, tuple(_load_order(index, NIC_MODULES)))


def kernel_arm64() -> Kernel:
    """The current Debian arm64 kernel (``apt-get download`` for arm64 on amd64, private
    apt lists, no multiarch), extracted, cached by version."""
    opts = _arm64_apt_opts()
    with _locked("arm64"):
        package, version, dest = _fetch_current(
            lambda: _current_kernel("arm64", opts),
            lambda p, v: CACHE / f"kernel-{_safe(p)}-{_safe(v)}",
            opts,
        )
    vmlinuz = next((dest / "boot").glob("vmlinuz-*"))
    index = _module_index(dest / "lib" / "modules")
    return Kernel(package, version, vmlinuz, tuple(_load_order(index, NIC_MODULES_ARM64)))


def _fetch_arm64(package: str, stem: str) -> tuple[str, Path]:
    """(version, dir) of Debian's arm64 ``package`` (its current candidate), downloaded on
    amd64 with private apt lists, extracted into ``<cache>/<stem>-<version>`` once."""
    opts = _arm64_apt_opts()
    with _locked("arm64"):
        _, version, dest = _fetch_current(
            lambda: (package, _apt_field(package, "Version", opts)),
            lambda _p, v: CACHE / f"{stem}-{_safe(v)}",
            opts,
        )
    return version, dest


def busybox_arm64() -> Path:
    """Debian's arm64 ``busybox-static`` binary (downloaded, extracted, cached)."""
    _, dest = _fetch_arm64("busybox-static", "busybox-arm64")
    return dest / "bin" / "busybox"


# --- installer initramfs -------------------------------------------------------------------

INIT = (E2E_DIR / "installer-init.sh").read_text


def installer_initrd(kernel: Kernel, busybox: Path = Path("/bin/busybox")) -> Path:
    """busybox initramfs (gzip'd newc cpio) with /init = tests/e2e/installer-init.sh
    (``busybox``: the binary for the kernel's architecture)."""
    init = INIT()
    key = _digest(
        busybox.read_bytes(), init, kernel.package, kernel.version, *map(str, kernel.modules)
    )
    dest = CACHE / f"installer-{key}.cpio.gz"
    with _locked("initrd"):
        if dest.exists():
            return dest
        with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
            root = Path(tmp) / "root"
            for d in ("bin", "sbin", "proc", "sys", "dev", "tmp", "etc", "lib/modules"):
                (root / d).mkdir(parents=True)
            shutil.copy(busybox, root / "bin" / "busybox")
            (root / "init").write_text(init)
            (root / "init").chmod(0o755)
            names = []
            for ko in kernel.modules:
                shutil.copy(ko, root / "lib" / "modules" / ko.name)
                names.append(ko.name)
            (root / "lib" / "modules" / "load-order").write_text("\n".join(names) + "\n")
            files = sorted(str(p.relative_to(root)) for p in root.rglob("*"))
            cpio = subprocess.run(
                ["cpio", "-o", "-H", "newc", "--quiet", "--owner=0:0"],
                input="\n".join(files).encode(),
                cwd=root,
                capture_output=True,
                timeout=60,
                check=True,
            ).stdout
            part = dest.with_suffix(".part")
            part.write_bytes(gzip.compress(cpio, compresslevel=6))
            part.rename(dest)
    return dest


# --- local disk ----------------------------------------------------------------------------

GRUB_LOCAL_CFG = f"""set timeout=0
echo "{LOCALDISK_MARKER} booted from local disk (GRUB EFI)"
sleep 1
halt
"""


def _mbr_code(work: Path) -> bytes:
    """Assemble tests/e2e/mbr.S into a 512-byte boot sector with binutils."""
    src = E2E_DIR / "mbr.S"
    _run(["as", "--32", "-o", str(work / "mbr.o"), str(src)])
    _run(
        [
            "ld",
            "-m",
            "elf_i386",
            "-Ttext",
            "0x7c00",
            "--oformat",
            "binary",
            "-o",
            str(work / "mbr.bin"),
            str(work / "mbr.o"),
        ]
    )
    code = (work / "mbr.bin").read_bytes()
    if len(code) != 512 or code[510:] != b"\x55\xaa":
        raise RuntimeError(f"mbr.S assembled to {len(code)} bytes without the 55aa signature")
    return code


def _esp_image(work: Path, target: str = "x86_64-efi", grub_dir: Path | None = None) -> bytes:
    """A FAT ESP holding a ``grub-mkstandalone`` loader that prints the local-disk marker
    (``EFI/BOOT/BOOTX64.EFI``, or ``BOOTAA64.EFI`` for ``arm64-efi`` from ``grub_dir``)."""
    cfg = work / "grub.cfg"
    cfg.write_text(GRUB_LOCAL_CFG)
    name = "BOOTAA64.EFI" if target == "arm64-efi" else "BOOTX64.EFI"
    efi = work / name
    mods = "echo halt sleep"
    _run(
        [
            "grub-mkstandalone",
            "-O",
            target,
            *(["-d", str(grub_dir)] if grub_dir else []),
            "-o",
            str(efi),
            f"--modules={mods}",
            f"--install-modules={mods} normal",
            "--locales=",
            "--themes=",
            "--fonts=",
            f"boot/grub/grub.cfg={cfg}",
        ]
    )
    fat = work / "esp.fat"
    _run(["mkfs.vfat", "-C", str(fat), "16384"])
    _run(["mmd", "-i", str(fat), "::/EFI", "::/EFI/BOOT"])
    _run(["mcopy", "-i", str(fat), str(efi), f"::/EFI/BOOT/{name}"])
    return fat.read_bytes()


def _disk_image(dest: Path, mbr: bytearray, esp: bytes) -> None:
    """``mbr`` with one 0xEF partition (the ESP) at sector 2048, written to ``dest``."""
    start, sectors = 2048, len(esp) // 512
    entry = bytes([0x80, 0xFE, 0xFF, 0xFF, 0xEF, 0xFE, 0xFF, 0xFF])
    entry += start.to_bytes(4, "little") + sectors.to_bytes(4, "little")
    mbr[446:462] = entry
    part = dest.with_suffix(".part")
    with open(part, "wb") as fh:
        fh.write(mbr)
        fh.write(b"\0" * (start * 512 - 512))
        fh.write(esp)
    part.rename(dest)


def local_disk() -> Path:
    """Raw disk: MBR boot code (BIOS) + one 0xEF partition holding a GRUB EFI ESP (UEFI)."""
    grub_version = _dpkg_version("grub-efi-amd64-bin")
    key = _digest((E2E_DIR / "mbr.S").read_bytes(), GRUB_LOCAL_CFG, grub_version)
    dest = CACHE / f"localdisk-{key}.img"
    with _locked("disk"):
        if dest.exists():
            return dest
        with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
            work = Path(tmp)
            _disk_image(dest, bytearray(_mbr_code(work)), _esp_image(work))
    return dest


def local_disk_arm64() -> Path:
    """Raw disk for AAVMF: one 0xEF partition whose ``EFI/BOOT/BOOTAA64.EFI`` (GRUB from
    Debian's arm64 ``grub-efi-arm64-bin`` modules, downloaded) prints the marker."""
    version, tree = _fetch_arm64("grub-efi-arm64-bin", "grub-arm64-bin")
    key = _digest(GRUB_LOCAL_CFG, version, _dpkg_version("grub-common"))
    dest = CACHE / f"localdisk-arm64-{key}.img"
    with _locked("disk"):
        if dest.exists():
            return dest
        with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
            mbr = bytearray(512)
            mbr[510:] = b"\x55\xaa"
            grub_dir = tree / "usr" / "lib" / "grub" / "arm64-efi"
            _disk_image(dest, mbr, _esp_image(Path(tmp), "arm64-efi", grub_dir))
    return dest


def _dpkg_version(package: str) -> str:
    r = subprocess.run(
        ["dpkg-query", "-W", "-f=${Version}", package], capture_output=True, text=True, timeout=30
    )
    return r.stdout.strip() or "unknown"


# --- arm64 GRUB ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Arm64Grub:
    version: str
    netboot_efi: Path  # grubnetaa64.efi.signed: prefix /grub, fetches grub.cfg over TFTP


def grub_arm64() -> Arm64Grub:
    """Debian's signed arm64 network GRUB, downloaded on amd64 without multiarch."""
    version, dest = _fetch_arm64("grub-efi-arm64-signed", "grub-arm64")
    efi = dest / "usr" / "lib" / "grub" / "arm64-efi-signed" / "grubnetaa64.efi.signed"
    if not efi.exists():
        raise RuntimeError(f"{efi} missing from grub-efi-arm64-signed {version}")
    return Arm64Grub(version, efi)


# --- x64 Secure Boot chain ------------------------------------------------------------------


@dataclass(frozen=True)
class SignedX64:
    versions: str  # "shim-signed <v>, grub-efi-amd64-signed <v>"
    shim: Path  # shimx64.efi.signed: Microsoft-signed, carries Debian's CA
    grub: Path  # grubnetx64.efi.signed: Debian-signed network GRUB (shim loads grubx64.efi)
    disk_grub: Path  # grubx64.efi.signed: Debian-signed disk GRUB, prefix /EFI/debian


def signed_x64() -> SignedX64:
    """Debian's signed shim and network GRUB for x64, downloaded (not installed), cached."""
    found: dict[str, tuple[str, Path]] = {}
    with _locked("signed-x64"):
        for package in ("shim-signed", "grub-efi-amd64-signed"):
            _, version, dest = _fetch_current(
                lambda p=package: (p, _apt_field(p, "Version")),
                lambda p, v: CACHE / f"{p}-{_safe(v)}",
            )
            found[package] = (version, dest)
    shim = found["shim-signed"][1] / "usr" / "lib" / "shim" / "shimx64.efi.signed"
    grub = found["grub-efi-amd64-signed"][1] / "usr" / "lib" / "grub" / "x86_64-efi-signed"
    grub, disk_grub = grub / "grubnetx64.efi.signed", grub / "grubx64.efi.signed"
    for path in (shim, grub, disk_grub):
        if not path.exists():
            raise RuntimeError(f"{path} missing from its package")
    versions = ", ".join(f"{p} {v}" for p, (v, _) in found.items())
    return SignedX64(versions, shim, grub, disk_grub)


# --- PXELINUX (BIOS) -------------------------------------------------------------------------


@dataclass(frozen=True)
class Pxelinux:
    versions: str  # "pxelinux <v>, syslinux-common <v>"
    files: dict[str, Path]  # TFTP-root name -> installed file (lpxelinux.0, ldlinux.c32, …)


def pxelinux_bios() -> Pxelinux:
    """Debian's ``lpxelinux.0`` and the modules it loads, from the installed ``pxelinux`` /
    ``syslinux-common`` packages (scripts/test-packages.txt), at the names and paths
    ``pxehook loaders install`` uses (pxehook.bootfiles.catalog)."""
    loader = archtable.lookup(0).loader("pxelinux") or ""
    parts = catalog.CATALOG[loader]
    files = {p.dest: Path(p.source) for p in parts}
    missing = [str(f) for f in files.values() if not f.exists()]
    if missing:
        raise RuntimeError(f"not installed: {', '.join(missing)} (apt-get install pxelinux)")
    packages = dict.fromkeys(p.package for p in parts)
    versions = ", ".join(f"{p} {_dpkg_version(p)}" for p in packages)
    return Pxelinux(versions, files)


#: What the signed disk GRUB reads: its built-in prefix is /EFI/debian (an installed
#: Debian's ESP), its memdisk config sources $prefix/grub.cfg.
SB_LOCAL_CFG = f"""set timeout=0
echo "{LOCALDISK_MARKER} booted from local disk (Secure Boot: shim, signed GRUB)"
sleep 1
halt
"""


def local_disk_secure_boot(signed: SignedX64) -> Path:
    """A disk that boots under Secure Boot: shim as the removable-media loader
    ``EFI/BOOT/BOOTX64.EFI``, which loads ``grubx64.efi`` from its own directory (Debian's
    signed disk GRUB), which reads ``EFI/debian/grub.cfg`` and prints the marker."""
    key = _digest(signed.shim.read_bytes(), signed.disk_grub.read_bytes(), SB_LOCAL_CFG)
    dest = CACHE / f"localdisk-sb-{key}.img"
    with _locked("disk"):
        if dest.exists():
            return dest
        with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
            work = Path(tmp)
            (work / "grub.cfg").write_text(SB_LOCAL_CFG)
            fat = work / "esp.fat"
            _run(["mkfs.vfat", "-C", str(fat), "16384"])
            _run(["mmd", "-i", str(fat), "::/EFI", "::/EFI/BOOT", "::/EFI/debian"])
            for src, name in (
                (signed.shim, "EFI/BOOT/BOOTX64.EFI"),
                (signed.disk_grub, "EFI/BOOT/grubx64.efi"),
                (work / "grub.cfg", "EFI/debian/grub.cfg"),
            ):
                _run(["mcopy", "-i", str(fat), str(src), f"::/{name}"])
            _disk_image(dest, bytearray(_mbr_code(work)), fat.read_bytes())
    return dest
