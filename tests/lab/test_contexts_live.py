"""The lab against a real Hypercorn worker over loopback: 1,000 at once, blocking, background."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import pytest

from tests.support.lab import documented_background_table, expected_for, fire, lab_csrf, new_token

pytestmark = pytest.mark.once  # the contexts lab: backend-independent

CONCURRENT = 1000
MAX_DELAY_MS = 1000


async def test_1000_concurrent_echo_requests_are_all_verified_on_one_thread(live_server: str) -> None:
    batch = await fire(live_server, "echo", CONCURRENT, MAX_DELAY_MS)
    assert len(batch.answers) == CONCURRENT
    for (token, _delay), answer in zip(batch.sent, batch.answers, strict=True):
        assert answer["token"] == token
        assert (answer["g"], answer["contextvar"], answer["request_arg"]) == (token, token, token)
    assert len({answer["pid"] for answer in batch.answers}) == 1  # one Hypercorn worker
    assert len({answer["thread_id"] for answer in batch.answers}) == 1  # ... and one thread in it
    assert len({answer["task_id"] for answer in batch.answers}) == CONCURRENT  # a task per request
    # Overlapping, not one after another: answers read back while other echoes were mid-await.
    assert len(batch.in_flight) == CONCURRENT and max(batch.in_flight) > 1
    print(f"\n{CONCURRENT} concurrent echo requests: wall {batch.wall_s:.2f} s, "
          f"sum of delays {batch.sum_of_delays_s:.1f} s, "
          f"ratio {batch.sum_of_delays_s / batch.wall_s:.0f}x, "
          f"at most {max(batch.in_flight)} in flight at once, "
          f"threads {len({a['thread_id'] for a in batch.answers})}")


async def test_threadlocal_leaks_under_concurrency_on_a_live_worker(live_server: str) -> None:
    batch = await fire(live_server, "threadlocal", 200, 100)
    leaked = [a for a in batch.answers if a["threadlocal"] != a["token"]]
    assert leaked, "200 overlapping requests on one thread must see each other's writes"
    tokens = {token for token, _ in batch.sent}
    assert {a["threadlocal"] for a in leaked} <= tokens  # what leaks is another request's token
    assert len({a["thread_id"] for a in batch.answers}) == 1
    print(f"\nthreadlocal: {len(leaked)} of 200 answers carried another request's token")


async def _slow_then_echo(base: str, mode: str, work_ms: int = 2000, head_start_s: float = 0.5
                          ) -> tuple[list[str], dict[str, Any]]:
    """Start ``mode`` (blocking or offloaded), then issue an echo while it runs; the finishing order."""
    finished: list[str] = []
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(timeout=timeout) as slow_session, \
            aiohttp.ClientSession(timeout=timeout) as quick_session:
        # Open both connections first, so the race below is about serving, not connecting.
        for session in (slow_session, quick_session):
            async with session.get(f"{base}/contexts/echo?token=warm&delay_ms=0") as response:
                assert response.status == 200

        async def slow() -> dict[str, Any]:
            async with slow_session.get(f"{base}/contexts/{mode}?ms={work_ms}") as response:
                body: dict[str, Any] = await response.json()
            finished.append(mode)
            return body

        async def quick() -> None:
            await asyncio.sleep(head_start_s)  # the slow request is now running on the server
            token = new_token()
            async with quick_session.get(f"{base}/contexts/echo?token={token}&delay_ms=0") as response:
                assert (await response.json())["g"] == token
            finished.append("echo")

        slow_answer, _ = await asyncio.gather(slow(), quick())
    return finished, slow_answer


async def test_an_echo_issued_during_a_blocking_call_waits_for_it(live_server: str) -> None:
    started = time.perf_counter()
    order, answer = await _slow_then_echo(live_server, "blocking")
    assert order == ["blocking", "echo"]  # the loop thread was asleep: nobody else was served
    assert answer["work_thread_id"] == answer["thread_id"]
    print(f"\nblocking: order {order}, {time.perf_counter() - started:.2f} s")


async def test_an_echo_issued_during_offloaded_work_does_not_wait(live_server: str) -> None:
    order, answer = await _slow_then_echo(live_server, "offloaded")
    assert order == ["echo", "offloaded"]  # the loop kept serving while a pool thread slept
    assert answer["work_thread_id"] != answer["thread_id"]


async def test_background_jobs_on_a_live_worker_see_what_the_docs_say(live_server: str) -> None:
    token = new_token()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30),
                                     cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        async with session.get(f"{live_server}/contexts") as page:
            csrf = lab_csrf(await page.text())
        async with session.post(f"{live_server}/contexts/background?token={token}",
                                headers={"X-CSRFToken": csrf}) as response:
            assert response.status == 200
            run_id = (await response.json())["id"]
        for _ in range(200):
            async with session.get(f"{live_server}/contexts/background/{run_id}") as response:
                run = await response.json()
            if run["complete"]:
                break
            await asyncio.sleep(0.02)
    assert run["complete"], run
    for job, documented in documented_background_table().items():
        seen = run["jobs"][job]
        assert {key: seen[key] for key in documented} == expected_for(documented, token), job
        assert seen["thread_id"] == run["request"]["thread_id"]  # same loop thread, another task
        assert seen["task_id"] != run["request"]["task_id"]
