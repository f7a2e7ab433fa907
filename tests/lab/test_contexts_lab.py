"""The contexts lab in-process: input rules, isolation, the deterministic threadlocal leak, background."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from quart import Quart, copy_current_request_context, g, request
from quart.testing import QuartClient
from quart.utils import run_sync

from app.contexts import background, explanation, views
from tests.support.lab import documented_background_table, expected_for, lab_csrf, new_token

pytestmark = pytest.mark.once  # the contexts lab: backend-independent

BAD_INPUT = [
    "/contexts/echo",
    "/contexts/echo?token=",
    f"/contexts/echo?token={'x' * 65}",
    "/contexts/echo?token=a&delay_ms=-1",
    "/contexts/echo?token=a&delay_ms=10001",
    "/contexts/echo?token=a&delay_ms=1.5",
    "/contexts/echo?token=a&delay_ms=",
    "/contexts/echo?token=a&delay_ms=%C2%B2",  # a superscript two: isdigit() says yes, int() says no
    "/contexts/threadlocal?delay_ms=5",
    "/contexts/threadlocal?token=a&delay_ms=99999999999999999999",
    "/contexts/blocking?ms=10001",
    "/contexts/offloaded?ms=" + "9" * 5000,  # int() refuses over 4,300 digits: must be 422, not 500
    "/contexts/blocking?ms=abc",
    "/contexts/offloaded?ms=-5",
]


@pytest.mark.parametrize("url", BAD_INPUT)
async def test_bad_input_is_422_json(client: QuartClient, url: str) -> None:
    response = await client.get(url, headers={"Accept": "text/html"})
    assert response.status_code == 422
    body = await response.get_json()
    assert set(body) == {"errors"} and len(body["errors"]) == 1


async def _lab_headers(client: QuartClient) -> dict[str, str]:
    page = await (await client.get("/contexts")).get_data(as_text=True)
    return {"X-CSRFToken": lab_csrf(page)}


async def test_background_without_a_token_is_422(client: QuartClient) -> None:
    response = await client.post("/contexts/background", headers=await _lab_headers(client))
    assert response.status_code == 422
    assert (await response.get_json()) == {"errors": {"token": ["is required"]}}


async def test_unknown_or_malformed_background_id_is_404_json(client: QuartClient) -> None:
    for run_id in ("0123456789abcdef", "0123456789ABCDEF", "..", "zz"):
        response = await client.get(f"/contexts/background/{run_id}")
        assert response.status_code == 404
        assert "errors" in await response.get_json()


async def test_echo_answers_the_contract(client: QuartClient) -> None:
    token = new_token()
    response = await client.get(f"/contexts/echo?token={token}&delay_ms=1")
    body = await response.get_json()
    assert set(body) == {"token", "g", "contextvar", "request_arg", "thread_id", "task_id", "pid"}
    assert body["token"] == body["g"] == body["contextvar"] == body["request_arg"] == token
    assert isinstance(body["thread_id"], int) and isinstance(body["pid"], int)
    assert isinstance(body["task_id"], str)


@pytest.fixture
def awaiting(monkeypatch: pytest.MonkeyPatch) -> asyncio.Event:
    """Set when a lab view has written its token and is about to await (the ordering hook)."""
    event = asyncio.Event()

    async def sleep(seconds: float) -> None:
        event.set()
        await asyncio.sleep(seconds)

    monkeypatch.setattr(views, "asyncio", SimpleNamespace(sleep=sleep, to_thread=asyncio.to_thread))
    return event


async def test_threadlocal_leaks_deterministically(client: QuartClient, awaiting: asyncio.Event) -> None:
    """A writes and awaits; B writes and answers; A reads B's token back."""
    a, b = new_token(), new_token()
    first = asyncio.create_task(client.get(f"/contexts/threadlocal?token={a}&delay_ms=2000"))
    await awaiting.wait()  # A has written the slot and is awaiting
    second = await client.get(f"/contexts/threadlocal?token={b}&delay_ms=0")
    answer_a, answer_b = await (await first).get_json(), await second.get_json()
    assert answer_b["threadlocal"] == b
    assert answer_a["token"] == a
    assert answer_a["threadlocal"] == b  # the leak: A sees the last writer's token
    assert answer_a["thread_id"] == answer_b["thread_id"]


async def test_the_same_ordering_cannot_leak_through_g_or_a_contextvar(client: QuartClient,
                                                                       awaiting: asyncio.Event) -> None:
    a, b = new_token(), new_token()
    first = asyncio.create_task(client.get(f"/contexts/echo?token={a}&delay_ms=2000"))
    await awaiting.wait()  # A has written g and the ContextVar and is awaiting
    second = await client.get(f"/contexts/echo?token={b}&delay_ms=0")
    answer_a, answer_b = await (await first).get_json(), await second.get_json()
    assert (answer_a["g"], answer_a["contextvar"], answer_a["request_arg"]) == (a, a, a)
    assert (answer_b["g"], answer_b["contextvar"], answer_b["request_arg"]) == (b, b, b)
    assert answer_a["thread_id"] == answer_b["thread_id"]
    assert answer_a["task_id"] != answer_b["task_id"]


