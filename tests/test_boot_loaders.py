"""The loader registry and the one arch precedence: every reader agrees with them."""

from __future__ import annotations

import os
import re

import pytest

from pxehook import arch, archsource
from pxehook.boot import loaders
from pxehook.boot.decide import Facts, Policy, decide
from pxehook.boot.prerender import cacheable
from pxehook.boot.render import template_name
from pxehook.boot.timeline import boot_hit
from pxehook.models import ArchSource, Host, Observation, Profile, State
from pxehook.templating import packaged_templates_dir

PI_MAC = "dc:a6:32:00:00:01"
PROFILES = {"inst": Profile(name="inst", kernel={"x86": "k", "arm64": "k"}, cmdline="")}


def test_every_arch_table_loader_mode_is_a_registered_dhcp_boot_mode() -> None:
    for row in arch.TABLE:
        for boot_mode in row.loaders:
            assert boot_mode in loaders.BY_NAME, (row.slug, boot_mode)
            assert loaders.get(boot_mode).offered_by_dhcp, (row.slug, boot_mode)
    assert tuple(lo.name for lo in loaders.LOADERS if lo.offered_by_dhcp) == loaders.BOOT_MODES


@pytest.mark.parametrize("loader", loaders.LOADERS, ids=lambda lo: lo.name)
def test_every_registered_loader_has_its_templates(loader: loaders.Loader) -> None:
    for kind in ("boot", "local"):
        path = os.path.join(packaged_templates_dir(), loader.template(kind))
        assert os.path.isfile(path), path


def test_names_are_unique_and_parsers_name_their_own_loader() -> None:
    assert len(loaders.BY_NAME) == len(loaders.LOADERS)
    for path, loader in [
        ("pxelinux.cfg/01-52-54-00-00-00-01", "pxelinux"),
        ("a/b/pxelinux.cfg/default-arm-sunxi-sunxi", "uboot"),
        ("grub/x86_64-efi/grub.cfg-01-52-54-00-00-00-01", "grub"),
        ("pxelinux.cfg/grub.cfg", "pxelinux"),  # a pxelinux.cfg/ directory is PXELINUX's
    ]:
        name = loaders.parse_name(path)
        assert name is not None and name.loader == loader, path
        named = [lo for lo in loaders.LOADERS if lo.name_parser and lo.name_parser(path, lo.name)]
        assert len(named) == 1, (path, named)  # parsers are disjoint: order cannot matter


@pytest.mark.parametrize("loader", loaders.PRERENDERED, ids=lambda lo: lo.name)
def test_each_nginx_location_serves_the_file_the_prerenderer_writes(
    loader: loaders.Loader,
) -> None:
    assert loader.front is not None
    file = loader.front.file.format(mac="52-54-00-ab-cd-ef")
    match = re.match(loader.front.location, "/" + file)
    assert match is not None, (loader.name, file)
    tried = re.sub(r"\$(\d)", lambda m: match.group(int(m.group(1))), loader.front.try_file)
    assert tried == "/" + file


def test_template_names_come_from_the_record() -> None:
    host = Host(id=1, macs=("52:54:00:00:00:01",), state=State.DEPLOYED)
    for loader in loaders.LOADERS:
        plan = decide(host, Facts(loader=loader.name, mac=host.mac), PROFILES, Policy())
        assert template_name(plan) == loader.template("local")


def test_rank_follows_the_documented_order() -> None:
    ranked = sorted(ArchSource, key=archsource.rank, reverse=True)
    assert ranked == list(ArchSource)  # ArchSource is declared strongest first
    assert [s for s in ArchSource if archsource.settled(s)] == ["setting", "rule", "dhcp"]


RECORDS = [(None, ""), (0, ArchSource.DHCP), (7, ArchSource.DHCP), (7, ArchSource.SETTING)]
RECORDS += [(11, ArchSource.REQUEST), (0, ArchSource.RULE), (7, "")]


@pytest.mark.parametrize("mac", ["52:54:00:00:00:01", PI_MAC])
@pytest.mark.parametrize(("code", "source"), RECORDS)
@pytest.mark.parametrize("state", [State.DEPLOYING, State.DEPLOYED])
def test_a_prerendered_answer_is_what_decide_gives_any_request(
    mac: str, code: int | None, source: str, state: State
) -> None:
    """The nginx file cannot disagree with decide(): no claim changes a cacheable answer.

    (A local answer with no arch known leaves the local method to the script at run time.)"""
    host = Host(id=1, macs=(mac,), arch=code, arch_source=source, state=state, profile="inst")
    for loader in loaders.PRERENDERED:
        plain = decide(host, Facts(loader=loader.name, mac=mac), PROFILES, Policy())
        if not cacheable(plain):
            continue
        for claim in (arch.lookup(0), arch.lookup(7), arch.lookup(11)):
            facts = Facts(loader=loader.name, mac=mac, claim=claim)
            got = decide(host, facts, PROFILES, Policy())
            assert (got.action, got.profile) == (plain.action, plain.profile), loader.name
            if plain.arch is not None:
                assert (got.arch, got.local_method) == (plain.arch, plain.local_method)


def test_an_observation_replaces_only_a_weaker_or_equal_source() -> None:
    for old in ArchSource:
        for new in ArchSource:
            if new == ArchSource.NONE:
                continue
            host = Host(id=1, macs=(PI_MAC,), arch=7, arch_source=old)
            obs = Observation(mac=PI_MAC, source="t", arch=11, arch_source=new)
            assert archsource.may_replace(host, obs) == (
                archsource.rank(new) >= archsource.rank(old)
            )


def test_the_boot_hit_rows_are_built_once_for_every_path() -> None:
    host = Host(id=1, macs=("52:54:00:00:00:01",), arch=7, arch_source=ArchSource.DHCP)
    facts = Facts(loader="ipxe", path="/ipxe/x", mac=host.mac, ip="10.0.0.9", claim=arch.lookup(0))
    plan = decide(host.with_(state=State.DEPLOYED), facts, PROFILES, Policy())
    config, mismatch = boot_hit(plan, facts, template="ipxe/local.ipxe.j2", via="nginx")
    assert (config.kind, config.hook, mismatch.kind, mismatch.hook) == (
        "boot.config",
        True,
        "boot.arch_mismatch",
        False,
    )
    assert config.data["via"] == "nginx" and config.data["client_ip"] == "10.0.0.9"
    assert mismatch.data == {"claimed": "bios", "recorded": "efi-x64", "path": "/ipxe/x"}
