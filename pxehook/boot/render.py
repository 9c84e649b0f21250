"""Turn a BootPlan into the bytes a bootloader reads (iPXE, GRUB, PXELINUX/U-Boot).

Profile fields (kernel/initrd/cmdline) are Jinja expressions over ``files_url``,
``hostname``, profile/group/host vars and the life-cycle's ``boot_vars``; they render with
StrictUndefined, and untrusted identity fields are reduced before they get there. The
loader templates live in the folder each loader's record names (``boot/loaders.py``:
``templates/ipxe``, ``templates/grub``, ``templates/pxelinux``); a site directory (setting
``site_templates``) overrides any of them by name.
"""

from __future__ import annotations

import posixpath
import re
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import jinja2
from jinja2 import nodes

from pxehook import arch as archtable
from pxehook import templating as jinja_render
from pxehook.boot import escape, loaders
from pxehook.boot.decide import BOOT, LOCAL, BootPlan, kernel_cpu
from pxehook.boot.names import FILES_DIR
from pxehook.errors import ConfigError
from pxehook.mac import mac_bare
from pxehook.models import Host, Profile

CONTENT_TYPE = "text/plain; charset=utf-8"
_SAFE_BASE = re.compile(r"^[A-Za-z0-9.:/_\[\]-]+$")


@dataclass(frozen=True)
class Rendered:
    """A rendered config and the template it came from."""

    body: bytes
    template: str


def environment(site_dir: str) -> jinja2.Environment:
    """The strict Jinja environment with the escape filters registered, its templates
    compiled once (the resolver follows edits: ``Resolver.refresh``)."""
    env = jinja_render.environment(site_dir, reload=False)
    if "ipxe_word" not in env.filters:
        escape.register(env)
    return env


def files_url(settings: Mapping[str, Any]) -> str:
    """``files_url`` setting, else the resolver's base URL + ``/files``."""
    explicit = str(settings.get("files_url") or "").rstrip("/")
    return explicit or settings.base_url + "/files"  # type: ignore[attr-defined]


def grub_tftp_device(settings: Mapping[str, Any]) -> str:
    """``(tftp,SERVER[:PORT])``: pxehook's TFTP server as GRUB names it (``server_ip``, the
    next-server DHCP hands out; else the host of the base URL)."""
    host = settings.get("server_ip") or urlsplit(settings.base_url).hostname  # type: ignore[attr-defined]
    port = int(settings.get("tftp_port", 69))
    return f"(tftp,{host or '127.0.0.1'}{'' if port == 69 else f':{port}'})"


def grub_file_sources(settings: Mapping[str, Any]) -> list[str]:
    """Where a GRUB boot config fetches pxehook's files (URLs under ``files_url``), in
    order: over HTTP (GRUB builds with an HTTP client), then from pxehook's TFTP server's
    ``files/`` (every network GRUB has TFTP; Debian's signed builds have nothing else)."""
    parts = urlsplit(files_url(settings))
    sources = [f"(http,{parts.netloc}){parts.path}"] if parts.scheme == "http" else []
    return [*sources, f"{grub_tftp_device(settings)}/{FILES_DIR}"]


def host_label(host: Host | None, mac: str = "") -> str:
    """Short display name of a host for comments and error messages."""
    if host is None:
        return mac or "unknown host"
    return f"{host.name} ({host.mac})" if host.name else host.mac


def profile_vars(host: Host, profile: Profile, base: str, extra: Mapping[str, Any]) -> dict:
    """Variables profile expressions see: profile vars < host vars < fixed names < boot_vars."""
    fallback = "host-" + mac_bare(host.mac) if host.macs else "host"
    return {
        **profile.vars,
        **host.vars,
        "files_url": base,
        "hostname": escape.safe_hostname(host.name, fallback),
        "mac": host.mac,
        "uuid": escape.safe_token(host.uuid),
        "profile": profile.name,
        "callback_url": "",
        "deploy_token": "",
        **extra,
    }


@lru_cache(maxsize=4096)
def _compiled(site_dir: str, expr: str) -> jinja2.Template:
    return environment(site_dir).from_string(expr)


@lru_cache(maxsize=4096)
def _plain(site_dir: str, expr: str) -> tuple[tuple[bool, str], ...] | None:
    """An expression made of text and bare ``{{ name }}`` only, as (is_name, text) parts;
    None for anything else (filters, tests, blocks, attributes) or bad syntax."""
    try:
        tree = environment(site_dir).parse(expr)
    except jinja2.TemplateSyntaxError:
        return None
    parts: list[tuple[bool, str]] = []
    for node in tree.body:
        if not isinstance(node, nodes.Output):
            return None
        for child in node.nodes:
            if isinstance(child, nodes.TemplateData):
                parts.append((False, child.data))
            elif isinstance(child, nodes.Name) and child.ctx == "load":
                parts.append((True, child.name))
            else:
                return None
    return tuple(parts)


def expand(expr: str, variables: Mapping[str, Any], *, site_dir: str, where: str) -> str:
    """Render one profile expression; a missing variable is a ConfigError naming ``where``.

    The usual expression (``{{ files_url }}/debian/linux``) is substituted directly, as
    Jinja would print it (``str``); anything else, or a name the variables lack, renders
    through Jinja (its globals, its StrictUndefined error)."""
    plain = _plain(site_dir, expr)
    if plain is not None and all(v in variables for is_name, v in plain if is_name):
        return "".join(str(variables[v]) if is_name else v for is_name, v in plain)
    try:
        return _compiled(site_dir, expr).render(**variables)
    except jinja2.UndefinedError as exc:
        raise ConfigError(f"{where}: {exc.message}") from None
    except jinja2.TemplateSyntaxError as exc:
        raise ConfigError(f"{where}: template syntax: {exc.message}") from None


