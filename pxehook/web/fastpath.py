"""The boot config routes without Flask's per-request machinery: same code, same bytes.

A ``GET`` of a boot config (``/ipxe/<mac>``, ``/boot.ipxe``, GRUB and PXELINUX names) is
most of what a boot storm asks, and Flask's request and app contexts, its second URL
adapter, response object and finalisation cost about as much CPU as pxehook's own answer.
``FastPath`` wraps the app's WSGI callable: it routes with the app's own URL map and
adapter (``Flask.create_url_adapter``), builds the app's own request class, and calls the
very function the Flask route calls (``web/boot.py``'s ``FAST``, handed over by the app
factory), sending its ``Reply``
(status, headers, body) as it is. So there is one definition of each route, header,
limit and escape, and the bytes are the Flask route's (``tests/test_web_fastpath.py``
compares both over many request shapes).

Everything else goes through Flask unchanged: other methods (``HEAD``, ``OPTIONS``), other
routes, anything the URL map redirects or refuses, and every error a boot function raises
(handled by the app's error handlers in a request context, as Flask would). The fast path
stays off while the app has any per-request hook (``before_request``, ``after_request``,
URL value processors, teardown functions, a session interface other than the default)
that Flask would run for a boot route: those would add to or change the answer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from contextvars import ContextVar
from typing import Any

from flask import Flask
from flask.sessions import SecureCookieSessionInterface
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RequestRedirect
from werkzeug.wrappers import Response

StartResponse = Callable[..., Any]
#: endpoint -> answer function ``(app, request, **route arguments) -> (status, headers,
#: body)``: ``web/boot.py``'s ``FAST``, handed over by the app factory.
Answers = Mapping[str, Callable[..., tuple[int, list[tuple[str, str]], bytes]]]
#: The app's state directory while a request is answered outside Flask's app context
#: (``web/metrics.py`` writes the worker's snapshot there).
state_dir: ContextVar[str | None] = ContextVar("pxehook_fast_state_dir", default=None)


def _status_line(code: int) -> str:
    """The status line werkzeug sends for ``code`` (its own table)."""
    return Response(status=code).status


def hooked(app: Flask) -> list[str]:
    """Per-request hooks Flask would run for a boot route (then no fast path)."""
    found = []
    for name in ("before_request_funcs", "after_request_funcs", "teardown_request_funcs",
                 "url_value_preprocessors", "url_default_functions"):  # fmt: skip
        table = getattr(app, name)
        if any(table.get(key) for key in (None, "boot")):
            found.append(name)
    if app.teardown_appcontext_funcs:
        found.append("teardown_appcontext_funcs")
    if type(app.session_interface) is not SecureCookieSessionInterface:
        found.append("session_interface")
    return found


class FastPath:
    """WSGI middleware: boot config GETs straight to their ``web/boot.py`` function."""

    def __init__(
        self, app: Flask, flask_wsgi: Callable[..., Iterable[bytes]], answers: Answers,
        state: str,
    ) -> None:  # fmt: skip
        self.app = app
        self.flask = flask_wsgi  # the app's own wsgi_app: everything else goes there
        self.answers = answers
        self.state = state
        self._status: dict[int, str] = {}
        self.enabled: bool | None = None  # decided at the first request (setup is over)

    def _decide(self) -> None:
        """At the first request, as Flask does: setup is over (``_got_first_request``:
        Flask refuses hooks added later), so the hooks seen now are all there will be."""
        self.app._got_first_request = True
        self.enabled = not hooked(self.app)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if self.enabled is None:
            self._decide()
        if not self.enabled or environ.get("REQUEST_METHOD") != "GET":
            return self.flask(environ, start_response)
        app = self.app
        req = app.request_class(environ)
        try:
            endpoint, args = app.create_url_adapter(req).match()  # type: ignore[union-attr]
        except (HTTPException, RequestRedirect):
            return self.flask(environ, start_response)  # 404, 405, redirects: Flask's own
        answer = self.answers.get(endpoint)
        if answer is None:
            return self.flask(environ, start_response)
        token = state_dir.set(self.state)
        try:
            status, headers, body = answer(app, req, **args)
        except Exception as exc:  # the app's error handlers answer, as under Flask
            return self._error(exc, environ, start_response)
        finally:
            state_dir.reset(token)
        line = self._status.get(status)
        if line is None:
            line = self._status[status] = _status_line(status)
        start_response(line, headers)
        return [body]

    def _error(
        self, exc: Exception, environ: dict[str, Any], start_response: StartResponse
    ) -> Iterable[bytes]:
        app = self.app
        ctx = app.request_context(environ)
        ctx.push()
        try:
            try:
                response = app.finalize_request(app.handle_user_exception(exc))
            except Exception as again:
                response = app.handle_exception(again)
            return response(environ, start_response)
        finally:
            ctx.pop(None)


def install(app: Flask, answers: Answers, state: str) -> None:
    """Put the fast path in front of ``app`` (it steps aside if hooks are registered)."""
    app.wsgi_app = FastPath(app, app.wsgi_app, answers, state)  # type: ignore[method-assign]
