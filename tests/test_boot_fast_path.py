"""What makes the boot path cheap keeps it right: the deploy secret read once, the change
feed, template edits, the plain-expression shortcut, and ``last_seen`` from boot requests
(real SQLite stores and files; ``tests/test_boot_hot_path.py`` runs a real server)."""

from __future__ import annotations

import os
import sqlite3
import time

import pytest

from pxehook import wiring
from pxehook.boot import recorder as recorder_module
from pxehook.boot import resolver as resolver_module
from pxehook.boot.changes import PolledChanges, SQLiteChanges, changes_for
from pxehook.boot.decide import Facts
from pxehook.boot.hooks import NO_HOOKS
from pxehook.boot.render import environment, expand
from pxehook.config import load_settings
from pxehook.context import Context
from pxehook.errors import ConfigError
from pxehook.lifecycle import callback
from pxehook.models import State
from pxehook.store import open_store
from tests.lifecycle_fixtures import HostMaker


def db_path(env: dict[str, str]) -> str:
    return env["PXEHOOK_DATABASE"].removeprefix("sqlite:///")


def test_a_deploying_host_gets_its_token_while_another_process_holds_the_write_lock(
    env: dict[str, str],
) -> None:
    """Fault: a long write elsewhere (an inventory apply, a backup) holds SQLite's write
    lock. Reading the deploy secret used to be a write transaction per render: it waited
    out the busy timeout, then failed the boot answer."""
    path = db_path(env)
    first = open_store(f"sqlite:///{path}")
    token = callback.deploy_token(first, 7, "d1")  # the secret exists from now on
    fresh = open_store(f"sqlite:///{path}", busy_timeout_ms=200)  # another worker
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # the write lock, held
    try:
        assert callback.deploy_token(fresh, 7, "d1") == token
        assert callback.deploy_token(fresh, 7, "d1") == token
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_the_deploy_secret_is_read_once_per_store(env: dict[str, str]) -> None:
    """Decided: the secret never changes once created, so a process keeps it (a hand
    edit of the stored value needs a restart to take effect)."""
    store = open_store(f"sqlite:///{db_path(env)}")
    token = callback.deploy_token(store, 1, "d")
    with sqlite3.connect(db_path(env)) as conn:
        conn.execute("UPDATE server_values SET value='edited' WHERE key='deploy_secret'")
    assert callback.deploy_token(store, 1, "d") == token
    assert callback.deploy_token(open_store(f"sqlite:///{db_path(env)}"), 1, "d") != token


def test_the_change_feed_sees_another_connections_commit_at_once(store, env) -> None:  # type: ignore[no-untyped-def]
    changes = changes_for(lambda: store, env["PXEHOOK_DATABASE"])
    assert isinstance(changes, SQLiteChanges)
    before = changes.generation()
    assert before == store.generation() == changes.generation()
    HostMaker(store)(State.READY)  # another connection of the pool commits a change
    assert changes.generation() == store.generation() > before


def test_the_change_feed_opens_its_own_connection_after_fork(store, env) -> None:  # type: ignore[no-untyped-def]
    changes = SQLiteChanges(lambda: store, db_path(env))
    changes.generation()
    parent_conn = changes._conn
    pid = os.fork()
    if pid == 0:  # the child: its own connection, the right answer
        ok = changes.generation() == store.generation() and changes._conn is not parent_conn
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_the_change_feed_falls_back_to_the_store_without_a_file(store, tmp_path) -> None:  # type: ignore[no-untyped-def]
    changes = SQLiteChanges(lambda: store, str(tmp_path / "missing" / "x.db"))
    assert changes.generation() == store.generation()
    assert isinstance(changes_for(lambda: store, ":memory:"), PolledChanges)


@pytest.mark.parametrize(
    "expr",
    [
        "{{ files_url }}/debian/linux",
        "console={{ console }} x={{ n }} none={{ nothing }}",
        "plain text only",
        "{{ files_url }}{{ files_url }}",
        "<&>'\"{{ odd }}",
        "{{ files_url | upper }}/a",  # a filter: through Jinja
        "{% if n %}{{ n }}{% endif %}",
        "{{ nested.key }}",
    ],
)
def test_the_plain_expression_shortcut_prints_what_jinja_prints(expr: str) -> None:
    variables = {"files_url": "http://x/files", "console": "ttyS0,115200", "n": 3,
                 "nothing": None, "odd": "<b>&'\"", "nested": {"key": "v"}}  # fmt: skip
    assert expand(expr, variables, site_dir="", where="w") == (
        environment("").from_string(expr).render(**variables)
    )


def test_the_plain_expression_shortcut_still_names_a_missing_variable() -> None:
    with pytest.raises(ConfigError, match=r"profile p: .*missing"):
        expand("{{ files_url }}/{{ missing }}", {"files_url": "u"}, site_dir="", where="profile p")


