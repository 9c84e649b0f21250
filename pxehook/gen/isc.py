"""ISC dhcpd include: option 93 classes, iPXE and HTTP-boot branches, lease hooks."""

from __future__ import annotations

from pxehook.daemons import ISC
from pxehook.gen.base import Generator

GENERATOR = Generator(daemon=ISC, suffix="conf", needs={"full": ("dhcp_subnets", "dhcp_range")})
