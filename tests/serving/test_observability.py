"""What an operator reads, from a real conduit-serve with 2 workers: a request ID on every answer
and in the lines the request causes (only a trusted proxy's own ID is kept), one access line per
request with its route template, database time and statements and user, a slow-request line that
names the statements, JSON lines in production format, and never a password, token, cookie or
secret query parameter in any line."""

from __future__ import annotations

import json
import os
import re
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.support.servers import free_port, running_server

ID = re.compile(r"[0-9a-f]{16}")


@contextmanager
def server(tmp_path: Path, database_url: str, **settings: str) -> Iterator[tuple[httpx.Client, Path]]:
    port = free_port()
    log = tmp_path / "serve.log"
    env = {**os.environ, "CONDUIT_ENV": "testing", "CONDUIT_DATABASE_URL": database_url,
           "CONDUIT_CONTEXTS_LAB": "true", **settings}
    env.pop("CONDUIT_ACCESS_LOG", None)
    command = [sys.executable, "-m", "app.serving.serve", "--bind", f"127.0.0.1:{port}",
               "--workers", "2"]
    with running_server(command, probe=f"http://127.0.0.1:{port}/healthz", env=env, log=log), \
            httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        yield client, log


def line_with(log: Path, needle: str, timeout: float = 10) -> str:
    """The first log line holding ``needle`` (lines reach the file a moment after the answer)."""
    deadline = time.monotonic() + timeout
    while True:
        found = [line for line in log.read_text().splitlines() if needle in line]
        if found:
            return found[0]
        if time.monotonic() > deadline:
            raise AssertionError(f"no line with {needle!r} in:\n{log.read_text()[-3000:]}")
        time.sleep(0.05)


def register(client: httpx.Client, name: str, password: str) -> str:
    answer = client.post("/api/users", json={"user": {"username": name, "email": f"{name}@x.io",
                                                      "password": password}})
    assert answer.status_code == 201, answer.text
    token: str = answer.json()["user"]["token"]
    return token


def test_every_answer_and_its_access_line_carry_one_request_id(tmp_path: Path,
                                                               database_url: str) -> None:
    with server(tmp_path, database_url) as (client, log):
        token = register(client, "ida", "a long passphrase 1")
        answer = client.get("/api/articles", params={"limit": 3},
                            headers={"Authorization": f"Token {token}"})
        request_id = answer.headers["x-request-id"]
        assert ID.fullmatch(request_id)
        line = line_with(log, f"[{request_id}]")
        assert '"GET /api/articles?limit=3 HTTP/1.1" 200' in line
        assert "route=/api/articles " in line
        statements = int(re.search(r"db=[0-9.]+ms/(\d+)", line).group(1))  # type: ignore[union-attr]
        assert statements >= 1
        assert re.search(r"user=\d+", line)  # signed in: the user's id, nothing else of them

        slug_answer = client.get("/api/articles/no-such-article")
        assert slug_answer.status_code == 404
        line = line_with(log, f"[{slug_answer.headers['x-request-id']}]")
        assert "route=/api/articles/{slug} " in line and "user=-" in line  # the template, bounded

        unknown = client.get("/no/such/page/at/all")
        line = line_with(log, f"[{unknown.headers['x-request-id']}]")
        assert "route=- " in line  # no route: no new name for it

        # A client's own ID is not believed (it could name another request): a new one is made.
        chosen = client.get("/api/tags", headers={"X-Request-ID": "chosen-by-client"})
        assert chosen.headers["x-request-id"] != "chosen-by-client"
        assert ID.fullmatch(chosen.headers["x-request-id"])
        assert client.get("/healthz").headers["x-request-id"]  # probes too, without a line


