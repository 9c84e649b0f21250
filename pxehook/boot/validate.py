"""Refuse a host edit whose profile cannot render for it (one of lifecycle.hosts.VALIDATORS).

A missing variable is reported when the operator runs ``pxehook host set`` or calls the
API, naming the host and the field, not at 3 a.m. when the machine boots. An expression made
only of text and plain ``{{ name }}`` outputs renders whenever its names are defined, so
such a profile is checked by looking the names up (an inventory of 100,000 hosts is checked
in moments); anything else, and any failure, is rendered for real, which gives the error.

Whether such a profile renders depends only on which variables a host has, not on their
values, so a view validating many hosts at once (the inventory's) carries a
``RenderChecks`` memo and each (profile, variable names) that passed is not checked again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import jinja2
from jinja2 import nodes

from pxehook.boot.render import boot_entry, environment, profile_vars
from pxehook.errors import ConfigError, InvalidInput
from pxehook.models import Host, Profile
from pxehook.store import Store

#: Stand-ins for values only known at boot time (the life-cycle's boot_vars).
_PLACEHOLDERS = {"callback_url": "http://callback.invalid/", "deploy_token": "token"}


@lru_cache(maxsize=4096)
def _plain_names(expr: str) -> frozenset[str] | None:
    """The names an expression of only text and ``{{ name }}`` outputs needs; None for an
    expression with anything else (filters, attributes, tags) or a syntax error."""
    try:
        tree = environment("").parse(expr)
    except jinja2.TemplateSyntaxError:
        return None
    names = set()
    for node in tree.body:
        if not isinstance(node, nodes.Output):
            return None
        for child in node.nodes:
            if isinstance(child, nodes.Name) and child.ctx == "load":
                names.add(child.name)
            elif not isinstance(child, nodes.TemplateData):
                return None
    return frozenset(names)


def _renders_surely(profile: Profile, cpu: str, defined: set[str]) -> bool:
    exprs = [profile.kernel[cpu], *profile.initrd.get(cpu, []), profile.cmdline]
    for expr in exprs:
        names = _plain_names(expr)
        if names is None or not names <= defined:
            return False
    return True


@dataclass
class RenderChecks:
    """What a view's validations found: (profile, the host's variable names) that render
    whatever the values (the view's profiles never change), and how many hosts were checked
    in full."""

    passed: set[tuple[str, frozenset[str]]] = field(default_factory=set)
    checked: int = 0


def validate_profile_vars(store: Store, host: Host) -> None:
    """Render every kernel/initrd/cmdline of the host's profile with the host's variables
    (``store.render_checks``, where the store has one: skip what passed already)."""
    if not host.profile:
        return
    profile = store.profile_get(host.profile)
    if profile is None or profile.kind == "local":
        return
    memo: RenderChecks | None = getattr(store, "render_checks", None)
    key = (profile.name, frozenset(host.vars))
    if memo is not None:
        if key in memo.passed:
            return
        memo.checked += 1
    variables = profile_vars(host, profile, "http://files.invalid", _PLACEHOLDERS)
    defined = set(variables)
    surely = True
    for cpu in profile.kernel:
        if _renders_surely(profile, cpu, defined):
            continue
        surely = False
        try:
            boot_entry(host, profile, cpu, variables, site_dir="")
        except ConfigError as exc:
            raise InvalidInput(
                str(exc), hint=f"set it with 'pxehook host set {host.mac} --var NAME=VALUE'"
            ) from None
    if memo is not None and surely:
        memo.passed.add(key)
