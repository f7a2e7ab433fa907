"""The database pool, observed: connections checked out, requests waiting for one, and how long
they waited (app/observe/metrics.py). SQLAlchemy's own pool for asyncio with two methods wrapped:
``_do_get`` (where a request waits when every connection is out) and ``_do_return_conn``."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy.pool import AsyncAdaptedQueuePool, ConnectionPoolEntry

from app.observe import metrics

_OUT = "conduit_checked_out"  # in a record's record_info while it is counted as in use


class ObservedPool(AsyncAdaptedQueuePool):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        metrics.POOL_SIZE.set(self.size())  # a worker's one pool (a recreated one is its size)

    def _do_get(self) -> ConnectionPoolEntry:
        if self._pool.qsize():  # an idle connection: handed out at once, no wait to count
            record = super()._do_get()
            metrics.POOL_WAIT.observe(0.0)
        else:  # every connection is out, or one is to be made: the wait is counted, one that
            # ran out or was cancelled too (the worst ones)
            metrics.POOL_WAITING.inc()
            started = time.perf_counter()
            try:
                record = super()._do_get()
            finally:
                metrics.POOL_WAITING.dec()
                metrics.POOL_WAIT.observe(time.perf_counter() - started)
        info = record.record_info
        if info is not None and not info.get(_OUT):  # QueuePool's _do_get may call itself
            info[_OUT] = True
            metrics.POOL_IN_USE.inc()
        return record

    def _do_return_conn(self, record: ConnectionPoolEntry) -> None:
        info = record.record_info
        if info is not None and info.pop(_OUT, False):
            metrics.POOL_IN_USE.dec()
        super()._do_return_conn(record)
