#!/usr/bin/env python3
"""HTTP resolver benchmark: ``pxehook serve`` (defaults) vs its baselines, same run.

Builds a store with N hosts (default 10,000; half deploying, half deployed; BIOS and
UEFI), then runs wrk -t2 (loopback only) with a Lua script picking random per-machine
``/ipxe/<mac>`` URLs, against each target **alone** (started, measured, stopped; the
targets take turns in interleaved rounds, medians reported):

* ``nginx-static``: nginx serving one rendered iPXE script as a static file (baseline);
* ``naive-flask``: ``bench/naive_app.py`` under gunicorn, 2 sync workers, one SQLite lookup
  by MAC and one Jinja2 render per request (the baseline of issue 13);
* ``pxehook``: ``pxehook serve`` with its default settings, services included (every
  request decided, rendered from the per-worker cache, recorded as a ``boot.config``
  event; the timeline must hold every request within 1 s after the load stops);
* ``nginx-front`` (only when asked): nginx serves the per-MAC files pxehook pre-renders and
  falls back to gunicorn; the access log is ingested onto the timeline.

Prints req/s, p50/p99, the ratio to naive-flask and nginx-static, how long after the load
every request was on the timeline, start-up time and memory. Usage::

    .venv/bin/python bench/bench_http.py --hosts 10000 --duration 10 --rounds 3
    .venv/bin/python bench/bench_http.py --hosts 100000 --targets naive-flask,pxehook
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pxehook.config import load_settings  # noqa: E402
from pxehook.context import Context  # noqa: E402
from pxehook.inventory.apply import sync  # noqa: E402
from pxehook.inventory.parse import load  # noqa: E402

LOOPBACK = "127.0.0.1"
BIN = Path(sys.executable).parent / "pxehook"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def mac_of(i: int) -> str:
    return "52:54:01:" + ":".join(f"{b:02x}" for b in i.to_bytes(3, "big"))


def build_store(work: Path, hosts: int) -> dict[str, str]:
    """Settings env + a store holding ``hosts`` machines (bulk insert, one transaction)."""
    env = {
        "PXEHOOK_DATABASE": f"sqlite:///{work}/pxehook.db",
        "PXEHOOK_INVENTORY": str(work / "inventory.yaml"),
        "PXEHOOK_STATE_DIR": str(work / "state"),
        "PXEHOOK_FILES_DIR": str(work / "files"),
        "PXEHOOK_TFTP_ROOT": str(work / "tftp"),
        "PXEHOOK_SPOOL_DIR": str(work / "spool"),
        "PXEHOOK_LOG_LEVEL": "warning",
    }
    shutil.copy(REPO / "templates/samples/inventory.yaml", work / "inventory.yaml")
    ctx = Context(load_settings(env=env))
    sync(load(str(work / "inventory.yaml")), ctx.store())
    ctx.close()
    conn = sqlite3.connect(work / "pxehook.db")
    now = time.time()
    rows, macs = [], []
    for i in range(hosts):
        deploying = i % 2 == 0
        rows.append(
            (
                f"bench{i:06d}",
                0 if i % 4 < 2 else 7,
                "dhcp",
                f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}",
                "debian-installer" if deploying else "local",
                "deploying" if deploying else "deployed",
                now,
                json.dumps({"preseed": "bench"}),
            )
        )
    with conn:
        start = conn.execute("SELECT COALESCE(MAX(id), 0) FROM hosts").fetchone()[0]
        conn.executemany(
            "INSERT INTO hosts(name, arch, arch_source, ip, profile, state, state_changed, vars)"
            " VALUES (?,?,?,?,?,?,?,?)",
            rows,
        )
        for i in range(hosts):
            macs.append((mac_of(i), start + 1 + i, 0))
        conn.executemany("INSERT INTO host_macs(mac, host_id, position) VALUES (?,?,?)", macs)
        conn.execute(
            "UPDATE server_values SET value = CAST(value AS INTEGER) + 1 WHERE key='generation'"
        )
    conn.close()
    return env


def wrk_script(work: Path, hosts: int, count: int = 20000) -> Path:
    """A wrk Lua script choosing among ``count`` random per-machine iPXE URLs."""
    rnd = random.Random(42)
    urls = []
    for _ in range(count):
        mac = mac_of(rnd.randrange(hosts))
        urls.append(f"/ipxe/{mac.replace(':', '-')}?buildarch=x86_64&platform=efi")
    body = "urls = {\n" + ",\n".join(json.dumps(u) for u in urls) + "\n}\n"
    body += (
        "init = function(args) math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16)) end\n"
        "request = function() return wrk.format('GET', urls[math.random(#urls)]) end\n"
    )
    path = work / "urls.lua"
    path.write_text(body)
    return path


_UNIT = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    match = re.match(r"([\d.]+)(us|ms|s)", text)
    assert match, text
    return float(match.group(1)) * _UNIT[match.group(2)]


def run_wrk(url: str, script: Path, conns: int, seconds: int) -> dict:
    assert url.startswith(f"http://{LOOPBACK}:"), "wrk runs against loopback only"
    argv = ["wrk", "-t2", f"-c{conns}", f"-d{seconds}s", "--latency", "-s", str(script), url]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60).stdout
    req_s = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "req_s": req_s,
        "p50_ms": _ms(re.search(r"^\s*50%\s+(\S+)", out, re.M).group(1)),  # type: ignore[union-attr]
        "p99_ms": _ms(re.search(r"^\s*99%\s+(\S+)", out, re.M).group(1)),  # type: ignore[union-attr]
        "requests": total,
        "non_2xx": int(bad.group(1)) if bad else 0,
    }


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by ``pid`` and every descendant alive now.

    Other work on the machine slows a target's req/s but hardly its CPU per request, so
    before/after comparisons on a shared machine read this figure."""
    tick = os.sysconf("SC_CLK_TCK")
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            todo.extend(children(current))
        except (OSError, IndexError):
            continue  # gone meanwhile
        total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return total


