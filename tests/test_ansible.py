"""The Ansible role, converged for real: ansible-playbook -c local into this machine.

Every path the role touches is rooted under a per-scenario ``pxehook_root_prefix`` (its
/etc, /var/lib, /srv/tftp, /opt, /usr/local, the DHCP daemons' folders, systemd units), so
the machine is not modified; the daemons' own binaries (dnsmasq, dhcpd, kea-dhcp4) check
what it writes. One wheel of this tree and one venv are shared by all scenarios, and the
scenarios converge in parallel (one play, one inventory host per DHCP mode).
See docs/ansible.md for why -c local with a prefix rather than a chroot.
"""

from __future__ import annotations

import grp
import hashlib
import json
import os
import pwd
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO, SAMPLE_INVENTORY, require_tool

pytestmark = pytest.mark.slow

ANSIBLE_DIR = REPO / "ansible"
BIN = Path(sys.executable).parent
MODES = ("none", "dnsmasq", "dnsmasq-proxy", "isc", "kea")
DHCP_MODES = MODES[1:]
HOST = {m: m.replace("-", "_") for m in MODES}
RECAP = re.compile(r"^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)
NO_SYSTEMD = not Path("/run/systemd/system").is_dir()
#: groupadd cannot be prefixed: an existing, unused system group stands in for the spool group
#: the role creates in production (pxehook-spool); pxehook's own user and group are root here.
SPOOL_GROUP = "list"
#: The one scenario whose 'pxehook serve' also serves TFTP (tftp_serve, port 69).
TFTP_SERVE_MODE = "kea"


def tool(name: str) -> str:
    """A tool from this venv (ansible-core, ansible-lint, yamllint come with '.[test]')."""
    path = BIN / name
    require_tool(str(path))
    return str(path)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def udp67_sockets() -> set[str]:
    out = subprocess.run(["ss", "-Hunl"], capture_output=True, text=True, check=True).stdout
    return {line.split()[3] for line in out.splitlines() if re.search(r":67$", line.split()[3])}


@dataclass
class Scenario:
    dhcp_mode: str
    prefix: Path
    port: int
    admin_files: dict[Path, str] = field(default_factory=dict)

    @property
    def host(self) -> str:
        return HOST[self.dhcp_mode]

    def path(self, absolute: str) -> Path:
        return Path(str(self.prefix) + absolute)


@dataclass
class Lab:
    root: Path
    venv: Path
    scenarios: dict[str, Scenario]
    runs: dict[str, subprocess.CompletedProcess[str]] = field(default_factory=dict)
    dhcp_ready: str = ""  # empty when pxehook gen + hook build exist, else why not
    udp67_before: set[str] = field(default_factory=set)

    def playbook(
        self,
        *args: str,
        limit: str = "all",
        extra: dict | None = None,
        env_more: dict | None = None,
    ):  # type: ignore[no-untyped-def]
        argv = [tool("ansible-playbook"), "-i", str(self.root / "hosts.yml"), "-l", limit]
        argv += ["-e", f"@{self.root / 'vars.yml'}", str(self.root / "converge.yml"), *args]
        for key, value in (extra or {}).items():  # structured values as JSON
            argv += [
                "-e",
                f"{key}={value}" if isinstance(value, str | int) else json.dumps({key: value}),
            ]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PXEHOOK_", "ANSIBLE_"))}
        env.update(
            ANSIBLE_ROLES_PATH=str(ANSIBLE_DIR / "roles"),
            ANSIBLE_CONFIG=str(ANSIBLE_DIR / "ansible.cfg"),
            ANSIBLE_HOME=str(self.root / "ansible-home"),
            ANSIBLE_LOCAL_TEMP=str(self.root / "ansible-tmp"),
            ANSIBLE_PIPELINING="1",
            ANSIBLE_FORKS="5",
            ANSIBLE_NOCOLOR="1",
            ANSIBLE_FORCE_COLOR="0",
        )
        env.update(env_more or {})
        return subprocess.run(argv, capture_output=True, text=True, timeout=300, env=env)


def recap(run: subprocess.CompletedProcess[str]) -> dict[str, dict[str, int]]:
    found = {}
    for host, ok, changed, unreachable, failed in RECAP.findall(run.stdout):
        found[host] = {"ok": int(ok), "changed": int(changed), "failed": int(failed)}
        found[host]["unreachable"] = int(unreachable)
    return found


def assert_converged(run: subprocess.CompletedProcess[str], hosts: list[str]) -> None:
    result = recap(run)
    tail = run.stdout[-6000:] + run.stderr[-2000:]
    assert run.returncode == 0, tail
    for host in hosts:
        assert result[host]["failed"] == 0 and result[host]["unreachable"] == 0, tail


ADMIN_DNSMASQ = """# The admin's own dnsmasq: DNS for the LAN, one static host.
domain-needed
bogus-priv
no-resolv
server=192.0.2.53
dhcp-host=52:54:00:aa:00:01,192.0.2.10,printer
"""
ADMIN_DNSMASQ_DROPIN = "# another admin drop-in\naddress=/intranet.example/192.0.2.80\n"
ADMIN_ISC = """# The admin's dhcpd.conf; pxehook's include declares the boot subnet.
authoritative;
default-lease-time 600;
max-lease-time 7200;
host printer {{ hardware ethernet 52:54:00:aa:00:01; fixed-address 192.0.2.10; }}
include "{include}";
"""
ADMIN_KEA = """// The admin's Kea: interfaces, subnet, pool and reservation stay theirs.
{{ "Dhcp4": {{
  "interfaces-config": {{ "interfaces": [ "lo" ] }},
  "lease-database": {{ "type": "memfile", "persist": false }},
  "valid-lifetime": 3600,
  "subnet4": [ {{ "id": 1, "subnet": "192.0.2.0/24",
                 "pools": [ {{ "pool": "192.0.2.100 - 192.0.2.199" }} ] }} ],
  "option-def": [ <?include "{defs}"?> ],
  "client-classes": [ <?include "{classes}"?> ],
  "hooks-libraries": [ <?include "{hooks}"?> ]
}} }}
"""


def write_admin(sc: Scenario) -> None:
    """The DHCP configuration the admin already has, before pxehook arrives."""
    files: dict[Path, str] = {}
    if sc.dhcp_mode.startswith("dnsmasq"):
        files[sc.path("/etc/dnsmasq.conf")] = ADMIN_DNSMASQ
        files[sc.path("/etc/dnsmasq.d/admin.conf")] = ADMIN_DNSMASQ_DROPIN
    elif sc.dhcp_mode == "isc":
        include = sc.path("/etc/dhcp/pxehook.conf")
        files[sc.path("/etc/dhcp/dhcpd.conf")] = ADMIN_ISC.format(include=include)
    elif sc.dhcp_mode == "kea":
        parts = {
            k: sc.path(f"/etc/kea/pxehook-{k}.json") for k in ("option-defs", "classes", "hooks")
        }
        files[sc.path("/etc/kea/kea-dhcp4.conf")] = ADMIN_KEA.format(
            defs=parts["option-defs"], classes=parts["classes"], hooks=parts["hooks"]
        )
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        sc.admin_files[path] = sha256(path)


def write_play(root: Path, wheel: Path, venv: Path, scenarios: dict[str, Scenario]) -> None:
    (root / "converge.yml").write_text(
        "---\n- name: Converge pxehook\n  hosts: all\n  gather_facts: false\n"
        "  roles:\n    - role: pxehook\n"
    )
    hosts = {}
    for sc in scenarios.values():
        hosts[sc.host] = {
            "pxehook_dhcp_mode": sc.dhcp_mode,
            "pxehook_root_prefix": str(sc.prefix),
            "pxehook_port": sc.port,
            # apt runs (packages present: no change) in two scenarios; enough to prove it.
            "pxehook_install_packages": sc.dhcp_mode in ("none", "dnsmasq"),
            "pxehook_inventory_file": "" if sc.dhcp_mode == "dnsmasq" else str(SAMPLE_INVENTORY),
            # PXELINUX loaders (five files) in one scenario; iPXE's two everywhere.
            "pxehook_boot_modes": ["ipxe", "pxelinux"] if sc.dhcp_mode == "none" else ["ipxe"],
            # the optional TFTP unit ('pxehook tftp') in the scenario without DHCP
            "pxehook_tftp_enabled": sc.dhcp_mode == "none",
        }
        if sc.dhcp_mode == TFTP_SERVE_MODE:  # 'serve' binds TFTP's port 69 (on loopback)
            hosts[sc.host]["pxehook_settings"] = {"tftp_serve": True, "tftp_bind": "127.0.0.1"}
    inventory = {
        "all": {
            "vars": {
                "ansible_connection": "local",
                "ansible_python_interpreter": "/usr/bin/python3",
            },
            "hosts": hosts,
        }
    }
    (root / "hosts.yml").write_text(yaml.safe_dump(inventory))
    # The dnsmasq scenario takes its inventory from the documented example (!unsafe tags).
    example = (ANSIBLE_DIR / "examples/group_vars/pxe_servers.yml").read_text()
    (root / "host_vars").mkdir()
    (root / "host_vars" / "dnsmasq.yml").write_text(
        "---\n" + example[example.index("pxehook_inventory:") :]
    )
    common = {
        "pxehook_venv": str(venv),
        "pxehook_package": str(wheel),
        "pxehook_create_user": False,  # useradd cannot be prefixed: the test runs as root
        "pxehook_user": "root",
        "pxehook_group": "root",
        "pxehook_spool_group": SPOOL_GROUP,
        "pxehook_apt_update_cache": False,
        "pxehook_manage_services": False,  # the test starts 'pxehook serve' itself
        "pxehook_server_ip": "192.0.2.1",
        "pxehook_bind": "127.0.0.1",
        "pxehook_dhcp_subnets": ["192.0.2.0/24"],
        "pxehook_dhcp_range": "192.0.2.100,192.0.2.199",
    }
    (root / "vars.yml").write_text(yaml.safe_dump(common))


def missing_dhcp_features(venv: Path) -> str:
    """Why DHCP modes cannot converge with this tree's pxehook ('' when they can)."""
    for args in (["gen", "--help"], ["hook", "build", "--help"]):
        done = subprocess.run([str(venv / "bin" / "pxehook"), *args], capture_output=True)
        if done.returncode != 0:
            return f"'pxehook {' '.join(args[:-1])}' is not in this tree yet"
    return ""


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    for name in ("dnsmasq", "dhcpd", "kea-dhcp4", "ss"):
        require_tool(name)
    # Outside pytest's root-only tmp, so other accounts can reach the tree as on a real host
    # (the attack tests act as the DHCP hook's account); only traversable, not listable.
    root = Path(tempfile.mkdtemp(prefix="pxh-ansible-", dir="/tmp"))
    root.chmod(0o711)
    try:
        yield _converge(root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _converge(root: Path) -> Lab:
    wheels = root / "wheel"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), str(REPO)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    wheel = next(wheels.glob("pxehook-*.whl"))
    scenarios = {m: Scenario(m, root / f"target-{HOST[m]}", free_port()) for m in MODES}
    for sc in scenarios.values():
        write_admin(sc)
    venv = root / "venv"
    write_play(root, wheel, venv, scenarios)
    lab = Lab(root=root, venv=venv, scenarios=scenarios)
    lab.udp67_before = udp67_sockets()
    # 1. 'none' alone: it creates the shared venv (pip must not race on it).
    lab.runs["first-none"] = lab.playbook(limit="none")
    assert_converged(lab.runs["first-none"], ["none"])
    lab.dhcp_ready = missing_dhcp_features(venv)
    dhcp_hosts = [HOST[m] for m in DHCP_MODES]
    if not lab.dhcp_ready:
        # 2. every DHCP mode at once; 3. check mode + diff, then a real second run: no change.
        lab.runs["first-dhcp"] = lab.playbook(limit=",".join(dhcp_hosts))
        assert_converged(lab.runs["first-dhcp"], dhcp_hosts)
    # Check mode on two scenarios (it is the same code path for every mode).
    lab.runs["check"] = lab.playbook(
        "--check", "--diff", limit="none" if lab.dhcp_ready else "none,dnsmasq"
    )
    lab.runs["second"] = lab.playbook(limit="none" if lab.dhcp_ready else "all")
    return lab


def need_dhcp(lab: Lab) -> None:
    if lab.dhcp_ready:
        pytest.skip(f"DHCP modes need issues 3/4 merged: {lab.dhcp_ready}")


class Served:
    """'pxehook serve' from the venv the role installed, on the scenario's loopback port."""

    def __init__(self, lab: Lab, sc: Scenario) -> None:
        config = sc.path("/etc/pxehook/pxehook.yaml")
        env = {k: v for k, v in os.environ.items() if not k.startswith("PXEHOOK_")}
        self.url = f"http://127.0.0.1:{sc.port}/healthz"
        self.proc = subprocess.Popen(
            [str(lab.venv / "bin" / "pxehook"), "--config", str(config), "serve", "--workers", "1"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
            start_new_session=True,
        )

    def healthz(self, timeout: float = 30) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"pxehook serve exited: {self.proc.stderr.read()!r}")  # type: ignore[union-attr]
            try:
                with urllib.request.urlopen(self.url, timeout=2) as resp:
                    return resp.status
            except OSError:
                time.sleep(0.2)
        raise AssertionError(f"{self.url} did not answer in {timeout}s")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)