async def test_background_needs_the_pages_csrf_token_and_origin(client: QuartClient) -> None:
    """It writes into the visitor's session: a cross-site POST (no token, or another Origin) is
    refused. Before, any site could make a visitor's browser start one."""
    token = new_token()
    assert (await client.post(f"/contexts/background?token={token}")).status_code == 400
    headers = await _lab_headers(client)
    evil = await client.post(f"/contexts/background?token={token}",
                             headers={**headers, "Origin": "https://evil.example"})
    assert evil.status_code == 403
    same = await client.post(f"/contexts/background?token={token}",
                             headers={**headers, "Origin": "http://localhost"})
    assert same.status_code == 200


async def _observations(client: QuartClient, token: str) -> dict[str, Any]:
    started = await client.post(f"/contexts/background?token={token}",
                                headers=await _lab_headers(client))
    assert started.status_code == 200
    run_id = (await started.get_json())["id"]
    for _ in range(200):
        run: dict[str, Any] = await (await client.get(f"/contexts/background/{run_id}")).get_json()
        if run["complete"]:
            return run
        await asyncio.sleep(0.02)
    raise AssertionError(f"background run {run_id} never completed: {run}")


async def test_background_jobs_see_what_the_docs_say(client: QuartClient) -> None:
    token = new_token()
    run = await _observations(client, token)
    assert run["token"] == token
    assert run["request"]["g"] == run["request"]["request"] == run["request"]["session"] == token
    table = documented_background_table()
    assert set(table) == set(run["jobs"]) == set(background.JOBS)
    for job, documented in table.items():
        seen = run["jobs"][job]
        assert seen["after_teardown"] is True, job
        assert {key: seen[key] for key in documented} == expected_for(documented, token), job


async def test_copy_current_request_context_under_a_bare_task_shares_the_requests_g() -> None:
    """The docs' caveat: the fresh g comes from add_background_task, not from the decorator."""
    scratch = Quart(__name__)
    seen: dict[str, object] = {}

    @scratch.get("/")
    async def view() -> str:
        g.lab_token = request.args["token"]

        @copy_current_request_context
        async def job() -> None:
            await asyncio.sleep(0)
            seen["g"] = g.get("lab_token")
            seen["request"] = request.args["token"]

        await asyncio.create_task(job())
        return "ok"

    async with scratch.test_app():
        assert (await scratch.test_client().get("/?token=T")).status_code == 200
    assert seen == {"g": "T", "request": "T"}


async def test_lab_page_renders_the_explanation(client: QuartClient) -> None:
    response = await client.get("/contexts")
    assert response.status_code == 200
    html = await response.get_data(as_text=True)
    assert 'id="contexts-lab"' in html and "contexts/lab.js" in html
    assert "<h1>Contexts: a task versus a thread</h1>" in html  # docs/contexts.md's title


def test_explanation_is_rendered_without_raw_html(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    doc = tmp_path / "contexts.md"
    doc.write_text("# Title\n\n<script>alert(1)</script>\n\n| a | b |\n|---|---|\n| 1 | 2 |\n")
    monkeypatch.setattr(explanation, "DOC", doc)
    html = explanation.explanation_html()
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<table>" in html and "<h1>Title</h1>" in html


def test_a_missing_explanation_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(explanation, "DOC", tmp_path / "absent.md")
    assert explanation.explanation_html() == explanation.MISSING


async def test_run_sync_sees_the_context_and_a_pushed_copy_tears_down_again() -> None:
    """Two smaller claims of docs/contexts.md, on a scratch app."""
    scratch = Quart(__name__)
    seen: dict[str, object] = {}
    teardowns: list[str] = []

    @scratch.teardown_request
    async def count(_exc: BaseException | None) -> None:
        teardowns.append(request.args["token"])

    @scratch.get("/")
    async def view() -> str:
        g.lab_token = request.args["token"]

        def in_a_pool_thread() -> None:
            seen["thread"] = threading.get_ident()
            seen["g"], seen["request"] = g.get("lab_token"), request.args["token"]

        await run_sync(in_a_pool_thread)()
        scratch.add_background_task(copy_current_request_context(asyncio.sleep), 0)
        return "ok"

    async with scratch.test_app():  # leaving it waits for the background task
        assert (await scratch.test_client().get("/?token=T")).status_code == 200
    assert seen["thread"] != threading.get_ident()
    assert (seen["g"], seen["request"]) == ("T", "T")
    assert teardowns == ["T", "T"]  # once for the request, once for the pushed copy
