"""Boot routes: read-only, unauthenticated (firmware cannot log in), every hit recorded.

=========================================  ==============================================
``GET /boot.ipxe``                         iPXE bootstrap, chains to ``/ipxe/<mac>?…``
``GET /ipxe/<mac>``                        per-machine iPXE script (query: buildarch,
                                           platform, uuid, serial)
``GET /grub/<prefix…>/grub.cfg[-…]``       GRUB names (``-01-<mac>``, hex IP, generic);
                                           a ``<cpu>-<platform>`` path part is a claim
``GET /<prefix…>/pxelinux.cfg/<name>``     PXELINUX / U-Boot names under any prefix
``GET /<prefix…>/grub.cfg[-…]``            GRUB names outside ``/grub``
``GET /uefi/<file>``                       UEFI HTTP boot: the loader for booting hosts,
                                           404 (next boot option) for local ones
``GET /files/<file>``                      kernels/initrds/squashfs (sendfile, Range)
=========================================  ==============================================
"""

from __future__ import annotations

import functools
import os
import time

from flask import Blueprint, Flask, Request, Response, current_app, request, send_file

from pxehook import arch as archtable
from pxehook import wiring
from pxehook.boot.decide import BOOT, Facts
from pxehook.boot.loaders import parse_name
from pxehook.boot.names import clean_path, fast_mac
from pxehook.boot.resolver import Answer, Resolver
from pxehook.errors import InvalidInput, NotFound
from pxehook.web import context_of, metrics

bp = Blueprint("boot", __name__)

#: MAC spellings seen lately and their normal form (iPXE's lower-case dashed one skips
#: netaddr, which is slow for a hot path); bounded, so a flood only pushes older ones out.
mac_of = functools.lru_cache(maxsize=8192)(fast_mac)
TEXT = "text/plain; charset=utf-8"
#: What a boot config route answers: status, headers (in order, Content-Length included),
#: body. The Flask route wraps it in a Response; ``web/fastpath.py`` sends it as it is.
Reply = tuple[int, list[tuple[str, str]], bytes]


def text(body: bytes, status: int = 200, *, store: bool = True) -> Reply:
    """A plain-text answer; ``store=False`` adds ``Cache-Control: no-store``."""
    headers = [("Content-Type", TEXT), ("Content-Length", str(len(body)))]
    if not store:
        headers.append(("Cache-Control", "no-store"))
    return status, headers, body


def as_response(reply: Reply) -> Response:
    """``reply`` as a Flask response (same status, headers and body)."""
    status, headers, body = reply
    return Response(body, status=status, headers=headers)


def resolver(app: Flask | None = None) -> Resolver:
    """The per-process Resolver (created on first use, after gunicorn forked)."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    found = app.extensions.get("pxehook.resolver")
    if found is None:
        found = wiring.resolver(context_of(app))
        app.extensions["pxehook.resolver"] = found
    return found


def client_ip(req: Request | None = None) -> str:
    """The client's address; behind a local proxy (nginx front), its X-Forwarded-For."""
    req = req or request
    addr = req.remote_addr or ""
    forwarded = req.headers.get("X-Forwarded-For", "")
    if forwarded and addr in ("127.0.0.1", "::1"):
        return forwarded.split(",")[-1].strip()[:64]
    return addr


def _reply(route: str, answer: Answer, started: float) -> Reply:
    metrics.observe_request(route, answer.outcome, time.perf_counter() - started)
    if answer.render_seconds:
        metrics.observe_render(answer.render_seconds)
    if answer.status != 200:
        return text(b"not found\n", 404)
    return text(answer.body, store=False)


# The boot config answers, each ``(app, request, route arguments) -> Reply``: the Flask
# routes below and the fast path (web/fastpath.py, FAST) call the same functions.
def bootstrap_reply(app: Flask, req: Request) -> Reply:
    started = time.perf_counter()
    body = resolver(app).bootstrap("ipxe/bootstrap.ipxe.j2")
    metrics.observe_request("/boot.ipxe", "bootstrap", time.perf_counter() - started)
    return text(body)


def ipxe_reply(app: Flask, req: Request, mac: str) -> Reply:
    started = time.perf_counter()
    normal = mac_of(mac)
    args = req.args
    buildarch, platform = args.get("buildarch", ""), args.get("platform", "")
    claim = archtable.from_ipxe(buildarch, platform) if buildarch and platform else None
    facts = Facts(
        loader="ipxe",
        path=req.path,
        mac=normal,
        ip=client_ip(req),
        claim=claim,
        claim_note=f"iPXE buildarch={buildarch[:16]} platform={platform[:16]}" if claim else "",
    )
    return _reply("/ipxe/<mac>", resolver(app).resolve(facts), started)


