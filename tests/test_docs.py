"""Docs that are generated from code must match it (architecture table, settings, CLI)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_generated_docs_are_fresh():
    r = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_docs.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr


def test_docs_arch_table_equals_the_code_table(cli):
    from pxehook import arch

    text = (ROOT / "docs" / "architectures.md").read_text()
    rows = [line for line in text.splitlines() if line.startswith("| ") and "0x" in line]
    assert len(rows) == len(arch.TABLE)
    for row, a in zip(rows, arch.TABLE, strict=True):
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[:6] == [str(a.code), a.hex, f"`{a.slug}`", a.name, a.firmware, a.cpu]
        for loader in a.loaders.values():
            assert f"`{loader}`" in cells[7]
    listed = __import__("json").loads(cli("arch", "list", "--json").out)
    assert [r["code"] for r in listed] == [a.code for a in arch.TABLE]


def test_every_setting_is_documented():
    from pxehook.config import SETTINGS

    text = (ROOT / "docs" / "configuration.md").read_text()
    for s in SETTINGS:
        assert f"`{s.name}`" in text and f"`{s.env}`" in text
