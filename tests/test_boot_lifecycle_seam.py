"""The resolver applies due life-cycle changes before deciding: no lag behind the sweeper."""

from __future__ import annotations

import time

from pxehook.config import load_settings
from pxehook.inventory import apply
from pxehook.inventory import parse as inventory
from pxehook.models import State
from pxehook.web import create_app


def test_an_overdue_deployment_fails_and_boots_local_on_the_very_next_request(env):
    settings = load_settings(env={**env, "PXEHOOK_DEPLOY_TIMEOUT": "60"})
    app = create_app(settings)
    store = app.config["PXEHOOK"].store()
    apply.sync(inventory.load(settings.inventory), store)
    host = store.host_get("52:54:00:12:34:01")  # node01: deploying the Debian installer
    assert host.state == State.DEPLOYING
    # it entered deploying an hour ago (both clocks say so)
    started = host.with_(state_changed=time.time() - 3600, state_clock=host.state_clock - 3600)
    store.host_put(started, source="test")

    body = app.test_client().get("/ipxe/52-54-00-12-34-01?buildarch=x86_64&platform=efi").text

    assert "kernel" not in body and "exit" in body  # local boot, not the installer
    after = store.host_get("52:54:00:12:34:01")
    assert (after.state, after.meta.get("failure")) == (State.FAILED, "deployment")
    assert any(e.kind == "state.changed" and e.source == "timeout" for e in store.events(host.id))
