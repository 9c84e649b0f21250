"""The three ways a reinstall loop ends (callback, boot-once, time-out) and auto-adopt."""

from __future__ import annotations

import pytest

from pxehook.errors import Forbidden
from pxehook.lifecycle import auto, callback, table
from pxehook.lifecycle.hooks import LifecycleBootHooks
from pxehook.models import State
from tests.lifecycle_fixtures import *  # noqa: F403

S = State


def _deploying(store, make_host, **kw):  # type: ignore[no-untyped-def]
    return table.transition(store, make_host(S.READY, **kw), "deploy", source="t")


# --- callback -------------------------------------------------------------------------------
def test_boot_vars_carry_callback_url_and_token(ctx, store, make_host) -> None:  # type: ignore[no-untyped-def]
    host = _deploying(store, make_host)
    got = LifecycleBootHooks(ctx).boot_vars(host)
    assert got["callback_url"] == f"{ctx.settings.base_url}/api/v1/hosts/{host.mac}/deployed"
    assert got["deploy_token"] == callback.deploy_token(store, host.id, host.meta["deployment"])
    assert len(got["deploy_token"]) == 32
    assert LifecycleBootHooks(ctx).boot_vars(make_host(S.DEPLOYED)) == {}


def test_good_callback_deploys_and_repeating_is_harmless(ctx, store, make_host) -> None:  # type: ignore[no-untyped-def]
    host = _deploying(store, make_host)
    token = LifecycleBootHooks(ctx).boot_vars(host)["deploy_token"]
    done, changed = callback.install_done(store, host.mac, token, source="callback:x")
    assert (done.state, changed) == (S.DEPLOYED, True)
    events = store.events(host.id)
    again, changed = callback.install_done(store, host.mac.upper(), token, source="callback:x")
    assert (again.state, changed) == (S.DEPLOYED, False)
    assert store.events(host.id) == events  # nothing new recorded


def _assert_refused(store, host, mac, token, reason) -> None:  # type: ignore[no-untyped-def]
    before = store.host_by_id(host.id)
    with pytest.raises(Forbidden, match="callback refused"):  # the caller learns no more
        callback.install_done(store, mac, token, source="callback:evil")
    after = store.host_by_id(host.id)
    assert (after.state, after.meta) == (before.state, before.meta)
    last = store.events(host.id)[-1]
    assert (last.kind, last.source) == ("callback.refused", "callback:evil")
    assert reason in last.message  # the reason is on the timeline


def test_forged_callbacks_are_refused_and_change_nothing(ctx, store, make_host) -> None:  # type: ignore[no-untyped-def]
    victim = _deploying(store, make_host)
    other = _deploying(store, make_host)
    other_token = LifecycleBootHooks(ctx).boot_vars(other)["deploy_token"]
    _assert_refused(store, victim, victim.mac, "0" * 32, "does not match")
    _assert_refused(store, victim, victim.mac, "", "does not match")
    _assert_refused(store, victim, victim.mac, other_token, "does not match")


def test_token_replayed_after_release_or_redeploy_is_refused(ctx, store, make_host) -> None:  # type: ignore[no-untyped-def]
    host = _deploying(store, make_host)
    old = LifecycleBootHooks(ctx).boot_vars(host)["deploy_token"]
    released = table.transition(store, host, "release", source="t")
    _assert_refused(store, released, host.mac, old, "no deployment")
    again = table.transition(store, released, "deploy", source="t")
    _assert_refused(store, again, host.mac, old, "does not match")
    done, _ = callback.install_done(
        store, host.mac, LifecycleBootHooks(ctx).boot_vars(again)["deploy_token"], source="c"
    )
    redeploy = table.transition(store, done, "reinstall", source="t")
    _assert_refused(
        store,
        redeploy,
        host.mac,
        LifecycleBootHooks(ctx).boot_vars(again)["deploy_token"],
        "does not match",
    )


def test_callback_for_unknown_or_malformed_mac_is_refused(store) -> None:  # type: ignore[no-untyped-def]
    for mac in ("52:54:00:ff:ff:ff", "not-a-mac"):
        with pytest.raises(Forbidden):
            callback.install_done(store, mac, "x" * 32, source="callback:evil")