def wait_http(url: str, timeout: float = 60, expect: tuple[str, ...] = ("200", "404")) -> None:
    assert url.startswith(f"http://{LOOPBACK}:"), "probes run against loopback only"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = subprocess.run(
            ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", url],
            capture_output=True,
            text=True,
        )
        if done.stdout.strip() in expect:
            return
        time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer")


def nginx_conf(work: Path, port: int, body: str) -> Path:
    """Write an nginx config (own prefix, loopback port); ``body`` is the server block."""
    conf = work / f"nginx-{port}.conf"
    conf.write_text(
        f"""
user root;
worker_processes auto;
daemon off;
pid {work}/nginx-{port}.pid;
error_log {work}/nginx-{port}.err warn;
events {{ worker_connections 4096; }}
http {{
  client_body_temp_path {work}/ngx-body; proxy_temp_path {work}/ngx-proxy;
  fastcgi_temp_path {work}/ngx-fcgi; uwsgi_temp_path {work}/ngx-uwsgi;
  scgi_temp_path {work}/ngx-scgi;
  default_type text/plain;
  server {{
    listen {LOOPBACK}:{port} reuseport backlog=4096;
{body}
  }}
}}
"""
    )
    return conf


def start(argv: list[str], env: dict[str, str] | None, log: Path) -> subprocess.Popen[bytes]:
    with open(log, "wb") as fh:
        return subprocess.Popen(argv, env=env, stdout=fh, stderr=fh, start_new_session=True)


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def profile_start(target: Target, args, work: Path) -> list[subprocess.Popen[bytes]]:  # type: ignore[no-untyped-def]
    """``--profile``: py-spy (sampling, ``--gil``: only what holds the GIL) on every
    process of the target for the load's duration, collapsed stacks in ``<dir>/``."""
    out = Path(args.profile)
    out.mkdir(parents=True, exist_ok=True)
    spies = []
    pids, todo = [], [p.pid for p in target.procs]
    while todo:
        pids.append(todo.pop())
        todo.extend(children(pids[-1]))
    for pid in pids:
        argv = ["py-spy", "record", "--gil", "--format", "raw", "--rate", "250",
                "--duration", str(args.duration), "--pid", str(pid),
                "-o", str(out / f"{target.name}-{pid}.txt")]  # fmt: skip
        spies.append(start(argv, None, work / f"py-spy-{pid}.log"))
    return spies


