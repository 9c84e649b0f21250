"""Boot flows the e2e tests run: milestones per flow, the run loop, and the result record."""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from pathlib import Path

from pxehook import arch as archtable
from tests.harness import qemu_artifacts as art
from tests.harness.qemu import BootStalled, BootWatch, Milestone, Vm, VmSpec
from tests.harness.qemu_site import PxeSite, http_answers, store_events, tftp_answers

#: iPXE's banner on the serial console.
IPXE_RUNNING = r"iPXE initialising devices|iPXE \(http://ipxe"


@dataclass
class FlowResult:
    """What one VM boot showed; one row of the hardware matrix."""

    vm: str
    firmware: str
    arch: int
    dhcp_mode: str
    loader: str
    flow: str
    ok: bool
    wall: float
    stages: list[tuple[str, float]]
    stopped: str = ""
    #: pxehook's share: seconds its HTTP server spent answering this VM (file bodies from
    #: /files/ excluded: their pace is the client's), and how many answers that was.
    pxehook_s: float | None = None
    answers: int | None = None

    def as_dict(self) -> dict:
        return {**self.__dict__, "stages": [[n, round(t, 2)] for n, t in self.stages]}


def _ev_text(site: PxeSite, mac: str) -> str:
    lines = []
    for e in store_events(site.env, mac):
        lines.append(f"{e['kind']}|{e['source']}|{e['message']}|{json.dumps(e['data'])}")
    return "\n".join(lines) + "\n"


def sources(site: PxeSite, vm: Vm) -> dict:
    """Text sources a watch polls for this VM."""
    mac = vm.spec.mac
    return {
        "serial": vm.serial,
        "dnsmasq": lambda: site.log_text("dnsmasq"),
        "plain": lambda: site.log_text("dnsmasq-plain"),
        "dhcpd": lambda: site.log_text("dhcpd"),
        "kea": lambda: site.log_text("kea"),
        "pxehook": lambda: site.log_text("pxehook"),
        "events": lambda: _ev_text(site, mac),
    }


def first_stage_loader(firmware_arch: int) -> str | None:
    """The TFTP loader the firmware itself fetches (None: the BIOS ROM is already iPXE)."""
    if firmware_arch == 0:
        return None
    a = archtable.lookup(firmware_arch)
    return a.loader("ipxe") if firmware_arch in (7, 16) else a.loader("grub")


def loader_milestone(site: PxeSite, loader: str, sfx: str = "", after: str = "") -> Milestone:
    """The firmware fetched its first-stage loader from pxehook's TFTP server, which records
    every file it sends on the host's timeline (``boot.kernel`` via tftp; ``tftp.*`` kinds
    accepted too)."""
    pattern = rf"^(boot\.kernel\|tftp|tftp\.\w+\|[^|]*)\|.*{re.escape(loader)}"
    return Milestone("loader" + sfx, "events", pattern, after, f"loader fetched ({loader})")


def network_milestones(site: PxeSite, spec: VmSpec, after: str = "") -> list[Milestone]:
    """DHCP offer → (loader over TFTP) → iPXE → config served, for one network boot."""
    mac = re.escape(spec.mac)
    sfx = f"#{after}" if after else ""
    out: list[Milestone] = []
    if site.dhcp_server == "kea":  # Kea logs the lease it offers (INFO)
        pattern = rf"DHCP4_LEASE_(ADVERT|ALLOC) \[hwtype=1 {mac}\]"
        out.append(Milestone("dhcp" + sfx, "kea", pattern, after, "DHCP offer"))
    elif site.dhcp_server == "isc":
        out.append(
            Milestone("dhcp" + sfx, "dhcpd", rf"DHCPOFFER on \S+ to {mac}", after, "DHCP offer")
        )
    elif site.dhcp_mode == "full":
        out.append(
            Milestone("dhcp" + sfx, "dnsmasq", rf"DHCPOFFER\(\S+\) \S+ {mac}", after, "DHCP offer")
        )
    else:
        out.append(
            Milestone(
                "dhcp" + sfx,
                "plain",
                rf"DHCPOFFER\(\S+\) \S+ {mac}",
                after,
                "DHCP offer (site server)",
            )
        )
        out.append(
            Milestone(
                "proxy" + sfx,
                "dnsmasq",
                rf"PXE\(\S+\) (\S+ )?{mac} proxy",
                after,
                "proxy-DHCP offer",
            )
        )
    loader = first_stage_loader(spec.arch)
    if loader:
        out.append(loader_milestone(site, loader, sfx, after))
    if spec.arch in (0, 7):
        out.append(
            Milestone(
                "ipxe" + sfx,
                "serial",
                IPXE_RUNNING,
                after,
                "iPXE running",
            )
        )
    config = r"^boot\.config\|\w+\|(ipxe|grub) "  # the loader's config, not a /uefi/ hit
    out.append(Milestone("config" + sfx, "events", config, after, "config served"))
    if after:
        for m in out:
            m.label = f"{m.label} (after {after})"
    return out


