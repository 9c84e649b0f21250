"""QEMU VMs that network-boot on a NetLab bridge, and a watch that times each boot stage.

A ``Vm`` runs inside the lab's switch namespace (``-netdev tap`` on a tap plugged into the
bridge), so nothing ever touches a real interface. Serial console goes to a file; QEMU is
tracked by PID through ``NetLab.spawn`` and killed by PID in ``stop()`` (and by
``NetLab.close()`` if a test dies first). No ``-no-reboot``: a guest reboot restarts the
firmware in the same QEMU process, like a real machine.

Firmware (all Debian packages, TCG only — KVM here is unusable, see docs/hardware.md):

* ``bios``  SeaBIOS + QEMU's iPXE ROM on an e1000 (option 93 = 0, user-class iPXE).
* ``uefi``  OVMF with ``virtio-net-pci,romfile=`` so EDK2's own PXE client (option 93 = 7)
  does DHCP + TFTP; IPv6 PXE/HTTP off (``-fw_cfg``) so "next boot device" is quick.
* ``uefi-sb`` OVMF with Secure Boot on and Microsoft's keys enrolled (Debian's ``.ms.fd``
  pair; needs SMM, so ``-M q35,smm=on`` and a secure pflash): only signed loaders run.
* ``uefi-http`` the same OVMF with IPv4 PXE off too (``IPv4PXESupport=no``): its first
  network boot option is UEFI HTTP boot (option 93 = 16, vendor class ``HTTPClient``).
* ``arm64`` ``qemu-system-aarch64 -M virt`` + AAVMF, virtio-net (option 93 = 11).
* ``uboot`` the same machine with Debian's ``u-boot-qemu`` ``qemu_arm64/u-boot.bin`` as
  ``-bios`` (option 93 = 22, vendor class ``U-Boot.armv8``): distro boot's ``dhcp`` target.

``BootWatch`` polls named text sources (serial, dnsmasq log, pxehook log, the host's event
timeline) for milestones, stamps the first time each appears, and on a time-out raises
``BootStalled`` whose message says which milestone was reached last and which never came.
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .netns import NetLab, Proc

OVMF_CODE = Path("/usr/share/OVMF/OVMF_CODE_4M.fd")
OVMF_VARS = Path("/usr/share/OVMF/OVMF_VARS_4M.fd")
OVMF_SB_CODE = Path("/usr/share/OVMF/OVMF_CODE_4M.ms.fd")  # Secure Boot, SMM
OVMF_SB_VARS = Path("/usr/share/OVMF/OVMF_VARS_4M.ms.fd")  # Microsoft's keys, SB enabled
AAVMF_CODE = Path("/usr/share/AAVMF/AAVMF_CODE.fd")
AAVMF_VARS = Path("/usr/share/AAVMF/AAVMF_VARS.fd")
UBOOT_ARM64 = Path("/usr/lib/u-boot/qemu_arm64/u-boot.bin")  # Debian's u-boot-qemu

#: The firmware kinds a VM can have, with the option-93 code each one sends.
FIRMWARE_ARCH = {
    "bios": 0,
    "uefi": 7,
    "uefi-sb": 7,
    "uefi-http": 16,
    "arm64": 11,
    "uboot": 22,
}
#: NIC model per firmware (what the guest's driver list must cover).
FIRMWARE_NIC = {
    "bios": "e1000",
    "uefi": "virtio-net-pci",
    "uefi-sb": "virtio-net-pci",
    "uefi-http": "virtio-net-pci",
    "arm64": "virtio-net-pci",
    "uboot": "virtio-net-pci",
}

_ANSI = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]|\x1bc|\r")
_BACKSPACED = re.compile(rb"[^\x08\n]\x08")


def clean_serial(raw: bytes) -> str:
    """Serial bytes without ANSI escapes and CRs, backspaces applied (iPXE/OVMF draw
    spinners and menus with them)."""
    text = _ANSI.sub(b"", raw)
    while b"\x08" in text:
        text, n = _BACKSPACED.subn(b"", text)
        if n == 0:
            text = text.replace(b"\x08", b"")
    return text.decode("utf-8", "replace")


def qemu_tools(firmware: str) -> list[str]:
    """Binaries/files a firmware kind needs (for ``require_tool``)."""
    if firmware == "arm64":
        return ["qemu-system-aarch64", str(AAVMF_CODE), str(AAVMF_VARS)]
    if firmware == "uboot":
        return ["qemu-system-aarch64", str(UBOOT_ARM64)]
    if firmware == "uefi-sb":
        return ["qemu-system-x86_64", str(OVMF_SB_CODE), str(OVMF_SB_VARS)]
    if firmware in ("uefi", "uefi-http"):
        return ["qemu-system-x86_64", str(OVMF_CODE), str(OVMF_VARS)]
    return ["qemu-system-x86_64"]


@dataclass
class VmSpec:
    name: str  # short: used in the tap name
    firmware: str  # bios | uefi | uefi-sb | uefi-http | arm64 | uboot
    mac: str
    disk: Path | None = None  # raw local disk (opened with snapshot=on, never written)
    memory: int = 512

    @property
    def arch(self) -> int:
        return FIRMWARE_ARCH[self.firmware]


def qemu_argv(spec: VmSpec, tap: str, serial: Path, vars_copy: Path | None) -> list[str]:
    """The QEMU command line for ``spec`` (see the module docstring for the choices)."""
    net = ["-netdev", f"tap,id=n0,ifname={tap},script=no,downscript=no"]
    disk: list[str] = []
    if spec.disk is not None:
        disk = [
            "-drive",
            f"file={spec.disk},format=raw,if=none,id=d0,snapshot=on",
            "-device",
            "ide-hd,drive=d0,bootindex=2",
        ]
    if spec.firmware == "bios":
        argv = ["qemu-system-x86_64", "-M", "pc", *net]
        argv += ["-device", f"e1000,netdev=n0,mac={spec.mac},bootindex=1", *disk]
        argv += ["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"]
    elif spec.firmware in ("uefi", "uefi-sb", "uefi-http"):
        if spec.firmware == "uefi-sb":
            argv = ["qemu-system-x86_64", "-M", "q35,smm=on", *_pflash(OVMF_SB_CODE, vars_copy)]
            argv += ["-global", "driver=cfi.pflash01,property=secure,value=on", *net]
        else:
            argv = ["qemu-system-x86_64", "-M", "q35", *_pflash(OVMF_CODE, vars_copy), *net]
        argv += ["-device", f"virtio-net-pci,netdev=n0,mac={spec.mac},romfile=,bootindex=1"]
        if spec.firmware == "uefi-http":  # no PXEv4 boot option: HTTPv4 is the first
            argv += ["-fw_cfg", "name=opt/org.tianocore/IPv4PXESupport,string=no"]
        argv += ["-fw_cfg", "name=opt/org.tianocore/IPv6PXESupport,string=no"]
        argv += ["-fw_cfg", "name=opt/org.tianocore/IPv6Support,string=no", *disk]
    elif spec.firmware == "arm64":
        argv = ["qemu-system-aarch64", "-M", "virt", "-cpu", "cortex-a57"]
        argv += [*_pflash(AAVMF_CODE, vars_copy), *net]
        argv += ["-device", f"virtio-net-pci,netdev=n0,mac={spec.mac},romfile=,bootindex=1"]
        if spec.disk is not None:  # no IDE on virt: the disk is virtio-blk
            argv += ["-drive", f"file={spec.disk},format=raw,if=none,id=d0,snapshot=on"]
            argv += ["-device", "virtio-blk-pci,drive=d0,bootindex=2"]
    elif spec.firmware == "uboot":
        argv = ["qemu-system-aarch64", "-M", "virt", "-cpu", "cortex-a57"]
        argv += ["-bios", str(UBOOT_ARM64), *net]
        # virtio-mmio: over virtio-pci (modern or legacy) U-Boot 2023.01 reads the MAC as
        # its first byte six times (52:52:52:52:52:52 for every VM; docs/arm.md)
        argv += ["-device", f"virtio-net-device,netdev=n0,mac={spec.mac}"]
    else:
        raise ValueError(f"unknown firmware {spec.firmware!r} (see FIRMWARE_ARCH)")
    memory = max(spec.memory, 1024) if spec.firmware in ("arm64", "uboot") else spec.memory
    argv += ["-m", str(memory), "-accel", "tcg", "-smp", "1"]
    argv += ["-nographic", "-monitor", "none", "-serial", f"file:{serial}"]
    return argv


def _pflash(code: Path, vars_copy: Path | None) -> list[str]:
    assert vars_copy is not None
    return [
        "-drive",
        f"if=pflash,format=raw,unit=0,readonly=on,file={code}",
        "-drive",
        f"if=pflash,format=raw,unit=1,file={vars_copy}",
    ]


@dataclass
class Vm:
    """One VM on ``lab``'s bridge. ``start()`` then ``stop()`` (idempotent)."""

    lab: NetLab
    spec: VmSpec
    workdir: Path
    proc: Proc | None = None
    started_at: float = 0.0
    tap: str = ""

    @property
    def serial_path(self) -> Path:
        return self.workdir / f"{self.spec.name}.serial.log"

    def start(self) -> Vm:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.tap = self.lab.add_tap(f"t{self.lab.prefix[-6:]}{self.spec.name}"[:15])
        vars_copy = None
        if self.spec.firmware not in ("bios", "uboot"):
            vars_copy = self.workdir / f"{self.spec.name}.VARS.fd"
            src = {"arm64": AAVMF_VARS, "uefi-sb": OVMF_SB_VARS}.get(self.spec.firmware, OVMF_VARS)
            shutil.copyfile(src, vars_copy)
        self.serial_path.write_bytes(b"")
        argv = qemu_argv(self.spec, self.tap, self.serial_path, vars_copy)
        (self.workdir / f"{self.spec.name}.cmdline").write_text(" ".join(argv) + "\n")
        self.started_at = time.monotonic()
        self.proc = self.lab.spawn(self.lab.switch, f"qemu-{self.spec.name}", *argv)
        return self

    def serial(self) -> str:
        try:
            return clean_serial(self.serial_path.read_bytes())
        except FileNotFoundError:
            return ""

    def alive(self) -> bool:
        return self.proc is not None and self.proc.alive()

    def exit_code(self) -> int | None:
        return None if self.proc is None else self.proc.popen.poll()

    def stop(self) -> None:
        if self.proc is not None:
            self.lab.stop(self.proc)