def profile_stop(spies: list[subprocess.Popen[bytes]]) -> None:
    for spy in spies:
        spy.wait(timeout=60)


def count_events(work: Path, source: str) -> int:
    """boot.config events recorded by ``source`` (http = gunicorn, nginx = the ingester)."""
    conn = sqlite3.connect(work / "pxehook.db", timeout=30)
    try:
        sql = "SELECT COUNT(*) FROM events WHERE kind='boot.config' AND source=?"
        return int(conn.execute(sql, (source,)).fetchone()[0])
    finally:
        conn.close()


def settle_events(
    work: Path, source: str, expected: int, timeout: float = 180
) -> tuple[int, float]:
    """Wait until ``expected`` events from ``source`` exist (the ingester may lag)."""
    started = time.monotonic()
    count = count_events(work, source)
    while count < expected and time.monotonic() - started < timeout:
        time.sleep(0.5)
        count = count_events(work, source)
    return count, time.monotonic() - started


# --- targets: all started first, then measured in interleaved rounds ---------------------
class Target:
    """A running server under test."""

    def __init__(self, name: str, url: str, procs: list, memory, source: str = "") -> None:  # type: ignore[no-untyped-def,type-arg]
        self.name, self.url, self.procs, self.memory, self.source = name, url, procs, memory, source
        self.runs: dict[int, list[dict]] = {}
        self.baseline = 0