def test_a_trusted_proxys_id_is_kept_and_a_malformed_one_replaced(tmp_path: Path,
                                                                  database_url: str) -> None:
    with server(tmp_path, database_url, CONDUIT_TRUSTED_PROXIES="127.0.0.1") as (client, log):
        kept = client.get("/api/tags", headers={"X-Request-ID": "7f000001:d2a4_65f1a2b3.001"})
        assert kept.headers["x-request-id"] == "7f000001:d2a4_65f1a2b3.001"
        line_with(log, "[7f000001:d2a4_65f1a2b3.001]")
        for hostile in (b"a b", b"x" * 200, "id\u00e9".encode(), b"<script>"):
            answer = client.get("/api/tags", headers={b"X-Request-ID": hostile})
            assert ID.fullmatch(answer.headers["x-request-id"]), hostile


def test_a_line_from_inside_a_request_names_it_and_slow_ones_name_their_statements(
        tmp_path: Path, database_url: str) -> None:
    settings = {"CONDUIT_BODY_TIMEOUT": "1", "CONDUIT_REQUEST_DEADLINE": "2",
                "CONDUIT_SLOW_REQUEST_MS": "1"}
    with server(tmp_path, database_url, **settings) as (client, log):
        late = client.get("/contexts/echo", params={"token": "t", "delay_ms": 5000})
        assert late.status_code == 503
        line = line_with(log, "deadline: GET /contexts/echo cancelled")
        assert line.endswith(f"[{late.headers['x-request-id']}]")

        listed = client.get("/api/articles")
        line = line_with(log, "slow request: GET /api/articles took")
        assert line.endswith(f"[{listed.headers['x-request-id']}]")
        assert "SELECT" in line and " ms " in line


def test_json_lines_in_production_format(tmp_path: Path, database_url: str) -> None:
    with server(tmp_path, database_url, CONDUIT_LOG_FORMAT="json") as (client, log):
        answer = client.get("/api/tags")
        request_id = answer.headers["x-request-id"]
        line_with(log, request_id)
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    access = next(line for line in lines if line.get("request_id") == request_id)
    assert access["logger"] == "conduit.access"
    assert access["route"] == "/api/tags" and access["status"] == 200
    assert access["method"] == "GET" and access["path"] == "/api/tags"
    assert access["statements"] >= 1 and access["db_ms"] >= 0 and access["duration_ms"] > 0
    assert any("Conduit is serving on" in line["message"] for line in lines)  # the master's too
    assert any(line["logger"] == "hypercorn.error" for line in lines)  # and Hypercorn's


def test_no_secret_reaches_any_log_line(tmp_path: Path, database_url: str) -> None:
    password, wrong = "correct horse battery 42", "a wrong password 7f3k"
    with server(tmp_path, database_url, CONDUIT_SLOW_REQUEST_MS="1") as (client, log):
        token = register(client, "sam", password)
        assert client.post("/api/users/login", json={"user": {"email": "sam@x.io",
                                                              "password": wrong}}).status_code == 401
        client.get("/api/user", headers={"Authorization": f"Token {token}"})
        client.get("/api/user", headers={"Authorization": "Token forged.token.value9"})
        form = client.get("/login").text
        csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
        signed_in = client.post("/login", data={"email": "sam@x.io", "password": password,
                                                "csrf_token": csrf})
        assert signed_in.status_code == 302, signed_in.text
        cookie = client.cookies["session"]
        assert client.get("/").status_code == 200
        client.get("/contexts/echo", params={"token": "query-secret-5150", "delay_ms": 0})
        last = client.get("/api/tags")
        line_with(log, f"[{last.headers['x-request-id']}]")
    text = log.read_text()
    secrets: list[tuple[str, Callable[[str], bool]]] = [
        ("password", lambda t: password in t), ("wrong password", lambda t: wrong in t),
        ("token", lambda t: token in t or token.split(".")[2] in t),
        ("forged token", lambda t: "forged.token.value9" in t),
        ("query secret", lambda t: "query-secret-5150" in t),
        ("session cookie", lambda t: cookie in t), ("CSRF token", lambda t: csrf in t),
    ]
    leaked = [name for name, found in secrets if found(text)]
    assert not leaked, f"{leaked} in the log:\n{text[-3000:]}"
    assert "token=[hidden]" in text  # the query parameter was logged, its value not