# --- milestones ------------------------------------------------------------------------------


class BootStalled(AssertionError):
    """A boot did not reach a milestone in time; the message says where it stopped."""


@dataclass
class Milestone:
    name: str
    source: str  # key into BootWatch.sources
    pattern: str  # regex
    after: str = ""  # only text after this mark counts ("" = from the start)
    label: str = ""  # human words for reports ("DHCP offer", "loader fetched", ...)


@dataclass
class BootWatch:
    """Stamp milestones of one VM's boot as they appear in its text sources."""

    vm: Vm
    sources: dict[str, Callable[[], str]]
    milestones: list[Milestone]
    seen: dict[str, float] = field(default_factory=dict)  # name -> seconds since VM start
    marks: dict[str, dict[str, int]] = field(default_factory=dict)
    log: Callable[[str], None] = print

    def _text(self, source: str, after: str) -> str:
        text = self.sources[source]()
        offset = self.marks.get(after, {}).get(source, 0) if after else 0
        return text[offset:]

    def poll(self) -> None:
        texts: dict[tuple[str, str], str] = {}
        for m in self.milestones:
            if m.name in self.seen or (m.after and m.after not in self.marks):
                continue
            key = (m.source, m.after)
            if key not in texts:
                texts[key] = self._text(m.source, m.after)
            if re.search(m.pattern, texts[key], re.M):
                t = time.monotonic() - self.vm.started_at
                self.seen[m.name] = t
                self.log(f"[{self.vm.spec.name}] t+{t:6.2f}s {m.label or m.name}")
                if m.name in {x.after for x in self.milestones}:
                    self.mark(m.name)

    def mark(self, name: str) -> None:
        """Remember how far every source is now; milestones with ``after=name`` start here."""
        if name not in self.marks:
            self.marks[name] = {k: len(fn()) for k, fn in self.sources.items()}

    def wait(self, name: str, timeout: float) -> float:
        """Wait (bounded) for milestone ``name``; returns its time since the VM started."""
        deadline = time.monotonic() + timeout
        while True:
            self.poll()
            if name in self.seen:
                return self.seen[name]
            if not self.vm.alive():
                self.poll()
                if name in self.seen:
                    return self.seen[name]
                raise BootStalled(self.where(name, f"QEMU exited ({self.vm.exit_code()})"))
            if time.monotonic() > deadline:
                raise BootStalled(self.where(name, f"time-out after {timeout:.0f}s"))
            time.sleep(0.2)

    def wait_all(self, names: Iterable[str], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for name in names:
            self.wait(name, max(0.5, deadline - time.monotonic()))

    def where(self, wanted: str, why: str) -> str:
        """One line: the last milestone reached and the first one missing."""
        order = [m.name for m in self.milestones]
        reached = [n for n in order if n in self.seen]
        last = max(reached, key=lambda n: self.seen[n]) if reached else None
        missing = [m for m in self.milestones if m.name not in self.seen]
        if last is None:
            nxt = missing[0] if missing else None
        else:
            nxt = next((m for m in missing if order.index(m.name) > order.index(last)), None)
        label = {m.name: m.label or m.name for m in self.milestones}
        stopped = f"after '{label[last]}' (t+{self.seen[last]:.1f}s)" if last else "at the start"
        # a stage missing before the last one reached is often the cause (a refused callback)
        skipped = [m for m in missing if last and order.index(m.name) < order.index(last)]
        also = f"; skipped '{label[skipped[0].name]}'" if skipped else ""
        return (
            f"{self.vm.spec.name} ({self.vm.spec.firmware}, {self.vm.spec.mac}): boot stopped "
            f"{stopped}; never saw '{label[nxt.name] if nxt else label.get(wanted, wanted)}'"
            f"{also} [waiting for '{label.get(wanted, wanted)}': {why}]"
        )

    def report(self) -> list[tuple[str, float]]:
        """(label, seconds) for every milestone seen, in time order."""
        label = {m.name: m.label or m.name for m in self.milestones}
        return sorted(((label[n], t) for n, t in self.seen.items()), key=lambda x: x[1])