def http_boot_milestones(site: PxeSite, spec: VmSpec, after: str = "") -> list[Milestone]:
    """UEFI HTTP boot as the first stage: DHCP (option 93 = 16, HTTPClient) → the loader
    from pxehook's ``/uefi/`` route (the default ``http_boot_url``) → iPXE → its config.
    After the callback the same route answers 404: the firmware's hand-off to its disk."""
    mac = re.escape(spec.mac)
    tag = archtable.lookup(16).dnsmasq_tag
    sfx = f"#{after}" if after else ""
    ms = [
        Milestone("dhcp" + sfx, "dnsmasq", rf"DHCPOFFER\(\S+\) \S+ {mac}", after, "DHCP offer"),
        Milestone("arch" + sfx, "dnsmasq", rf"tags: .*\b{tag}\b", after, "option 93 = 16"),
    ]
    if after:  # deployed: the route sends the firmware to its next boot option
        ms.append(
            Milestone(
                "handoff" + sfx,
                "events",
                r"^boot\.config\|\w+\|uefi-http /uefi/\S+: local",
                after,
                "local-boot hand-off (/uefi/ 404)",
            )
        )
    else:
        loader = first_stage_loader(16) or ""
        ms += [
            Milestone(
                "loader",
                "events",
                rf"^boot\.config\|\w+\|uefi-http /uefi/{re.escape(loader)}: boot",
                "",
                f"loader fetched (HTTP /uefi/{loader})",
            ),
            Milestone("ipxe", "serial", IPXE_RUNNING, "", "iPXE running"),
            Milestone("config", "events", r"^boot\.config\|\w+\|ipxe ", "", "config served"),
        ]
    if after:
        for m in ms:
            m.label = f"{m.label} (after {after})"
    return ms


def installer_milestones() -> list[Milestone]:
    """The installer's stages: kernel → running → address → callback → deployed → reboot."""
    return [
        Milestone("kernel", "events", r"^boot\.kernel\|.*vmlinuz", "", "kernel fetched"),
        Milestone("installer", "serial", art.INSTALLER_START, "", "installer kernel running"),
        Milestone("net", "serial", art.INSTALLER_NET + " ", "", "installer got an address"),
        Milestone(
            "callback",
            "serial",
            rf"{art.INSTALLER_CALLBACK_OK}|{art.INSTALLER_CALLBACK_FAILED}",
            "",
            "callback sent",
        ),
        Milestone(
            "deployed",
            "events",
            r'^state\.changed\|.*"to": "deployed"',
            "",
            "host deployed (callback accepted)",
        ),
        Milestone("reboot", "serial", art.INSTALLER_REBOOT, "", "installer rebooted"),
    ]


def install_milestones(site: PxeSite, spec: VmSpec) -> list[Milestone]:
    """deploying → installer → callback → reboot → local disk (HTTP boot: its own stages)."""
    network = http_boot_milestones if spec.firmware == "uefi-http" else network_milestones
    ms = network(site, spec) + installer_milestones()
    ms += network(site, spec, after="reboot")
    ms.append(Milestone("localdisk", "serial", art.LOCALDISK_MARKER, "reboot", "local disk booted"))
    return ms


