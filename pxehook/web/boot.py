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

from flask import Blueprint, Response, current_app, request, send_file

from pxehook import arch as archtable
from pxehook import wiring
from pxehook.boot.decide import BOOT, Facts
from pxehook.boot.loaders import parse_name
from pxehook.boot.names import Name, clean_path, fast_mac
from pxehook.boot.resolver import Answer, Resolver
from pxehook.errors import InvalidInput, NotFound
from pxehook.web import context_of, metrics

bp = Blueprint("boot", __name__)

#: MAC spellings seen lately and their normal form (iPXE's lower-case dashed one skips
#: netaddr, which is slow for a hot path); bounded, so a flood only pushes older ones out.
mac_of = functools.lru_cache(maxsize=8192)(fast_mac)
TEXT = "text/plain; charset=utf-8"


def resolver() -> Resolver:
    """The per-process Resolver (created on first use, after gunicorn forked)."""
    found = current_app.extensions.get("pxehook.resolver")
    if found is None:
        found = wiring.resolver(context_of(current_app))
        current_app.extensions["pxehook.resolver"] = found
    return found


def client_ip() -> str:
    """The client's address; behind a local proxy (nginx front), its X-Forwarded-For."""
    addr = request.remote_addr or ""
    forwarded = request.headers.get("X-Forwarded-For", "")
    if forwarded and addr in ("127.0.0.1", "::1"):
        return forwarded.split(",")[-1].strip()[:64]
    return addr


def _reply(route: str, answer: Answer, started: float) -> Response:
    metrics.observe_request(route, answer.outcome, time.perf_counter() - started)
    if answer.render_seconds:
        metrics.observe_render(answer.render_seconds)
    if answer.status != 200:
        return Response("not found\n", status=404, mimetype="text/plain")
    response = Response(answer.body, mimetype="text/plain")
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/boot.ipxe")
def bootstrap_ipxe() -> Response:
    started = time.perf_counter()
    body = resolver().bootstrap("ipxe/bootstrap.ipxe.j2")
    metrics.observe_request("/boot.ipxe", "bootstrap", time.perf_counter() - started)
    return Response(body, mimetype="text/plain")


@bp.get("/ipxe/<mac>")
def ipxe_script(mac: str) -> Response:
    started = time.perf_counter()
    normal = mac_of(mac)
    args = request.args
    buildarch, platform = args.get("buildarch", ""), args.get("platform", "")
    claim = archtable.from_ipxe(buildarch, platform) if buildarch and platform else None
    facts = Facts(
        loader="ipxe",
        path=request.path,
        mac=normal,
        ip=client_ip(),
        claim=claim,
        claim_note=f"iPXE buildarch={buildarch[:16]} platform={platform[:16]}" if claim else "",
    )
    return _reply("/ipxe/<mac>", resolver().resolve(facts), started)


def config_by_name(path: str, name: Name | None) -> Answer:
    return resolver().by_name(path, name, client_ip(), "http")


@bp.get("/grub/<path:rest>")
def grub_config(rest: str) -> Response:
    started = time.perf_counter()
    path = clean_path(rest)
    name = parse_name(path)
    if name is None or name.loader != "grub":
        raise NotFound(f"/grub/{path} is not a GRUB config name")
    answer = config_by_name("grub/" + path, name)
    if answer.template == "grub/bootstrap.cfg.j2":
        metrics.observe_request("/grub/<path>", "bootstrap", time.perf_counter() - started)
        return Response(answer.body, mimetype="text/plain")
    return _reply("/grub/<path>", answer, started)


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
    answer = config_by_name(path, name)
    if answer.template == "grub/bootstrap.cfg.j2":
        metrics.observe_request(route, "bootstrap", time.perf_counter() - started)
        return Response(answer.body, mimetype="text/plain")
    return _reply(route, answer, started)
