"""The manual page (generated from the commands; docs/pxehook.1 is checked for drift by
test_docs) renders without warnings and names every command; shell completion, as the
page and docs/operations.md document it, completes in a real bash."""

from __future__ import annotations

import os
import subprocess

import click

from pxehook.cli.root import cli as root
from tests.conftest import require_tool


def _leaves(cmd: click.Command, path: list[str]) -> list[str]:
    if isinstance(cmd, click.Group):
        return [leaf for n, c in cmd.commands.items() for leaf in _leaves(c, [*path, n])]
    return [" ".join(path)]


def test_man_page_renders_clean_and_names_every_command(pxehook_bin, tmp_path) -> None:  # type: ignore[no-untyped-def]
    require_tool("groff")
    page = subprocess.run([pxehook_bin, "man"], capture_output=True, text=True, timeout=60)
    assert page.returncode == 0, page.stderr
    (tmp_path / "pxehook.1").write_text(page.stdout)
    lint = subprocess.run(
        ["groff", "-man", "-Tutf8", "-ww", "-z", str(tmp_path / "pxehook.1")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert lint.returncode == 0 and lint.stderr == "", lint.stderr
    text = subprocess.run(
        ["groff", "-man", "-Tascii", "-P", "-cbou", str(tmp_path / "pxehook.1")],
        capture_output=True, text=True, timeout=60,
    ).stdout  # fmt: skip
    for command in _leaves(root, []):
        assert f"pxehook {command}" in text, command
    assert "PXEHOOK_EVENT_RETENTION_DAYS" in text and "_PXEHOOK_COMPLETE" in text


def test_bash_completion_completes_commands(pxehook_bin) -> None:  # type: ignore[no-untyped-def]
    script = (
        f'eval "$(_PXEHOOK_COMPLETE=bash_source {pxehook_bin})"\n'
        f"COMP_WORDS=({pxehook_bin} db pr); COMP_CWORD=2\n"
        f"_pxehook_completion {pxehook_bin}\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PXEHOOK_CONFIG": "/nonexistent"})  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["prune"]
