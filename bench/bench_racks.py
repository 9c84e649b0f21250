#!/usr/bin/env python3
"""Racks benchmark: several ``pxehook serve`` on one PostgreSQL vs one, and vs SQLite.

Builds a fleet of N hosts (default 10,000, all deployed: an unchanged fleet; ``--deploying``
puts a share of them into an installation) and runs, one
after the other (loopback only; each resolver on its own 127.0.0.x address):

* ``pg-1``: one resolver on PostgreSQL, wrk against it;
* ``pg-3``: three resolvers on the same PostgreSQL, wrk against all three at once;
* ``sqlite-1``: one resolver on SQLite, the same storm (the embedded default).

Each target is warmed up first (every worker has seen the fleet), then measured on an
unchanged fleet. For the PostgreSQL runs it reads PostgreSQL's own statistics
(``pg_stat_statements``, loaded for this server only) and prints the queries per boot
request: reads (SELECT: the answer's cost, the goal is zero) and writes (the timeline's
batched INSERTs), plus transactions per request (``pg_stat_database``). Usage::

    .venv/bin/python bench/bench_racks.py --hosts 10000 --duration 10
    .venv/bin/python bench/bench_racks.py --hosts 2000 --duration 3 --targets pg-1,pg-3  # smoke

Needs root (PostgreSQL runs as the ``postgres`` user, as in the tests), wrk and the
postgresql package. Figures go to docs/benchmarks.md and docs/racks.md.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import psycopg  # noqa: E402

from pxehook.store import open_store, sqlite_path  # noqa: E402
from tests.harness.pgserver import PgServer  # noqa: E402
from tests.harness.racks import Rack  # noqa: E402

BIN = str(Path(sys.executable).parent / "pxehook")
INVENTORY = REPO / "templates/samples/inventory.yaml"
TARGETS = ("pg-1", "pg-3", "sqlite-1")


def mac_of(i: int) -> str:
    return "52:54:01:" + ":".join(f"{b:02x}" for b in i.to_bytes(3, "big"))


def fill(database: str, hosts: int, deploying: float) -> None:
    """``hosts`` machines in the store (bulk, one transaction), then one generation bump; a
    share ``deploying`` of them installing (each boot of one writes its boot-once clock),
    the others deployed (an unchanged fleet: their boots change nothing)."""
    store = open_store(database, rack="bench")
    store.close()
    now = time.time()
    rows = [
        (f"bench{i:06d}", 0 if i % 4 < 2 else 7, "dhcp",
         f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}",
         "debian-installer" if i < hosts * deploying else "local",
         "deploying" if i < hosts * deploying else "deployed", now,
         json.dumps({"preseed": "bench"}))
        for i in range(hosts)
    ]  # fmt: skip
    insert = (
        "INSERT INTO hosts(name, arch, arch_source, ip, profile, state, state_changed, vars)"
        " VALUES (?,?,?,?,?,?,?,?)"
    )
    if database.startswith("postgresql://"):
        with psycopg.connect(database) as conn, conn.cursor() as cur:
            cur.executemany(insert.replace("?", "%s"), rows)
            cur.execute("SELECT id FROM hosts WHERE name LIKE 'bench%%' ORDER BY id")
            ids = [r[0] for r in cur.fetchall()]
            cur.executemany(
                "INSERT INTO host_macs(mac, host_id, position) VALUES (%s,%s,0)",
                [(mac_of(i), ids[i]) for i in range(hosts)],
            )
            cur.execute("UPDATE server_values SET value = CAST(value AS BIGINT) + 1 "
                        "WHERE key='generation'")  # fmt: skip
        return
    with sqlite3.connect(str(sqlite_path(database))) as conn:
        conn.executemany(insert, rows)
        ids = [
            r[0] for r in conn.execute("SELECT id FROM hosts WHERE name LIKE 'bench%' ORDER BY id")
        ]
        conn.executemany("INSERT INTO host_macs(mac, host_id, position) VALUES (?,?,0)",
                         [(mac_of(i), ids[i]) for i in range(hosts)])  # fmt: skip
        conn.execute("UPDATE server_values SET value = CAST(value AS INTEGER) + 1 "
                     "WHERE key='generation'")  # fmt: skip


def wrk_script(work: Path, hosts: int, count: int = 20000) -> Path:
    rnd = random.Random(42)
    urls = [f"/ipxe/{mac_of(rnd.randrange(hosts)).replace(':', '-')}?buildarch=x86_64"
            "&platform=efi" for _ in range(count)]  # fmt: skip
    body = "urls = {\n" + ",\n".join(json.dumps(u) for u in urls) + "\n}\n"
    body += (
        "init = function(args) math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16)) end\n"
        "request = function() return wrk.format('GET', urls[math.random(#urls)]) end\n"
    )
    path = work / "urls.lua"
    path.write_text(body)
    return path


def warm_script(work: Path, hosts: int) -> Path:
    """Every host once, in order: each worker sees the whole fleet before measuring."""
    path = work / "warm.lua"
    path.write_text(
        f"i = 0\nrequest = function() i = i + 1\n"
        f"  local n = i % {hosts}\n"
        "  local mac = string.format('52-54-01-%02x-%02x-%02x',\n"
        "    math.floor(n / 65536) % 256, math.floor(n / 256) % 256, n % 256)\n"
        "  return wrk.format('GET', '/ipxe/' .. mac .. '?buildarch=x86_64&platform=efi') end\n"
    )
    return path


def _ms(text: str) -> float:
    match = re.match(r"([\d.]+)(us|ms|s)", text)
    assert match, text
    return float(match.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1000.0}[match.group(2)]


def run_wrk(url: str, script: Path, conns: int, seconds: float, out: list[dict]) -> None:
    assert url.startswith("http://127."), "wrk runs against loopback only"
    argv = ["wrk", "-t1", f"-c{conns}", f"-d{int(seconds)}s", "--latency", "-s", str(script), url]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
    text = done.stdout
    if "Requests/sec" not in text:
        raise RuntimeError(f"wrk failed: {done.stderr or text}")
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    out.append({
        "req_s": float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1)),  # type: ignore[union-attr]
        "requests": int(re.search(r"(\d+) requests in", text).group(1)),  # type: ignore[union-attr]
        "p50_ms": _ms(re.search(r"^\s*50%\s+(\S+)", text, re.M).group(1)),  # type: ignore[union-attr]
        "p99_ms": _ms(re.search(r"^\s*99%\s+(\S+)", text, re.M).group(1)),  # type: ignore[union-attr]
        "non_2xx": int(bad.group(1)) if bad else 0,
    })  # fmt: skip


def storm(racks: list[Rack], script: Path, conns: int, seconds: float) -> list[dict]:
    """wrk against every rack at once."""
    results: list[dict] = []
    threads = [threading.Thread(target=run_wrk, args=(r.url + "/", script, conns, seconds,
                                                      results)) for r in racks]  # fmt: skip
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def pg_counts(dsn: str) -> dict:
    """PostgreSQL's own statistics for this database: statement calls and transactions."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        time.sleep(1.1)  # backends flush their counts at most once a second
        conn.execute("SELECT pg_stat_clear_snapshot()")
        rows = conn.execute(
            "SELECT query, calls FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid "
            "WHERE d.datname = current_database()"
        ).fetchall()
        xacts = conn.execute(
            "SELECT xact_commit + xact_rollback FROM pg_stat_database "
            "WHERE datname = current_database()"
        ).fetchone()[0]
    reads = sum(c for q, c in rows if q.lstrip().upper().startswith("SELECT")
                and "pg_stat" not in q)  # fmt: skip
    writes = sum(c for q, c in rows if q.lstrip().upper().startswith(("INSERT", "UPDATE")))
    return {"reads": reads, "writes": writes, "xacts": int(xacts), "by_query": dict(rows)}


