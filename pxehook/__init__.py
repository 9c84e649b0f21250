"""pxehook: per-machine network-boot control beside an existing DHCP server."""

__version__ = "0.1.0"
