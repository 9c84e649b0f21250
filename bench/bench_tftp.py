#!/usr/bin/env python3
"""TFTP benchmark: pxehook's TFTP server vs dnsmasq's, same files, same client, same run.

Runs inside a private network namespace (``phrtftp-<pid>``: its own loopback, so port 69
is free and nothing touches a real interface). atftp fetches a 50 MiB file at blksize
1468 (and 512) three times from each server; then 200 small per-MAC config fetches
(pxehook renders ``pxelinux.cfg/01-<mac>`` through decide(); dnsmasq serves the same bytes
as a static file). Prints MiB/s (median of 3) and configs/s. Then the flood: how long a
1 MiB loader takes (blksize 1468) while ``tests/harness/tftp_flood.py`` sends requests
that are never acknowledged — 10,000 at 2,000/s from 200 addresses, then 15,000 at
5,000/s from 2,000 addresses (loopback addresses of the namespace) — and what the flood
got back per request. Needs root. Usage::

    .venv/bin/python bench/bench_tftp.py
"""

from __future__ import annotations

import json
import math
import os
import shutil
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

NS = f"phrtftp-{os.getpid()}"
MIB = 1024 * 1024
MAC = "52-54-00-12-34-01"


def ns(*argv: str, **kw) -> subprocess.CompletedProcess[str]:  # type: ignore[no-untyped-def]
    return subprocess.run(["ip", "netns", "exec", NS, *argv], capture_output=True, text=True, **kw)


def spawn(log: Path, *argv: str, env: dict | None = None) -> subprocess.Popen[bytes]:
    with open(log, "wb") as fh:
        return subprocess.Popen(["ip", "netns", "exec", NS, *argv], stdout=fh, stderr=fh, env=env)


def fetch(port: int, remote: str, blksize: int, local: str = "/dev/null") -> float:
    """Seconds for one atftp download inside the namespace (loopback only)."""
    started = time.perf_counter()
    done = ns(
        "atftp",
        "--option",
        f"blksize {blksize}",
        "-g",
        "-r",
        remote,
        "-l",
        local,
        "127.0.0.1",
        str(port),
        timeout=300,
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"atftp {remote} from port {port}: {done.stderr.strip()}")
    return elapsed


def wait_udp_ready(port: int, name: str) -> None:
    for _ in range(100):
        try:
            fetch(port, name, 512)
            return
        except RuntimeError:
            time.sleep(0.1)
    raise RuntimeError(f"TFTP server on port {port} did not answer")


def main() -> None:
    if os.geteuid() != 0:
        sys.exit("bench_tftp.py needs root (it creates a network namespace)")
    work = Path(tempfile.mkdtemp(prefix="phr-tftp-"))
    root = work / "root"
    (root / "pxelinux.cfg").mkdir(parents=True)
    (root / "big.bin").write_bytes(os.urandom(50 * MIB))
    (root / "loader.bin").write_bytes(os.urandom(MIB))
    env = {
        "PXEHOOK_DATABASE": f"sqlite:///{work}/pxehook.db",
        "PXEHOOK_TFTP_ROOT": str(root),
        "PXEHOOK_STATE_DIR": str(work / "state"),
        "PXEHOOK_LOG_LEVEL": "warning",
    }
    ctx = Context(load_settings(env=env))
    sync(load(str(REPO / "templates/samples/inventory.yaml")), ctx.store())
    ctx.close()
    subprocess.run(["ip", "netns", "add", NS], check=True)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        ns("ip", "link", "set", "lo", "up", check=True)
        procs.append(
            spawn(
                work / "dnsmasq.log",
                "dnsmasq",
                "--no-daemon",
                "--port=0",
                "--enable-tftp",
                f"--tftp-root={root}",
                "--user=root",
                "--listen-address=127.0.0.1",
                "--bind-interfaces",
                f"--pid-file={work}/dnsmasq.pid",
            )
        )
        pxehook = str(Path(sys.executable).parent / "pxehook")
        procs.append(
            spawn(
                work / "pxehook.log",
                pxehook,
                "tftp",
                "--bind",
                "127.0.0.1",
                "--port",
                "6969",
                env={**os.environ, **env},
            )
        )
        wait_udp_ready(69, "big.bin")
        wait_udp_ready(6969, "big.bin")
        # the same bytes dnsmasq will serve statically for the per-MAC name
        cfg = work / "cfg"
        fetch(6969, f"pxelinux.cfg/01-{MAC}", 512, str(cfg))
        shutil.copy(cfg, root / "pxelinux.cfg" / f"01-{MAC}")
        results = run_all()
        for name, rows in run_floods().items():
            results[name].update(rows)
        report(results)
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=10)
        subprocess.run(["ip", "netns", "del", NS], check=False)
        shutil.rmtree(work, ignore_errors=True)


