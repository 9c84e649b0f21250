"""The C hook and the Python fallback: one identical, parseable record per event."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pxehook.capture import spool as sp
from pxehook.capture.build import SOURCE
from tests.conftest import REPO
from tests.harness.capture import build_hooks, run_hook

HOSTILE_NAME = b"evil\n$(reboot);`id`|'\"\\ \xff\xfe name"
LONG_VENDOR = b"PXEClient:Arch:00007:UNDI:003000:" + b"V" * 222  # 255 bytes


@pytest.fixture(scope="module")
def hooks(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("hooks")
    return build_hooks(d, d / "unused" / "hook.spool")


def records(path: Path) -> list[sp.Record]:
    chunk = sp.parse(path.read_bytes())
    assert chunk.skipped == 0 and chunk.partial == 0
    return chunk.records


def payload_without_time(data: bytes) -> bytes:
    body = data.split(b"\n", 1)[1]
    return body.split(b"\x00", 1)[1]  # drop the 't' item


CASES = {
    "dnsmasq-add-hostile": (
        [b"add", b"52:54:00:12:34:56", b"10.0.0.5", HOSTILE_NAME],
        {
            b"DNSMASQ_VENDOR_CLASS": LONG_VENDOR,
            b"DNSMASQ_SUPPLIED_HOSTNAME": HOSTILE_NAME,
            b"DNSMASQ_TAGS": b"pxh-efi-x64 eth0",
            b"DNSMASQ_USER_CLASS0": b"iPXE",
            b"HOME": b"/root",
            b"PATH": b"/usr/bin",
        },
    ),
    "isc-commit": (
        [b"isc", b"commit", b"10.0.0.9", b"52:54:0:a:b:c", b"PXEClient", b"", b"h\\012x", b"7"],
        {},
    ),
    "kea-committed-no-path": (
        [b"leases4_committed"],
        {
            b"LEASES4_SIZE": b"1",
            b"LEASES4_AT0_HWADDR": b"52:54:00:00:00:01",
            b"LEASES4_AT0_ADDRESS": b"10.0.0.7",
            b"QUERY4_TYPE": b"DHCPREQUEST",
        },
    ),
    "dnsmasq-tftp-argv-only": ([b"tftp", b"74213", b"10.0.0.5", b"/srv/tftp/a b\nc.efi"], {}),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_c_and_python_hooks_write_identical_records(hooks, tmp_path: Path, case: str) -> None:
    args, env = CASES[case]
    out = {}
    for name, hook in zip(("c", "py"), hooks, strict=True):
        spool = tmp_path / name / "hook.spool"
        result = run_hook(hook, *args, env={**env, b"PXH_HOOK_SPOOL": str(spool).encode()})
        assert result.returncode == 0 and result.stdout == b"" and result.stderr == b""
        out[name] = spool.read_bytes()
    assert payload_without_time(out["c"]) == payload_without_time(out["py"])
    rec = records(tmp_path / "c" / "hook.spool")[0]
    assert list(rec.args) == args
    expected = {k.decode(): v for k, v in env.items() if k not in (b"HOME", b"PATH")}
    assert rec.env == expected  # only the DHCP servers' variables are recorded
    assert abs(rec.at - records(tmp_path / "py" / "hook.spool")[0].at) < 30


def test_hostile_bytes_survive_unchanged_in_the_spool(hooks, tmp_path: Path) -> None:
    args, env = CASES["dnsmasq-add-hostile"]
    spool = tmp_path / "hook.spool"
    run_hook(hooks[0], *args, env={**env, b"PXH_HOOK_SPOOL": str(spool).encode()})
    rec = records(spool)[0]
    assert rec.args[3] == HOSTILE_NAME
    assert rec.env["DNSMASQ_VENDOR_CLASS"] == LONG_VENDOR and len(LONG_VENDOR) == 255


@pytest.mark.parametrize("which", [0, 1])
def test_init_prints_nothing_and_writes_nothing(hooks, tmp_path: Path, which: int) -> None:
    spool = tmp_path / "hook.spool"
    result = run_hook(hooks[which], "init", env={"PXH_HOOK_SPOOL": str(spool)})
    assert (result.returncode, result.stdout, result.stderr) == (0, b"", b"")
    assert not spool.exists()


@pytest.mark.parametrize("which", [0, 1])
def test_unwritable_spool_logs_and_exits_zero(hooks, tmp_path: Path, which: int) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    result = run_hook(
        hooks[which],
        "add",
        "52:54:00:00:00:01",
        "10.0.0.1",
        env={"PXH_HOOK_SPOOL": str(blocker / "hook.spool")},
    )
    assert result.returncode == 0 and result.stdout == b""
    assert b"pxehook-hook" in result.stderr and b"dropped" in result.stderr


@pytest.mark.parametrize("fsync", ["off", "sync", "async"])
@pytest.mark.parametrize("which", [0, 1])
def test_missing_spool_directory_is_created(hooks, tmp_path: Path, which: int, fsync: str) -> None:
    spool = tmp_path / "new" / "hook.spool"
    result = run_hook(
        hooks[which],
        "old",
        "52:54:00:00:00:01",
        "10.0.0.1",
        env={"PXH_HOOK_SPOOL": str(spool), "PXH_HOOK_FSYNC": fsync},
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, b"", b"")
    assert len(records(spool)) == 1


def test_oversized_event_is_one_truncated_record(hooks, tmp_path: Path) -> None:
    env = {f"DNSMASQ_X{i}": "v" * 4000 for i in range(30)}  # ~120 KB of variables
    for name, hook in zip(("c", "py"), hooks, strict=True):
        spool = tmp_path / name / "hook.spool"
        run_hook(
            hook, "add", "52:54:00:00:00:01", "10.0.0.1", env={**env, "PXH_HOOK_SPOOL": str(spool)}
        )
        (rec,) = records(spool)
        assert rec.truncated and 10 <= len(rec.env) < 30
    c, py = (tmp_path / n / "hook.spool" for n in ("c", "py"))
    assert payload_without_time(c.read_bytes()) == payload_without_time(py.read_bytes())


def test_records_from_many_hooks_never_interleave(hooks, tmp_path: Path) -> None:
    import subprocess

    spool = tmp_path / "hook.spool"
    env = {"PXH_HOOK_SPOOL": str(spool), "PXH_HOOK_FSYNC": "0", "DNSMASQ_TAGS": "x" * 3000}
    procs = [
        subprocess.Popen([str(hooks[i % 2]), "add", f"52:54:00:00:00:{i:02x}", "10.0.0.1"], env=env)
        for i in range(40)
    ]
    assert all(p.wait(timeout=60) == 0 for p in procs)
    assert sorted(r.args[1] for r in records(spool)) == sorted(
        f"52:54:00:00:00:{i:02x}".encode() for i in range(40)
    )


def test_packaged_source_is_the_hooks_file() -> None:
    assert SOURCE.resolve() == (REPO / "hooks" / "pxehook-hook.c").resolve()
    assert os.access(SOURCE, os.R_OK)
