"""``/metrics`` in Prometheus text format: requests by route/outcome, latency histograms,
what was refused or dropped to keep the server bounded (``pxehook.counters``), hosts by
state, the inventory's status (from the supervisor's ``services.json``) and build info.

Each gunicorn worker counts in memory and writes a snapshot to
``<state_dir>/metrics/<pid>.json`` at most once a second; ``/metrics`` sums the snapshots
of live workers, so every scrape sees the whole server whichever worker answers.
"""

from __future__ import annotations

import json
import os
import platform
import threading
import time
from collections import defaultdict

from flask import Blueprint, Response, current_app

from pxehook import __version__, counters, servicestatus
from pxehook.capture import status as lease_status
from pxehook.errors import StoreError
from pxehook.models import STATES
from pxehook.store.base import Store
from pxehook.web import context_of, fastpath

bp = Blueprint("metrics", __name__)

#: What ``pxehook_dropped_total`` counts (always exported, 0 until it happens):
#: unknown MACs not enlisted (budget), boot-path writes that failed (full disk), refused
#: callbacks not put on the timeline (cap), HTTP connections refused (per-client cap).
DROPPED = ("enlist_refused", "boot_write_failed", "callback_event_dropped",
           "http_connection_refused")  # fmt: skip
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)
_lock = threading.Lock()
_requests: dict[tuple[str, str], int] = defaultdict(int)
_hist: dict[str, list[float]] = {}
_last_dump = 0.0


def _observe_hist(name: str, seconds: float) -> None:
    row = _hist.setdefault(name, [0.0] * (len(BUCKETS) + 2))  # buckets…, count, sum
    for i, bound in enumerate(BUCKETS):
        if seconds <= bound:
            row[i] += 1
    row[-2] += 1
    row[-1] += seconds


def observe_request(route: str, outcome: str, seconds: float) -> None:
    """Count one request and its latency."""
    with _lock:
        _requests[(route, outcome)] += 1
        _observe_hist("request", seconds)
    _maybe_dump()


def observe_render(seconds: float) -> None:
    """One template render (cache miss)."""
    with _lock:
        _observe_hist("render", seconds)


def snapshot() -> dict:
    with _lock:
        return {
            "requests": [[r, o, n] for (r, o), n in _requests.items()],
            "hist": {k: list(v) for k, v in _hist.items()},
            "dropped": counters.snapshot(),
        }


def _dir() -> str | None:
    state = fastpath.state_dir.get()  # a request answered outside Flask's app context
    try:
        state = state or context_of(current_app).settings.state_dir
    except RuntimeError:
        return None
    return os.path.join(state, "metrics")


def _maybe_dump(force: bool = False) -> None:
    global _last_dump
    now = time.monotonic()
    if not force and now - _last_dump < 1.0:
        return
    _last_dump = now
    folder = _dir()
    if folder is None:
        return
    try:
        os.makedirs(folder, exist_ok=True)
        tmp = os.path.join(folder, f".{os.getpid()}.tmp")
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(snapshot(), fh)
        os.replace(tmp, os.path.join(folder, f"{os.getpid()}.json"))
    except OSError:
        pass  # metrics must never break a boot


def merged() -> dict:
    """This worker's live counts plus the snapshots of the other live workers."""
    total = snapshot()
    folder = _dir()
    names = os.listdir(folder) if folder and os.path.isdir(folder) else []
    for name in names:
        pid = int(name[:-5]) if name.endswith(".json") and name[:-5].isdigit() else None
        if pid is None or pid == os.getpid() or not servicestatus.alive(pid):
            continue
        try:
            with open(os.path.join(folder, name), encoding="utf-8") as fh:  # type: ignore[arg-type]
                other = json.load(fh)
        except (OSError, ValueError):
            continue
        total["requests"].extend(other.get("requests", []))
        for what, n in (other.get("dropped") or {}).items():
            total["dropped"][what] = total["dropped"].get(what, 0) + int(n)
        for key, row in other.get("hist", {}).items():
            mine = total["hist"].setdefault(key, [0.0] * len(row))
            total["hist"][key] = [a + b for a, b in zip(mine, row, strict=True)]
    return total


