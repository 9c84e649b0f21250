"""pxehook's TFTP server: static loaders from ``tftp_root``, config names from the resolver.

RFC 1350 (read requests only; WRQ is refused), RFC 2347 option negotiation, RFC 2348
``blksize`` (8–65464), RFC 2349 ``timeout`` and ``tsize``. Block numbers roll over after
65535 (to 0, as tftp-hpa, atftp and iPXE expect), so files beyond 32 MiB at 512-byte
blocks work. Missing files, names that mean nothing and refused paths get an ERROR packet
at once, never a time-out.

One thread per transfer with a connected UDP socket (its own TID port): measured faster
than an asyncio datagram protocol for the lock-step exchange (docs/resolver.md). Files are
mmapped and sent as memoryview slices, so a block costs one ``send`` and one ``recv``.
"""

from __future__ import annotations

import logging
import mmap
import os
import socket
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass

from pxehook.boot.loaders import parse_name
from pxehook.boot.names import clean_path
from pxehook.errors import InvalidInput

log = logging.getLogger("pxehook.tftp")

RRQ, WRQ, DATA, ACK, ERROR, OACK = 1, 2, 3, 4, 5, 6
ENOTFOUND, EACCESS, EBADOP, EOPTNEG = 1, 2, 4, 8
MAX_BLKSIZE = 65464


@dataclass(frozen=True)
class Request:
    """A parsed RRQ."""

    filename: str
    mode: str
    options: dict[str, str]


def parse_request(packet: bytes) -> Request:
    """Decode an RRQ/WRQ body (after the opcode); InvalidInput when malformed."""
    fields = packet[2:].split(b"\0")
    if len(fields) < 3 or fields[-1] != b"":
        raise InvalidInput("malformed request")
    try:
        words = [f.decode("ascii") for f in fields[:-1]]
    except UnicodeDecodeError:
        raise InvalidInput("request is not ASCII") from None
    filename, mode = words[0], words[1].lower()
    options = {}
    for i in range(2, len(words) - 1, 2):
        options[words[i].lower()] = words[i + 1]
    return Request(filename, mode, options)


def error_packet(code: int, message: str) -> bytes:
    return struct.pack("!HH", ERROR, code) + message.encode("ascii", "replace")[:200] + b"\0"


def negotiate(options: dict[str, str], size: int) -> tuple[dict[str, str], int, float]:
    """(accepted options, blksize, timeout) from the client's options (RFC 2347-2349)."""
    accepted: dict[str, str] = {}
    blksize, timeout = 512, 1.0
    if "blksize" in options:
        try:
            wanted = int(options["blksize"])
        except ValueError:
            wanted = 0
        if wanted >= 8:
            blksize = min(wanted, MAX_BLKSIZE)
            accepted["blksize"] = str(blksize)
    if "timeout" in options:
        try:
            seconds = int(options["timeout"])
        except ValueError:
            seconds = 0
        if 1 <= seconds <= 255:
            timeout = float(seconds)
            accepted["timeout"] = str(seconds)
    if "tsize" in options:
        accepted["tsize"] = str(size)
    return accepted, blksize, timeout


#: Looks up a config name: (path, client_ip) -> bytes, or None when it is not a config name;
#: raises FileNotFoundError for a config name with no answer (a clean ERROR packet).
ConfigLookup = Callable[[str, str], bytes | None]
FileHook = Callable[[str, str, int], None]


