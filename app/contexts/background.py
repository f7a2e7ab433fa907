"""POST /contexts/background: three ways to run work after the response, and what each one sees.

The three jobs wait until the request's context has been torn down (Quart pops it just before the
response is sent), then record what they can see of ``g``, ``request`` and ``session``.
Observations go to small JSON files under the instance folder, not into process memory: with
several Hypercorn workers, the GET that reads them back may land on another worker.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import secrets
import threading
from pathlib import Path
from typing import Any, cast

from quart import (
    Quart,
    copy_current_request_context,
    current_app,
    g,
    has_app_context,
    has_request_context,
    request,
    session,
)
from quart.globals import request_ctx

JOBS = ("add_background_task", "copy_current_request_context", "create_task")
RUN_ID = re.compile(r"^[0-9a-f]{16}$")
KEEP_RUNS = 200
TEARDOWN_WAIT_S = 10.0

log = logging.getLogger(__name__)
# Bare tasks are only weakly referenced by the loop: keep them alive until they finish.
_bare_tasks: set[asyncio.Task[None]] = set()

Observation = dict[str, Any]


def _current(proxy: object) -> object:
    """The object behind one of Quart's context proxies (for identity checks)."""
    return cast(Any, proxy)._get_current_object()


def task_id() -> str:
    task = asyncio.current_task()
    return task.get_name() if task is not None else "no task"


def observe(request_g: object, request_context: object) -> Observation:
    """What the code running right now can see, compared with what the request itself saw."""
    in_app = has_app_context()
    in_request = has_request_context()
    own_context = in_request and _current(request_ctx) is request_context
    return {
        "g": g.get("lab_token") if in_app else None,
        "g_is_the_requests": in_app and _current(g) is request_g,
        "has_app_context": in_app,
        "has_request_context": in_request,
        "request_context": ("the request's own" if own_context else "a copy") if in_request else None,
        "request": request.args.get("token") if in_request else None,
        "session": session.get("lab_token") if in_request else None,
        "thread_id": threading.get_ident(),
        "task_id": task_id(),
    }


def store_dir() -> Path:
    return Path(current_app.instance_path) / "contexts-lab"


def _write(folder: Path, run_id: str, part: str, data: Observation) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    scratch = folder / f".{run_id}.{part}.tmp"
    scratch.write_text(json.dumps(data))
    os.replace(scratch, folder / f"{run_id}.{part}.json")  # readers never see half a file


def _prune(folder: Path) -> None:
    """Keep the newest KEEP_RUNS runs; the lab is a demonstration, not a log."""
    try:
        runs = sorted(folder.glob("*.request.json"), key=lambda path: path.stat().st_mtime)
    except FileNotFoundError:
        return
    for old in runs[:-KEEP_RUNS]:
        run_id = old.name.split(".", 1)[0]
        for path in folder.glob(f"{run_id}.*.json"):
            path.unlink(missing_ok=True)


def _read(folder: Path, run_id: str) -> dict[str, Any] | None:
    def load(part: str) -> Observation | None:
        try:
            data: Observation = json.loads((folder / f"{run_id}.{part}.json").read_text())
        except FileNotFoundError:
            return None
        return data

    seen_by_request = load("request")
    if seen_by_request is None:
        return None
    jobs = {name: load(name) for name in JOBS}
    return {
        "id": run_id,
        "token": seen_by_request.pop("token"),
        "complete": all(jobs.values()),
        "request": seen_by_request,
        "jobs": jobs,
    }


async def start(token: str) -> str:
    """Record what the view sees, start the three jobs, and return the run's id."""
    app = cast(Quart, _current(current_app))
    run_id = secrets.token_hex(8)
    folder = store_dir()
    g.lab_token = token
    session["lab_token"] = token
    torn_down = asyncio.Event()
    g.lab_torn_down = torn_down  # set by the blueprint's teardown_request
    request_g, request_context = _current(g), _current(request_ctx)
    await asyncio.to_thread(_prune, folder)
    await asyncio.to_thread(_write, folder, run_id, "request",
                            {"token": token, **observe(request_g, request_context)})

    async def job(name: str) -> None:
        try:
            await asyncio.wait_for(torn_down.wait(), TEARDOWN_WAIT_S)
            after_teardown = True
        except TimeoutError:
            after_teardown = False
        seen = {**observe(request_g, request_context), "after_teardown": after_teardown}
        await asyncio.to_thread(_write, folder, run_id, name, seen)

    app.add_background_task(job, "add_background_task")
    app.add_background_task(copy_current_request_context(job), "copy_current_request_context")
    bare = asyncio.create_task(job("create_task"))
    _bare_tasks.add(bare)
    bare.add_done_callback(_finished)
    return run_id


def _finished(task: asyncio.Task[None]) -> None:
    _bare_tasks.discard(task)
    if not task.cancelled() and task.exception() is not None:
        log.error("contexts lab: bare task failed", exc_info=task.exception())


async def observations(run_id: str) -> dict[str, Any] | None:
    """What the run recorded so far, or None for an unknown (or malformed) id."""
    if not RUN_ID.fullmatch(run_id):
        return None
    return await asyncio.to_thread(_read, store_dir(), run_id)


def mark_torn_down() -> None:
    """teardown_request hook: lets this request's jobs know its context is gone."""
    event = g.get("lab_torn_down")
    if isinstance(event, asyncio.Event):
        event.set()