def _esc(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def exposition(data: dict) -> str:
    """Prometheus text format 0.0.4."""
    counts: dict[tuple[str, str], float] = defaultdict(float)
    for route, outcome, n in data["requests"]:
        counts[(route, outcome)] += n
    lines = [
        "# HELP pxehook_boot_requests_total Boot requests by route and outcome.",
        "# TYPE pxehook_boot_requests_total counter",
    ]
    for (route, outcome), n in sorted(counts.items()):
        lines.append(
            f'pxehook_boot_requests_total{{route="{_esc(route)}",outcome="{_esc(outcome)}"}} '
            f"{int(n)}"
        )
    names = {"request": "pxehook_boot_request_seconds", "render": "pxehook_render_seconds"}
    for key, metric in names.items():
        row = data["hist"].get(key, [0.0] * (len(BUCKETS) + 2))
        lines.append(f"# HELP {metric} Latency of boot {key}s in seconds.")
        lines.append(f"# TYPE {metric} histogram")
        for bound, n in zip(BUCKETS, row, strict=False):
            lines.append(f'{metric}_bucket{{le="{bound}"}} {int(n)}')
        lines.append(f'{metric}_bucket{{le="+Inf"}} {int(row[-2])}')
        lines.append(f"{metric}_count {int(row[-2])}")
        lines.append(f"{metric}_sum {row[-1]:.6f}")
    lines.append("# HELP pxehook_dropped_total What was refused or not recorded to stay bounded.")
    lines.append("# TYPE pxehook_dropped_total counter")
    for what in DROPPED:
        n = int(data.get("dropped", {}).get(what, 0))
        lines.append(f'pxehook_dropped_total{{what="{what}"}} {n}')
    extra = lease_file_lines(data.get("lease_files", [])) + rack_lines(data.get("fleet", {}))
    return "\n".join(lines + extra) + "\n"


#: Per lease file: (status key, metric, type, help).
LEASE_FILE_METRICS = (
    ("leases", "pxehook_lease_file_leases", "gauge", "Active leases in the lease file."),
    ("bad_lines", "pxehook_lease_file_bad_lines", "gauge", "Malformed lines skipped (last read)."),
    ("busy_reads", "pxehook_lease_file_busy_reads_total", "counter", "Reads of a file mid-write."),
    ("pending_deletions", "pxehook_lease_file_pending_deletions", "gauge",
     "Leases missing from one read, not yet confirmed gone."),
)  # fmt: skip


def lease_file_lines(files: list[dict]) -> list[str]:
    """The lease-file watcher's status (``capture/leases.py``) as Prometheus lines."""
    lines: list[str] = []
    for key, metric, kind, text in LEASE_FILE_METRICS if files else ():
        lines += [f"# HELP {metric} {text}", f"# TYPE {metric} {kind}"]
        for item in files:
            labels = f'kind="{_esc(str(item.get("kind")))}",path="{_esc(str(item.get("path")))}"'
            lines.append(f"{metric}{{{labels}}} {int(item.get(key, 0))}")
    return lines


def rack_lines(fleet: dict) -> list[str]:
    """This resolver's rack and whether it leads the fleet (docs/racks.md)."""
    if not fleet:
        return []
    leads = 1 if fleet.get("role") == servicestatus.LEADER else 0
    return [
        "# HELP pxehook_fleet_leader 1 on the rack that runs the fleet-wide work, else 0.",
        "# TYPE pxehook_fleet_leader gauge",
        f'pxehook_fleet_leader{{rack="{_esc(str(fleet.get("rack", "")))}"}} {leads}',
    ]


def _gauge(metric: str, text: str, samples: list[tuple[str, float]]) -> list[str]:
    lines = [f"# HELP {metric} {text}", f"# TYPE {metric} gauge"]
    return lines + [f"{metric}{labels} {_number(value)}" for labels, value in samples]


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def fleet_lines(store: Store) -> list[str]:
    """Hosts by life-cycle state (every state, 0 included) and the schema in force."""
    try:
        counts = [(state, store.host_count(state=state)) for state in STATES]
        schema = store.schema_version()
    except StoreError:
        return []  # /healthz says why; the rest of /metrics still answers
    samples = [(f'{{state="{_esc(str(state))}"}}', float(n)) for state, n in counts]
    return _gauge("pxehook_hosts", "Hosts by life-cycle state.", samples) + build_lines(schema)


def build_lines(schema: int) -> list[str]:
    labels = (f'{{version="{_esc(__version__)}",python="{platform.python_version()}",'
              f'schema="{schema}"}}')  # fmt: skip
    return _gauge("pxehook_build_info", "pxehook's version, Python's, the schema.", [(labels, 1)])


def inventory_lines(published: dict | None) -> list[str]:
    """The inventory watcher of ``pxehook serve`` (none without its supervisor)."""
    inventory = (published or {}).get("inventory")
    if not isinstance(inventory, dict):
        return []
    label = f'{{path="{_esc(str(inventory.get("path", "")))}"}}'
    in_force = "inventory" not in servicestatus.problems(published or {})
    return [
        *_gauge("pxehook_inventory_ok", "1: the inventory file on disk is in force "
                "(/healthz names the problem otherwise).", [(label, float(in_force))]),
        *_gauge("pxehook_inventory_last_apply_timestamp_seconds",
                "When the inventory was last applied without error (0: not since start).",
                [(label, float(inventory.get("applied_at") or 0))]),
        *_gauge("pxehook_inventory_last_error_timestamp_seconds",
                "Since when the inventory's last edit is refused (0: no error).",
                [(label, float(inventory.get("error_at") or 0))]),
    ]  # fmt: skip


@bp.get("/metrics")
def metrics() -> Response:
    _maybe_dump(force=True)
    ctx = context_of(current_app)
    settings = ctx.settings
    published = servicestatus.read(settings.state_dir) or {}
    fleet = {"rack": settings.rack, "role": (published.get("fleet") or {}).get("role", "none")}
    data = {**merged(), "lease_files": lease_status.read(settings.state_dir), "fleet": fleet}
    extra = fleet_lines(ctx.store()) + inventory_lines(published)
    body = exposition(data) + "".join(line + "\n" for line in extra)
    return Response(body, mimetype="text/plain; version=0.0.4")