def up_nginx_static(work: Path, env: dict, args) -> Target:  # type: ignore[no-untyped-def,type-arg]
    """nginx serving one rendered iPXE script (the same bytes) for every URL."""
    sample = subprocess.run(
        [str(BIN), "explain", mac_of(0), "--path", f"/ipxe/{mac_of(0)}", "--json"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    (work / "static" / "script.ipxe").write_text(json.loads(sample.stdout)["answers"][0]["body"])
    port = free_port()
    body = (
        f"    access_log off;\n    root {work}/static;\n"
        "    location / { try_files /script.ipxe =404; }"
    )
    proc = start(["nginx", "-c", str(nginx_conf(work, port, body))], None, work / "ngx.log")
    wait_http(f"http://{LOOPBACK}:{port}/x")

    def memory() -> str:
        return "nginx workers " + ", ".join(f"{rss_mib(p):.1f} MiB" for p in children(proc.pid))

    return Target("nginx-static", f"http://{LOOPBACK}:{port}", [proc], memory)


def gunicorn_memory(proc: subprocess.Popen[bytes]) -> str:
    workers = [w for m in children(proc.pid) for w in children(m)]
    return ", ".join(f"{rss_mib(p):.1f} MiB" for p in workers)


def up_naive(work: Path, env: dict, args) -> Target:  # type: ignore[no-untyped-def,type-arg]
    """The naive Flask app (bench/naive_app.py): 2 sync gunicorn workers."""
    port = free_port()
    full = {**os.environ, "NAIVE_DB": str(work / "pxehook.db")}
    argv = [sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"{LOOPBACK}:{port}",
            "--chdir", str(REPO / "bench"), "--log-level", "warning", "naive_app:app"]  # fmt: skip
    proc = start(argv, full, work / f"naive-{port}.log")
    wait_http(f"http://{LOOPBACK}:{port}/ipxe/{mac_of(0)}")
    return Target(
        "naive-flask", f"http://{LOOPBACK}:{port}", [proc],
        lambda: "workers " + ", ".join(f"{rss_mib(p):.1f} MiB" for p in children(proc.pid)),
    )  # fmt: skip


def up_pxehook(work: Path, env: dict, args) -> Target:  # type: ignore[no-untyped-def,type-arg]
    """``pxehook serve`` with its defaults (services on): decide + cached render + a
    ``boot.config`` event per request. Start-up = launch until the first boot answer."""
    port = free_port()
    full = {
        **os.environ,
        **env,
        "PXEHOOK_PORT": str(port),
        "PXEHOOK_BIND": LOOPBACK,
        "PXEHOOK_HTTP_BASE_URL": f"http://{LOOPBACK}:{port}",
    }
    started = time.monotonic()
    proc = start([str(BIN), "serve"], full, work / f"serve-{port}.log")
    wait_http(f"http://{LOOPBACK}:{port}/ipxe/{mac_of(0)}", expect=("200",))
    target = Target(
        "pxehook",
        f"http://{LOOPBACK}:{port}",
        [proc],
        lambda: f"gunicorn workers {gunicorn_memory(proc)}; supervisor {rss_mib(proc.pid):.1f} MiB",
        source="http",
    )
    target.startup = time.monotonic() - started  # type: ignore[attr-defined]
    return target


def up_nginx_front(work: Path, env: dict, args) -> Target:  # type: ignore[no-untyped-def,type-arg]
    """The recommended deployment: nginx + pre-rendered per-MAC files + log ingestion."""
    from pxehook.boot.prerender import nginx_config as front_config

    gport, nport = free_port(), free_port()
    env = {
        **os.environ,
        **env,
        "PXEHOOK_PRERENDER_DIR": str(work / "pre"),
        "PXEHOOK_ACCESS_LOG": str(work / "access.log"),
        "PXEHOOK_PORT": str(gport),
        "PXEHOOK_BIND": LOOPBACK,
        "PXEHOOK_WORKERS": str(args.workers),
        "PXEHOOK_HTTP_BASE_URL": f"http://{LOOPBACK}:{nport}",
    }
    t0 = time.monotonic()
    subprocess.run([str(BIN), "prerender"], env=env, check=True)
    print(f"prerender: {time.monotonic() - t0:.1f}s for {args.hosts} hosts", flush=True)
    proc = start([str(BIN), "serve"], env, work / "serve-front.log")
    server = front_config(
        str(work / "pre"), f"{LOOPBACK}:{gport}", f"{LOOPBACK}:{nport}", str(work / "access.log")
    )
    block = "\n".join(line for line in server.splitlines() if line.startswith("log_format"))
    inner = server.split("server {", 1)[1].rsplit("}", 1)[0]
    inner = inner.replace(f"listen {LOOPBACK}:{nport};", "")
    conf = nginx_conf(work, nport, inner)
    conf.write_text(
        conf.read_text().replace(
            "default_type text/plain;", "default_type text/plain;\n  " + block, 1
        )
    )
    ngx = start(["nginx", "-c", str(conf)], None, work / "ngx-front.log")
    wait_http(f"http://{LOOPBACK}:{gport}/healthz")
    wait_http(f"http://{LOOPBACK}:{nport}/healthz")
    offset = work / "state" / "access-log.offset"
    deadline = time.monotonic() + 300
    while not offset.exists() and time.monotonic() < deadline:
        time.sleep(0.5)  # the service loads its snapshot and ingests the health checks

    def memory() -> str:
        return (
            f"gunicorn workers {gunicorn_memory(proc)}; supervisor (pre-render + ingest) "
            f"{rss_mib(proc.pid):.1f} MiB; nginx workers "
            + ", ".join(f"{rss_mib(p):.1f} MiB" for p in children(ngx.pid))
        )

    return Target("nginx-front", f"http://{LOOPBACK}:{nport}", [ngx, proc], memory, source="nginx")


UP = {
    "nginx-static": up_nginx_static,
    "naive-flask": up_naive,
    "pxehook": up_pxehook,
    "nginx-front": up_nginx_front,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, default=10_000)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", default="64")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per target")
    parser.add_argument("--workers", type=int, default=2, help="nginx-front's gunicorn workers")
    parser.add_argument("--targets", default="nginx-static,naive-flask,pxehook")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument(
        "--profile", metavar="DIR", help="py-spy every process of pxehook under load (needs py-spy)"
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="phr-bench-"))
    os.chmod(work, 0o755)
    for sub in ("state", "files", "tftp", "static"):
        (work / sub).mkdir()
    t0 = time.monotonic()
    env = build_store(work, args.hosts)
    print(f"store: {args.hosts} hosts in {time.monotonic() - t0:.1f}s ({work})", flush=True)
    script = wrk_script(work, args.hosts)
    conns = [int(c) for c in args.connections.split(",")]
    names = args.targets.split(",")
    results: dict[str, Target] = {}
    try:
        for c in conns:
            for r in range(args.rounds):
                for name in names:
                    result = measure(name, work, env, args, script, c, results)
                    print(
                        f"round {r + 1} c={c} {name}: {result['req_s']:.0f} req/s "
                        f"p99 {result['p99_ms']:.1f} ms, {result['cpu_us']:.0f} us CPU/request "
                        f"{result.get('note', '')}",
                        flush=True,
                    )
        report([results[n] for n in names], conns, args)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def measure(name: str, work: Path, env: dict, args, script: Path, conns: int,  # type: ignore[no-untyped-def,type-arg]
            results: dict[str, Target]) -> dict:  # fmt: skip
    """Start one target alone, run wrk on it, wait for its timeline, stop it."""
    target = UP[name](work, env, args)
    try:
        baseline = count_events(work, target.source) if target.source else 0
        cpu_before = sum(tree_cpu(p.pid) for p in target.procs)
        spies = profile_start(target, args, work) if args.profile and target.source else []
        result = run_wrk(target.url, script, conns, args.duration)
        profile_stop(spies)
        if target.source:
            got, lag = settle_events(work, target.source, baseline + result["requests"], 30)
            result["recorded"], result["lag_s"] = got - baseline, lag
            result["note"] = f"timeline {got - baseline}/{result['requests']} +{lag:.2f}s"
        # the server's CPU for the load and for writing its timeline afterwards
        used = sum(tree_cpu(p.pid) for p in target.procs) - cpu_before
        result["cpu_us"] = used / max(result["requests"], 1) * 1e6
        if hasattr(target, "startup"):
            result["startup_s"] = target.startup  # type: ignore[attr-defined]
        result["memory"] = target.memory()
    finally:
        for proc in target.procs:
            stop(proc)
    kept = results.setdefault(name, target)
    kept.runs.setdefault(conns, []).append(result)
    return result