def forget() -> None:
    """Drop every compiled template and expression (site templates changed on disk)."""
    jinja_render.forget()
    _compiled.cache_clear()
    _plain.cache_clear()


def _name_of(url: str, taken: set[str]) -> str:
    name = escape.safe_token(posixpath.basename(urlsplit(url).path)) or "file"
    candidate, n = name, 1
    while candidate in taken:
        n += 1
        candidate = f"{n}-{name}"
    taken.add(candidate)
    return candidate


def boot_entry(
    host: Host, profile: Profile, cpu: str, variables: Mapping[str, Any], site_dir: str
) -> dict[str, Any]:
    """Kernel URL/name, initrds [{name, url}] and the command line for ``cpu``."""
    where = f"host {host_label(host)}: profile {profile.name}"
    kernel = expand(profile.kernel[cpu], variables, site_dir=site_dir, where=f"{where}: kernel")
    taken: set[str] = set()
    kernel_name = _name_of(kernel, taken)
    initrds = []
    for expr in profile.initrd.get(cpu, []):
        url = expand(expr, variables, site_dir=site_dir, where=f"{where}: initrd")
        initrds.append({"name": _name_of(url, taken), "url": url})
    cmdline = expand(profile.cmdline, variables, site_dir=site_dir, where=f"{where}: cmdline")
    return {
        "kernel": kernel,
        "kernel_name": kernel_name,
        "initrds": initrds,
        "cmdline": " ".join(cmdline.split()),
    }


def retry_delays(mac: str, retries: int) -> list[int]:
    """Back-off with per-host jitter: attempt i waits 2^i + (0..2^i) seconds."""
    delays = []
    for i in range(1, max(retries, 1)):
        base = 2**i
        delays.append(base + zlib.crc32(f"{mac}/{i}".encode()) % (base + 1))
    return delays


def template_name(plan: BootPlan) -> str:
    """Which template renders ``plan`` (a profile may name its own per loader or folder)."""
    loader = loaders.get(plan.loader)
    if plan.action == BOOT and plan.profile is not None:
        templates = plan.profile.templates
        custom = templates.get(loader.name) or templates.get(loader.template_dir)
        return custom or loader.template("boot")
    return loader.template("local")


def render_plan(
    settings: Mapping[str, Any], host: Host | None, plan: BootPlan, extra: Mapping[str, Any]
) -> Rendered:
    """Render ``plan`` for ``host``. Raises ConfigError (the caller falls back to local)."""
    site_dir = str(settings.get("site_templates") or "")
    mac = host.mac if host else ""
    context: dict[str, Any] = {
        "plan": plan.as_dict(),
        "action": plan.action,
        "label": host_label(host),
        "mac": mac,
        "family": archtable.family(plan.arch) if plan.arch else "",
        "arch": plan.arch.slug if plan.arch else "",
        "local_method": plan.local_method,
        "base_url": settings.base_url,  # type: ignore[attr-defined]
        "retry_delays": retry_delays(mac, int(settings.get("boot_retries", 3))),
        "callback_url": "",
        "deploy_token": "",
    }
    if plan.action == BOOT:
        assert host is not None and plan.profile is not None
        cpu = kernel_cpu(plan.profile, plan.arch)
        assert cpu is not None
        variables = profile_vars(host, plan.profile, files_url(settings), extra)
        context.update({k: variables[k] for k in ("callback_url", "deploy_token")})
        context["files_url"] = variables["files_url"]
        context["grub_files"] = grub_file_sources(settings)
        context["grub_files_var"] = escape.GRUB_FILES_VAR
        context.update(boot_entry(host, plan.profile, cpu, variables, site_dir))
        context["profile"] = plan.profile.name
    name = template_name(plan)
    try:
        text = environment(site_dir).get_template(name).render(**context)
    except jinja2.TemplateNotFound:
        raise ConfigError(f"template {name} not found (site dir {site_dir or 'unset'})") from None
    except jinja2.UndefinedError as exc:
        raise ConfigError(f"template {name}: {exc.message}") from None
    return Rendered(body=text.encode("utf-8"), template=name)


def render_bootstrap(settings: Mapping[str, Any], name: str) -> Rendered:
    """The per-loader bootstrap (``ipxe/bootstrap.ipxe.j2``, ``grub/bootstrap.cfg.j2``)."""
    site_dir = str(settings.get("site_templates") or "")
    base = settings.base_url  # type: ignore[attr-defined]
    parts = urlsplit(base)
    grub_base = f"({parts.scheme},{parts.netloc}){parts.path.rstrip('/')}"
    if not _SAFE_BASE.match(base) or parts.scheme not in ("http", "https"):
        raise ConfigError(f"http_base_url {base!r} must be a plain http://HOST[:PORT][/PATH] URL")
    # GRUB asks over HTTP, then over TFTP (a GRUB without an HTTP client: Debian's signed)
    grub_bases = [grub_base, grub_tftp_device(settings)]
    context = {"base_url": base, "grub_base": grub_base, "grub_bases": grub_bases}
    text = environment(site_dir).get_template(name).render(**context)
    return Rendered(body=text.encode("utf-8"), template=name)


def local_fallback(plan: BootPlan) -> BootPlan:
    """The same plan turned into local boot (used when rendering the real one failed)."""
    return replace(plan, action=LOCAL, reasons=(*plan.reasons, "render failed: booting local"))
