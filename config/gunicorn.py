"""gunicorn settings: `gunicorn -c config/gunicorn.py config.wsgi`.

Each worker is a process with its own metrics; prometheus-client's
multiprocess mode keeps them in files under PROMETHEUS_MULTIPROC_DIR, which
must be set before a worker imports it and emptied when the server starts.
"""

import os
import shutil
import tempfile

from prometheus_client import multiprocess

_dir = os.environ.setdefault(
    "PROMETHEUS_MULTIPROC_DIR",
    os.path.join(tempfile.gettempdir(), f"churchtext-metrics-{os.getpid()}"),
)


def on_starting(server: object) -> None:
    shutil.rmtree(_dir, ignore_errors=True)  # a previous run's files would add up
    os.makedirs(_dir, exist_ok=True)


def child_exit(server: object, worker: object) -> None:
    multiprocess.mark_process_dead(worker.pid)  # type: ignore[attr-defined,no-untyped-call]
