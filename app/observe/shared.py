"""The folder where every process of one server writes its metrics (prometheus-client's
multiprocess mode), made by the supervisor before any worker starts: the client library reads
``PROMETHEUS_MULTIPROC_DIR`` when it is first imported, so nothing here imports it."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

MULTIPROCESS = "PROMETHEUS_MULTIPROC_DIR"


@contextmanager
def shared_metrics() -> Iterator[Path]:
    """The operator's folder (``PROMETHEUS_MULTIPROC_DIR``) emptied of a previous run's files, or
    a new one removed afterwards; set in the environment the workers inherit."""
    given = os.environ.get(MULTIPROCESS)
    folder = Path(given) if given else Path(tempfile.mkdtemp(prefix="conduit-metrics-"))
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.db"):  # a previous server's counts are not this one's
        stale.unlink()
    os.environ[MULTIPROCESS] = str(folder)
    try:
        yield folder
    finally:
        if not given:
            shutil.rmtree(folder, ignore_errors=True)
