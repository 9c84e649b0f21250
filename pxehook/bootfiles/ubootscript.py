"""The U-Boot boot script pxehook writes for U-Boot boards: ``boot.scr.uimg``.

U-Boot's distro boot (``config_distro_bootcmd.h``, e.g. Debian's ``u-boot-qemu`` 2023.01) has
no ``pxe`` target: its ``dhcp`` target runs ``dhcp ${scriptaddr} boot.scr.uimg`` and
``source``\\ s that file, and only then tries an EFI loader. This script makes that target
run U-Boot's PXELINUX client, so the board asks pxehook for ``pxelinux.cfg/01-<mac>``,
``<HEXIP>`` …, ``default-<arch>-<soc>-<board>`` …, ``default`` (docs/arm.md).

The file is a legacy uImage of type "script" (what ``mkimage -T script -C none`` writes):
a 64-byte big-endian header with CRC-32s of itself and of the data, then the data: a
zero-terminated table of part lengths (one part) and the script text. Built here, so a site
needs no ``u-boot-tools``.
"""

from __future__ import annotations

import struct
import zlib

#: What the board runs (U-Boot's hush shell; ``${…}`` is expanded by U-Boot, at run time).
SCRIPT = """\
# pxehook: U-Boot boot script (boot.scr.uimg), written by `pxehook loaders install`
echo "pxehook: pxe get (pxelinux.cfg/01-<mac>, <HEXIP>..., default-<arch>..., default)"
if pxe get; then
  pxe boot
fi
echo "pxehook: no PXE config booted; the board boot order continues"
"""
NAME = "pxehook boot.scr"

IH_MAGIC = 0x27051956
IH_OS_LINUX = 5
IH_ARCH_ARM = 2  # ``source`` does not check it: the same file serves arm32 and arm64
IH_TYPE_SCRIPT = 6
IH_COMP_NONE = 0
_HEADER = struct.Struct(">7I4B32s")


def script_image(text: str = SCRIPT, name: str = NAME, timestamp: int = 0) -> bytes:
    """``text`` as a U-Boot script image (legacy uImage, uncompressed), byte for byte what
    ``SOURCE_DATE_EPOCH=<timestamp> mkimage -A arm -O linux -T script -C none -n <name>``
    writes. ``timestamp`` 0 keeps the file the same on every run."""
    body = text.encode("ascii")
    data = struct.pack(">II", len(body), 0) + body
    raw_name = name.encode("ascii")
    if len(raw_name) > 32:
        raise ValueError(f"image name {name!r} is longer than 32 bytes")

    def header(hcrc: int) -> bytes:
        return _HEADER.pack(
            IH_MAGIC,
            hcrc,
            timestamp,
            len(data),
            0,
            0,
            zlib.crc32(data),
            IH_OS_LINUX,
            IH_ARCH_ARM,
            IH_TYPE_SCRIPT,
            IH_COMP_NONE,
            raw_name,
        )

    return header(zlib.crc32(header(0))) + data
