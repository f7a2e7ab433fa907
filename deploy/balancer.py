"""The cluster's load balancer: deploy/haproxy.cfg filled in and run, its admin socket, and whether
it answers."""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING

from deploy import monitoring
from deploy.common import DEPLOY, answers, fill, spawn

if TYPE_CHECKING:
    from deploy.cluster import Cluster


def start_haproxy(cluster: Cluster) -> None:
    servers = "\n".join(f"    server h{h} {cluster.address(h)}:{cluster.host_port(h)}"
                        for h in range(1, cluster.hosts + 1))
    config = fill((DEPLOY / "haproxy.cfg").read_text(), {
        "bind": f"127.0.0.1:{cluster.port}", "servers": servers, "run": str(cluster.run),
        "metrics_bind": monitoring.address(cluster, "haproxy")})
    path = cluster.run / "haproxy.cfg"
    path.write_text(config)
    cluster.pids["haproxy"] = spawn(["haproxy", "-db", "-f", str(path)], cluster.run / "haproxy.log")
    cluster.made.append("haproxy")
    cluster.save()


def haproxy(cluster: Cluster, command: str) -> str:
    """One command on HAProxy's admin socket (``show servers state``, ``set server app/h1 ...``)."""
    with socket.socket(socket.AF_UNIX) as conn:
        conn.connect(str(cluster.run / "haproxy.sock"))
        conn.sendall(command.encode() + b"\n")
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks).decode()


def lb_ready(cluster: Cluster) -> bool:
    return answers(f"{cluster.url}/readyz")
