"""The multi-host deployment, proven: deploy/cluster.py brings up three app hosts in network
namespaces behind HAProxy, with PostgreSQL and a Redis of their own (what `make cluster` runs).

First, sticky-free: a browser session, an API token and CSRF work whichever host answers; a
password changed through one host revokes the token on all; a rate limit counts across hosts; a
live subscriber on host 1 receives a comment written through host 3. Then, under the load
generator's verified `mixed` scenario: host 1 is killed (SIGKILL) and started again, host 2 is
drained (SIGTERM), each when the load has got so far (HAProxy's counts, not a clock). No
acknowledged write is lost, no answer is wrong, and the only failures are requests that were in
flight on the killed host."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import pytest
from playwright.async_api import Browser, expect

from deploy import cluster as topology
from deploy import monitoring
from tests.conftest import ROOT
from tests.support.api import PASSWORD, auth, register
from tests.support.servers import free_port

pytestmark = pytest.mark.backend("postgresql")  # the cluster's database is PostgreSQL: run once
HOSTS = 3
CONCURRENCY = 16
REQUESTS = 4000  # the faults below come at its 200th and 400th request, and once host 1 is back


async def served(cluster: topology.Cluster) -> dict[str, int]:
    """HTTP requests each app host has answered through HAProxy (its ``req_tot``), by server name."""
    text = await asyncio.to_thread(topology.haproxy, cluster, "show stat")
    header, *rows = text.strip().splitlines()
    names = header.lstrip("# ").split(",")
    counts = {}
    for row in rows:
        fields = dict(zip(names, row.split(","), strict=False))
        if fields.get("pxname") == "app" and fields.get("svname", "").startswith("h"):
            counts[fields["svname"]] = int(fields.get("req_tot") or 0)
    return counts


def total(counts: dict[str, int]) -> int:
    return sum(counts.values())


async def until(cluster: topology.Cluster, load: asyncio.subprocess.Process, what: str,
                done: Callable[[dict[str, int]], bool]) -> dict[str, int]:
    """Polls HAProxy's counts until ``done``; fails if the load ends first or two minutes pass."""
    deadline = asyncio.get_running_loop().time() + 120
    while not done(counts := await served(cluster)):
        assert load.returncode is None, f"the load ended before {what}: {counts}"
        assert asyncio.get_running_loop().time() < deadline, f"{what}: not after 120 s ({counts})"
        await asyncio.sleep(0.1)
    return counts


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[topology.Cluster]:
    up = topology.up(topology.Cluster(name=f"t{free_port()}", hosts=HOSTS, port=free_port(), net=77))
    try:
        assert up.namespaces, "network namespaces could not be made (the test needs root)"
        yield up
    finally:
        topology.down(up)


def host_url(cluster: topology.Cluster, host: int) -> str:
    return f"http://{cluster.address(host)}:{cluster.host_port(host)}"


def test_the_hosts_connect_as_a_role_that_is_no_superuser(cluster: topology.Cluster) -> None:
    """Before: every host connected as postgres, a superuser, which ignores connection limits and
    can do anything to the server. Now the owner migrates; the hosts' role reads and writes rows."""
    query = (f"SELECT r.rolname, r.rolsuper, r.rolcreatedb, r.rolcreaterole, r.rolconnlimit, "
             f"coalesce(array_to_string(r.rolconfig, ','), ''), "
             f"has_database_privilege(r.rolname, '{cluster.database}', 'CREATE') "
             f"FROM pg_roles r WHERE r.rolname IN "
             f"('{cluster.app_role}', '{cluster.owner}') ORDER BY r.rolname")
    rows = [line.split("|") for line in subprocess.run(
        ["psql", "-h", topology.PG_SOCKET, "-U", "postgres", "-d", "postgres", "-Atc", query],
        check=True, capture_output=True, text=True).stdout.splitlines()]
    by_name = {row[0]: row[1:] for row in rows}
    app, owner = by_name[cluster.app_role], by_name[cluster.owner]
    assert app[:3] == ["f", "f", "f"] and owner[:3] == ["f", "f", "f"]  # no superuser, no CREATEDB/ROLE
    assert int(app[3]) == cluster.connection_limit and "statement_timeout=5s" in app[4]
    assert app[5] == "f"  # the app cannot create schemas in its database
    for _ in range(6):  # every host answers a read, on a pooled connection it keeps
        assert httpx.get(cluster.url + "/api/tags", timeout=10).status_code == 200
    users = subprocess.run(
        ["psql", "-h", topology.PG_SOCKET, "-U", "postgres", "-d", "postgres", "-Atc",
         f"SELECT DISTINCT usename FROM pg_stat_activity WHERE datname = '{cluster.database}'"],
        check=True, capture_output=True, text=True).stdout.split()
    assert users == [cluster.app_role]  # the hosts are connected, as that role only
    owner_tables = subprocess.run(
        ["psql", "-h", topology.PG_SOCKET, "-U", "postgres", "-d", cluster.database, "-Atc",
         "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'"],
        check=True, capture_output=True, text=True).stdout.split()
    assert owner_tables == [cluster.owner]


