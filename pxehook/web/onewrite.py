"""One ``sendall`` per small response: its head and its body together.

gunicorn writes a response's head (status line and headers) and then each body chunk, so
a boot script costs two system calls and two TCP segments, each waking the client.
``OneWriteResponse`` holds the head back until the first body chunk and sends both at
once; a body larger than ``JOIN_LIMIT`` (a kernel, a file by ``sendfile``) and a chunked
or body-less answer go out as before. ``web/worker.py`` makes gunicorn use it.
"""

from __future__ import annotations

from typing import Any

from gunicorn import util
from gunicorn.http.wsgi import Response

#: Body chunks up to this size are joined to the head (copying a larger one costs more
#: than the system call it saves).
JOIN_LIMIT = 64 * 1024


class _Capture:
    """Stands in for the socket while gunicorn writes the head: keeps the bytes."""

    __slots__ = ("data",)

    def __init__(self) -> None:
        self.data = b""

    def sendall(self, data: bytes) -> None:
        self.data += data


class OneWriteResponse(Response):  # type: ignore[misc]
    """gunicorn's HTTP/1 response, sending the head with the first body chunk."""

    _head = b""
    _joining = False

    def write(self, arg: Any) -> None:
        self._joining = (
            not self.headers_sent
            and not self.chunked
            and isinstance(arg, bytes)
            and 0 < len(arg) <= JOIN_LIMIT
        )
        try:
            super().write(arg)
        finally:
            self._joining = False
            self._flush_head()  # nothing of the body went out (HEAD, length reached)

    def send_headers(self) -> None:
        if not self._joining or self.headers_sent:
            super().send_headers()
            return
        real, capture = self.sock, _Capture()
        self.sock = capture
        try:
            super().send_headers()
        finally:
            self.sock = real
        self._head = capture.data

    def _emit_body(self, data: bytes) -> None:
        if self._head:
            data, self._head = self._head + data, b""
        super()._emit_body(data)

    def _flush_head(self) -> None:
        if self._head:
            head, self._head = self._head, b""
            util.write(self.sock, head)