def serve_and_check(lab: Lab, sc: Scenario) -> None:
    served = Served(lab, sc)
    try:
        assert served.healthz() == 200
    finally:
        served.stop()


def assert_admin_untouched(sc: Scenario) -> None:
    for path, digest in sc.admin_files.items():
        assert sha256(path) == digest, f"{path} was modified"


def assert_common(lab: Lab, sc: Scenario) -> None:
    """Settings, inventory, database, loaders, unit file: what every mode installs."""
    config = sc.path("/etc/pxehook/pxehook.yaml")
    settings = yaml.safe_load(config.read_text())
    assert settings["port"] == sc.port
    assert settings["tftp_root"] == str(sc.path("/srv/tftp"))
    check = subprocess.run(
        [str(lab.venv / "bin" / "pxehook"), "--config", str(config), "config", "check"],
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stderr
    inventory = sc.path("/etc/pxehook/inventory.yaml")
    if sc.dhcp_mode == "dnsmasq":  # from pxehook_inventory: Ansible left pxehook's placeholders
        assert "{{ files_url }}/debian/amd64/linux" in inventory.read_text()
    else:  # pxehook_inventory_file, copied verbatim
        assert inventory.read_bytes() == SAMPLE_INVENTORY.read_bytes()
    assert sc.path("/var/lib/pxehook/pxehook.db").stat().st_size > 0
    # The arch table's iPXE loaders for bios + efi-x64; PXELINUX and its modules in 'none'.
    loaders = {"undionly.kpxe", "snponly.efi"}
    if sc.dhcp_mode == "none":
        loaders |= {"lpxelinux.0", "ldlinux.c32", "libutil.c32", "libcom32.c32", "menu.c32"}
    assert {p.name for p in sc.path("/srv/tftp").iterdir()} == loaders
    assert all(sc.path(f"/srv/tftp/{name}").stat().st_size > 0 for name in loaders)
    unit = sc.path("/etc/systemd/system/pxehook.service").read_text()
    assert f"ExecStart={lab.venv}/bin/pxehook --config {config} serve" in unit
    # 'serve' may bind a port below 1024 only where it must: TFTP's 69 with tftp_serve on.
    low_ports = "AmbientCapabilities=CAP_NET_BIND_SERVICE" in unit.splitlines()
    assert low_ports == (sc.dhcp_mode == TFTP_SERVE_MODE), unit
    assert_secret_modes(sc)
    assert not sc.path("/etc/systemd/system/pxehook-listen.service").exists()
    tftp_unit = sc.path("/etc/systemd/system/pxehook-tftp.service")
    assert tftp_unit.exists() == (sc.dhcp_mode == "none")
    if sc.dhcp_mode == "none":
        assert f"ExecStart={lab.venv}/bin/pxehook --config {config} tftp" in tftp_unit.read_text()


def _owner_group_mode(path: Path) -> tuple[str, str, str]:
    st = path.stat()
    mode = oct(stat.S_IMODE(st.st_mode))
    return pwd.getpwuid(st.st_uid).pw_name, grp.getgrgid(st.st_gid).gr_name, mode


def assert_secret_modes(sc: Scenario) -> None:
    """The database is pxehook's alone; the hook's group may only pass to the spool."""
    state = sc.path("/var/lib/pxehook")
    assert _owner_group_mode(state) == ("root", SPOOL_GROUP, "0o710")
    assert _owner_group_mode(state / "spool") == ("root", SPOOL_GROUP, "0o2770")
    assert _owner_group_mode(state / "pxehook.db") == ("root", "root", "0o600")
    assert _owner_group_mode(sc.path("/etc/pxehook")) == ("root", "root", "0o750")


def hook_account_groups(lab: Lab) -> list[str]:
    """The groups the role gives a DHCP daemon's account (read from a check-mode run of its
    user tasks with pxehook_hook_users: [nobody]: nothing is changed)."""
    run = lab.playbook(
        "--check",
        "-vvv",  # results with their module arguments, one JSON object per line
        "--tags",
        "pxehook-preflight,pxehook-user",
        limit="none",
        extra={"pxehook_hook_users": ["nobody"]},
        env_more={"ANSIBLE_CALLBACK_RESULT_FORMAT": "json", "ANSIBLE_CALLBACK_FORMAT_PRETTY": "0"},
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    groups = []
    for line in run.stdout.splitlines():
        if not line.startswith(("ok: [none]", "changed: [none]")) or "{" not in line:
            continue
        args = json.loads(line[line.index("{") :]).get("invocation", {}).get("module_args", {})
        if args.get("name") == "nobody" and args.get("groups"):
            groups += args["groups"]
    assert groups, "no task adds the hook's account to a group:\n" + run.stdout[-4000:]
    return groups


def test_the_hook_account_writes_the_spool_but_cannot_read_the_database(lab: Lab) -> None:
    """The attack: the DHCP daemon's account, given the groups the role gives it, reads the
    database (and so the secret deploy tokens are derived from) or the settings."""
    need_dhcp(lab)
    sc = lab.scenarios["dnsmasq"]
    groups = hook_account_groups(lab)
    hook = sc.path("/usr/local/libexec/pxehook/pxehook-hook")
    spool = sc.path("/var/lib/pxehook/spool/hook.spool")
    before = spool.stat().st_size if spool.exists() else 0
    as_hook = {"user": "nobody", "group": groups[0], "extra_groups": groups, "cwd": "/"}
    ran = subprocess.run(
        [str(hook), "add", "52:54:00:00:0a:01", "192.0.2.150"],
        capture_output=True,
        text=True,
        **as_hook,
    )
    assert ran.returncode == 0 and spool.stat().st_size > before, ran.stderr
    secrets = [sc.path("/var/lib/pxehook/pxehook.db"), sc.path("/etc/pxehook/pxehook.yaml")]
    reader = "import sys\nfor p in sys.argv[1:]:\n    try: open(p,'rb').read(); print(p)\n"
    reader += "    except OSError: pass\n"
    read = subprocess.run(
        [sys.executable, "-c", reader, *map(str, secrets)],
        capture_output=True,
        text=True,
        **as_hook,
    )
    assert read.stdout == "", f"the hook's account (groups {groups}) read: {read.stdout}"
    assert "root" not in groups  # pxehook_group here: never the hook's


def test_secret_settings_never_reach_ansibles_output(lab: Lab) -> None:
    """--diff of the settings file would print a password; the tasks handling it are
    no_log, whether the secret comes from pxehook_secret_settings or a database URL."""
    sc = lab.scenarios["none"]
    settings = sc.path("/etc/pxehook/pxehook.yaml")
    before = sha256(settings)
    tags = "pxehook-preflight,pxehook-install,pxehook-config"
    for extra in (
        {"pxehook_settings": {"database": "postgresql://px:S3cretDbPw@192.0.2.1/pxehook"}},
        {"pxehook_secret_settings": {"files_url": "http://m:S3cretMirrorPw@192.0.2.1/files"}},
    ):
        run = lab.playbook("--check", "--diff", "-v", "--tags", tags, limit="none", extra=extra)
        assert_converged(run, ["none"])
        assert recap(run)["none"]["changed"] >= 1  # the change is still reported
        assert "S3cret" not in run.stdout + run.stderr, run.stdout[-4000:]
        assert "censored" in run.stdout or "no_log" in run.stdout, run.stdout[-4000:]
    assert sha256(settings) == before


def test_yamllint_passes_on_the_role() -> None:
    done = subprocess.run(
        [tool("yamllint"), "-s", "."], cwd=ANSIBLE_DIR, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_ansible_lint_production_profile_passes(tmp_path: Path) -> None:
    env = dict(os.environ, ANSIBLE_HOME=str(tmp_path), NO_COLOR="1")
    done = subprocess.run(
        [tool("ansible-lint"), "--offline", "--profile", "production", "--nocolor"],
        cwd=ANSIBLE_DIR,
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    assert "Profile 'production' was required, and it passed" in done.stdout + done.stderr


def test_second_run_changes_nothing(lab: Lab) -> None:
    second = lab.runs["second"]
    assert_converged(second, list(recap(second)))
    hosts = recap(second)
    assert set(hosts) == ({"none"} if lab.dhcp_ready else set(HOST.values()))
    assert {h: r["changed"] for h, r in hosts.items()} == dict.fromkeys(hosts, 0), second.stdout[
        -4000:
    ]


def test_check_mode_with_diff_reports_nothing_on_a_converged_host(lab: Lab) -> None:
    run = lab.runs["check"]
    assert_converged(run, list(recap(run)))
    assert all(r["changed"] == 0 for r in recap(run).values()), run.stdout[-4000:]


def test_check_mode_shows_a_settings_change_as_a_diff_and_writes_nothing(lab: Lab) -> None:
    sc = lab.scenarios["none"]
    settings = sc.path("/etc/pxehook/pxehook.yaml")
    before = sha256(settings)
    # --tags runs only the concerns involved (preflight, install facts, config), as an
    # operator would to preview a settings change.
    tags = "pxehook-preflight,pxehook-install,pxehook-config"
    run = lab.playbook(
        "--check", "--diff", "--tags", tags, limit="none", extra={"pxehook_workers": 7}
    )
    assert_converged(run, ["none"])
    assert recap(run)["none"]["changed"] >= 1
    assert "-workers: 2" in run.stdout and "+workers: 7" in run.stdout, run.stdout[-4000:]
    assert sha256(settings) == before


def test_mode_none_installs_pxehook_and_binds_nothing_on_udp_67(lab: Lab) -> None:
    sc = lab.scenarios["none"]
    first = lab.runs["first-none"]
    assert recap(first)["none"]["changed"] > 0
    assert_common(lab, sc)
    # No DHCP file anywhere in the target tree, no hook.
    for folder in ("/etc/dnsmasq.d", "/etc/dhcp", "/etc/kea", "/usr/local/libexec/pxehook"):
        assert not sc.path(folder).exists(), folder
    served = Served(lab, sc)
    try:
        assert served.healthz() == 200
        assert udp67_sockets() == lab.udp67_before
    finally:
        served.stop()


@pytest.mark.skipif(not NO_SYSTEMD, reason="systemd is PID 1 here: the degrade path is not taken")
def test_without_systemd_services_are_skipped_and_forcing_them_fails_clearly(lab: Lab) -> None:
    pid1 = Path("/proc/1/comm").read_text().strip()
    assert f"PID 1 is '{pid1}', not systemd" in lab.runs["first-none"].stdout
    forced = lab.playbook(limit="none", extra={"pxehook_manage_services": "true"})
    assert forced.returncode != 0
    assert f"PID 1 on this machine is '{pid1}', not systemd" in forced.stdout
    assert "set pxehook_manage_services: false" in forced.stdout


def dhcp_script(dropin: Path) -> Path:
    lines = [ln for ln in dropin.read_text().splitlines() if ln.startswith("dhcp-script=")]
    assert len(lines) == 1, dropin.read_text()[:2000]
    return Path(lines[0].split("=", 1)[1])


def assert_hook(lab: Lab, sc: Scenario, path: Path) -> None:
    assert path == sc.path("/usr/local/libexec/pxehook/pxehook-hook")
    assert path.is_file() and os.access(path, os.X_OK), path


@pytest.mark.parametrize("dhcp_mode", ["dnsmasq", "dnsmasq-proxy"])
def test_dnsmasq_modes_drop_in_beside_the_admins_dnsmasq(lab: Lab, dhcp_mode: str) -> None:
    need_dhcp(lab)
    sc = lab.scenarios[dhcp_mode]
    assert_common(lab, sc)
    assert_admin_untouched(sc)
    dropin = sc.path("/etc/dnsmasq.d/pxehook.conf")
    dnsmasq = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"
    alone = subprocess.run([dnsmasq, "--test", "-C", str(dropin)], capture_output=True, text=True)
    assert alone.returncode == 0, alone.stderr
    whole = subprocess.run(
        [dnsmasq, "--test", "-C", str(sc.path("/etc/dnsmasq.conf")), "-7", str(dropin.parent)],
        capture_output=True,
        text=True,
    )
    assert whole.returncode == 0 and "syntax check OK" in whole.stderr, whole.stderr
    text = dropin.read_text()
    proxy = re.search(r"^dhcp-range=.*,proxy", text, re.M) is not None
    assert proxy == (dhcp_mode == "dnsmasq-proxy")
    if "dhcp-script=" in text or dhcp_mode == "dnsmasq":
        assert_hook(lab, sc, dhcp_script(dropin))
    serve_and_check(lab, sc)


def test_isc_include_is_checked_by_dhcpd_and_dhcpd_conf_is_untouched(lab: Lab) -> None:
    need_dhcp(lab)
    sc = lab.scenarios["isc"]
    assert_common(lab, sc)
    assert_admin_untouched(sc)
    dhcpd = shutil.which("dhcpd") or "/usr/sbin/dhcpd"
    main = sc.path("/etc/dhcp/dhcpd.conf")
    done = subprocess.run([dhcpd, "-4", "-t", "-cf", str(main)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    include = sc.path("/etc/dhcp/pxehook.conf").read_text()
    hooks = set(re.findall(r'execute\("([^"]+)"', include))
    assert len(hooks) == 1, include[-2000:]
    assert_hook(lab, sc, Path(hooks.pop()))
    serve_and_check(lab, sc)


def test_kea_includes_are_checked_by_kea_and_kea_conf_is_untouched(lab: Lab) -> None:
    need_dhcp(lab)
    sc = lab.scenarios["kea"]
    assert_common(lab, sc)
    assert_admin_untouched(sc)
    kea = shutil.which("kea-dhcp4") or "/usr/sbin/kea-dhcp4"
    main = sc.path("/etc/kea/kea-dhcp4.conf")
    done = subprocess.run([kea, "-t", str(main)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    hooks = sc.path("/etc/kea/pxehook-hooks.json").read_text()
    names = re.findall(r'"name": "([^"]+)"', hooks)
    assert len(names) == 1 and "libdhcp_run_script.so" in hooks
    assert_hook(lab, sc, Path(names[0]))
    classes = sc.path("/etc/kea/pxehook-classes.json").read_text()
    assert '"pxh-efi-x64"' in classes and '"snponly.efi"' in classes
    serve_and_check(lab, sc)


def test_a_bad_variable_stops_the_run_before_any_change(lab: Lab) -> None:
    run = lab.playbook(limit="none", extra={"pxehook_dhcp_mode": "dhcpd"})
    assert run.returncode != 0
    assert "value of pxehook_dhcp_mode must be one of" in run.stdout, run.stdout[-3000:]
    assert recap(run)["none"]["changed"] == 0
