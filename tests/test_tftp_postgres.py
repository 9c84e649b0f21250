"""TFTP on PostgreSQL: every thread shares a bounded pool of connections.

The database is a real PostgreSQL (tests/harness/pgserver.py) where pxehook's role may hold
only ``SLOTS`` connections, as on a shared server. 256 machines asking for their configs at
once all get them from a server holding at most ``db_pool_size`` connections, which close
again when idle; with every slot taken by someone else, TFTP answers a clean "server busy"
ERROR and HTTP a 503, never "internal error".
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from pxehook.config import load_settings
from pxehook.errors import StoreError
from pxehook.models import Observation
from pxehook.store import PoolSettings
from pxehook.store.pg_changes import APPLICATION as CHANGE_FEED
from pxehook.store.postgres import PostgresDialect
from pxehook.store.transactions import Transactions
from pxehook.web import create_app
from tests.harness.tftp_client import TftpError, fetch
from tests.tftp_server import LOOPBACK, TftpProcess, free_udp_port, seed, site_env

pytestmark = pytest.mark.daemon
SLOTS = 10  # connections pxehook's role may open
POOL = 4  # db_pool_size of the server under test
MACHINES = 256


@pytest.fixture
def limited_dsn(pg_server) -> str:  # type: ignore[no-untyped-def]
    """A fresh database owned by a role limited to SLOTS connections."""
    import psycopg

    dsn = pg_server.new_database()
    name = dsn.split("@/", 1)[1].split("?", 1)[0]
    role = f"pxe_{name}"
    with psycopg.connect(pg_server.dsn("postgres"), autocommit=True) as admin:
        admin.execute(f"CREATE ROLE {role} LOGIN CONNECTION LIMIT {SLOTS}")
        admin.execute(f"ALTER DATABASE {name} OWNER TO {role}")
    with psycopg.connect(dsn, autocommit=True) as owner:
        owner.execute(f"ALTER SCHEMA public OWNER TO {role}")
    return dsn.replace("postgresql://postgres@", f"postgresql://{role}@")


def role_connections(pg_server, dsn: str) -> int:  # type: ignore[no-untyped-def]
    """The role's pooled connections: all but the change feed's one LISTEN connection per
    process (store/pg_changes.py, outside the pool by design)."""
    import psycopg

    role = dsn.split("//", 1)[1].split("@", 1)[0]
    with psycopg.connect(pg_server.dsn("postgres"), autocommit=True) as admin:
        row = admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE usename = %s AND application_name <> %s",
            (role, CHANGE_FEED),
        ).fetchone()
    return int(row[0])


def macs(n: int) -> list[str]:
    return [f"52:54:00:ab:{i >> 8:02x}:{i & 0xFF:02x}" for i in range(n)]


@pytest.fixture
def tftp_on_pg(limited_dsn: str, tmp_path: Path, pxehook_bin: str):  # type: ignore[no-untyped-def]
    root = tmp_path / "tftp"
    root.mkdir()
    (root / "undionly.kpxe").write_bytes(os.urandom(20_000))
    env = site_env(
        tmp_path, root, PXEHOOK_DATABASE=limited_dsn, PXEHOOK_DB_POOL_SIZE=str(POOL),
        PXEHOOK_DB_POOL_IDLE_TIMEOUT="1", PXEHOOK_DB_BUSY_TIMEOUT_MS="2000",
    )  # fmt: skip
    ctx = seed(env)
    for i, mac in enumerate(macs(MACHINES)):
        ctx.store().observe(Observation(mac, "dhcp", ip=f"10.9.{i >> 8}.{i & 0xFF}", arch=0))
    ctx.close()
    port = free_udp_port()
    argv = ("--bind", LOOPBACK, "--port", str(port))
    proc = TftpProcess(pxehook_bin, env, tmp_path / "tftp.log", *argv).wait_serving()
    proc.port, proc.env = port, env  # type: ignore[attr-defined]
    yield proc
    proc.stop()


def test_256_config_requests_at_once_share_a_bounded_pool(tftp_on_pg, pg_server, limited_dsn):  # type: ignore[no-untyped-def]
    start = threading.Barrier(MACHINES)
    answers: dict[str, bytes | Exception] = {}
    most = [0]

    def machine(i: int, mac: str) -> None:
        start.wait()
        try:
            answers[mac] = fetch(
                LOOPBACK, tftp_on_pg.port, f"pxelinux.cfg/01-{mac.replace(':', '-')}",
                source=f"127.0.{1 + i // 250}.{1 + i % 250}", tries=20,
            )  # fmt: skip
        except (TftpError, TimeoutError) as exc:
            answers[mac] = exc

    def watch() -> None:
        while len(answers) < MACHINES:
            most[0] = max(most[0], role_connections(pg_server, limited_dsn))
            time.sleep(0.05)

    threads = [threading.Thread(target=machine, args=(i, m)) for i, m in enumerate(macs(MACHINES))]
    watcher = threading.Thread(target=watch)
    watcher.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    watcher.join(timeout=10)
    failed = {mac: str(a) for mac, a in answers.items() if isinstance(a, Exception)}
    assert not failed, f"{len(failed)} of {MACHINES} failed, e.g. {next(iter(failed.values()))}"
    assert all(b"LOCALBOOT" in a or b"KERNEL" in a for a in answers.values())  # type: ignore[operator]
    assert most[0] <= POOL, f"{most[0]} connections open at once (pool {POOL})"
    assert tftp_on_pg.alive()
    # idle connections are closed again
    deadline = time.monotonic() + 10
    while role_connections(pg_server, limited_dsn) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert role_connections(pg_server, limited_dsn) == 0


@pytest.fixture
def every_slot_taken(limited_dsn: str):  # type: ignore[no-untyped-def]
    """Someone else holds every connection pxehook's role may open."""
    import psycopg

    time.sleep(2)  # the server's own idle connections close first (idle timeout 1 s)
    held = [psycopg.connect(limited_dsn, autocommit=True) for _ in range(SLOTS)]
    yield
    for conn in held:
        conn.close()


