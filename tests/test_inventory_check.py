"""``inventory check`` runs exactly the validation an apply runs (issue 17), and long work
shows a progress bar on a terminal only (issue 13)."""

from __future__ import annotations

import io

import pytest

from pxehook.cli.progress import ProgressBar

BASE = """\
profiles:
  inst:
    kind: installer
    kernel: {x86: "KERNEL"}
  spare:
    kind: installer
    kernel: {x86: "SPARE"}
hosts:
  - mac: "52:54:00:ee:00:01"
    name: e1
    profile: inst
"""


@pytest.mark.parametrize(
    ("kernel", "spare", "expected"),
    [
        (
            "{{ files_url }}/{{ release }}/linux",
            "/k",
            ":9: host e1 (52:54:00:ee:00:01): profile inst: kernel: 'release' is undefined",
        ),
        (
            "{{ files_url }/linux",
            "/k",
            ":2: profile 'inst': kernel x86: template syntax: unexpected '}'",
        ),
        (
            "/k",
            "{{ nope | no_such_filter }}",
            ":5: profile 'spare': kernel x86: template syntax: No filter named 'no_such_filter'.",
        ),
    ],
    ids=["undefined-variable", "syntax", "unused-profile"],
)
def test_check_refuses_what_sync_refuses_with_the_same_one_line(
    cli, tmp_path, store, kernel, spare, expected
) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "inv.yaml"
    path.write_text(BASE.replace("KERNEL", kernel).replace("SPARE", spare))
    checked = cli("inventory", "check", str(path))
    synced = cli("--inventory", str(path), "inventory", "sync")
    assert (checked.code, synced.code) == (5, 5)
    assert checked.err == synced.err == f"pxehook: error: {path}{expected}\n"
    assert store.host_get("52:54:00:ee:00:01") is None  # nothing applied
    assert checked.err.count("host ") <= 1  # each prefix once


def test_check_says_ok_when_sync_would_apply(cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "inv.yaml"
    path.write_text(BASE.replace("KERNEL", "{{ files_url }}/linux").replace("SPARE", "/k"))
    r = cli("inventory", "check", str(path))
    assert (r.code, r.out, r.err) == (0, f"{path}: OK (3 profiles, 1 host)\n", "")
    assert cli("--inventory", str(path), "inventory", "sync").code == 0


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_shows_on_a_terminal_only_once_the_work_is_slow() -> None:
    now = [0.0]
    terminal = _Terminal()
    with ProgressBar(terminal, clock=lambda: now[0]) as bar:
        bar("read", 10, 100)  # within the first second: nothing
        assert terminal.getvalue() == ""
        now[0] = 1.5
        bar("read", 50, 100)
        assert terminal.getvalue() == "\rread   [###############               ] 50/100"
        now[0] = 1.55
        bar("read", 60, 100)  # redrawn at most ten times a second
        assert terminal.getvalue().count("\r") == 1
        bar("write", 100, 100)  # the end is always drawn
    last = "write  [##############################] 100/100"
    assert terminal.getvalue().endswith(f"\r{last}\r{' ' * len(last)}\r")  # erased when done
    pipe = io.StringIO()
    with ProgressBar(pipe, clock=lambda: now[0] + 100) as bar:
        bar("read", 50, 100)
    assert pipe.getvalue() == ""  # not a terminal: never
