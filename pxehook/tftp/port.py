"""The well-known port: bound without sharing it, or a one-line error saying why not."""

from __future__ import annotations

import errno
import os
import resource
import socket

from pxehook.errors import ConfigError

_HINTS = {
    errno.EADDRINUSE: "another TFTP server (dnsmasq enable-tftp, tftpd-hpa) holds it: "
    "stop it or set tftp_port / tftp_bind",
    errno.EACCES: "ports below 1024 need root or CAP_NET_BIND_SERVICE",
    errno.EADDRNOTAVAIL: "no interface of this host has that address: check tftp_bind",
}
#: receive buffer of the well-known port: room for a burst of requests (a boot storm)
RCVBUF = 4 * 1024 * 1024
SO_RCVBUFFORCE = 33  # Linux; the socket module does not name it


def bind_port(address: str, port: int) -> socket.socket:
    """A UDP socket bound to ``address:port``; ConfigError "tftp: cannot bind …" when the
    port is taken or not allowed. No SO_REUSEADDR: on UDP it would let this server share
    the port with another TFTP server (dnsmasq sets it) and each get half the requests."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.bind((address, port))
    except OSError as exc:
        sock.close()
        reason = os.strerror(exc.errno).lower() if exc.errno else str(exc)
        raise ConfigError(
            f"tftp: cannot bind {address}:{port}: {reason}", hint=_HINTS.get(exc.errno or 0)
        ) from None
    try:  # root may exceed net.core.rmem_max
        sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, RCVBUF)
    except OSError:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
    return sock


def ensure_open_files(needed: int) -> None:
    """Raise this process's open-file limit to ``needed`` or refuse to start."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return
    if hard == resource.RLIM_INFINITY or hard >= needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
        return
    raise ConfigError(
        f"tftp_max_transfers needs about {needed} open files; this process may open {hard}",
        hint="lower tftp_max_transfers or raise LimitNOFILE",
    )