def test_database_full_is_a_clean_tftp_error_and_files_still_flow(tftp_on_pg, every_slot_taken):  # type: ignore[no-untyped-def]
    with pytest.raises(TftpError) as refused:
        fetch(LOOPBACK, tftp_on_pg.port, "pxelinux.cfg/01-52-54-00-ab-00-01", tries=3)
    assert (refused.value.code, refused.value.message) == (
        0,
        "server busy (database unavailable), try again",
    )
    assert len(fetch(LOOPBACK, tftp_on_pg.port, "undionly.kpxe")) == 20_000
    assert tftp_on_pg.alive()


def test_database_full_is_a_503_on_http(tftp_on_pg, every_slot_taken):  # type: ignore[no-untyped-def]
    app = create_app(load_settings(env=tftp_on_pg.env))
    reply = app.test_client().get("/api/v1/hosts")
    assert reply.status_code == 503
    assert reply.get_json()["error"]["code"] == "store_unavailable"


def test_waiting_for_a_pooled_connection_is_bounded(limited_dsn: str) -> None:
    transactions = Transactions(PostgresDialect(limited_dsn, busy_timeout_ms=300), PoolSettings(1))
    held, release = threading.Event(), threading.Event()

    def hold(_tx) -> None:  # type: ignore[no-untyped-def]
        held.set()
        release.wait(10)

    holder = threading.Thread(target=transactions.run, args=(hold,), kwargs={"write": False})
    holder.start()
    assert held.wait(10)
    started = time.monotonic()
    with pytest.raises(StoreError, match="all 1 database connections of this process are busy"):
        transactions.run(lambda tx: tx.one("SELECT 1"), write=False)
    assert 0.25 < time.monotonic() - started < 3
    release.set()
    holder.join(10)
    assert transactions.run(lambda tx: tx.one("SELECT 1")[0], write=False) == 1
    transactions.close()