def test_one_request_id_follows_a_request_through_haproxy_and_its_host(
        cluster: topology.Cluster) -> None:
    """HAProxy makes the ID (a client's own is replaced), logs it, and the host that answered uses
    it in its access line and echoes it back."""
    answer = httpx.get(cluster.url + "/api/tags", headers={"X-Request-ID": "chosen-by-client"},
                       timeout=10)
    request_id = answer.headers["x-request-id"]
    assert request_id != "chosen-by-client" and "_" in request_id  # HAProxy's unique-id-format
    host = answer.headers["x-conduit-host"]

    def logged(name: str) -> bool:
        return any(request_id in line for line in (cluster.run / name).read_text().splitlines())

    deadline = time.monotonic() + 10
    while not (logged(f"{host}.log") and logged("haproxy.log")):
        assert time.monotonic() < deadline, f"{request_id} not in {host}.log and haproxy.log"
        time.sleep(0.05)
    lines = [json.loads(line) for line in (cluster.run / f"{host}.log").read_text().splitlines()
             if request_id in line]  # production: JSON lines
    access = next(line for line in lines if line["logger"] == "conduit.access")
    assert access["route"] == "/api/tags" and access["status"] == 200


def test_prometheus_scrapes_every_host_and_exporter_and_top_reports_them(
        cluster: topology.Cluster) -> None:
    """Every target up (3 hosts, HAProxy's exporter, PostgreSQL's, Redis's), the rules loaded,
    the hosts' request counts in Prometheus, and `cluster.py top` printing each host. /metrics
    is denied through HAProxy, and answered to Prometheus's side of each host's link."""
    for _ in range(12):
        assert httpx.get(cluster.url + "/api/tags", timeout=10).status_code == 200
    for path in ("/metrics", "/%6detrics"):  # HAProxy's own deny, however the path is spelt
        denied = httpx.get(cluster.url + path, timeout=10)
        assert denied.status_code == 403 and "x-conduit-host" not in denied.headers
    assert httpx.get(host_url(cluster, 1) + "/metrics", timeout=10).status_code == 200
    expected = {("conduit", f"{cluster.address(h)}:{cluster.host_port(h)}") for h in (1, 2, 3)}
    deadline = time.monotonic() + 60
    while True:
        targets = monitoring.targets(cluster)
        served = monitoring.by(cluster, 'sum by (instance) (conduit_http_requests_total'
                                        '{route="/api/tags"})', "instance")
        recorded = monitoring.by(cluster, 'route:conduit_http_requests:rate1m{route="/api/tags"}',
                                 "route")  # two scrapes of the count, and the rule evaluated
        healthy = {(t["job"], t["instance"]) for t in targets if t["health"] == "up"}
        if len(healthy) == len(targets) == 6 and sum(served.values()) >= 12 and recorded:
            break
        assert time.monotonic() < deadline, f"not every target up, or the count missing: {targets}"
        time.sleep(0.5)
    assert expected <= healthy and {job for job, _ in healthy} == {
        "conduit", "haproxy", "postgres", "redis"}
    rules = {rule["name"] for group in monitoring.api(cluster, "rules")["groups"]
             for rule in group["rules"]}
    assert {"ConduitHostDown", "ConduitErrorRatioHigh", "ConduitPoolSaturated"} <= rules
    pg_up = monitoring.by(cluster, "pg_up", "job")
    assert pg_up == {"postgres": 1.0}  # the exporter's role reaches the database
    top = subprocess.run([sys.executable, str(ROOT / "deploy" / "cluster.py"), "top",
                          "--name", cluster.name], capture_output=True, text=True, timeout=60)
    assert top.returncode == 0, top.stderr
    assert "targets 6 of 6 up" in top.stdout
    assert all(instance in top.stdout for _job, instance in expected)
    assert "/api/tags" in top.stdout and "alerts firing: " in top.stdout


