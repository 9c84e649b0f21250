"""Settings that bound what the network may make pxehook do or hold (docs/security.md):
trusted DHCP servers, callback and token rules, HTTP and TFTP limits, enlistment caps,
the database pool."""

from __future__ import annotations

from pxehook.config.checks import (
    boolean,
    cidr_list,
    non_negative_int,
    positive_int,
)
from pxehook.config.setting import Setting
from pxehook.config.setting import declare as _s

BOUND_SETTINGS: tuple[Setting, ...] = (
    _s(
        "dhcp_trusted_servers",
        cidr_list,
        [],
        "list",
        "DHCP servers (and relays) whose DHCPACKs the passive listener learns client IPs "
        "from: option 54 and the packet's source must both be listed (addresses or CIDRs). "
        "Empty: the listener learns no IPs.",
    ),
    _s(
        "callback_require_host_ip",
        boolean,
        True,
        "bool",
        "Accept the installer's done-callback only from the host's trusted IP (DHCP hook, "
        "lease file or a trusted server's ACK). false: its token alone, which anyone who "
        "fetched the host's boot config holds, ends the installation.",
    ),
    _s(
        "api_token_failures",
        positive_int,
        10,
        "int",
        "Failed bearer tokens one client address may send per minute (per worker process) "
        "before it is answered 429 with Retry-After.",
    ),
    _s(
        "http_threads",
        positive_int,
        8,
        "int",
        "Threads per gunicorn worker; one client address holds at most half of them.",
    ),
    _s(
        "http_keepalive",
        positive_int,
        5,
        "int",
        "Seconds an HTTP connection may stay idle (before its first request and between "
        "requests) before it is closed.",
    ),
    _s(
        "http_request_timeout",
        positive_int,
        10,
        "int",
        "Seconds a client has to send a complete request head once it started; also the "
        "longest wait for each read or write of a request body or reply.",
    ),
    _s(
        "http_client_connections",
        positive_int,
        256,
        "int",
        "Open HTTP connections one client address may hold per worker; more are closed.",
    ),
    _s(
        "enlist_per_hour",
        non_negative_int,
        1000,
        "int",
        "Unknown MACs a boot request may enlist as 'new' hosts per hour (0: none); beyond "
        "it the machine still gets its answer, unrecorded, and /metrics counts it.",
    ),
    _s(
        "enlist_max_new",
        non_negative_int,
        10000,
        "int",
        "Boot requests enlist no more unknown MACs while this many hosts are 'new'.",
    ),
    _s(
        "callback_refusals_logged",
        non_negative_int,
        10,
        "int",
        "Refused install-done callbacks recorded on one host's timeline per "
        "hour; further refusals are still refused, logged and counted in /metrics.",
    ),
    _s(
        "tftp_max_transfers",
        positive_int,
        128,
        "int",
        "pxehook's own TFTP server: transfers served at once (8x as many may await a first ACK).",
    ),
    _s(
        "tftp_max_per_client",
        positive_int,
        8,
        "int",
        "pxehook's own TFTP server: transfers at once per client address.",
    ),
    _s(
        "db_pool_size",
        positive_int,
        8,
        "int",
        "Database connections each pxehook process may hold; a caller waits up to "
        "db_busy_timeout_ms for one, then gets 'database busy' (HTTP 503, TFTP error).",
    ),
    _s(
        "db_pool_idle_timeout",
        positive_int,
        60,
        "int",
        "Seconds an unused pooled database connection stays open.",
    ),
)
