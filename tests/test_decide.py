"""The pure decision function: state → what boots, arch precedence, local-boot methods."""

from __future__ import annotations

import pytest

from pxehook import arch
from pxehook.boot.decide import BOOT, IGNORE, LOCAL, Facts, Policy, decide, resolve_arch
from pxehook.errors import ConfigError
from pxehook.models import ArchSource, Host, Profile, State

PROFILES = {
    "inst": Profile(name="inst", kernel={"x86": "k", "arm64": "k"}, cmdline=""),
    "rescue": Profile(name="rescue", kind="live", kernel={"x86": "k"}),
    "commissioning": Profile(name="commissioning", kind="commissioning", kernel={"x86": "k"}),
    "local": Profile(name="local", kind="local"),
}
X64 = arch.BY_SLUG["efi-x64"]
BIOS = arch.BY_SLUG["bios"]


def host(state: State, profile: str = "inst", **kw) -> Host:  # type: ignore[no-untyped-def]
    kw.setdefault("arch", X64.code)
    kw.setdefault("arch_source", ArchSource.DHCP)
    return Host(id=1, macs=("52:54:00:00:00:01",), state=state, profile=profile, **kw)


def facts(loader: str = "ipxe", claim=None) -> Facts:  # type: ignore[no-untyped-def]
    return Facts(loader=loader, mac="52:54:00:00:00:01", claim=claim)


@pytest.mark.parametrize(
    ("state", "action", "profile"),
    [
        (State.DEPLOYED, LOCAL, None),
        (State.READY, LOCAL, None),
        (State.ALLOCATED, LOCAL, None),
        (State.BROKEN, LOCAL, None),
        (State.FAILED, LOCAL, None),
        (State.DEPLOYING, BOOT, "inst"),
        (State.RESCUE, BOOT, "rescue"),
        (State.COMMISSIONING, BOOT, "commissioning"),
        (State.NEW, LOCAL, None),
    ],
)
def test_state_decides_what_boots(state: State, action: str, profile: str | None) -> None:
    for loader in ("ipxe", "grub", "pxelinux", "uboot", "uefi-http"):
        plan = decide(host(state), facts(loader), PROFILES, Policy())
        assert plan.action == action, (loader, plan.reasons)
        if profile:
            assert plan.profile is not None and plan.profile.name == profile


def test_unknown_hosts_setting() -> None:
    for unknown_hosts, action in (("discover", LOCAL), ("local", LOCAL), ("ignore", IGNORE)):
        plan = decide(None, facts(), PROFILES, Policy(unknown_hosts=unknown_hosts))
        assert plan.action == action
        assert any("unknown_hosts" in r for r in plan.reasons)


def test_state_boot_override_and_profile_settings() -> None:
    settings = {
        "state_boot": ["ready=inst", "deployed=ignore"],
        "rescue_profile": "inst",
        "commissioning_profile": "missing",
    }
    policy = Policy.from_settings(settings)
    assert decide(host(State.READY), facts(), PROFILES, policy).action == BOOT
    assert decide(host(State.DEPLOYED), facts(), PROFILES, policy).action == IGNORE
    assert decide(host(State.RESCUE), facts(), PROFILES, policy).profile.name == "inst"
    plan = decide(host(State.COMMISSIONING), facts(), PROFILES, policy)
    assert plan.action == LOCAL and "profile missing does not exist: booting local" in plan.reasons


def test_bad_state_boot_setting_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="STATE=TARGET"):
        Policy.from_settings({"state_boot": ["sleeping=local"]})
    with pytest.raises(ConfigError, match="SLUG=METHOD"):
        Policy.from_settings({"local_boot_arch": ["efi-x64=reboot"]})


def test_deploying_without_kernel_for_arch_boots_local_never_halts() -> None:
    h = host(State.DEPLOYING, profile="rescue", arch=arch.BY_SLUG["efi-arm64"].code)
    plan = decide(h, facts(), PROFILES, Policy())
    assert plan.action == LOCAL
    assert any("no kernel for arm64" in r for r in plan.reasons)
    assert decide(host(State.DEPLOYING, profile=""), facts(), PROFILES, Policy()).action == LOCAL
    assert decide(host(State.DEPLOYING, "local"), facts(), PROFILES, Policy()).action == LOCAL


def test_arch_precedence_setting_rule_dhcp_claim() -> None:
    pi_mac = "dc:a6:32:00:00:01"
    f = Facts(loader="pxelinux", mac=pi_mac, claim=BIOS)
    # 4. only the claim
    assert resolve_arch(None, Facts(loader="ipxe", claim=BIOS))[:2] == (BIOS, "request")
    # 3. DHCP record beats the claim
    h = Host(id=1, macs=("52:54:00:00:00:09",), arch=X64.code, arch_source=ArchSource.DHCP)
    got = resolve_arch(h, Facts(loader="ipxe", mac=h.mac, claim=BIOS))
    assert got[:2] == (X64, "dhcp")
    # 2. the MAC rule beats what DHCP saw (a Pi announces arch 0)
    pi = Host(id=2, macs=(pi_mac,), arch=0, arch_source=ArchSource.DHCP)
    rule_arch, source, _ = resolve_arch(pi, f)
    assert source == "rule" and rule_arch.cpu == "arm64"
    # 1. an explicit setting beats the rule
    pinned = pi.with_(arch=X64.code, arch_source=ArchSource.SETTING)
    assert resolve_arch(pinned, f)[:2] == (X64, "setting")
    # nothing known
    assert resolve_arch(None, Facts(loader="grub"))[:2] == (None, "")


def test_claim_mismatch_is_reported_but_record_wins() -> None:
    h = host(State.DEPLOYING)  # recorded efi-x64 by DHCP
    plan = decide(h, facts(claim=BIOS), PROFILES, Policy())
    assert plan.mismatch and plan.arch == X64 and plan.action == BOOT
    same = decide(h, facts(claim=arch.BY_CODE[9]), PROFILES, Policy())  # 9 ≡ 7
    assert not same.mismatch


@pytest.mark.parametrize(
    ("slug", "loader", "method"),
    [
        ("bios", "ipxe", "sanboot"),
        ("efi-x64", "ipxe", "exit"),
        ("efi-x64", "grub", "grub-esp"),
        ("uboot-arm64", "uboot", "exit"),
    ],
)
def test_local_method_by_firmware(slug: str, loader: str, method: str) -> None:
    h = host(State.DEPLOYED, arch=arch.BY_SLUG[slug].code)
    assert decide(h, facts(loader), PROFILES, Policy()).local_method == method


def test_local_method_per_host_beats_per_arch_beats_global() -> None:
    policy = Policy(local_boot="exit", local_boot_arch={"bios": "grub-esp"})
    bios_host = host(State.DEPLOYED, arch=0)
    assert decide(bios_host, facts(), PROFILES, policy).local_method == "grub-esp"
    assert decide(host(State.DEPLOYED), facts(), PROFILES, policy).local_method == "exit"
    pinned = bios_host.with_(vars={"local_boot": "sanboot"})
    assert decide(pinned, facts(), PROFILES, policy).local_method == "sanboot"
