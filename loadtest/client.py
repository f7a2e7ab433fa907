"""One verified HTTP call: send, time, check status, content type and shape, record the outcome."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import aiohttp

from loadtest.stats import Recorder

Check = Callable[[Any], str | None]
"""Looks at a decoded body; returns what is wrong with it (``"leak: ..."`` for a context leak)."""


class Client:
    def __init__(self, session: aiohttp.ClientSession, base_url: str, recorder: Recorder,
                 timeout: float) -> None:
        self.session = session
        self.base_url = base_url.rstrip("/")
        self.recorder = recorder
        self.timeout = aiohttp.ClientTimeout(total=timeout)

    async def call(self, name: str, method: str, path: str, *, body: Any = None,
                   token: str | None = None, expect: int = 200, html: bool = False,
                   check: Check | None = None, started: float | None = None) -> Any:
        """The decoded body when everything checks out, else None (the failure is recorded).

        ``started`` (a ``time.perf_counter`` value) is the scheduled start in open-loop runs, so
        the time a request waited for a free slot counts in its latency.
        """
        headers = request_headers(html, token)
        begin = time.perf_counter()
        if started is not None:
            self.recorder.late.record(max(begin - started, 0.0))
            begin = started
        try:
            async with self.session.request(method, self.base_url + path, json=body,
                                            headers=headers, timeout=self.timeout) as response:
                raw = await response.read()
                status, ctype = response.status, response.headers.get("Content-Type", "")
        except TimeoutError:
            self.recorder.error(name, "timeout", f"no answer in {self.timeout.total}s")
            return None
        except (aiohttp.ClientError, OSError) as error:
            self.recorder.error(name, "connection", f"{type(error).__name__}: {error}")
            return None
        return judge(self.recorder, name, f"{method} {path}", status, ctype, raw,
                     time.perf_counter() - begin, expect=expect, html=html, check=check)


def request_headers(html: bool, token: str | None) -> dict[str, str]:
    headers = {"Accept": "text/html" if html else "application/json"}
    if token:
        headers["Authorization"] = f"Token {token}"
    return headers


def judge(recorder: Recorder, name: str, request: str, status: int, ctype: str, raw: bytes,
          elapsed: float, *, expect: int = 200, html: bool = False, check: Check | None = None
          ) -> Any:
    """Verify one answer (status, content type, body, the scenario's check) and record it: the
    decoded body when everything checks out, else None. Shared by this client and Locust's
    (loadtest/locustfile.py), so both verify alike."""
    if status != expect:
        recorder.error(name, "status", f"{request} answered {status}, expected {expect}: "
                       f"{raw[:120]!r}", status, elapsed)
        return None
    wanted = "text/html" if html else "application/json"
    if status != 204 and not ctype.startswith(wanted):
        recorder.error(name, "verification", f"content type {ctype!r}, expected {wanted}",
                       status, elapsed)
        return None
    data: Any = None
    if status != 204:
        try:
            data = raw.decode() if html else json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError):
            recorder.error(name, "verification", "body does not decode", status, elapsed)
            return None
    problem = check(data) if check else None
    if problem:
        if problem.startswith("leak:"):
            recorder.leaks += 1
        recorder.error(name, "verification", problem, status, elapsed)
        return None
    recorder.ok(name, status, elapsed)
    return data if data is not None else {}


async def target_answers(base_url: str, wait: float = 3.0) -> str | None:
    """None when something accepts connections at the URL's host and port, else why not."""
    from urllib.parse import urlsplit

    parts = urlsplit(base_url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        _reader, writer = await asyncio.wait_for(
            asyncio.open_connection(parts.hostname, port), wait)
    except TimeoutError:
        return f"{parts.hostname}:{port} did not answer within {wait:g}s"
    except OSError as error:
        return f"{parts.hostname}:{port} refused or unreachable ({error.strerror or error})"
    writer.close()
    await writer.wait_closed()
    return None
