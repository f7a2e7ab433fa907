"""The folder where every process of one server writes its metrics (prometheus-client's
multiprocess mode), made by the supervisor before any worker starts: the client library reads
``PROMETHEUS_MULTIPROC_DIR`` when it is first imported, so nothing here imports it."""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

MULTIPROCESS = "PROMETHEUS_MULTIPROC_DIR"
LOCK = "conduit-serve.lock"  # held by the server whose figures the folder holds


def ensure_folder() -> None:
    """An operator's folder that does not exist yet is made (prometheus-client writes its files
    there as soon as a metric is defined, in whichever process imports it first)."""
    folder = os.environ.get(MULTIPROCESS)
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)


@contextmanager
def shared_metrics() -> Iterator[Path]:
    """The operator's folder (``PROMETHEUS_MULTIPROC_DIR``) emptied of a previous run's files, or
    a new one removed afterwards; set in the environment the workers inherit. Another server
    still using the operator's folder stops this one with one line, its files untouched."""
    given = os.environ.get(MULTIPROCESS)
    folder = Path(given) if given else Path(tempfile.mkdtemp(prefix="conduit-metrics-"))
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / LOCK).open("a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SystemExit(f"conduit-serve: {MULTIPROCESS}={folder} holds the figures of another "
                             "server that is running: give this one a folder of its own") from None
        for stale in folder.glob("*.db"):  # a previous server's counts are not this one's
            stale.unlink()
        os.environ[MULTIPROCESS] = str(folder)
        try:
            yield folder
        finally:
            if not given:
                shutil.rmtree(folder, ignore_errors=True)
