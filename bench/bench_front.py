#!/usr/bin/env python3
"""The nginx front against nginx serving static bytes, in the same run; then a storm.

    .venv/bin/python bench/bench_front.py [--hosts 100000] [--duration 10] [--rounds 3]
                                          [--storm 40] [--connections 64]

Builds a store of N hosts (half ``deployed``/local, half ``rescue`` booting a live profile;
BIOS and UEFI, architecture seen by DHCP: every answer can be pre-rendered), fills
``prerender_dir`` with ``pxehook prerender``, then starts:

* ``nginx-static``: nginx answering every URL with one rendered iPXE script from a file,
  access log off (the ceiling);
* ``nginx-front``: the deployment docs/resolver.md describes — nginx serving the per-MAC
  files and logging each answer, ``pxehook serve`` (gunicorn, the pre-render thread and
  the access-log ingester) behind it.

wrk (loopback only) picks random per-MAC iPXE and PXELINUX URLs. The targets are measured
in interleaved rounds, the other one stopped (SIGSTOP) meanwhile; medians are printed.
Then a storm of ``--storm`` seconds hits the front, and the bench watches the timeline:
how many of the answers nginx logged were not yet recorded 0, 1, 5 s after the storm, and
when the last one was. It prints the supervisor's memory (``pxehook serve`` itself: the
pre-render and ingest threads) after start-up and after the storm, current and peak.
Goals (issue 13): front >= 0.9x nginx-static; every answer on the timeline within 5 s of
the storm's end; supervisor < 150 MiB with 100,000 hosts.
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

from pxehook.boot.accesslog import parse_line  # noqa: E402
from pxehook.boot.front import nginx_config  # noqa: E402
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
    """Settings env + a store of ``hosts`` pre-renderable machines (one bulk transaction)."""
    env = {
        "PXEHOOK_DATABASE": f"sqlite:///{work}/pxehook.db",
        "PXEHOOK_INVENTORY": str(work / "inventory.yaml"),
        "PXEHOOK_STATE_DIR": str(work / "state"),
        "PXEHOOK_SPOOL_DIR": str(work / "spool"),
        "PXEHOOK_FILES_DIR": str(work / "files"),
        "PXEHOOK_TFTP_ROOT": str(work / "tftp"),
        "PXEHOOK_PRERENDER_DIR": str(work / "pre"),
        "PXEHOOK_ACCESS_LOG": str(work / "access.log"),
        "PXEHOOK_LOG_LEVEL": "warning",
    }
    shutil.copy(REPO / "templates/samples/inventory.yaml", work / "inventory.yaml")
    ctx = Context(load_settings(env=env))
    sync(load(str(work / "inventory.yaml")), ctx.store())
    ctx.close()
    now = time.time()
    rows = [
        (f"bench{i:06d}", 0 if i % 4 < 2 else 7, "dhcp", f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}",  # noqa: E501
         "rescue" if i % 2 else "local", "rescue" if i % 2 else "deployed", now)
        for i in range(hosts)
    ]  # fmt: skip
    conn = sqlite3.connect(work / "pxehook.db")
    with conn:
        start = conn.execute("SELECT COALESCE(MAX(id), 0) FROM hosts").fetchone()[0]
        conn.executemany(
            "INSERT INTO hosts(name, arch, arch_source, ip, profile, state, state_changed)"
            " VALUES (?,?,?,?,?,?,?)",
            rows,
        )
        conn.executemany(
            "INSERT INTO host_macs(mac, host_id, position) VALUES (?,?,0)",
            [(mac_of(i), start + 1 + i) for i in range(hosts)],
        )
        conn.execute(
            "UPDATE server_values SET value = CAST(value AS INTEGER) + 1 WHERE key='generation'"
        )
    conn.close()
    return env


def wrk_script(work: Path, hosts: int, count: int = 20000) -> Path:
    rnd = random.Random(42)
    urls = []
    for _ in range(count):
        dashed = mac_of(rnd.randrange(hosts)).replace(":", "-")
        if rnd.random() < 0.5:
            urls.append(f"/ipxe/{dashed}?buildarch=x86_64&platform=efi")
        else:
            urls.append(f"/pxelinux.cfg/01-{dashed}")
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
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "req_s": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "p50_ms": _ms(re.search(r"^\s*50%\s+(\S+)", out, re.M).group(1)),  # type: ignore[union-attr]
        "p99_ms": _ms(re.search(r"^\s*99%\s+(\S+)", out, re.M).group(1)),  # type: ignore[union-attr]
        "requests": int(re.search(r"(\d+) requests in", out).group(1)),  # type: ignore[union-attr]
        "non_2xx": int(bad.group(1)) if bad else 0,
    }


def memory(pid: int) -> str:
    """Current and peak resident memory of one process, MiB."""
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    rss, peak = (int(fields[k].split()[0]) / 1024 for k in ("VmRSS", "VmHWM"))
    return f"{rss:.0f} MiB (peak {peak:.0f} MiB)"


def wait_http(url: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        code = subprocess.run(
            ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", url],
            capture_output=True,
            text=True,
        ).stdout.strip()
        if code in ("200", "404"):
            return
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer")


def nginx_conf(work: Path, name: str, http_body: str) -> Path:
    conf = work / f"nginx-{name}.conf"
    conf.write_text(
        f"user root; worker_processes auto; daemon off; pid {work}/nginx-{name}.pid;\n"
        f"error_log {work}/nginx-{name}.err warn; events {{ worker_connections 4096; }}\n"
        f"http {{ client_body_temp_path {work}/b; proxy_temp_path {work}/p;\n"
        f"  fastcgi_temp_path {work}/f; uwsgi_temp_path {work}/u; scgi_temp_path {work}/s;\n"
        f"  default_type text/plain;\n{http_body}}}\n"
    )
    return conf


def start(argv: list[str], env: dict[str, str] | None, log: Path) -> subprocess.Popen[bytes]:
    with open(log, "wb") as fh:
        return subprocess.Popen(argv, env=env, stdout=fh, stderr=fh, start_new_session=True)


def signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    os.killpg(proc.pid, sig)


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGCONT)
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def recorded(work: Path) -> int:
    conn = sqlite3.connect(work / "pxehook.db", timeout=60)
    try:
        sql = "SELECT COUNT(*) FROM events WHERE kind='boot.config' AND source='nginx'"
        return int(conn.execute(sql).fetchone()[0])
    finally:
        conn.close()


def served(work: Path) -> int:
    """Answers nginx gave from pre-rendered files, as its access log says."""
    with open(work / "access.log", encoding="utf-8", errors="replace") as fh:
        return sum(1 for line in fh if parse_line(line.rstrip("\n")))


class Target:
    def __init__(self, name: str, url: str, procs: list[subprocess.Popen[bytes]]) -> None:
        self.name, self.url, self.procs = name, url, procs
        self.runs: list[dict] = []

    def pause(self, sig: signal.Signals) -> None:
        for proc in self.procs:
            signal_group(proc, sig)


def up_static(work: Path, env: dict[str, str]) -> Target:
    sample = subprocess.run(
        [str(BIN), "explain", mac_of(0), "--path", f"/ipxe/{mac_of(0)}", "--json"],
        env={**os.environ, **env}, capture_output=True, text=True, check=True,
    )  # fmt: skip
    (work / "static").mkdir()
    (work / "static" / "script.ipxe").write_text(json.loads(sample.stdout)["answers"][0]["body"])
    port = free_port()
    body = (
        f"  server {{ listen {LOOPBACK}:{port} reuseport backlog=4096; access_log off;\n"
        f"    root {work}/static; location / {{ try_files /script.ipxe =404; }} }}\n"
    )
    proc = start(["nginx", "-c", str(nginx_conf(work, "static", body))], None, work / "s.log")
    wait_http(f"http://{LOOPBACK}:{port}/x")
    return Target("nginx-static", f"http://{LOOPBACK}:{port}", [proc])


def up_front(work: Path, env: dict[str, str], workers: int) -> tuple[Target, int]:
    gport, nport = free_port(), free_port()
    full = {
        **os.environ,
        **env,
        "PXEHOOK_PORT": str(gport),
        "PXEHOOK_BIND": LOOPBACK,
        "PXEHOOK_WORKERS": str(workers),
        "PXEHOOK_HTTP_BASE_URL": f"http://{LOOPBACK}:{nport}",
    }
    serve = start([str(BIN), "serve"], full, work / "serve.log")
    server = nginx_config(
        str(work / "pre"), f"{LOOPBACK}:{gport}", f"{LOOPBACK}:{nport}", str(work / "access.log")
    )
    server = server.replace(
        f"listen {LOOPBACK}:{nport};", f"listen {LOOPBACK}:{nport} reuseport backlog=4096;"
    )
    ngx = start(["nginx", "-c", str(nginx_conf(work, "front", server))], None, work / "f.log")
    wait_http(f"http://{LOOPBACK}:{gport}/healthz")
    wait_http(f"http://{LOOPBACK}:{nport}/healthz")
    return Target("nginx-front", f"http://{LOOPBACK}:{nport}", [ngx, serve]), serve.pid


def storm(front: Target, work: Path, script: Path, conns: int, seconds: int) -> str:
    """Hit the front for ``seconds``; how long until the timeline holds every answer."""
    result = run_wrk(front.url, script, conns, seconds)
    ended = time.monotonic()
    total = served(work)
    marks, missing_at = {}, {}
    while True:
        waited = time.monotonic() - ended
        missing = total - recorded(work)
        for mark in (0, 1, 5, 30):
            if waited >= mark and mark not in missing_at:
                missing_at[mark] = missing
        if missing <= 0:
            marks["complete"] = waited
            break
        if waited > 180:
            break
        time.sleep(0.25)
    done = f"all recorded {marks['complete']:.1f} s after" if marks else "NOT all after 180 s"
    gaps = ", ".join(f"{m} s: {n}" for m, n in sorted(missing_at.items()))
    return (
        f"storm: {result['requests']} requests in {seconds} s ({result['req_s']:.0f} req/s), "
        f"nginx logged {total} static answers; missing from the timeline after {gaps}; {done}"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hosts", type=int, default=100_000)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--storm", type=int, default=40)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="pxh-front-"))
    os.chmod(work, 0o755)
    targets: list[Target] = []
    try:
        t0 = time.monotonic()
        env = build_store(work, args.hosts)
        print(f"store: {args.hosts} hosts in {time.monotonic() - t0:.1f} s ({work})", flush=True)
        t0 = time.monotonic()
        subprocess.run([str(BIN), "prerender"], env={**os.environ, **env}, check=True)
        print(f"prerender (CLI, first run): {time.monotonic() - t0:.1f} s", flush=True)
        script = wrk_script(work, args.hosts)
        static = up_static(work, env)
        front, supervisor = up_front(work, env, args.workers)
        targets = [static, front]
        time.sleep(5)  # the supervisor's first sync (the files exist: nothing to render)
        started = memory(supervisor)
        for r in range(args.rounds):
            for target in targets:
                others = [t for t in targets if t is not target]
                for other in others:
                    other.pause(signal.SIGSTOP)
                try:
                    result = run_wrk(target.url, script, args.connections, args.duration)
                finally:
                    for other in others:
                        other.pause(signal.SIGCONT)
                target.runs.append(result)
                print(f"round {r + 1} {target.name}: {result['req_s']:.0f} req/s "
                      f"p99 {result['p99_ms']:.1f} ms", flush=True)  # fmt: skip
        static.pause(signal.SIGSTOP)
        report = storm(front, work, script, args.connections, args.storm)
        static.pause(signal.SIGCONT)
        print_table(targets, args)
        print(report)
        print(f"supervisor memory: after start {started}; after the storm {memory(supervisor)}")
        load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
        print(f"(CPUs: {os.cpu_count()}, load average at the end: {load})")
    finally:
        for target in targets:
            for proc in target.procs:
                stop(proc)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


def print_table(targets: list[Target], args: argparse.Namespace) -> None:
    print(f"\n## {args.hosts} hosts, wrk -t2 -c{args.connections}, {args.duration} s x "
          f"{args.rounds} interleaved rounds (medians)")  # fmt: skip
    print("| target | req/s | vs nginx-static | p50 ms | p99 ms | non-2xx |")
    print("|---|---:|---:|---:|---:|---:|")
    base = statistics.median(r["req_s"] for r in targets[0].runs)
    for target in targets:
        rps = statistics.median(r["req_s"] for r in target.runs)
        p50 = statistics.median(r["p50_ms"] for r in target.runs)
        p99 = statistics.median(r["p99_ms"] for r in target.runs)
        bad = sum(r["non_2xx"] for r in target.runs)
        print(f"| {target.name} | {rps:.0f} | {rps / base:.2f}x | {p50:.2f} | {p99:.2f} | {bad} |")


if __name__ == "__main__":
    raise SystemExit(main())
