"""pxehook's TFTP server: static loaders from ``tftp_root``, config names from the resolver,
and ``files/<rest>`` from ``files_dir`` (what ``/files/`` serves over HTTP, for GRUB builds
without an HTTP client).

RFC 1350 read requests (WRQ is refused) with the options of ``packets.py``. Block numbers
roll over after 65535 (to 0, as tftp-hpa, atftp and iPXE expect). Missing files, names that
mean nothing and refused paths get an ERROR packet at once, never a time-out.

One dispatcher thread owns the well-known port and every transfer still waiting for its
first acknowledgement (a selector, no thread each): it admits requests within the bounds
of ``admission.py``, sends each first packet once (again only when the client repeats its
request: one packet out per request in, never a large block to an address that has not
answered) and forgets it after the time-out. A client that acknowledges gets a worker
thread (at most ``max_transfers``) for the lock-step rest of the transfer. Config names are
looked up by a few lookup threads (``lookup_workers``: as many as the database pool lends),
so a slow database never stalls the port. A fault in one transfer ends that transfer; the
server records its own health (``healthy``/``error``).
"""

from __future__ import annotations

import contextlib
import functools
import heapq
import itertools
import logging
import queue
import selectors
import socket
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from pxehook.boot.loaders import parse_name
from pxehook.boot.names import clean_path, files_name
from pxehook.errors import InvalidInput, StoreError
from pxehook.tftp.admission import Admission, Verdict
from pxehook.tftp.packets import (
    EACCESS,
    EBADOP,
    ENOTFOUND,
    ERROR,
    EUNDEF,
    RETRIES,
    RRQ,
    WRQ,
    error_packet,
    negotiate,
    opcode,
    parse_ack,
    parse_request,
)
from pxehook.tftp.port import bind_port, ensure_open_files
from pxehook.tftp.source import BytesSource, FileSource, Root, Source, SourceChanged
from pxehook.tftp.transfer import Transfer, send_rest

log = logging.getLogger("pxehook.tftp")

#: Looks up a config name: (path, client_ip) -> bytes, or None when it is not a config name;
#: raises FileNotFoundError for a config name with no answer (a clean ERROR packet).
ConfigLookup = Callable[[str, str], bytes | None]
FileHook = Callable[[str, str, int], None]
#: Called once with each ended transfer (the access log)
DoneHook = Callable[[Transfer], None]

#: transfers that may wait for their first acknowledgement, per active one allowed
WAITING_PER_ACTIVE = 8
#: the longest a worker waits for the interpreter lock while the dispatcher runs (seconds)
SWITCH_INTERVAL = 0.0005
#: requests read in a row before acknowledgements are looked at again
REQUEST_BATCH = 32
#: a repeated request re-sends the first packet at most this often (seconds)
RESEND_INTERVAL = 0.25
#: how often a summary of refused requests is logged at most (seconds)
REPORT_INTERVAL = 10.0


