"""Process-wide counts of what a server refused or dropped to stay bounded.

Lower layers count here (the boot resolver's enlistment cap, the web worker's connection
cap, the callback's timeline cap); ``web/metrics.py`` exports them as
``pxehook_dropped_total{what=...}``, summed over the gunicorn workers.
"""

from __future__ import annotations

import threading
from collections import Counter

_lock = threading.Lock()
_counts: Counter[str] = Counter()


def count(what: str, n: int = 1) -> None:
    with _lock:
        _counts[what] += n


def snapshot() -> dict[str, int]:
    with _lock:
        return dict(_counts)
