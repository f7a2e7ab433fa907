"""The cluster's monitoring: Debian's Prometheus scraping every app host's /metrics, HAProxy's own
exporter, postgres_exporter and redis_exporter, with deploy/prometheus/rules.yml; and ``top``, a
short health summary read from it (``python deploy/cluster.py top``).

Each part listens on this machine's loopback, on the cluster's port plus its ``OFFSETS`` (8081 for
Prometheus with the default 8080) when that is free (``choose_ports``). deploy/prometheus/
prometheus.yml is the one source, as deploy/haproxy.cfg is: this fills in its ``{{...}}`` fields.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import socket
import urllib.parse
import urllib.request
from typing import TYPE_CHECKING, Any

from deploy.common import DEPLOY, answers, fill, spawn, wait_until

if TYPE_CHECKING:
    from deploy.cluster import Cluster

OFFSETS = {"prometheus": 1, "haproxy": 2, "postgres": 3, "redis": 4}
# Debian's packages, each named as its program (the Makefile's MONITORING lists them too).
PACKAGES = ("prometheus", "prometheus-postgres-exporter", "prometheus-redis-exporter")
PROMETHEUS = DEPLOY / "prometheus"


def choose_ports(port: int) -> dict[str, int]:
    """Each part's port: the cluster's port plus its offset when that is free, else one the
    kernel picks (a test's cluster port is a free one in the ephemeral range, where the next
    ports may be some connection's own)."""
    chosen = {}
    for part, offset in OFFSETS.items():
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port + offset))
            except OSError:
                probe.bind(("127.0.0.1", 0))
            chosen[part] = probe.getsockname()[1]
    return chosen


def address(cluster: Cluster, part: str) -> str:
    return f"127.0.0.1:{cluster.monitor_ports[part]}"


def missing() -> list[str]:
    """The Debian packages still to install for the monitoring."""
    return [package for package in PACKAGES if shutil.which(package) is None]


def start(cluster: Cluster) -> None:
    """The exporters, then Prometheus; returns once Prometheus is ready (its rules loaded)."""
    run = cluster.run
    dsn = (f"host=/var/run/postgresql user={cluster.monitor_role} dbname={cluster.database} "
           "sslmode=disable")
    postgres_env = {"PATH": os.environ["PATH"], "DATA_SOURCE_NAME": dsn}
    cluster.pids["postgres_exporter"] = spawn(
        ["prometheus-postgres-exporter", f"--web.listen-address={address(cluster, 'postgres')}"],
        run / "postgres_exporter.log", env=postgres_env)
    cluster.pids["redis_exporter"] = spawn(
        ["prometheus-redis-exporter", f"-redis.addr=unix://{run / 'redis.sock'}",
         f"-web.listen-address={address(cluster, 'redis')}"], run / "redis_exporter.log")
    hosts = ", ".join(f'"{cluster.address(h)}:{cluster.host_port(h)}"'
                      for h in range(1, cluster.hosts + 1))
    config = run / "prometheus.yml"
    config.write_text(fill((PROMETHEUS / "prometheus.yml").read_text(), {
        "hosts": hosts, "haproxy": address(cluster, "haproxy"), "postgres": address(cluster, "postgres"),
        "redis": address(cluster, "redis"), "rules": str(PROMETHEUS / "rules.yml")}))
    cluster.pids["prometheus"] = spawn(
        ["prometheus", f"--config.file={config}", f"--storage.tsdb.path={run / 'prometheus'}",
         f"--web.listen-address={address(cluster, 'prometheus')}", "--storage.tsdb.retention.time=1d"],
        run / "prometheus.log")
    cluster.save()
    wait_until(lambda: ready(cluster), "Prometheus")


def url(cluster: Cluster) -> str:
    return f"http://{address(cluster, 'prometheus')}"


def ready(cluster: Cluster) -> bool:
    return answers(f"{url(cluster)}/-/ready")