def test_a_site_template_edit_reaches_a_cached_answer(env: dict[str, str], tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Templates are compiled once per process; an edit still reaches the next answers
    within ``TEMPLATE_POLL`` seconds, cached answers included (before, a cached answer
    outlived an edit until the store's generation moved)."""
    site = tmp_path / "site"
    (site / "ipxe").mkdir(parents=True)
    local = site / "ipxe" / "local.ipxe.j2"
    local.write_text("#!ipxe\n# first\nexit 1\n")
    ctx = Context(load_settings(env={**env, "PXEHOOK_SITE_TEMPLATES": str(site)}))
    try:
        host = HostMaker(ctx.store())(State.DEPLOYED)
        resolver = wiring.resolver(ctx, record=False)
        facts = Facts(loader="ipxe", mac=host.mac)
        assert b"# first" in resolver.resolve(facts).body
        local.write_text("#!ipxe\n# second edit\nexit 1\n")
        deadline = time.monotonic() + resolver_module.TEMPLATE_POLL + 5
        while b"# second edit" not in resolver.resolve(facts).body:
            assert time.monotonic() < deadline, "the edit never reached the answer"
            time.sleep(0.1)
    finally:
        ctx.close()


def test_a_boot_request_moves_last_seen_at_most_once_a_minute(ctx, store) -> None:  # type: ignore[no-untyped-def]
    """Issue 17: without DHCP events (pxehook cannot see the DHCP traffic) ``last_seen``
    stood still however often the machine booted. Now the timeline's batch moves it, but
    never more than once a ``SEEN_EVERY`` per host, and it is not a change of the host."""
    host = HostMaker(store)(State.DEPLOYED)
    with sqlite3.connect(store.path) as conn:  # seen by DHCP an hour ago
        conn.execute("UPDATE hosts SET last_seen=? WHERE id=?", (time.time() - 3600, host.id))
    host = store.host_get(host.mac)
    generation = store.generation()
    events = recorder_module.EventRecorder(ctx, NO_HOOKS)
    started = time.time()
    events.add(host, "boot.config", "http", "booted", {})
    events.flush()
    after = store.host_get(host.mac)
    assert after.last_seen >= started
    assert (after.version, store.generation()) == (host.version, generation)
    for _ in range(5):  # the same process, and another with the old host read
        events.add(host, "boot.config", "http", "again", {})
    other = recorder_module.EventRecorder(ctx, NO_HOOKS)
    other.add(host, "boot.config", "http", "other worker", {})
    events.flush()
    other.flush()
    assert store.host_get(host.mac).last_seen == after.last_seen
    assert len(store.events(host.id)) >= 7


def test_the_store_moves_last_seen_only_when_older_on_every_back_end(any_store) -> None:  # type: ignore[no-untyped-def]
    host = HostMaker(any_store)(State.READY)
    version, generation = host.version, any_store.generation()
    any_store.event_add_many([], seen=[(host.id, 1000.0, 940.0)])  # empty: moved
    assert any_store.host_get(host.mac).last_seen == 1000.0
    any_store.event_add_many([], seen=[(host.id, 1030.0, 970.0)])  # seen 30 s ago: kept
    assert any_store.host_get(host.mac).last_seen == 1000.0
    any_store.event_add_many([(host.id, "boot.config", "http", "m", {}, 1100.0)],
                             seen=[(host.id, 1100.0, 1040.0)])  # fmt: skip
    after = any_store.host_get(host.mac)
    assert after.last_seen == 1100.0 and [e.kind for e in any_store.events(host.id)][-1] == (
        "boot.config"
    )
    assert (after.version, any_store.generation()) == (version, generation)


def test_boot_events_wait_out_a_locked_database_and_are_all_written(env, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Fault: the database cannot take the timeline's batch (here SQLite's write lock held
    by another process past the busy time-out; for racks, PostgreSQL away). The batch used
    to be logged and dropped; now it is held and written once the database takes it."""
    ctx = Context(load_settings(env={**env, "PXEHOOK_DB_BUSY_TIMEOUT_MS": "200"}))
    try:
        store = ctx.store()
        host = HostMaker(store)(State.DEPLOYED)
        events = recorder_module.EventRecorder(ctx, NO_HOOKS)
        holder = sqlite3.connect(store.path, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")  # the write lock, held
        try:
            for i in range(3):
                events.add(host, "boot.config", "http", f"during the lock {i}", {})
            events.flush()
            time.sleep(0.5)  # more than the busy time-out: the first try has failed
            events.add(host, "boot.config", "http", "still locked", {})
            events.flush()
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        deadline = time.monotonic() + 2 * recorder_module.RETRY_FIRST + 5
        messages: list[str] = []
        while time.monotonic() < deadline:
            messages = [e.message for e in store.events(host.id) if e.kind == "boot.config"]
            if len(messages) == 4:
                break
            time.sleep(0.1)
        assert sorted(messages) == sorted(
            [f"during the lock {i}" for i in range(3)] + ["still locked"]
        )
    finally:
        ctx.close()