def test_late_callback_after_timeout_is_refused(ctx, store, make_host) -> None:  # type: ignore[no-untyped-def]
    host = _deploying(store, make_host)
    token = LifecycleBootHooks(ctx).boot_vars(host)["deploy_token"]
    failed = table.transition(store, host, "fail", source="timeout")
    _assert_refused(store, failed, host.mac, token, "not deploying")


def test_inventory_deploying_host_gets_a_token_that_changes_per_entry(
    ctx, store, make_host
) -> None:  # type: ignore[no-untyped-def]
    host = make_host(S.DEPLOYING)  # like inventory 'state: deploying': no stored deployment
    token = LifecycleBootHooks(ctx).boot_vars(host)["deploy_token"]
    done, changed = callback.install_done(store, host.mac, token, source="c")
    assert changed and done.state == S.DEPLOYED
    assert callback.install_done(store, host.mac, token, source="c")[1] is False


# --- boot-once ------------------------------------------------------------------------------
def test_boot_once_counts_sessions_not_requests(ctx, store, make_host) -> None:  # type: ignore[no-untyped-def]
    settings = ctx.settings  # boot_once_window default 120 s
    host = _deploying(store, make_host, profile="oneshot")
    t0 = 1_000_000.0
    for offset in (0, 1, 5, 30):  # kernel + initrd + retries within one session
        host = auto.record_install_fetch(settings, store, host, t0 + offset)
    assert host.meta["boot_once"]["sessions"] == 1
    assert host.meta["boot_once"]["fetches"] == 4
    assert not auto.boot_once_due(settings, host, t0 + 30 + 60)
    assert auto.boot_once_due(settings, host, t0 + 30 + 121)
    after = auto.apply_due(settings, store, host, t0 + 30 + 121)
    assert after.state == S.DEPLOYED
    last = [e for e in store.events(host.id) if e.kind == "state.changed"][-1]
    assert last.source == "boot-once"


def test_boot_once_via_the_seam(ctx, store, make_host) -> None:  # type: ignore[no-untyped-def]
    host = _deploying(store, make_host, profile="oneshot")
    host = LifecycleBootHooks(ctx).on_boot_event(host, "boot.config", {"action": "profile"})
    assert host.state == S.DEPLOYING  # no kernel yet: keeps installing
    host = LifecycleBootHooks(ctx).on_boot_event(host, "boot.kernel", {"path": "/linux"})
    assert host.meta["boot_once"]["sessions"] == 1
    later = auto.apply_due(ctx.settings, store, host, host.meta["boot_once"]["last"] + 121)
    assert later.state == S.DEPLOYED


def test_boot_once_ignores_profiles_that_are_not_one_shot(ctx, store, make_host) -> None:  # type: ignore[no-untyped-def]
    host = _deploying(store, make_host, profile="installer")
    host = LifecycleBootHooks(ctx).on_boot_event(host, "boot.kernel", {"path": "/linux"})
    assert "boot_once" not in host.meta
    assert auto.apply_due(ctx.settings, store, host, host.state_changed + 60).state == S.DEPLOYING


# --- time-out -------------------------------------------------------------------------------
def test_timeout_fails_a_silent_host_and_never_reinstalls(ctx, store, make_host) -> None:  # type: ignore[no-untyped-def]
    host = _deploying(store, make_host)
    quiet = make_host(S.DEPLOYED)
    at = host.state_changed + ctx.settings.deploy_timeout + 1
    changes = auto.sweep(ctx.settings, store, at)
    assert changes == [{"mac": host.mac, "from": "deploying", "to": "failed"}]
    failed = store.host_by_id(host.id)
    assert failed.meta["failure"] == "deployment"
    assert store.events(host.id)[-1].source == "timeout"
    assert auto.sweep(ctx.settings, store, at + 10_000) == []
    assert store.host_by_id(quiet.id).state == S.DEPLOYED
    assert LifecycleBootHooks(ctx).boot_vars(failed) == {}


def test_timeout_not_before_its_time(ctx, store, make_host) -> None:  # type: ignore[no-untyped-def]
    host = _deploying(store, make_host)
    assert auto.sweep(ctx.settings, store, host.state_changed + 10) == []


