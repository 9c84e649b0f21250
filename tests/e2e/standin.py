"""Stand-ins for pxehook parts that are not on this branch yet (used ONLY then).

The e2e harness asks ``features()`` which real parts exist (``pxehook gen dnsmasq``, the
DHCP hook, the resolver's ``/boot.ipxe``, the life-cycle's ``deployed`` callback). Only the
resolver has a stand-in here (a per-MAC iPXE script built from the life-cycle's own
``extension.boot_vars``); it is used only while the resolver is missing, and the results
file records it, so docs/hardware.md never claims a real part booted when a stand-in did.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from flask import Blueprint, Flask, abort, current_app, request, send_from_directory

from pxehook import extension
from pxehook.config import load_settings
from pxehook.mac import normalize_mac
from pxehook.models import Observation, State
from pxehook.web import context_of
from pxehook.web import create_app as real_create_app


def features() -> dict[str, bool]:
    """Which real pxehook parts exist in this checkout."""
    pxehook = str(Path(sys.executable).parent / "pxehook")
    app = real_create_app(load_settings(env={}))  # defaults only: no store is opened
    rules = {r.rule for r in app.url_map.iter_rules()}
    return {
        "gen_dnsmasq": _ok([pxehook, "gen", "dnsmasq", "--help"]),
        "resolver": "/boot.ipxe" in rules,
        "lifecycle": any(r.endswith("/deployed") for r in rules),
        "hook": _ok([pxehook, "hook", "build", "--help"]),
    }


def _ok(argv: list[str]) -> bool:
    return subprocess.run(argv, capture_output=True, timeout=30).returncode == 0


#: GRUB's config over TFTP (grubnetaa64 reads $prefix/grub.cfg = /grub/grub.cfg).
GRUB_CFG = """echo "PXEHOOK-CONFIG local mac=$net_default_mac (stand-in)"
sleep 1
exit
"""

# --- resolver + callback (stand-in blueprint) ----------------------------------------------

resolver_bp = Blueprint("e2e_standin_resolver", __name__)

_LOCAL = """#!ipxe
echo PXEHOOK-CONFIG local mac=${net0/mac} platform=${platform}
iseq ${platform} efi && exit 1 || exit 0
"""


def _host(mac: str):  # type: ignore[no-untyped-def]
    store = context_of(current_app).store()
    host = store.host_get(normalize_mac(mac))
    if host is None:
        abort(404)
    return store, host


@resolver_bp.get("/boot.ipxe")
def boot_ipxe():  # type: ignore[no-untyped-def]
    if "mac" not in request.args:
        base = current_app.config["E2E_BASE_URL"]
        return (
            f"#!ipxe\nchain {base}/boot.ipxe?mac=${{net0/mac}}\n",
            200,
            {"Content-Type": "text/plain"},
        )
    store, host = _host(request.args["mac"])
    files = current_app.config["E2E_FILES_URL"]
    base = current_app.config["E2E_BASE_URL"]
    host, _ = store.observe(Observation(host.mac, "standin", ip=request.remote_addr or ""))
    store.event_add(host.id, "boot.config", "standin", "boot.ipxe", {"state": str(host.state)})
    ctx = context_of(current_app)
    host = extension.before_decide(ctx, host)
    lifecycle_vars = extension.boot_vars(ctx, host)
    if host.state != State.DEPLOYING or not lifecycle_vars:
        return _LOCAL, 200, {"Content-Type": "text/plain"}
    callback = lifecycle_vars["callback_url"]
    token = lifecycle_vars["deploy_token"]
    return (
        "#!ipxe\n"
        f"echo PXEHOOK-CONFIG install mac=${{net0/mac}}\n"
        f"kernel {files}/vmlinuz initrd=installer.img console=ttyS0 quiet "
        f"pxehook.callback={callback} pxehook.token={token}\n"
        f"initrd --name installer.img {files}/installer.img\n"
        "boot\n",
        200,
        {"Content-Type": "text/plain"},
    )


@resolver_bp.get("/files/<path:name>")
def files(name: str):  # type: ignore[no-untyped-def]
    ip = request.remote_addr or ""
    store = context_of(current_app).store()
    host = store.host_by_ip(ip)
    if host is not None and name == "vmlinuz":
        store.event_add(host.id, "boot.kernel", "standin", name)
        extension.on_boot_event(context_of(current_app), host, "boot.kernel", {"file": name})
    return send_from_directory(current_app.config["E2E_FILES_DIR"], name)


def create_app() -> Flask:
    """pxehook's real app plus the stand-in routes the checkout lacks."""
    import os

    app = real_create_app()
    app.config["E2E_FILES_DIR"] = os.environ["E2E_FILES_DIR"]
    app.config["E2E_FILES_URL"] = os.environ["E2E_FILES_URL"]
    app.config["E2E_BASE_URL"] = os.environ["E2E_BASE_URL"]
    parts = os.environ.get("E2E_STANDIN", "").split(",")
    if "resolver" in parts:
        app.register_blueprint(resolver_bp)

    return app
