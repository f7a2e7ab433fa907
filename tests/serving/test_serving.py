"""The shipped server configuration and the Dockerfile, checked as files (no Docker engine here)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from hypercorn.config import Config

pytestmark = pytest.mark.once  # the server's configuration files: backend-independent

ROOT = Path(__file__).resolve().parents[2]


def test_every_key_in_hypercorn_toml_is_one_hypercorn_knows() -> None:
    # Hypercorn's Config.from_toml sets any key without complaint, so check them against a fresh
    # Config: a misspelt key ("keepalive_timeout") would otherwise be silently ignored.
    keys = tomllib.loads((ROOT / "hypercorn.toml").read_text())
    known = {name for name in dir(Config()) if not name.startswith("_")}
    assert set(keys) <= known, set(keys) - known


def test_hypercorn_toml_values_are_the_ones_we_rely_on() -> None:
    config = Config.from_toml(ROOT / "hypercorn.toml")
    assert config.bind == ["127.0.0.1:8000"]
    assert config.include_server_header is False  # no "server: hypercorn-h11" banner
    assert config.worker_class == "uvloop"
    assert config.workers == 2  # the machine's cores
    assert config.backlog == 2048
    assert config.keep_alive_timeout == 5
    assert config.graceful_timeout == 10
    assert config.startup_timeout == 60
    assert config.h11_max_incomplete_size == 16384
    assert config.accesslog is None and config.errorlog == "-"  # the app writes access lines
    assert config.loglevel == "INFO"
    assert config.websocket_max_message_size == 65536


def _dockerfile() -> str:
    return (ROOT / "Dockerfile").read_text()


def test_every_path_the_dockerfile_copies_exists() -> None:
    copies = re.findall(r"^COPY\s+(?:--\S+\s+)*(.+)$", _dockerfile(), flags=re.MULTILINE)
    assert copies
    for line in copies:
        *sources, _dest = line.split()
        for source in sources:
            assert (ROOT / source).exists(), f"Dockerfile copies {source}, which does not exist"


def test_dockerfile_runs_as_non_root_migrates_and_serves_with_the_config() -> None:
    text = _dockerfile()
    assert re.search(r"^FROM python:3\.11-slim", text, flags=re.MULTILINE)
    users = re.findall(r"^USER\s+(\S+)", text, flags=re.MULTILINE)
    assert users and users[-1] not in ("root", "0")
    assert "HEALTHCHECK" in text and "/healthz" in text
    assert "db upgrade" in text
    # Production mode: it never signs with a secret of its own making, and refuses to start without one.
    assert re.search(r"^ENV CONDUIT_ENV=production", text, flags=re.MULTILINE)
    assert "conduit-serve --bind 0.0.0.0:8000" in text  # hypercorn.toml, bound to all addresses


def test_the_image_installs_the_locked_dependencies_before_it_copies_the_code() -> None:
    lines = [line.split() for line in _dockerfile().splitlines() if line.startswith(("COPY", "RUN"))]
    first_code = next(i for i, words in enumerate(lines) if words[:2] == ["COPY", "app"])
    dependencies = next(i for i, words in enumerate(lines) if "--no-install-project" in words)
    assert dependencies < first_code  # a code change keeps the dependency layer
    assert all("--locked" in words for words in lines if "sync" in words)  # uv.lock, exactly
    copied = [words[1:-1] for words in lines[:dependencies] if words[0] == "COPY"]
    assert copied == [["pyproject.toml", "uv.lock"]]  # nothing that changes with the code
    assert "loadtest" not in _dockerfile()  # the load generator is a client: not in the image


def test_the_server_installs_no_client_tool() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = {re.split(r"[\[<>=~ ]", spec)[0] for spec in project["dependencies"]}
    assert not runtime & {"aiohttp", "rich", "httpx", "playwright", "matplotlib"}
    assert {"aiohttp", "rich"} <= {re.split(r"[\[<>=~ ]", spec)[0]
                                   for spec in project["optional-dependencies"]["loadtest"]}


def test_a_taken_address_is_refused_with_one_line(tmp_path: Path) -> None:
    """Another server already listens there, with SO_REUSEPORT as a multi-worker Hypercorn does:
    Hypercorn would bind beside it without a word and the kernel would split the connections."""
    with socket.socket() as other:
        other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        env = {**os.environ, "CONDUIT_ENV": "testing",
               "CONDUIT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'c.db'}"}
        done = subprocess.run([sys.executable, "-m", "app.serving.serve", "--bind", f"127.0.0.1:{port}",
                               "--workers", "2"], cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=60)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert lines == [f"conduit-serve: cannot listen on 127.0.0.1:{port}: Address already in use "
                     "(another server is there? stop it or give another --bind)"]


def test_bind_addresses_come_from_the_arguments_or_the_config() -> None:
    from app.serving.serve import bind_addresses

    assert bind_addresses(["--workers", "2"]) == ["127.0.0.1:8000"]
    assert bind_addresses(["--bind", "127.0.0.1:9", "-b", "[::1]:10", "--bind=0.0.0.0:11"]) == [
        "127.0.0.1:9", "[::1]:10", "0.0.0.0:11"]


def test_a_serving_process_freezes_its_start_up_heap(tmp_path: Path) -> None:
    # What start-up made is kept out of the collector's full passes (app/serving/asgi.py): without it each
    # full pass walked ~150k objects and paused the worker 90-160 ms (bench.scale's p99).
    script = ("import asyncio, gc, app.serving.asgi as served\n"
              "async def main():\n"
              "    await served.app.startup()\n"
              "    print(gc.get_freeze_count(), len(gc.get_objects()))\n"
              "    await served.app.shutdown()\n"
              "asyncio.run(main())\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONDUIT_")}
    env.update(CONDUIT_ENV="testing", CONDUIT_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/f.db")
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    frozen, collected = map(int, result.stdout.split())
    assert frozen > 50_000  # the modules, the app, its routes
    assert collected < frozen / 5  # what a full pass still walks