class TftpServer:
    """Serves ``root`` plus dynamic config names on ``(bind, port)`` until ``stop()``."""

    def __init__(
        self,
        root: str,
        bind: str,
        port: int,
        lookup: ConfigLookup,
        *,
        on_file: FileHook | None = None,
        retries: int = 5,
    ) -> None:
        self.root = os.path.realpath(root)
        self.lookup = lookup
        self.on_file = on_file
        self.retries = retries
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((bind, port))
        self.address = self.sock.getsockname()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> TftpServer:
        self._thread = threading.Thread(target=self.serve, name="tftp", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        try:
            wake = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            wake.sendto(b"", self.address)
            wake.close()
        except OSError:
            pass
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.sock.close()

    def serve(self) -> None:
        while not self._stop.is_set():
            try:
                packet, client = self.sock.recvfrom(2048)
            except OSError:
                return
            if self._stop.is_set():
                return
            if len(packet) < 4:
                continue
            threading.Thread(
                target=self._session, args=(packet, client), name="tftp-xfer", daemon=True
            ).start()

    # one transfer ---------------------------------------------------------------------------
    def _session(self, packet: bytes, client: tuple[str, int]) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.bind((self.address[0], 0))
            sock.connect(client)
            self._transfer(sock, packet, client[0])
        except OSError as exc:
            log.warning("tftp %s: %s", client[0], exc)
        except Exception:
            log.exception("tftp %s: transfer failed", client[0])
            sock.send(error_packet(0, "internal error"))
        finally:
            sock.close()

    def _transfer(self, sock: socket.socket, packet: bytes, client_ip: str) -> None:
        opcode = struct.unpack("!H", packet[:2])[0]
        if opcode != RRQ:
            sock.send(error_packet(EBADOP, "only read requests are served"))
            return
        try:
            req = parse_request(packet)
            path = clean_path(req.filename.lstrip("/"))
        except InvalidInput as exc:
            sock.send(error_packet(EACCESS, str(exc)))
            return
        if req.mode not in ("octet", "netascii"):
            sock.send(error_packet(EBADOP, f"mode {req.mode} not supported"))
            return
        data, size, close = self._open(path, client_ip)
        if data is None:
            sock.send(error_packet(ENOTFOUND, "file not found"))
            return
        try:
            self._send(sock, data, size, req.options)
        finally:
            close()
        if self.on_file is not None and parse_name(path) is None:
            self.on_file(client_ip, path, size)

    def _open(self, path: str, client_ip: str):  # type: ignore[no-untyped-def]
        """(bytes-like, size, close) for ``path``; (None, 0, noop) when there is no answer."""

        def noop() -> None:
            return None

        try:
            body = self.lookup(path, client_ip)
        except FileNotFoundError:
            return None, 0, noop
        if body is not None:
            return memoryview(body), len(body), noop
        full = os.path.realpath(os.path.join(self.root, path))
        if not full.startswith(self.root + os.sep) or not os.path.isfile(full):
            return None, 0, noop
        with open(full, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if size == 0:
                return memoryview(b""), 0, noop
            mapped = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        view = memoryview(mapped)

        def close() -> None:
            view.release()
            mapped.close()

        return view, size, close

    def _send(self, sock: socket.socket, data: memoryview, size: int, options: dict) -> None:  # type: ignore[type-arg]
        accepted, blksize, timeout = negotiate(options, size)
        sock.settimeout(timeout)
        if accepted:
            oack = struct.pack("!H", OACK) + b"".join(
                k.encode() + b"\0" + v.encode() + b"\0" for k, v in accepted.items()
            )
            if not self._exchange(sock, oack, 0):
                return
        block, offset = 1, 0
        header = struct.Struct("!HH")
        while True:
            chunk = data[offset : offset + blksize]
            packet = header.pack(DATA, block & 0xFFFF) + chunk
            if not self._exchange(sock, packet, block & 0xFFFF):
                return
            offset += blksize
            if len(chunk) < blksize:
                return
            block += 1

    def _exchange(self, sock: socket.socket, packet: bytes, block: int) -> bool:
        """Send ``packet`` until ACK ``block`` arrives; False on error/give-up."""
        for _ in range(self.retries):
            sock.send(packet)
            while True:
                try:
                    reply = sock.recv(516)
                except TimeoutError:
                    break  # resend
                except ConnectionRefusedError:
                    return False
                if len(reply) < 4:
                    continue
                op, number = struct.unpack("!HH", reply[:4])
                if op == ACK and number == block:
                    return True
                if op == ERROR:
                    return False
                # a duplicate ACK for an earlier block: ignore (no Sorcerer's Apprentice)
        return False