def api(cluster: Cluster, path: str, **params: str) -> Any:
    query = f"?{urllib.parse.urlencode(params)}" if params else ""
    with urllib.request.urlopen(f"{url(cluster)}/api/v1/{path}{query}", timeout=10) as answer:
        return json.load(answer)["data"]


def targets(cluster: Cluster) -> list[dict[str, Any]]:
    """Every scrape target: its job, its address and whether the last scrape worked (health)."""
    return [{"job": t["labels"]["job"], "instance": t["labels"]["instance"], "health": t["health"]}
            for t in api(cluster, "targets")["activeTargets"]]


def by(cluster: Cluster, expr: str, label: str) -> dict[str, float]:
    """An instant query's values keyed by one label."""
    return {r["metric"].get(label, ""): float(r["value"][1])
            for r in api(cluster, "query", query=expr)["result"]}


HOST_COLUMNS = {  # heading: (PromQL by instance, format); the recorded ones are rules.yml's
    "req/s": ("instance:conduit_http_requests:rate1m", "{:.1f}"),
    "5xx %": ("100 * instance:conduit_http_errors:ratio1m", "{:.1f}"),
    "p99 ms": ("1000 * instance:conduit_http_request_duration_seconds:p99_1m", "{:.0f}"),
    "in flight": ("conduit_http_requests_in_flight", "{:.0f}"),
    "pool": ("conduit_db_pool_in_use", "{:.0f}"),
    "pool size": ("conduit_db_pool_size", "{:.0f}"),
    "waiting": ("conduit_db_pool_waiting", "{:.0f}"),
    "refused/s": ("instance:conduit_http_refused:rate1m", "{:.1f}"),
    "restarts": ("conduit_worker_restarts_total", "{:.0f}"),
    "live": ("conduit_live_subscribers", "{:.0f}"),
}
ROUTES = ('topk(5, route:conduit_http_requests:rate1m{route!~"/healthz|/readyz"})',  # not probes
          "1000 * route:conduit_http_request_duration_seconds:p99_1m",
          "100 * route:conduit_http_errors:ratio1m")


def shown(value: float | None, form: str) -> str:
    return "-" if value is None or math.isnan(value) else form.format(value)


def table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w)
                      in enumerate(zip(row, widths, strict=True))) for row in rows]


def top(cluster: Cluster) -> str:
    """What an operator looks at first: targets, each host's RED and saturation, the busiest
    routes, the alerts firing."""
    found = targets(cluster)
    jobs: dict[str, list[bool]] = {}
    for target in found:
        jobs.setdefault(target["job"], []).append(target["health"] == "up")
    up = sum(sum(states) for states in jobs.values())
    lines = [f"Prometheus {url(cluster)}: targets {up} of {len(found)} up (" + ", ".join(
        f"{job} {sum(states)}/{len(states)}" for job, states in sorted(jobs.items())) + ")", ""]
    columns = {name: by(cluster, expr, "instance") for name, (expr, _form) in HOST_COLUMNS.items()}
    hosts = sorted(t["instance"] for t in found if t["job"] == "conduit")
    rows = [["host", *HOST_COLUMNS]]
    rows += [[host, *(shown(columns[name].get(host), form)
                      for name, (_expr, form) in HOST_COLUMNS.items())] for host in hosts]
    lines += table(rows)
    rate, p99, errors = (by(cluster, expr, "route") for expr in ROUTES)
    busiest = sorted(rate, key=lambda route: -rate[route])
    lines += ["", *table([["route (busiest, last minute)", "req/s", "p99 ms", "5xx %"]] + [
        [route, shown(rate[route], "{:.1f}"), shown(p99.get(route), "{:.0f}"),
         shown(errors.get(route), "{:.1f}")] for route in busiest])] if busiest else []
    firing = [alert for alert in api(cluster, "alerts")["alerts"] if alert["state"] == "firing"]
    lines += ["", "alerts firing: " + (", ".join(
        f"{a['labels']['alertname']} ({a['labels'].get('instance') or a['labels'].get('route', '')})"
        for a in firing) or "none")]
    return "\n".join(lines)
