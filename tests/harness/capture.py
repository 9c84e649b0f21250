"""Helpers for the capture tests: build the real hook, run it like a DHCP server does."""

from __future__ import annotations

import subprocess
from pathlib import Path

from pxehook import arch
from pxehook.capture.build import build_c, build_python


def build_hooks(workdir: Path, spool: Path) -> tuple[Path, Path]:
    """The C hook and the Python fallback, both with ``spool`` compiled in."""
    workdir.mkdir(parents=True, exist_ok=True)
    return (
        build_c(workdir / "pxehook-hook", str(spool)),
        build_python(workdir / "pxehook-hook.py", str(spool)),
    )


def run_hook(
    hook: Path, *args: str | bytes, env: dict[str | bytes, str | bytes] | None = None
) -> subprocess.CompletedProcess[bytes]:
    """One invocation as dnsmasq makes it: argv + only the given environment."""
    return subprocess.run(
        [str(hook), *args], env=env or {}, capture_output=True, timeout=30, check=False
    )


def dnsmasq_arch_matches() -> list[str]:
    """``dhcp-match`` lines tagging every option-93 code with its arch-table tag."""
    return [f"dhcp-match=set:{a.dnsmasq_tag},option:client-arch,{a.code}" for a in arch.TABLE]
