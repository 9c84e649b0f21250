"""``python -m pxehook.web.gunicorn_main ARGS``: gunicorn, killed with its supervisor.

``pxehook serve`` runs this instead of ``python -m gunicorn`` so that the arbiter asks the
kernel for SIGKILL when the supervisor dies, before it binds anything; each worker does
the same towards the arbiter (``web/worker.py``). Nothing then outlives ``pxehook serve``
to answer boots without its services or to keep the port from the next start.
"""

from __future__ import annotations

import os
import sys

from gunicorn.app.wsgiapp import run

from pxehook import children

#: The environment variable naming the supervisor's PID (set by ``pxehook serve``).
SUPERVISOR_PID = "PXEHOOK_SUPERVISOR_PID"


def main() -> None:
    children.die_with_parent(int(os.environ.get(SUPERVISOR_PID, "0") or 0))
    sys.argv[0] = "gunicorn"
    run()


if __name__ == "__main__":
    main()
