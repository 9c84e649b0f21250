#!/usr/bin/env python3
"""TFTP benchmark: pxehook's TFTP server vs dnsmasq's, same files, same client, same run.

Runs inside a private network namespace (``phrtftp-<pid>``: its own loopback, so port 69
is free and nothing touches a real interface). atftp fetches a 50 MiB file at blksize
1468 (and 512) three times from each server; then 200 small per-MAC config fetches
(pxehook renders ``pxelinux.cfg/01-<mac>`` through decide(); dnsmasq serves the same bytes
as a static file). Prints MiB/s (median of 3) and configs/s. Needs root. Usage::

    .venv/bin/python bench/bench_tftp.py
"""

from __future__ import annotations

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
        report(run_all())
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


def report(results: dict[str, dict[str, float]]) -> None:
    print("| measure | dnsmasq | pxehook | pxehook / dnsmasq |")
    print("|---|---|---|---|")
    for key in results["dnsmasq"]:
        d, p = results["dnsmasq"][key], results["pxehook"][key]
        print(f"| {key} | {d:.1f} | {p:.1f} | {p / d:.2f}x |")


if __name__ == "__main__":
    main()
