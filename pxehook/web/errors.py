"""One place that turns errors into JSON responses with a stable shape.

Shape: ``{"error": {"code": "<machine code>", "message": "<one line>", "status": <int>}}``.
"""

from __future__ import annotations

import logging

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

from pxehook.errors import PxehookError, RateLimited

log = logging.getLogger("pxehook.web")


def error_body(status: int, code: str, message: str):  # type: ignore[no-untyped-def]
    response = jsonify({"error": {"code": code, "message": message, "status": status}})
    response.status_code = status
    return response


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(PxehookError)
    def _pxehook_error(exc: PxehookError):  # type: ignore[no-untyped-def]
        if exc.http_status >= 500:
            log.error("%s", exc)
        response = error_body(exc.http_status, exc.code, str(exc))
        if isinstance(exc, RateLimited):
            response.headers["Retry-After"] = str(exc.retry_after)
        return response

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):  # type: ignore[no-untyped-def]
        code = (exc.name or "error").lower().replace(" ", "_")
        return error_body(exc.code or 500, code, exc.description or exc.name)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):  # type: ignore[no-untyped-def]
        log.exception("unhandled error")
        return error_body(500, "internal_error", "internal error (see the server log)")
