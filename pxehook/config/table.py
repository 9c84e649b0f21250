"""The settings table: every setting pxehook reads, declared as data (name, check, default,
kind, help). docs/configuration.md embeds the same table (``pxehook config docs``); the
bounds on what the network may make pxehook do live in ``bounds.py``."""

from __future__ import annotations

from pxehook.config.bounds import BOUND_SETTINGS
from pxehook.config.checks import (
    boolean,
    choice,
    cidr_list,
    ipv4_or_empty,
    name_or_empty,
    non_negative_int,
    port,
    positive_int,
    string,
    string_list,
)
from pxehook.config.setting import Setting
from pxehook.config.setting import declare as _s
from pxehook.daemons import NAMES as DAEMON_NAMES

SETTINGS: tuple[Setting, ...] = (
    _s(
        "database",
        string,
        "sqlite:////var/lib/pxehook/pxehook.db",
        "url",
        "Store URL: sqlite:///ABSOLUTE/PATH (embedded default), a bare file path, or "
        "postgresql://USER@HOST/DB (needs the postgres extra).",
    ),
    _s(
        "db_busy_timeout_ms",
        positive_int,
        5000,
        "int",
        "How long a writer waits for a locked database before giving up (ms).",
    ),
    _s(
        "inventory",
        string,
        "/etc/pxehook/inventory.yaml",
        "path",
        "YAML inventory of profiles, groups and hosts; watched and re-read on change.",
    ),
    _s(
        "state_dir",
        string,
        "/var/lib/pxehook",
        "path",
        "Directory for pxehook's own state (spool, rendered files).",
    ),
    _s(
        "spool_dir",
        string,
        "/var/lib/pxehook/spool",
        "path",
        "Append-only spool the DHCP hooks write to; ingested into the store.",
    ),
    _s(
        "site_templates",
        string,
        "",
        "path",
        "Directory of site templates, searched before the packaged ones.",
    ),
    _s(
        "bind", ipv4_or_empty, "127.0.0.1", "ip", "Address the HTTP resolver (gunicorn) listens on."
    ),
    _s("port", port, 8070, "port", "TCP port of the HTTP resolver."),
    _s("workers", positive_int, 2, "int", "Number of gunicorn worker processes."),
    _s(
        "server_ip",
        ipv4_or_empty,
        "",
        "ip",
        "Address clients reach this host's TFTP/HTTP at (next-server, boot URLs).",
    ),
    _s(
        "http_base_url",
        string,
        "",
        "url",
        "Base URL of the resolver as clients see it; default http://SERVER_IP:PORT.",
    ),
    _s("tftp_root", string, "/srv/tftp", "path", "Directory holding the boot loaders."),
    _s(
        "tftp_bind",
        ipv4_or_empty,
        "",
        "ip",
        "Address pxehook's own TFTP server binds to (empty: server_ip, else 127.0.0.1).",
    ),
    _s("tftp_port", port, 69, "port", "UDP port of pxehook's own TFTP server."),
    _s(
        "tftp_serve",
        boolean,
        False,
        "bool",
        "Run pxehook's own TFTP server inside 'pxehook serve' (else: 'pxehook tftp').",
    ),
    _s(
        "unknown_hosts",
        choice("discover", "local", "ignore"),
        "discover",
        "choice",
        "What an unknown MAC boots: discover (enlist, then local), local, or ignore (404).",
    ),
    _s(
        "deploy_timeout",
        positive_int,
        3600,
        "int",
        "Seconds a host may stay 'deploying' before it is marked failed.",
    ),
    _s(
        "boot_once_window",
        positive_int,
        120,
        "int",
        "Seconds between install-kernel fetches that still count as one boot session "
        "(one-shot profiles go local after the session).",
    ),
    _s(
        "lifecycle_sweep_interval",
        positive_int,
        10,
        "int",
        "Seconds between life-cycle sweeps (deploy time-outs, boot-once, auto-adopt).",
    ),
    _s(
        "adopt_mac_prefixes",
        string_list,
        [],
        "list",
        "Auto-adopt rule: new hosts whose MAC starts with one of these prefixes.",
    ),
    _s(
        "adopt_arches",
        string_list,
        [],
        "list",
        "Auto-adopt rule: new hosts of these arch slugs/codes.",
    ),
    _s("adopt_subnets", cidr_list, [], "list", "Auto-adopt rule: new hosts seen in these CIDRs."),
    _s(
        "adopt_state",
        choice("deployed", "ready"),
        "deployed",
        "choice",
        "State an auto-adopted host moves to (deployed: it already runs a workload).",
    ),
    _s(
        "local_boot",
        choice("auto", "exit", "sanboot", "grub-esp"),
        "auto",
        "choice",
        "Default local-boot method (auto: by firmware).",
    ),
    _s(
        "dhcp_interface",
        string,
        "",
        "str",
        "Interface dnsmasq listens on in generated configs (empty: all).",
    ),
    _s(
        "dhcp_subnets",
        string_list,
        [],
        "list",
        "Subnets (CIDR) the DHCP generators declare, e.g. 192.0.2.0/24.",
    ),
    _s(
        "dhcp_range",
        string,
        "",
        "str",
        "Address range for full-DHCP mode: FIRST,LAST (inside a dhcp_subnets entry).",
    ),
    _s(
        "dhcp_routers",
        string_list,
        [],
        "list",
        "Default gateway per subnet, SUBNET=ROUTER (e.g. 198.51.100.0/24=198.51.100.1): needed "
        "for a relayed subnet whose clients reach pxehook through a router (ISC, Kea).",
    ),
    _s(
        "dhcp_lease_time",
        positive_int,
        3600,
        "int",
        "Lease time (seconds) in generated full-DHCP configs.",
    ),
    _s(
        "dhcp_lease_max",
        positive_int,
        1000,
        "int",
        "dnsmasq dhcp-lease-max in generated configs; lint warns when fleet_size exceeds it.",
    ),
    _s(
        "tftp_max",
        positive_int,
        1024,
        "int",
        "dnsmasq tftp-max (concurrent transfers), sized for a boot storm (dnsmasq default 50).",
    ),
    _s(
        "fleet_size",
        non_negative_int,
        0,
        "int",
        "Machines that may boot at once (0: unknown); lint compares it to the limits.",
    ),
    _s(
        "boot_modes",
        string_list,
        [],
        "list",
        "Per-arch boot mode overrides SLUG=MODE (e.g. bios=pxelinux); default: the arch table.",
    ),
    _s(
        "loader_arches",
        string_list,
        ["bios", "efi-x64", "efi-bc", "http-x64", "efi-arm64", "http-arm64"],
        "list",
        "Architectures (slugs) this site boots: the loaders 'pxehook loaders install' fetches "
        "and the only ones gen/lint warn about when missing from tftp_root.",
    ),
    _s(
        "http_boot_url",
        string,
        "",
        "url",
        "URL prefix UEFI HTTP-boot clients fetch loaders from; default HTTP_BASE_URL/uefi "
        "(pxehook's own /uefi/ route, on its own port).",
    ),
    _s(
        "kea_hooks_dir",
        string,
        "/usr/lib/x86_64-linux-gnu/kea/hooks",
        "path",
        "Directory holding Kea's hook libraries (libdhcp_run_script.so).",
    ),
    _s(
        "kea_lease_file",
        string,
        "/var/lib/kea/kea-leases4.csv",
        "path",
        "Kea memfile lease file in the generated config.",
    ),
    _s(
        "kea_control_socket",
        string,
        "/run/kea/kea4-ctrl-socket",
        "path",
        "Kea control socket in the generated config (gen kea --reload uses it).",
    ),
    _s(
        "hook_path",
        string,
        "/usr/local/libexec/pxehook/pxehook-hook",
        "path",
        "Where 'pxehook hook install' puts the DHCP hook the DHCP configs call.",
    ),
    _s(
        "hook_fsync",
        choice("async", "sync", "off"),
        "async",
        "choice",
        "How the hook makes a spool record durable: async (background fdatasync), sync, off.",
    ),
    _s(
        "listen_interface",
        string,
        "",
        "str",
        "Interface the passive DHCP listener watches in 'pxehook serve' (empty: off).",
    ),
    _s(
        "lease_files",
        string_list,
        [],
        "list",
        f"Lease files 'pxehook serve' watches, as KIND:PATH ({', '.join(DAEMON_NAMES)}).",
    ),
    _s(
        "files_dir",
        string,
        "/srv/pxehook/files",
        "path",
        "Directory served read-only at /files/ (kernels, initrds, squashfs; sendfile, Range).",
    ),
    _s(
        "files_url",
        string,
        "",
        "url",
        "URL templates call files_url (default: the resolver's base URL + /files).",
    ),
    _s("rescue_profile", string, "rescue", "str", "Profile a host in state 'rescue' boots."),
    _s(
        "commissioning_profile",
        string,
        "commissioning",
        "str",
        "Profile a host in state 'commissioning' boots.",
    ),
    _s(
        "state_boot",
        string_list,
        [],
        "list",
        "Overrides of what a state boots: STATE=local|profile|ignore|PROFILE (e.g. ready=local).",
    ),
    _s(
        "local_boot_arch",
        string_list,
        [],
        "list",
        "Per-arch local-boot method: SLUG=exit|sanboot|grub-esp (e.g. efi-x64=exit).",
    ),
    _s(
        "prerender_dir",
        string,
        "",
        "path",
        "Directory where per-MAC configs are pre-rendered for nginx (empty: off).",
    ),
    _s(
        "access_log",
        string,
        "",
        "path",
        "nginx access log (format 'pxehook') ingested into host timelines (empty: off).",
    ),
    _s("boot_retries", positive_int, 3, "int", "Kernel/initrd fetch attempts before local boot."),
    _s(
        "log_level",
        choice("debug", "info", "warning", "error"),
        "info",
        "choice",
        "Logging level of the server processes.",
    ),
    # racks: several resolvers on one PostgreSQL database (docs/racks.md)
    _s(
        "rack_name",
        name_or_empty,
        "",
        "str",
        "This resolver's name among several on one database, written on every event it "
        "records and shown by /healthz and /metrics (empty: the host name).",
    ),
    _s(
        "leader_check_interval",
        positive_int,
        1,
        "int",
        "Seconds between a resolver's tries to become the fleet's leader (which runs the "
        "inventory, the life-cycle sweep and pruning) and the leader's checks that it still is.",
    ),
    # timeline retention and logs (docs/operations.md)
    _s(
        "http_access_log",
        string,
        "",
        "path",
        "Access log of the HTTP resolver: a file, '-' for the server's own log (stderr), "
        "empty: off.",
    ),
    _s(
        "tftp_access_log",
        string,
        "",
        "path",
        "Access log of pxehook's TFTP server, one line per read request with the time to "
        "its first packet: a file, '-' for the server's own log (stderr), empty: off.",
    ),
    _s(
        "event_retention_days",
        non_negative_int,
        90,
        "int",
        "Timeline events older than this many days are pruned (0: no age limit).",
    ),
    _s(
        "event_retention_per_host",
        non_negative_int,
        1000,
        "int",
        "Timeline events kept per host, the newest (0: no count limit).",
    ),
    _s(
        "event_keep_deployments",
        non_negative_int,
        3,
        "int",
        "A host's state changes since the start of its N-th newest deployment are never "
        "pruned, whatever their age or count (0: none kept).",
    ),
    _s(
        "event_prune_interval",
        non_negative_int,
        3600,
        "int",
        "Seconds between timeline prunes in 'pxehook serve' (0: only 'pxehook db prune').",
    ),
    *BOUND_SETTINGS,
)

BY_NAME: dict[str, Setting] = {s.name: s for s in SETTINGS}