def grub_reply(app: Flask, req: Request, rest: str) -> Reply:
    started = time.perf_counter()
    path = clean_path(rest)
    name = parse_name(path)
    if name is None or name.loader != "grub":
        raise NotFound(f"/grub/{path} is not a GRUB config name")
    answer = resolver(app).by_name("grub/" + path, name, client_ip(req), "http")
    if answer.template == "grub/bootstrap.cfg.j2":
        metrics.observe_request("/grub/<path>", "bootstrap", time.perf_counter() - started)
        return text(answer.body)
    return _reply("/grub/<path>", answer, started)


def config_reply(app: Flask, req: Request, rest: str) -> Reply:
    """``pxelinux.cfg/<name>`` and ``grub.cfg…`` under any prefix directory."""
    started = time.perf_counter()
    try:
        path = clean_path(rest)
    except InvalidInput:
        metrics.observe_request("other", "refused", 0.0)
        raise
    name = parse_name(path)
    if name is None:
        metrics.observe_request("other", "not_found", time.perf_counter() - started)
        raise NotFound(f"/{path} is not a boot config name")
    route = "/<dir>/grub.cfg" if name.loader == "grub" else "/<dir>/pxelinux.cfg/<name>"
    answer = resolver(app).by_name(path, name, client_ip(req), "http")
    if answer.template == "grub/bootstrap.cfg.j2":
        metrics.observe_request(route, "bootstrap", time.perf_counter() - started)
        return text(answer.body)
    return _reply(route, answer, started)


def _app() -> Flask:
    return current_app._get_current_object()  # type: ignore[attr-defined,no-any-return]


@bp.get("/boot.ipxe")
def bootstrap_ipxe() -> Response:
    return as_response(bootstrap_reply(_app(), request))


@bp.get("/ipxe/<mac>")
def ipxe_script(mac: str) -> Response:
    return as_response(ipxe_reply(_app(), request, mac))


@bp.get("/grub/<path:rest>")
def grub_config(rest: str) -> Response:
    return as_response(grub_reply(_app(), request, rest))


@bp.get("/uefi/<path:rest>")
def uefi_http(rest: str) -> Response:
    """UEFI HTTP boot: serve the loader only to hosts that should boot from the network."""
    started = time.perf_counter()
    path = clean_path(rest)
    facts = Facts(loader="uefi-http", path="/uefi/" + path, ip=client_ip())
    answer = resolver().resolve(facts)
    if answer.plan is None or answer.plan.action != BOOT:
        metrics.observe_request("/uefi/<path>", answer.outcome, time.perf_counter() - started)
        return Response("not booting from the network\n", status=404, mimetype="text/plain")
    settings = context_of(current_app).settings
    metrics.observe_request("/uefi/<path>", "boot", time.perf_counter() - started)
    return _send(settings.tftp_root, path)


@bp.get("/files/<path:rest>")
def files(rest: str) -> Response:
    """Large files by sendfile (gunicorn's wsgi.file_wrapper); Range requests work."""
    path = clean_path(rest)
    settings = context_of(current_app).settings
    response = _send(settings.files_dir, path)
    if request.headers.get("Range") is None or request.headers["Range"].startswith("bytes=0-"):
        resolver().record_file(client_ip(), "/files/" + path, "http", response.content_length or 0)
    metrics.observe_request("/files/<path>", "file", 0.0)
    return response


def _send(root: str, path: str) -> Response:
    base = os.path.realpath(root)
    full = os.path.realpath(os.path.join(base, path))
    if not path or not full.startswith(base + os.sep) or not os.path.isfile(full):
        raise NotFound(f"no file {path}")  # also symlinks leading out of the root
    return send_file(full, conditional=True, max_age=0)


@bp.get("/<path:rest>")
def any_config(rest: str) -> Response:
    """``pxelinux.cfg/<name>`` and ``grub.cfg…`` under any prefix directory."""
    return as_response(config_reply(_app(), request, rest))


#: Endpoint -> answer function, for the fast path (only routes answering a Reply).
FAST = {
    "boot.bootstrap_ipxe": bootstrap_reply,
    "boot.ipxe_script": ipxe_reply,
    "boot.grub_config": grub_reply,
    "boot.any_config": config_reply,
}
