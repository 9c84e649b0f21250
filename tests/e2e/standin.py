"""Stand-ins for pxehook parts that are not on this branch yet (used ONLY then).

The e2e harness asks ``features()`` which real parts exist (``pxehook gen dnsmasq``, the
resolver's ``/boot.ipxe``, the life-cycle's ``deployed`` callback) and uses these minimal
replacements for the missing ones, recording which were used in the results file (so
docs/hardware.md never claims a real part booted when a stand-in did). Each is the smallest
thing that lets the firmware/installer side of the loop run; none is a product feature.
"""

from __future__ import annotations

import secrets
import subprocess
import sys
from pathlib import Path

from flask import Blueprint, Flask, abort, current_app, request, send_from_directory

from pxehook import arch as archtable
from pxehook.config import load_settings
from pxehook.mac import normalize_mac
from pxehook.models import Observation, State
from pxehook.web import context_of
from pxehook.web import create_app as real_create_app


def features() -> dict[str, bool]:
    """Which real pxehook parts exist in this checkout."""
    gen = subprocess.run(
        [str(Path(sys.executable).parent / "pxehook"), "gen", "dnsmasq", "--help"],
        capture_output=True,
        timeout=30,
    )
    app = real_create_app(load_settings(env={}))  # defaults only: no store is opened
    rules = {r.rule for r in app.url_map.iter_rules()}
    return {
        "gen_dnsmasq": gen.returncode == 0,
        "resolver": "/boot.ipxe" in rules,
        "lifecycle": any(r.endswith("/deployed") for r in rules),
        "hook": False,
    }


# --- dnsmasq drop-in (stand-in for `pxehook gen dnsmasq`) ---------------------------------


def dnsmasq_dropin(mode: str, base_url: str, server_ip: str, net: str, tftp_root: Path) -> str:
    lines = [f"# stand-in for `pxehook gen dnsmasq --mode {mode}`", "interface=eth0"]
    lines += ["enable-tftp", f"tftp-root={tftp_root}"]
    if mode == "full":
        lines.append(f"dhcp-range={net}.100,{net}.199,255.255.255.0,1h")
    for a in archtable.TABLE:
        if a.loader() and not a.is_http and a.code in (0, 6, 7, 9, 10, 11):
            lines.append(f"dhcp-match=set:{a.dnsmasq_tag},option:client-arch,{a.code}")
    lines.append(f"dhcp-userclass=set:{archtable.IPXE_TAG},iPXE")
    if mode == "full":
        lines.append(f"dhcp-boot=tag:{archtable.IPXE_TAG},{base_url}/boot.ipxe")
        lines.append(f"dhcp-option=tag:{archtable.IPXE_TAG},encap:175,176,1b")
        for a in archtable.TABLE:
            if a.code in (0, 7, 9, 11):
                lines.append(
                    f"dhcp-boot=tag:!{archtable.IPXE_TAG},tag:{a.dnsmasq_tag},{a.loader()}"
                )
    else:
        lines.append(f"dhcp-range={net}.0,proxy,255.255.255.0")
        lines.append(f"dhcp-boot=tag:{archtable.IPXE_TAG},{base_url}/boot.ipxe,,{server_ip}")
        for a in archtable.TABLE:
            if a.code in (0, 7, 9, 11):
                lines.append(
                    f'pxe-service=tag:!{archtable.IPXE_TAG},{a.dnsmasq_csa},"{a.slug}",{a.loader()}'
                )
    lines.append(f"dhcp-vendorclass=set:{archtable.HTTPCLIENT_TAG},HTTPClient")
    lines.append(f"dhcp-option-force=tag:{archtable.HTTPCLIENT_TAG},60,HTTPClient")
    lines.append(f"dhcp-boot=tag:{archtable.HTTPCLIENT_TAG},{base_url}/no-uefi-http-boot.efi")
    return "\n".join(lines) + "\n"


#: GRUB's config over TFTP (grubnetaa64 reads $prefix/grub.cfg = /grub/grub.cfg).
GRUB_CFG = """echo "PXEHOOK-CONFIG local mac=$net_default_mac (stand-in)"
sleep 1
exit
"""

# --- resolver + callback (stand-in blueprint) ----------------------------------------------

resolver_bp = Blueprint("e2e_standin_resolver", __name__)
lifecycle_bp = Blueprint("e2e_standin_lifecycle", __name__)

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
    if host.state != State.DEPLOYING:
        return _LOCAL, 200, {"Content-Type": "text/plain"}
    token = host.meta.get("deploy_token") or secrets.token_hex(16)
    store.update_meta(host.id, {"deploy_token": token})
    callback = f"{base}/api/v1/hosts/{host.mac}/deployed"
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
    return send_from_directory(current_app.config["E2E_FILES_DIR"], name)


@lifecycle_bp.post("/api/v1/hosts/<mac>/deployed")
def deployed(mac: str):  # type: ignore[no-untyped-def]
    store, host = _host(mac)
    body = request.get_json(silent=True) or {}
    if not host.meta.get("deploy_token") or body.get("token") != host.meta["deploy_token"]:
        abort(403)
    host = store.set_state(host.id, State.DEPLOYED, source="callback", message="install done")
    store.update_meta(host.id, {"deploy_token": None})
    return {"state": str(host.state)}


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
    if "lifecycle" in parts:
        app.register_blueprint(lifecycle_bp)
    return app
