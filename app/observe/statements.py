"""Each SQL statement a request runs, counted and timed into its record (app/observe/record.py):
the access line's ``db=`` and the slow-request line's list. Only the statement's text is kept,
never its parameters (a password hash, an e-mail address), cut to ``SQL_SHOWN`` characters."""

from __future__ import annotations

import re
import time
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from app.observe.record import CURRENT

SQL_SHOWN = 300
_SPACES = re.compile(r"\s+")


def time_statements(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _started(_conn: Any, _cursor: Any, _statement: str, _parameters: Any, context: Any,
                 _many: bool) -> None:
        if context is not None:
            context.conduit_started = time.perf_counter()

    @event.listens_for(engine.sync_engine, "after_cursor_execute")
    def _ended(_conn: Any, _cursor: Any, statement: str, _parameters: Any, context: Any,
               _many: bool) -> None:
        record = CURRENT.get()
        started = getattr(context, "conduit_started", None)
        if record is not None and started is not None:
            record.statement(_SPACES.sub(" ", statement)[:SQL_SHOWN], time.perf_counter() - started)