def measure(name: str, racks: list[Rack], args: argparse.Namespace, work: Path,
            dsn: str | None) -> dict:  # fmt: skip
    storm(racks, warm_script(work, args.hosts), args.connections, args.warm)
    before = pg_counts(dsn) if dsn else {}
    results = storm(racks, wrk_script(work, args.hosts), args.connections, args.duration)
    after = pg_counts(dsn) if dsn else {}
    requests = sum(r["requests"] for r in results)
    row = {
        "target": name,
        "req_s": round(sum(r["req_s"] for r in results)),
        "p50_ms": max(r["p50_ms"] for r in results),
        "p99_ms": max(r["p99_ms"] for r in results),
        "non_2xx": sum(r["non_2xx"] for r in results),
        "requests": requests,
    }
    for key in ("reads", "writes", "xacts"):
        if dsn:
            row[f"{key}_per_request"] = round((after[key] - before[key]) / max(requests, 1), 4)
    if dsn and args.show_queries:
        calls = {q: n - before["by_query"].get(q, 0) for q, n in after["by_query"].items()}
        for query, n in sorted(calls.items(), key=lambda item: -item[1])[:8]:
            print(f"  {n / max(requests, 1):8.4f}/req  {' '.join(query.split())[:110]}")
    print(json.dumps(row), flush=True)
    return row


def pg_server() -> PgServer:
    """A PostgreSQL of the benchmark's own, with pg_stat_statements loaded."""
    server = PgServer().start()
    with psycopg.connect(server.dsn("postgres"), autocommit=True) as conn:
        conn.execute("ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'")
        conn.execute("ALTER SYSTEM SET max_connections = 200")
    server.halt()
    return server.resume()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=10000)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--warm", type=int, default=10,
                        help="seconds of warm-up (each host in turn) before measuring")  # fmt: skip
    parser.add_argument("--connections", type=int, default=32, help="per resolver")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per resolver")
    parser.add_argument("--targets", default=",".join(TARGETS))
    parser.add_argument("--show-queries", action="store_true",
                        help="print the statements PostgreSQL ran most per request")  # fmt: skip
    parser.add_argument(
        "--deploying",
        type=float,
        default=0.0,
        help="share of the fleet installing (default 0: an unchanged fleet)",
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="pxehook-bench-racks-"))
    server = pg_server()
    rows = []
    try:
        for target in args.targets.split(","):
            kind, count = target.split("-")
            if kind == "pg":
                dsn = server.new_database()
                with psycopg.connect(dsn, autocommit=True) as conn:
                    conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            else:
                dsn = f"sqlite:///{work}/{target}.db"
            fill(dsn, args.hosts, args.deploying)
            racks = [
                Rack(f"rack-{i}", f"127.0.0.{31 + i}", dsn, INVENTORY, work / target / str(i),
                     BIN, PXEHOOK_WORKERS=str(args.workers), PXEHOOK_LOG_LEVEL="warning")
                for i in range(int(count))
            ]  # fmt: skip
            try:
                for rack in racks:
                    rack.start(timeout=120)
                rows.append(measure(target, racks, args, work / target,
                                    dsn if kind == "pg" else None))  # fmt: skip
            finally:
                for rack in racks:
                    rack.stop()
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    print("\n| target | req/s | p50 ms | p99 ms | non-2xx | reads/req | writes/req | xacts/req |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        per = [r.get(f"{k}_per_request", "-") for k in ("reads", "writes", "xacts")]
        print(f"| {r['target']} | {r['req_s']} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | "
              f"{r['non_2xx']} | {per[0]} | {per[1]} | {per[2]} |")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