class TftpServer:
    """Serves ``root`` plus dynamic config names on ``(bind, port)`` from ``start()`` to
    ``stop()``."""

    def __init__(
        self,
        root: str,
        bind: str,
        port: int,
        lookup: ConfigLookup,
        *,
        on_file: FileHook | None = None,
        on_done: DoneHook | None = None,
        files_dir: str = "",
        max_transfers: int = 128,
        max_per_client: int = 8,
        lookup_workers: int = 8,
    ) -> None:
        self.files = Root(root)
        self.root = self.files.path
        self.shared = Root(files_dir) if files_dir else None  # served under files/
        self.bind, self.port = bind, port
        self.lookup = lookup
        self.on_file = on_file
        self.on_done = on_done
        self.max_transfers = max_transfers
        self.lookup_workers = lookup_workers
        self.admission: Admission[Transfer] = Admission(
            max_transfers, WAITING_PER_ACTIVE * max_transfers, max_per_client
        )
        self.address: tuple[str, int] = (bind, port)
        self.error = ""  # why the server is not serving; "" while healthy
        self._running = False
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._posted: queue.SimpleQueue[Transfer] = queue.SimpleQueue()
        self._timers: list[tuple[float, int, Transfer]] = []
        self._seq = itertools.count()
        self._reported = (0.0, 0)

    # life ------------------------------------------------------------------------------------
    @property
    def healthy(self) -> bool:
        """True while the dispatcher serves requests."""
        return self._running and not self.error

    def start(self) -> TftpServer:
        """Bind and serve in the background; ConfigError (one line) when the port is taken."""
        ensure_open_files(2 * (self.admission.max_active + self.admission.max_waiting) + 64)
        # each block of a transfer needs the GIL once; while the dispatcher is busy (a
        # flood), the default 5 ms hand-over would be added to every block
        sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL))
        self.sock = bind_port(self.bind, self.port)
        self.address = self.sock.getsockname()
        self._wake_r, self._wake_w = socket.socketpair()
        for end in (self.sock, self._wake_r, self._wake_w):
            end.setblocking(False)
        self._selector = selectors.DefaultSelector()
        self._selector.register(self.sock, selectors.EVENT_READ, self._on_requests)
        self._selector.register(self._wake_r, selectors.EVENT_READ, self._on_posted)
        self._workers = ThreadPoolExecutor(self.max_transfers, thread_name_prefix="tftp-xfer")
        self._lookups = ThreadPoolExecutor(self.lookup_workers, thread_name_prefix="tftp-lookup")
        self._running, self.error = True, ""
        self._thread = threading.Thread(target=self._dispatch, name="tftp", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is None:
            return
        self._wake()
        self._thread.join(timeout=5)
        for transfer in self.admission.items():
            transfer.end()
        self._lookups.shutdown(wait=True, cancel_futures=True)
        self._workers.shutdown(wait=True, cancel_futures=True)
        self._selector.close()
        for end in (self.sock, self._wake_r, self._wake_w):
            end.close()
        self._running, self._thread = False, None

    def _dispatch(self) -> None:
        try:
            while not self._stopping.is_set():
                ready = self._selector.select(self._next_timer())
                # acknowledgements first: a client that answered must not be displaced by
                # requests that arrived meanwhile
                ready.sort(key=lambda event: event[0].fileobj is self.sock)
                for key, _ in ready:
                    key.data(key.fileobj)
                self._expire()
        except Exception as exc:  # the port is gone or a bug: say so, never take others down
            log.exception("tftp: the server stopped")
            self.error = f"tftp stopped: {exc}"
        finally:
            self._running = False

    def _wake(self) -> None:
        with contextlib.suppress(OSError):  # buffer full: a wake-up is already pending
            self._wake_w.send(b"\0")

    # the well-known port ---------------------------------------------------------------------
    def _on_requests(self, sock: socket.socket) -> None:
        for _ in range(REQUEST_BATCH):  # then acknowledgements and timers have their turn
            try:
                packet, peer = sock.recvfrom(2048)
            except (BlockingIOError, InterruptedError):
                return
            except ConnectionRefusedError:  # an ICMP error for an earlier reply
                continue
            try:
                self._request(packet, peer)
            except Exception:  # one bad packet is logged and skipped, never fatal
                log.exception("tftp %s: request failed", peer[0])

    def _request(self, packet: bytes, peer: tuple[str, int]) -> None:
        op = opcode(packet)
        if op not in (RRQ, WRQ):
            return  # not a request: no reply (no reflection loops between servers)
        existing = self.admission.get(peer)
        if existing is not None:
            self._resend_first(existing)
            return
        if op == WRQ:
            self._reply(peer, EBADOP, "only read requests are served")
            return
        try:
            req = parse_request(packet)
            path = clean_path(req.filename.lstrip("/"))
        except InvalidInput as exc:
            self._reply(peer, EACCESS, str(exc))
            return
        if req.mode not in ("octet", "netascii"):
            self._reply(peer, EBADOP, f"mode {req.mode} not supported")
            return
        transfer = Transfer(peer, req, path, dynamic=parse_name(path) is not None)
        verdict, displaced = self.admission.admit(peer, transfer)
        if displaced is not None:
            self._end(displaced)
        if verdict is not Verdict.ADMITTED:
            self._report_refused()
            return
        transfer.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            transfer.sock.bind((self.address[0], 0))
            transfer.sock.connect(peer)
        except OSError as exc:  # e.g. a broadcast source address
            log.debug("tftp %s: %s", peer[0], exc)
            self._end(transfer)
            return
        if transfer.dynamic:  # a config name: the database answers, in a worker
            self._lookups.submit(self._prepare, transfer, posted=True)
        else:
            self._prepare(transfer, posted=False)  # a file: opened here

    def _reply(self, peer: tuple[str, int], code: int, message: str) -> None:
        try:
            self.sock.sendto(error_packet(code, message), peer)
        except OSError as exc:
            log.debug("tftp %s: %s", peer[0], exc)

    def _report_refused(self) -> None:
        last, count = self._reported
        now = time.monotonic()
        if now - last >= REPORT_INTERVAL:
            refused = self.admission.refused
            log.warning(
                "tftp: %d requests refused (tftp_max_transfers %d, tftp_max_per_client %d)",
                refused - count,
                self.max_transfers,
                self.admission.per_client,
            )
            self._reported = (now, refused)

    # before the first acknowledgement ---------------------------------------------------------
    def _prepare(self, transfer: Transfer, *, posted: bool) -> None:
        """Find what ``transfer`` sends and fix its first packet (dispatcher or worker)."""
        try:
            source = self._open(transfer.path, transfer.client_ip)
            if source is None:
                self._fail(transfer, ENOTFOUND, "file not found")
                return
            transfer.source = source
            transfer.prepare(source, negotiate(transfer.request.options, source.size))
        except StoreError as exc:
            log.warning("tftp %s: %s: %s", transfer.client_ip, transfer.path, exc)
            self._fail(transfer, EUNDEF, "server busy (database unavailable), try again")
            return
        except (OSError, SourceChanged) as exc:
            log.warning("tftp %s: %s: %s", transfer.client_ip, transfer.path, exc)
            self._fail(transfer, ENOTFOUND, "file not available")
            return
        except Exception:
            log.exception("tftp %s: %s: lookup failed", transfer.client_ip, transfer.path)
            self._fail(transfer, EUNDEF, "server error")
            return
        if posted:
            self._posted.put(transfer)
            self._wake()
        else:
            self._arm(transfer)

    def _open(self, path: str, client_ip: str) -> Source | None:
        try:
            body = self.lookup(path, client_ip)
        except FileNotFoundError:
            return None
        if body is not None:
            return BytesSource(body)
        full = self._resolve(path)
        return None if full is None else FileSource(full)

    def _resolve(self, path: str) -> str | None:
        """The file a static path names: ``files/<rest>`` in ``files_dir``, else in the root."""
        shared = files_name(path)
        if shared is not None and self.shared is not None:
            return self.shared.resolve(shared)
        return self.files.resolve(path)

    def _on_posted(self, wake: socket.socket) -> None:
        try:
            while wake.recv(4096):
                pass
        except BlockingIOError:
            pass
        while True:
            try:
                self._arm(self._posted.get_nowait())
            except queue.Empty:
                return

    def _arm(self, transfer: Transfer) -> None:
        """Send the first packet and wait (in the selector) for its acknowledgement."""
        if transfer.ended:
            return
        assert transfer.sock is not None
        transfer.sock.setblocking(False)
        transfer.sent_at = transfer.answered_at = time.monotonic()
        transfer.deadline = transfer.sent_at + transfer.terms.timeout * RETRIES
        try:
            transfer.send(transfer.first)
        except OSError:
            self._end(transfer)
            return
        self._selector.register(
            transfer.sock, selectors.EVENT_READ, functools.partial(self._on_first_ack, transfer)
        )
        transfer.waiting = True
        self.admission.sent(transfer.peer)
        heapq.heappush(self._timers, (transfer.deadline, next(self._seq), transfer))

    def _resend_first(self, transfer: Transfer) -> None:
        """The client repeated its request: its first packet was lost (or it is a flood:
        at most one packet per request, and not more often than RESEND_INTERVAL)."""
        now = time.monotonic()
        if not transfer.waiting or now - transfer.sent_at < RESEND_INTERVAL:
            return
        try:
            transfer.send(transfer.first)
            transfer.sent_at = now
        except OSError:
            pass

    def _on_first_ack(self, transfer: Transfer, sock: socket.socket) -> None:
        while not transfer.ended:  # (displaced earlier in this round)
            try:
                reply = sock.recv(516)
            except BlockingIOError:
                return
            except OSError:  # port unreachable: nobody asked from there
                self._end(transfer)
                return
            got = parse_ack(reply)
            if got is None:
                continue
            if got[0] == ERROR:
                self._end(transfer)
                return
            if got[1] == transfer.first_block:
                self._confirm(transfer)
                return

    def _confirm(self, transfer: Transfer) -> None:
        """The client answered from its address: the rest of the transfer gets a worker."""
        self._unwatch(transfer)
        self.admission.confirm(transfer.peer)
        self._workers.submit(self._run, transfer)

    def _unwatch(self, transfer: Transfer) -> None:
        if transfer.waiting:
            transfer.waiting = False
            assert transfer.sock is not None
            self._selector.unregister(transfer.sock)

    def _next_timer(self) -> float:
        if not self._timers:
            return 1.0
        return max(0.0, min(1.0, self._timers[0][0] - time.monotonic()))

    def _expire(self) -> None:
        now = time.monotonic()
        while self._timers and self._timers[0][0] <= now:
            _, _, transfer = heapq.heappop(self._timers)
            if transfer.waiting:
                self._end(transfer)
        if len(self._timers) > 2 * self.admission.max_waiting:  # drop displaced ones' entries
            self._timers = [t for t in self._timers if t[2].waiting]
            heapq.heapify(self._timers)

    # after it ---------------------------------------------------------------------------------
    def _run(self, transfer: Transfer) -> None:
        """The lock-step rest of a confirmed transfer (a worker thread)."""
        complete = False
        try:
            complete = send_rest(transfer)
        except SourceChanged:
            log.warning(
                "tftp %s: %s changed during the transfer: aborted",
                transfer.client_ip,
                transfer.path,
            )
            self._fail(transfer, EUNDEF, "file changed during transfer, try again")
        except OSError as exc:
            log.warning("tftp %s: %s: %s", transfer.client_ip, transfer.path, exc)
        except Exception:
            log.exception("tftp %s: %s: transfer failed", transfer.client_ip, transfer.path)
            self._fail(transfer, EUNDEF, "server error")
        finally:
            if complete:
                transfer.outcome = "complete"
            self._end(transfer)
        if complete and self.on_file is not None and not transfer.dynamic:
            assert transfer.source is not None
            self.on_file(transfer.client_ip, transfer.path, transfer.source.size)

    def _fail(self, transfer: Transfer, code: int, message: str) -> None:
        """Tell the client why (one ERROR packet) and end the transfer."""
        if transfer.sock is not None and not transfer.ended:
            transfer.outcome = f"error:{code}"
            transfer.answered_at = transfer.answered_at or time.monotonic()
            with contextlib.suppress(OSError):
                transfer.send(error_packet(code, message))
        self._end(transfer)

    def _end(self, transfer: Transfer) -> None:
        """End ``transfer`` and free its slot (the selector part only in the dispatcher)."""
        if transfer.waiting:
            self._unwatch(transfer)
        ended_now = transfer.end()
        self.admission.release(transfer.peer, transfer)
        if ended_now and self.on_done is not None:
            try:
                self.on_done(transfer)
            except Exception:  # a full disk under the access log never stops a transfer
                log.exception("tftp: access log")