# --- auto-adopt -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("setting", "value", "host_kw"),
    [
        ("adopt_mac_prefixes", "52-54-00-AA", {}),
        ("adopt_mac_prefixes", "5254.00aa", {}),
        ("adopt_subnets", "10.9.0.0/16", {"ip": "10.9.3.4"}),
    ],
)
def test_auto_adopt_rules(ctx, store, make_host, setting, value, host_kw) -> None:  # type: ignore[no-untyped-def]
    settings = ctx.settings.replace(**{setting: value})
    host = make_host(S.NEW, **host_kw)
    other = make_host(S.NEW, mac="02:00:00:00:00:01")
    changes = auto.sweep(settings, store)
    assert changes == [{"mac": host.mac, "from": "new", "to": "deployed"}]
    assert store.host_by_id(other.id).state == S.NEW
    assert store.events(host.id)[-1].source == "auto-adopt"


def test_auto_adopt_by_arch_to_ready(ctx, store, make_host) -> None:  # type: ignore[no-untyped-def]
    settings = ctx.settings.replace(adopt_arches="efi-x64", adopt_state="ready")
    host = store.host_put(make_host(S.NEW).with_(arch=7), source="t")
    assert auto.adopt_if_matching(settings, store, host).state == S.READY


def test_boot_once_counts_tftp_kernel_fetches(ctx, store, make_host) -> None:  # type: ignore[no-untyped-def]
    host = _deploying(store, make_host, profile="oneshot")  # kernel http://f/linux
    host = LifecycleBootHooks(ctx).on_boot_event(
        host, "tftp.file", {"path": "pxelinux.cfg/default"}
    )
    assert "boot_once" not in host.meta
    host = LifecycleBootHooks(ctx).on_boot_event(host, "tftp.file", {"path": "/images/linux"})
    assert host.meta["boot_once"]["fetches"] == 1


def test_before_decide_applies_what_is_due(ctx, store, make_host) -> None:  # type: ignore[no-untyped-def]
    host = _deploying(store, make_host, profile="oneshot")
    old = host.meta | {
        "boot_once": {
            "deployment": host.meta["deployment"],
            "first": 1.0,
            "last": 1.0,
            "sessions": 1,
            "fetches": 2,
        }
    }
    host = store.update_meta(host.id, old)
    assert LifecycleBootHooks(ctx).before_decide(host).state == S.DEPLOYED
    # started long ago during another boot of the server: only the wall clock can tell
    started = _deploying(store, make_host).with_(state_changed=1.0, state_clock=None)
    stale = store.host_put(started, source="t")
    assert LifecycleBootHooks(ctx).before_decide(stale).state == S.FAILED
    fresh = _deploying(store, make_host)
    assert LifecycleBootHooks(ctx).before_decide(fresh) == fresh


def test_inventory_deploying_host_without_a_time_gets_token_and_clock(
    ctx, store, make_host
) -> None:  # type: ignore[no-untyped-def]
    host = store.host_put(make_host(S.DEPLOYING).with_(state_changed=None), source="inventory")
    token = LifecycleBootHooks(ctx).boot_vars(host)["deploy_token"]
    t0 = 5_000_000.0
    assert auto.sweep(ctx.settings, store, t0) == []  # the clock starts now
    started = store.host_get(host.mac)
    assert started.meta["deploy_started"] == t0
    assert LifecycleBootHooks(ctx).boot_vars(started)["deploy_token"] == token
    late = t0 + ctx.settings.deploy_timeout + 1
    assert auto.sweep(ctx.settings, store, late)[0]["to"] == "failed"


def test_deploy_secret_is_created_once_on_every_back_end(any_store) -> None:  # type: ignore[no-untyped-def]
    first = callback.deploy_secret(any_store)
    assert len(first) == 64 and callback.deploy_secret(any_store) == first
    assert any_store.server_value_setdefault("deploy_secret", "other") == first.decode()
    assert callback.deploy_token(any_store, 1, "d1") != callback.deploy_token(any_store, 2, "d1")
    assert callback.deploy_token_ok(any_store, 1, "d1", callback.deploy_token(any_store, 1, "d1"))
    first_token = callback.deploy_token(any_store, 1, "d1")
    assert not callback.deploy_token_ok(any_store, 1, "d2", first_token)
