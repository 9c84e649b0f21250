"""The gunicorn worker ``pxehook serve`` runs: gthread, bounded per client.

gunicorn's sync worker gives each connection the whole process until it closes, so two
idle sockets stalled every boot for ~30 s. The threaded worker keeps idle connections in
its poller at the cost of a file descriptor; what it still lets one client do is hold
every thread (slow request heads, "slowloris") or every connection slot. This worker adds
what bounds that, per worker process:

* a connection enters a thread only once it has sent something; an idle one is closed
  after ``http_keepalive`` seconds;
* one client address holds at most half the threads; its further readable connections
  wait in the poller (no thread) until one of its own finishes;
* a request head not complete ``http_request_timeout`` seconds after the thread took it is
  cut (the socket is shut down, the thread returns), and every later read or write of the
  request waits at most that long;
* one client address keeps at most ``http_client_connections`` connections open; more are
  closed at once, and at the worker's connection limit the longest-idle connection makes
  room instead of the worker no longer accepting.

Each small response leaves in one write, its head with its body (``web/onewrite.py``).

Run by gunicorn as ``--worker-class pxehook.web.worker.BoundedThreadWorker``.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections import Counter, deque
from datetime import datetime
from functools import partial
from selectors import EVENT_READ
from typing import Any

from gunicorn import util
from gunicorn.http import wsgi
from gunicorn.workers.gthread import TConn, ThreadWorker

from pxehook import children, counters
from pxehook.config import load_settings
from pxehook.web.onewrite import OneWriteResponse


class ClientConn(TConn):
    """A connection that knows its client address and releases its slot once on close."""

    def __init__(self, cfg: Any, sock: socket.socket, client: Any, server: Any, on_close) -> None:  # type: ignore[no-untyped-def]
        super().__init__(cfg, sock, client, server)
        self.address = client[0] if isinstance(client, tuple) else str(client)
        self.head_deadline = 0.0  # set while a thread waits for the request head
        self.head_done = False
        self.parked_at = 0.0
        self._on_close = on_close
        self._closed = False

    def close(self, graceful: bool = False) -> None:
        if not self._closed:
            self._closed = True
            self._on_close(self)
        super().close(graceful)


class BoundedThreadWorker(ThreadWorker):
    """gthread with per-client bounds on threads and connections (see the module doc)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        settings = load_settings()
        self.request_timeout = float(settings.http_request_timeout)
        self.client_connections = int(settings.http_client_connections)
        self.client_threads = max(1, self.cfg.threads // 2)
        self.open_by_client: Counter[str] = Counter()
        self.busy_by_client: Counter[str] = Counter()
        self.parked: dict[str, deque[ClientConn]] = {}
        self.in_threads: set[ClientConn] = set()

    def init_process(self) -> None:
        children.die_with_parent(self.ppid)
        super().init_process()

    # connections ------------------------------------------------------------------------
    def accept(self, listener: socket.socket) -> None:
        try:
            sock, addr = listener.accept()
        except BlockingIOError:
            return
        except OSError:
            return
        conn = ClientConn(self.cfg, sock, addr, listener.getsockname(), self._closed)
        if self.open_by_client[conn.address] >= self.client_connections:
            counters.count("http_connection_refused")
            conn._closed = True  # never counted
            conn.close()
            return
        self.open_by_client[conn.address] += 1
        self.nr_conns += 1
        if self.nr_conns >= self.worker_connections:
            self._make_room()
        conn.timeout = time.monotonic() + self.cfg.keepalive
        self.pending_conns.append(conn)
        self.poller.register(sock, EVENT_READ, partial(self.on_pending_socket_readable, conn))

    def _closed(self, conn: ClientConn) -> None:
        self.open_by_client[conn.address] -= 1
        if self.open_by_client[conn.address] <= 0:
            del self.open_by_client[conn.address]

    def _make_room(self) -> None:
        """At the connection limit: close the connection idle longest (never a busy one)."""
        for idle in (self.pending_conns, self.keepalived_conns):
            if idle:
                conn = idle.popleft()
                self._forget(conn)
                return

    def _forget(self, conn: TConn) -> None:
        with contextlib.suppress(OSError, KeyError, ValueError):
            self.poller.unregister(conn.sock)
        self.nr_conns -= 1
        conn.close()

    # threads ----------------------------------------------------------------------------
    def enqueue_req(self, conn: ClientConn) -> None:  # type: ignore[override]
        if self.busy_by_client[conn.address] >= self.client_threads:
            conn.parked_at = time.monotonic()
            self.parked.setdefault(conn.address, deque()).append(conn)
            return
        self.busy_by_client[conn.address] += 1
        conn.head_done = False
        conn.head_deadline = time.monotonic() + self.request_timeout
        self.in_threads.add(conn)
        super().enqueue_req(conn)

    def finish_request(self, conn: ClientConn, fs: Any) -> None:  # type: ignore[override]
        self.in_threads.discard(conn)
        self.busy_by_client[conn.address] -= 1
        if self.busy_by_client[conn.address] <= 0:
            del self.busy_by_client[conn.address]
        super().finish_request(conn, fs)
        waiting = self.parked.get(conn.address)
        if waiting:
            self.enqueue_req(waiting.popleft())
            if not waiting:
                self.parked.pop(conn.address, None)

    def handle_request(self, req: Any, conn: ClientConn) -> bool:  # type: ignore[override]
        """gunicorn 27's ``ThreadWorker.handle_request`` with two changes: each read and
        write of the request is bounded, and the response is ``OneWriteResponse``."""
        conn.head_done = True
        conn.sock.settimeout(self.request_timeout)  # each body read / reply write, bounded
        environ: dict[str, Any] = {}
        resp = None
        try:
            self.cfg.pre_request(self, req)
            request_start = datetime.now()
            resp, environ = wsgi.create(
                req, conn.sock, conn.client, conn.server, self.cfg,
                response_class=OneWriteResponse,
            )  # fmt: skip
            environ["wsgi.multithread"] = True
            self.nr += 1
            if self.nr >= self.max_requests:
                if self.alive:
                    self.log.info("Autorestarting worker after current request.")
                    self.alive = False
                resp.force_close()
            full = len(self.keepalived_conns) >= self.max_keepalived
            if not self.alive or not self.cfg.keepalive or full:
                resp.force_close()
            respiter = self.wsgi(environ, resp.start_response)
            try:
                if isinstance(respiter, environ["wsgi.file_wrapper"]):
                    resp.write_file(respiter)
                else:
                    for item in respiter:
                        resp.write(item)
                resp.close()
            finally:
                self.log.access(resp, req, environ, datetime.now() - request_start)
                if hasattr(respiter, "close"):
                    respiter.close()
            if resp.should_close():
                return False
        except OSError:
            raise
        except (Exception, SystemExit):
            if resp and resp.headers_sent:  # a 500 now would corrupt the started reply
                self.log.exception("Error handling request")
                util.close_graceful(conn.sock)
                raise StopIteration() from None
            raise
        finally:
            try:
                self.cfg.post_request(self, req, environ, resp)
            except Exception:
                self.log.exception("Exception in post_request hook")
        return True

    # deadlines (the main loop calls murder_pending about once a second) ------------------
    def murder_pending(self) -> None:
        super().murder_pending()
        now = time.monotonic()
        for conn in list(self.in_threads):
            if not conn.head_done and now > conn.head_deadline:
                conn.head_deadline = float("inf")  # cut once
                with contextlib.suppress(OSError):  # the thread's read returns at once
                    conn.sock.shutdown(socket.SHUT_RDWR)
        for address, waiting in list(self.parked.items()):
            while waiting and now - waiting[0].parked_at > self.request_timeout:
                self._forget(waiting.popleft())
            if not waiting:
                del self.parked[address]