def run_all() -> dict[str, dict[str, float]]:
    results: dict[str, dict[str, float]] = {"dnsmasq": {}, "pxehook": {}}
    ports = {"dnsmasq": 69, "pxehook": 6969}
    for blksize in (1468, 512):
        for name, port in ports.items():
            times = [fetch(port, "big.bin", blksize) for _ in range(3)]
            results[name][f"50 MiB @ blksize {blksize} (MiB/s)"] = 50 / statistics.median(times)
    for name, port in ports.items():
        started = time.perf_counter()
        for _ in range(200):
            fetch(port, f"pxelinux.cfg/01-{MAC}", 1468)
        results[name]["per-MAC config fetches/s"] = 200 / (time.perf_counter() - started)
    return results


#: (requests, per second, source addresses) of each flood
FLOODS = ((10_000, 2_000, 200), (15_000, 5_000, 2_000))


def flood_sources(count: int) -> str:
    """``count`` loopback addresses of the namespace (127.0.10.1 onwards)."""
    return ",".join(f"127.0.{10 + n // 250}.{1 + n % 250}" for n in range(count))


def under_flood(port: int, requests: int, rate: int, sources: int) -> tuple[float, dict]:  # type: ignore[type-arg]
    """Seconds for the 1 MiB loader while the flood runs (started 1 s into it), and the
    flooder's report."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    argv = [
        "ip", "netns", "exec", NS, sys.executable, "-m", "tests.harness.tftp_flood",
        "--target", "127.0.0.1", "--port", str(port), "--sources", flood_sources(sources),
        "--requests", str(requests), "--rate", str(rate), "--name", "loader.bin", "--hold", "3",
    ]  # fmt: skip
    flooder = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, env=env)
    assert flooder.stdout is not None
    flooder.stdout.readline()  # "flooding"
    time.sleep(1.0)
    try:
        seconds = fetch(port, "loader.bin", 1468)
    except RuntimeError:  # the client gave up: the flood denied it service
        seconds = float("inf")
    out, _ = flooder.communicate(timeout=300)
    time.sleep(6)  # let the server forget the flood before the next measure
    return seconds, json.loads(out.strip().splitlines()[-1])


def run_floods() -> dict[str, dict[str, float]]:
    results: dict[str, dict[str, float]] = {"dnsmasq": {}, "pxehook": {}}
    ports = {"dnsmasq": 69, "pxehook": 6969}
    for name, port in ports.items():
        results[name]["1 MiB loader, quiet (s)"] = statistics.median(
            fetch(port, "loader.bin", 1468) for _ in range(3)
        )
        for requests, rate, sources in FLOODS:
            seconds, got = under_flood(port, requests, rate, sources)
            label = f"{requests:,} requests at {rate:,}/s from {sources:,} addresses"
            results[name][f"1 MiB loader under {label} (s)"] = seconds
            results[name][f"  replies per request, most ({label})"] = got["max_replies_per_request"]
            results[name][f"  largest reply, bytes ({label})"] = got["max_reply_size"]
    return results


def report(results: dict[str, dict[str, float]]) -> None:
    print("| measure | dnsmasq | pxehook | pxehook / dnsmasq |")
    print("|---|---|---|---|")
    for key in results["dnsmasq"]:
        d, p = results["dnsmasq"][key], results["pxehook"][key]
        ratio = f"{p / d:.2f}x" if d and math.isfinite(d) and math.isfinite(p) else "-"
        print(f"| {key} | {shown(d)} | {shown(p)} | {ratio} |")


def shown(value: float) -> str:
    return f"{value:.2f}" if math.isfinite(value) else "failed (client gave up)"


if __name__ == "__main__":
    main()