def run_flow(
    site: PxeSite,
    spec: VmSpec,
    workdir: Path,
    milestones: list[Milestone],
    final: str,
    flow: str,
    timeout: float,
    every_stage: bool = False,
) -> tuple[FlowResult, BootWatch, Vm]:
    """Boot ``spec`` until milestone ``final`` (bounded); never raises: see ``result.ok``.
    ``every_stage``: then also wait (briefly) for every other milestone: sources polled
    at different paces (serial, the timeline) may show the last stage first."""
    vm = Vm(site.vm_lab, spec, workdir)
    lines: list[str] = []
    watch = BootWatch(vm, sources(site, vm), milestones, log=lines.append)
    t0 = time.monotonic()
    vm.start()
    ok, stopped = True, ""
    try:
        watch.wait(final, timeout)
        if every_stage:
            watch.wait_all([m.name for m in milestones], 10)
        # The callback line says OK or FAILED: a FAILED callback is a stop too.
        if final == "localdisk" and art.INSTALLER_CALLBACK_OK not in vm.serial():
            ok, stopped = False, watch.where("callback", "the installer's callback was refused")
        # "booted" only if every stage was seen, not just the last one
        watch.poll()
        missing = [m for m in milestones if m.name not in watch.seen]
        if ok and missing:
            done = next(m.label for m in milestones if m.name == final)
            ok = False
            stopped = (
                f"{spec.name} ({spec.firmware}, {spec.mac}): reached '{done}' but never saw "
                f"'{missing[0].label}' (the boot took another path)"
            )
    except BootStalled as exc:
        ok, stopped = False, str(exc)
    finally:
        wall = time.monotonic() - t0
        vm.stop()
    for line in lines:
        print(line)
    loader = first_stage_loader(spec.arch) or "iPXE ROM"
    answers = pxehook_answers(site, spec.mac)
    result = FlowResult(
        vm=spec.name,
        firmware=spec.firmware,
        arch=spec.arch,
        dhcp_mode=site.mode_label,
        loader=loader,
        flow=flow,
        ok=ok,
        wall=round(wall, 2),
        stages=watch.report(),
        stopped=stopped,
        pxehook_s=round(sum(s for _, _, s in answers), 3),
        answers=len(answers),
    )
    return result, watch, vm


def pxehook_answers(site: PxeSite, mac: str) -> list[tuple[str, int, float]]:
    """pxehook's answers to one VM (by the addresses on its timeline): HTTP answers without
    the bodies of ``/files/`` (kernel, initrd: sent as fast as the guest reads them), and
    each TFTP request up to its first packet (the rest is paced by the client)."""
    events = store_events(site.env, mac)
    ips = {str(e["data"]["client_ip"]) for e in events if e["data"].get("client_ip")}
    ips |= {str(e["data"]["ip"]) for e in events if e["data"].get("ip")}
    log = site.log_text("pxehook")
    answers = [a for a in http_answers(log, ips) if " /files/" not in a[0]]
    return answers + tftp_answers(log, ips)


def failure_report(site: PxeSite, vm: Vm, result: FlowResult) -> str:
    """The message + logs printed when a boot fails: where it stopped, then the evidence."""
    serial = "\n".join(line for line in vm.serial().splitlines() if line.strip())[-5000:]
    return (
        f"{result.stopped}\n----- serial ({vm.serial_path}) -----\n{serial}\n{site.logs()}\n"
        f"----- events -----\n{_ev_text(site, vm.spec.mac)}"
    )


def signed_grub_milestones(site: PxeSite, spec: VmSpec, after: str = "") -> list[Milestone]:
    """Secure Boot x64: DHCP → signed shim over TFTP → shim loads the signed network GRUB
    (``grubx64.efi``, same TFTP directory) → GRUB runs and fetches its config."""
    shim = archtable.lookup(7).loader("grub") or ""
    sfx = f"#{after}" if after else ""
    ms = [
        *network_milestones(site, spec, after)[:1],
        loader_milestone(site, shim, sfx, after),
        Milestone(
            "grubx64" + sfx,
            "events",
            r"^(boot\.kernel\|tftp|tftp\.\w+\|[^|]*)\|.*grubx64\.efi",
            after,
            "signed GRUB fetched by shim (grubx64.efi)",
        ),
        Milestone("grub" + sfx, "serial", r"Welcome to GRUB|GNU GRUB", after, "GRUB running"),
        Milestone("config" + sfx, "events", r"^boot\.config\|\w+\|grub ", after, "config served"),
    ]
    for m in ms[1:] if after else ():  # the DHCP offer has its own
        m.label = f"{m.label} (after {after})"
    return ms


