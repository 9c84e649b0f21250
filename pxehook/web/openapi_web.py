"""The routes outside ``/api/v1`` in the OpenAPI document: boot, health, metrics, page.

Firmware, not people, calls the boot routes, and they answer text, not JSON; they are in
the document so that one fuzz run (tests/test_fuzz_http.py) covers every route the server
has. ``web/openapi.py`` merges these paths into the document.
"""

from __future__ import annotations

from typing import Any

_TEXT = {"text/plain": {"schema": {"type": "string"}}}
_BAD = {"description": "Malformed path, MAC or query", "content": _TEXT}
_NOT_FOUND = {"description": "Nothing to boot here (ignored host, not a config name)"}


def _get(summary: str, ok: str = "The script / file", *, extra: dict | None = None,
         params: list[dict[str, Any]] | None = None) -> dict[str, Any]:  # fmt: skip
    responses: dict[str, Any] = {"200": {"description": ok, "content": _TEXT}}
    responses.update(extra if extra is not None else {"400": _BAD, "404": _NOT_FOUND})
    op: dict[str, Any] = {"summary": summary, "security": [], "responses": responses}
    if params:
        op["parameters"] = params
    return {"get": op}


def _path(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "description": description,
            "schema": {"type": "string"}}  # fmt: skip


def _query(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": {"type": "string"}}  # fmt: skip


def paths() -> dict[str, Any]:
    """Boot routes (docs/resolver.md), /healthz, /metrics and the web page."""
    rest = _path("rest", "A path below the prefix (may hold '/')")
    ipxe = [_path("mac", "The machine's MAC, any common spelling")] + [
        _query(q, f"iPXE's ${{{q}}}") for q in ("buildarch", "platform", "uuid", "serial")
    ]
    health = {
        "200": {"description": "All parts running"},
        "503": {"description": "Unhealthy: `problems` names each part that is not"},
    }
    return {
        "/boot.ipxe": _get("iPXE bootstrap: chains to /ipxe/<mac>", extra={}),
        "/ipxe/{mac}": _get("Per-machine iPXE script", params=ipxe),
        "/grub/{rest}": _get("GRUB config names (grub.cfg-01-<mac>, hex IP, generic)",
                             params=[rest]),
        "/uefi/{rest}": _get("UEFI HTTP boot: the loader, for hosts that boot the network",
                             "The loader", params=[rest]),
        "/files/{rest}": _get("Kernels, initrds, squashfs (Range requests work)", "The file",
                              params=[rest]),
        "/{rest}": _get("pxelinux.cfg/<name> and grub.cfg names under any prefix",
                        params=[rest]),
        "/healthz": {"get": {"summary": "Health of the store and every background service",
                             "security": [], "responses": health}},
        "/metrics": _get("Prometheus metrics", "Text exposition format 0.0.4", extra={}),
        "/ui": _get("The web page (redirects to /ui/)", "", extra={
            "308": {"description": "Redirect to /ui/"}}),
        "/ui/": _get("The web page", "index.html", extra={}),
        "/ui/{name}": _get("The web page's assets", "An asset",
                           params=[_path("name", "index.html, app.js or style.css")],
                           extra={"404": _NOT_FOUND}),
    }  # fmt: skip