def _median(runs: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def report(targets: list[Target], conns: list[int], args) -> None:  # type: ignore[no-untyped-def]
    load = Path("/proc/loadavg").read_text().split()[:3]
    print(
        f"\n## {args.hosts} hosts, wrk -t2, {args.duration}s x {args.rounds} interleaved "
        "rounds, each target alone (medians)"
    )
    print(f"(CPUs: {os.cpu_count()}, load average at the end: {' '.join(load)})")
    print(
        "| target | conns | req/s | vs naive | vs nginx | p50 ms | p99 ms | CPU us/req "
        "| non-2xx | timeline |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    by_name = {t.name: t for t in targets}
    for target in targets:
        for c in conns:
            runs = target.runs[c]
            rps = _median(runs, "req_s")
            ratios = []
            for base in ("naive-flask", "nginx-static"):
                other = by_name.get(base)
                ratios.append(f"{rps / _median(other.runs[c], 'req_s'):.2f}x" if other else "-")
            bad = sum(r["non_2xx"] for r in runs)
            lag = (
                f"all +{max(r['lag_s'] for r in runs):.2f}s"
                if all(r.get("recorded") == r["requests"] for r in runs) and target.source
                else ", ".join(r.get("note", "-") for r in runs)
            )
            print(
                f"| {target.name} | {c} | {rps:.0f} | {ratios[0]} | {ratios[1]} "
                f"| {_median(runs, 'p50_ms'):.2f} | {_median(runs, 'p99_ms'):.2f} "
                f"| {_median(runs, 'cpu_us'):.0f} | {bad} "
                f"| {lag} |"
            )
    for target in targets:
        runs = [r for rs in target.runs.values() for r in rs]
        startup = [r["startup_s"] for r in runs if "startup_s" in r]
        extra = f"; start-up to first answer {statistics.median(startup):.1f}s" if startup else ""
        print(f"{target.name}: memory {runs[-1]['memory']}{extra}")


if __name__ == "__main__":
    main()