def arm64_milestones(site: PxeSite, spec: VmSpec) -> list[Milestone]:
    """AAVMF: DHCP with option 93 = 11 → GRUB over TFTP → GRUB fetches its config."""
    tag = archtable.lookup(11).dnsmasq_tag
    offers = network_milestones(site, spec)[: 2 if site.proxied else 1]  # (site +) proxy offer
    ms = [
        *offers,
        Milestone("arch", "dnsmasq", rf"tags: .*\b{tag}\b", "", f"option 93 = 11 (tag {tag})"),
        loader_milestone(site, first_stage_loader(11) or ""),
        Milestone("grub", "serial", r"Welcome to GRUB|GNU GRUB", "", "GRUB running"),
    ]
    ms.append(Milestone("config", "events", r"^boot\.config\|", "", "config served"))
    return ms


def secure_boot_install_milestones(site: PxeSite, spec: VmSpec) -> list[Milestone]:
    """Secure Boot x64 install: the signed chain and its config → the signed kernel and the
    initrd (over TFTP: the signed GRUB has no HTTP) → installer → callback → reboot → the
    signed chain again → its local config chainloads the disk's shim → the disk's signed
    GRUB prints the marker."""
    ms = signed_grub_milestones(site, spec) + installer_milestones()
    ms += signed_grub_milestones(site, spec, after="reboot")
    ms.append(Milestone("localdisk", "serial", art.LOCALDISK_MARKER, "reboot", "local disk booted"))
    return ms


#: U-Boot's PXE client on the serial console: one line per config name it asks for.
UBOOT_RETRIEVING = r"Retrieving file: (\S+)"


def uboot_milestones(site: PxeSite, spec: VmSpec, then: tuple[str, str]) -> list[Milestone]:
    """U-Boot distro boot's ``dhcp`` target: DHCP (option 93 = 22) → ``boot.scr.uimg`` over
    TFTP (pxehook's generated script) → the script runs ``pxe get`` → pxehook answers one of
    the PXELINUX/U-Boot config names → U-Boot acts on it (``then``: serial pattern, label)."""
    arch = rf'^dhcp\.[\w.]+\|.*"arch": {spec.arch}\b'
    return [
        *network_milestones(site, spec)[:1],
        # recorded by the DHCP hook (full) or the listener (proxy/listen)
        Milestone("arch", "events", arch, "", f"option 93 = {spec.arch} recorded"),
        loader_milestone(site, "boot.scr.uimg"),
        Milestone("script", "serial", r"pxehook: pxe get", "", "boot script running"),
        Milestone(
            "config",
            "events",
            r"^boot\.config\|\w+\|(pxelinux|uboot) ",
            "",
            "config served",
        ),
        Milestone("read", "serial", then[0], "", then[1]),
    ]


def uboot_install_milestones(site: PxeSite, spec: VmSpec) -> list[Milestone]:
    """U-Boot, deploying: boot script → ``01-<mac>`` → arm64 kernel and initrd over TFTP →
    installer → callback → reboot → U-Boot again → the ``deployed`` answer's LOCALBOOT."""
    first = uboot_milestones(site, spec, (r"Retrieving file: /?arm64/", "U-Boot fetches files"))
    ms = first[:-1] + installer_milestones()
    again = uboot_milestones(site, spec, (r"missing environment variable: localcmd", ""))
    for m in again:
        if m.name in ("dhcp", "config"):
            m.name, m.after = f"{m.name}#reboot", "reboot"
            m.label = f"{m.label} (after reboot)"
            ms.append(m)
    ms.append(
        Milestone("localboot", "serial", again[-1].pattern, "reboot", "U-Boot runs LOCALBOOT")
    )
    return ms


def uboot_names(serial: str) -> list[str]:
    """The config names U-Boot asked for, in order (from its console)."""
    return re.findall(UBOOT_RETRIEVING, serial)
