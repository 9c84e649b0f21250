"""A built wheel works outside the source tree, templates included."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_wheel_installs_and_runs_outside_the_repo(tmp_path):
    wheels = tmp_path / "wheels"
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(wheels),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    (wheel,) = wheels.glob("pxehook-*.whl")
    target = tmp_path / "site"
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "-q",
            "--target",
            str(target),
            str(wheel),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    deps = sysconfig.get_paths()["purelib"]  # flask, jinja2… but not the editable pxehook
    env = {
        "PYTHONPATH": f"{target}:{deps}",
        "PATH": "/usr/bin:/bin",
        "PXEHOOK_DATABASE": f"sqlite:///{tmp_path}/db.sqlite",
    }
    code = (
        "import json, pxehook, pxehook.templating as r, os; "
        "print(json.dumps([pxehook.__file__, r.packaged_templates_dir(), "
        "sorted(os.listdir(os.path.join(r.packaged_templates_dir(), 'samples')))]))"
    )
    out = subprocess.run(
        ["/usr/bin/python3", "-c", code],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    module_file, templates, samples = json.loads(out.stdout)
    assert module_file.startswith(str(target)) and templates.startswith(str(target))
    assert "inventory.yaml" in samples
    listed = subprocess.run(
        ["/usr/bin/python3", "-m", "pxehook", "arch", "list", "--json"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert listed.returncode == 0, listed.stderr
    assert len(json.loads(listed.stdout)) > 40
    init = subprocess.run(
        [
            "/usr/bin/python3",
            "-m",
            "pxehook",
            "--inventory",
            os.path.join(templates, "samples", "inventory.yaml"),
            "db",
            "init",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert init.returncode == 0 and "3 created" in init.stdout, init.stderr
    units = subprocess.run(
        ["/usr/bin/python3", "-m", "pxehook", "systemd", "show", "--bin", "/usr/bin/true"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert units.returncode == 0, units.stderr  # the units ship in the wheel
    assert "# --- pxehook-listen@.service" in units.stdout
    assert "ExecStart=/usr/bin/true serve" in units.stdout
