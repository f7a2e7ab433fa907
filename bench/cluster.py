"""Scaling out on this machine: 1, 2 and 3 app hosts of `make cluster` behind HAProxy.

``python -m bench.cluster``: brings up a cluster of 3 hosts (the contexts lab on, rate limits off:
the load comes from one address), then for 1, 2 and 3 hosts in service (the others put in
maintenance through HAProxy's admin socket) runs wrk against the I/O-bound lab endpoint (a 50 ms
await per request) and `/api/articles`, reading the CPU every part used from /proc: the app hosts
(every process of every host), HAProxy, PostgreSQL and Redis. Then the load generator's verified
`mixed` scenario on all 3 hosts, for the CPU a request of a realistic mix costs each part: the
capacity model in docs/benchmarks.md is built from those figures. All 3 hosts share this machine's
2 cores: more hosts here cannot mean more throughput for CPU-bound work; the figures say what a
request costs where, which is what a real deployment needs to know.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.wrk import wrk
from deploy import cluster as topology
from tests.support.servers import ROOT, free_port, postgres_cpu_seconds, tree_cpu_seconds

TARGETS = [("I/O-bound lab endpoint", "/contexts/echo?token=bench&delay_ms=50"),
           ("GET /api/articles", "/api/articles")]


def cpu(cluster: topology.Cluster) -> dict[str, float]:
    hosts = sum(tree_cpu_seconds(cluster.pids[f"h{h}"]) for h in range(1, cluster.hosts + 1))
    return {"hosts": hosts, "haproxy": tree_cpu_seconds(cluster.pids["haproxy"]),
            "postgresql": postgres_cpu_seconds(), "redis": tree_cpu_seconds(cluster.pids["redis"])}


def per_request(before: dict[str, float], after: dict[str, float], requests: int) -> dict[str, float]:
    return {part: round((after[part] - before[part]) * 1000 / max(requests, 1), 3) for part in before}


def in_service(cluster: topology.Cluster, count: int) -> None:
    for host in range(1, cluster.hosts + 1):
        state = "ready" if host <= count else "maint"
        topology.haproxy(cluster, f"set server app/h{host} state {state}")
    time.sleep(2.5)  # the hosts back in service pass their health checks (rise 2, every 1 s)


def mixed(cluster: topology.Cluster, seconds: int, concurrency: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "mixed.json"
        before = cpu(cluster)
        subprocess.run([sys.executable, "-m", "loadtest", "--url", cluster.url, "--scenario",
                        "mixed", "--allow-writes", "--concurrency", str(concurrency),
                        "--duration", str(seconds),
                        "--json", str(report)], cwd=ROOT, check=True, capture_output=True)
        after = cpu(cluster)
        found: dict[str, Any] = json.loads(report.read_text())
    writes = sum(e["requests"] for name, e in found["endpoints"].items() if name.startswith("POST"))
    return {"requests": found["requests"], "rps": round(found["throughput_rps"], 1),
            "p99_ms": found["latency_ms"]["p99"], "errors": sum(found["errors"].values()),
            "writes": writes, "cpu_ms": per_request(before, after, found["requests"])}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.cluster", description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=8, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--out", type=Path, help="write the figures (JSON) here")
    args = parser.parse_args(argv)
    cluster = topology.up(topology.Cluster(
        name=f"bench{free_port()}", hosts=3, port=free_port(), net=66, rate_limits=False,
        extra_env={"CONDUIT_CONTEXTS_LAB": "on"}))
    rows: list[dict[str, Any]] = []
    try:
        for count in (1, 2, 3):
            in_service(cluster, count)
            for name, path in TARGETS:
                before = cpu(cluster)
                result = wrk(cluster.url + path, args.connections, args.seconds)
                after = cpu(cluster)
                rows.append({"hosts": count, "target": name, "rps": result["rps"],
                             "p99_ms": result["p99_ms"], "errors": result["errors"],
                             "cpu_ms": per_request(before, after, result["requests"]),
                             "command": result["command"]})
                print(f"{count} host(s)  {name:24} {result['rps']:8.0f} req/s  p99 "
                      f"{result['p99_ms']:7.1f} ms  errors {result['errors']}  CPU ms/req "
                      f"{rows[-1]['cpu_ms']}", flush=True)
        in_service(cluster, 3)
        mix = mixed(cluster, seconds=20, concurrency=32)
        print(f"mixed on 3 hosts: {mix}", flush=True)
    finally:
        topology.down(cluster)
    if args.out:
        args.out.write_text(json.dumps({"runs": rows, "mixed": mix}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