async def test_sessions_tokens_revocation_and_limits_work_whichever_host_answers(
        cluster: topology.Cluster, browser: Browser) -> None:
    async with httpx.AsyncClient(base_url=cluster.url, timeout=10) as http:
        token = await register(http, "roamer")
        seen = set()
        for _ in range(6):
            answer = await http.get("/api/user", headers=auth(token))
            assert answer.status_code == 200 and answer.json()["user"]["username"] == "roamer"
            seen.add(answer.headers["x-conduit-host"])
        assert seen == {"h1", "h2", "h3"}  # round-robin: every host accepted the token

        context = await browser.new_context()
        page = await context.new_page()
        hosts: set[str] = set()
        page.on("response", lambda r: hosts.add(r.headers.get("x-conduit-host", "")))
        await page.goto(cluster.url + "/login")
        await page.fill("#email", "roamer@example.test")
        await page.fill("#password", "password123")
        await page.click("form button:has-text('Sign in')")
        await expect(page.locator(".nav-user")).to_have_text("roamer")
        for _ in range(3):  # signed in on every page, whichever host rendered it
            await page.goto(cluster.url + "/settings")
            await expect(page.locator(".nav-user")).to_have_text("roamer")
        await page.goto(cluster.url + "/editor")  # a form: its CSRF token checked by another host
        await page.fill("#title", "Written across hosts")
        await page.fill("#description", "Round-robin")
        await page.fill("#body", "Any host can check what another signed.")
        await page.click("button:has-text('Publish Article')")
        await expect(page.locator("h1")).to_have_text("Written across hosts")
        assert {"h1", "h2", "h3"} <= hosts
        await context.close()

        other = (await http.post("/api/users/login", json={"user": {
            "email": "roamer@example.test", "password": PASSWORD}})).json()["user"]["token"]
        changed = await http.put("/api/user", json={"user": {"password": "a brand new password"}},
                                 headers=auth(token))
        assert changed.status_code == 200  # every other token dies, on every host
        refused = [await http.get("/api/user", headers=auth(other)) for _ in range(6)]
        assert {r.status_code for r in refused} == {401}
        assert {r.headers["x-conduit-host"] for r in refused} == {"h1", "h2", "h3"}

        # 10 wrong passwords for one account from one address: counted in Redis, so the 11th
        # is refused whichever host gets it (counted per host, 30 would pass).
        statuses = []
        for _ in range(14):
            answer = await http.post("/api/users/login", json={"user": {
                "email": "roamer@example.test", "password": "not the password"}})
            statuses.append(answer.status_code)
        assert statuses == [401] * 10 + [429] * 4


async def test_a_subscriber_on_host_1_receives_a_comment_written_through_host_3(
        cluster: topology.Cluster) -> None:
    async with httpx.AsyncClient(base_url=host_url(cluster, 3), timeout=10) as third, \
            aiohttp.ClientSession() as session:
        token = await register(third, "correspondent")
        made = await third.post("/api/articles", headers=auth(token), json={"article": {
            "title": "Across hosts", "description": "d", "body": "b"}})
        slug = made.json()["article"]["slug"]
        ws = await session.ws_connect(f"{host_url(cluster, 1).replace('http', 'ws')}/api/live?article={slug}")
        assert json.loads((await ws.receive(timeout=10)).data)["type"] == "hello"
        answer = await third.post(f"/api/articles/{slug}/comments", headers=auth(token),
                                  json={"comment": {"body": "written on host 3"}})
        assert answer.status_code == 201
        event = json.loads((await ws.receive(timeout=10)).data)
        assert event["type"] == "comment.created" and event["comment"]["body"] == "written on host 3"
        await ws.close()


async def test_under_load_a_killed_host_and_a_drained_one_lose_no_acknowledged_write(
        cluster: topology.Cluster, tmp_path: Path) -> None:
    cluster.rate_limits = False  # the generator's users all come from one address
    cluster.save()
    for host in range(1, HOSTS + 1):
        await asyncio.to_thread(topology.restart_host, cluster, host)
    report = tmp_path / "mixed.json"
    before = await served(cluster)
    load = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "loadtest", "--url", cluster.url, "--scenario", "mixed",
        "--allow-writes", "--concurrency", str(CONCURRENCY), "--requests", str(REQUESTS), "--timeout", "10",
        "--max-error-rate", "1", "--json", str(report), cwd=ROOT,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    # The faults follow the load's progress (HAProxy's counts), not the clock: on a slow machine
    # each comes later, never after the load ended.
    await until(cluster, load, "the load is under way", lambda n: total(n) - total(before) >= 200)
    topology.signal_host(cluster, 1, signal.SIGKILL)  # a host dies with requests in flight
    dead = await until(cluster, load, "the others carried on", lambda n: total(n) - total(before) >= 400)
    topology.start_host(cluster, 1)  # and comes back
    await until(cluster, load, "host 1 serves again", lambda n: n["h1"] - dead["h1"] >= 30)
    topology.signal_host(cluster, 2, signal.SIGTERM)  # another is drained, as systemd stops it
    output, _ = await asyncio.wait_for(load.communicate(), 90)
    assert load.returncode == 0, output.decode()[-3000:]
    found: dict[str, Any] = json.loads(report.read_text())
    errors: dict[str, int] = found["errors"]
    print(f"cluster under faults: {found['requests']} requests, failed by kind {errors}")
    assert found["requests"] > 500
    assert errors.get("verification", 0) == 0  # no wrong answer, no lost write (read back)
    failed = sum(errors.values())
    # Only what was in flight on host 1 when it died: each of the 16 connections has at most one.
    assert failed <= CONCURRENCY, (errors, found["statuses"], found["sample_errors"][:5])
    topology.start_host(cluster, 2)
