"""``make cluster``: the production topology on this one machine.

N app hosts, each a network namespace with an address of its own (198.18.0.0/15, the range set
aside for benchmarks) running ``conduit-serve`` exactly as deploy/conduit.service does, with
deploy/conduit.env; HAProxy in front, with deploy/haproxy.cfg; PostgreSQL (this machine's server, a
database of the cluster's own, reached from every namespace over its unix socket); a Redis of the
cluster's own on a unix socket. The three files in deploy/ are the one source: this script fills
in their ``{{...}}`` fields and runs what they say. Prometheus watches it all (deploy/monitoring.py).

    python deploy/cluster.py up [--hosts 3] [--port 8080]   # prints the URL
    python deploy/cluster.py kill 2 | term 2 | start 2      # SIGKILL, SIGTERM (drain), start again
    python deploy/cluster.py top                            # its health, from its Prometheus
    python deploy/cluster.py down                           # stops and deletes all it made

Everything it makes is written down in its run folder (instance/cluster-<name>/state.json) as it
is made, so ``down`` undoes a half-finished ``up`` too. Where network namespaces cannot be made it
says so and gives each host a loopback port instead.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import sys
import time
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path

if __package__ in (None, ""):  # python deploy/cluster.py: the package is the checkout's
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from deploy import monitoring
from deploy.balancer import haproxy as haproxy
from deploy.balancer import lb_ready, start_haproxy
from deploy.common import DEPLOY, ROOT, alive, answers, fill, sh, spawn, wait_until
from deploy.database import PG_SOCKET as PG_SOCKET
from deploy.database import create_database, drop


@dataclass
class Cluster:
    name: str = "conduit"
    hosts: int = 3
    port: int = 8080
    net: int = 0  # 198.18.<net>.0/24: the cluster's addresses (another cluster takes another)
    rate_limits: bool = True
    namespaces: bool = True
    secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(48))
    extra_env: dict[str, str] = field(default_factory=dict)  # over conduit.env (a benchmark's)
    made: list[str] = field(default_factory=list)  # what down() must undo, in order made
    pids: dict[str, int] = field(default_factory=dict)
    monitor_ports: dict[str, int] = field(default_factory=dict)  # deploy/monitoring.py's

    @property
    def run(self) -> Path:
        return ROOT / "instance" / f"cluster-{self.name}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def database(self) -> str:
        return f"conduit_cluster_{self.name}"

    @property
    def owner(self) -> str:
        """The role that owns the database and runs the migrations (not a superuser)."""
        return f"conduit_{self.name}_owner"

    @property
    def app_role(self) -> str:
        """The role the app hosts connect as: reads and writes rows, nothing else."""
        return f"conduit_{self.name}_app"

    @property
    def connection_limit(self) -> int:
        """What the hosts can open (2 workers x (a pool of 5 + one LISTEN)), and a few more."""
        return self.hosts * 2 * 6 + 5

    def role_url(self, role: str) -> str:
        return f"postgresql+asyncpg://{role}@/{self.database}?host={PG_SOCKET}"

    @property
    def database_url(self) -> str:
        return self.role_url(self.app_role)

    @property
    def own_addresses(self) -> str:
        """Where HAProxy and Prometheus reach the hosts from: this machine's ends of the links."""
        return f"198.18.{self.net}.0/24" if self.namespaces else "127.0.0.1"

    @property
    def monitor_role(self) -> str:
        """The role postgres_exporter connects as: pg_monitor's statistics, no table's rows."""
        return f"conduit_{self.name}_monitor"

    def namespace(self, host: int) -> str:
        return f"{self.name}-h{host}"

    def address(self, host: int) -> str:
        """Host ``host``'s address: the namespace's end of its link (a /30 per host)."""
        return f"198.18.{self.net}.{4 * host + 2}" if self.namespaces else "127.0.0.1"

    def host_port(self, host: int) -> int:
        return 8000 if self.namespaces else self.port + 10 + host

    def save(self) -> None:
        self.run.mkdir(parents=True, exist_ok=True)
        (self.run / "state.json").write_text(json.dumps(asdict(self), indent=1))

    @classmethod
    def load(cls, name: str) -> Cluster | None:
        path = ROOT / "instance" / f"cluster-{name}" / "state.json"
        return cls(**json.loads(path.read_text())) if path.exists() else None


def namespaces_work() -> bool:
    probe = f"conduit-probe-{os.getpid()}"
    if shutil.which("ip") is None or sh("ip", "netns", "add", probe, check=False).returncode != 0:
        return False
    sh("ip", "netns", "del", probe, check=False)
    return True


# Hosts -------------------------------------------------------------------------------------------


def link_host(cluster: Cluster, host: int) -> None:
    """A namespace with one veth pair to this machine: 198.18.<net>.<4h+1> here, <4h+2> there."""
    ns, here = cluster.namespace(host), f"{cluster.name}-v{host}"
    sh("ip", "netns", "add", ns)
    cluster.made.append(f"netns:{ns}")
    cluster.save()
    sh("ip", "link", "add", here, "type", "veth", "peer", "name", "eth0", "netns", ns)
    sh("ip", "addr", "add", f"198.18.{cluster.net}.{4 * host + 1}/30", "dev", here)
    sh("ip", "link", "set", here, "up")
    sh("ip", "-n", ns, "addr", "add", f"{cluster.address(host)}/30", "dev", "eth0")
    sh("ip", "-n", ns, "link", "set", "eth0", "up")
    sh("ip", "-n", ns, "link", "set", "lo", "up")


def host_command(cluster: Cluster, host: int) -> list[str]:
    """deploy/conduit.service's ExecStart for this host, with this checkout for /opt/conduit."""
    unit = (DEPLOY / "conduit.service").read_text()
    line = next(line for line in unit.splitlines() if line.startswith("ExecStart="))
    line = fill(line.removeprefix("ExecStart="), {"address": cluster.address(host)})
    words = line.replace("/opt/conduit", str(ROOT)).split()
    if not cluster.namespaces:
        words = [w.replace(":8000", f":{cluster.host_port(host)}") for w in words]
    return ["ip", "netns", "exec", cluster.namespace(host), *words] if cluster.namespaces else words


def host_env(cluster: Cluster) -> dict[str, str]:
    """deploy/conduit.env, filled in for this cluster, over this process's environment."""
    text = fill((DEPLOY / "conduit.env").read_text(), {
        "secret_key": cluster.secret_key, "database_url": cluster.database_url,
        "redis_url": f"unix://{cluster.run / 'redis.sock'}",
        "trusted_proxies": cluster.own_addresses, "metrics_allow": cluster.own_addresses,
        "rate_limits": "on" if cluster.rate_limits else "off"})
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONDUIT_")}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            env[key] = value
    return {**env, **cluster.extra_env}


def start_host(cluster: Cluster, host: int) -> None:
    running = cluster.pids.get(f"h{host}")
    if running is not None and alive(running):
        raise SystemExit(f"cluster: host {host} is still running (pid {running}): wait, or kill it")
    cluster.pids[f"h{host}"] = spawn(host_command(cluster, host), cluster.run / f"h{host}.log",
                                     env=host_env(cluster))
    cluster.save()


def signal_host(cluster: Cluster, host: int, sig: signal.Signals) -> None:
    """As a machine would see it: every process of the host (master and workers) gets ``sig``."""
    pid = cluster.pids.get(f"h{host}")
    if pid is not None and alive(pid):
        os.killpg(pid, sig)


def restart_host(cluster: Cluster, host: int) -> None:
    """Drain the host (SIGTERM), start it again with the cluster's settings, wait until ready."""
    pid = cluster.pids.get(f"h{host}")
    signal_host(cluster, host, signal.SIGTERM)
    if pid is not None:
        wait_until(lambda: not alive(pid), f"host {host} stopping")
    start_host(cluster, host)
    wait_until(partial(host_ready, cluster, host), f"host {host}")


def host_ready(cluster: Cluster, host: int) -> bool:
    return answers(f"http://{cluster.address(host)}:{cluster.host_port(host)}/readyz")


# The shared parts -------------------------------------------------------------------------------


def start_redis(cluster: Cluster) -> None:
    socket_path = cluster.run / "redis.sock"
    cluster.pids["redis"] = spawn(
        ["redis-server", "--port", "0", "--unixsocket", str(socket_path), "--unixsocketperm", "700",
         "--save", "", "--appendonly", "no", "--logfile", str(cluster.run / "redis.log")],
        cluster.run / "redis.out")
    cluster.made.append("redis")
    cluster.save()
    wait_until(socket_path.exists, "Redis")


def up(cluster: Cluster) -> Cluster:
    if Cluster.load(cluster.name) is not None:
        raise SystemExit(f"cluster: {cluster.name} is already up (down it first: make cluster-down)")
    if shutil.which("haproxy") is None or shutil.which("redis-server") is None:
        raise SystemExit("cluster: needs haproxy and redis-server (apt-get install haproxy redis-server)")
    if monitoring.missing():
        raise SystemExit(f"cluster: needs {' '.join(monitoring.missing())} (make monitoring, or "
                         "apt-get install them)")
    cluster.namespaces = cluster.namespaces and namespaces_work()
    if not cluster.namespaces:
        print("cluster: network namespaces cannot be made here (not root, or no CAP_SYS_ADMIN): "
              "the hosts get loopback ports instead", file=sys.stderr)
    cluster.run.mkdir(parents=True, exist_ok=True)
    cluster.save()
    try:
        start_redis(cluster)
        create_database(cluster, host_env(cluster))
        for host in range(1, cluster.hosts + 1):
            if cluster.namespaces:
                link_host(cluster, host)
            start_host(cluster, host)
        for host in range(1, cluster.hosts + 1):
            wait_until(partial(host_ready, cluster, host), f"host {host}")
        cluster.monitor_ports = monitoring.choose_ports(cluster.port)
        start_haproxy(cluster)
        wait_until(lambda: lb_ready(cluster) or not alive(cluster.pids["haproxy"]), "HAProxy")
        if not alive(cluster.pids["haproxy"]):
            log = (cluster.run / "haproxy.log").read_text()[-2000:]
            raise SystemExit(f"cluster: HAProxy stopped:\n{log}")
        monitoring.start(cluster)
    except BaseException:
        down(cluster)
        raise
    return cluster


def down(cluster: Cluster) -> None:
    pids = [pid for pid in cluster.pids.values() if alive(pid)]
    for pid in pids:
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + 15  # a host drains for up to graceful_timeout (10 s)
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    for pid in pids:
        if alive(pid):
            os.killpg(pid, signal.SIGKILL)
    for item in reversed(cluster.made):
        kind, _, value = item.partition(":")
        if kind == "netns":
            sh("ip", "netns", "del", value, check=False)  # its end of the veth pair goes with it
        elif kind in ("database", "roles"):
            drop(cluster, kind)
    shutil.rmtree(cluster.run, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cluster", description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=("up", "down", "kill", "term", "start", "status", "top"))
    parser.add_argument("host", nargs="?", type=int, help="kill, term, start: which host (1..N)")
    parser.add_argument("--name", default="conduit")
    parser.add_argument("--hosts", type=int, default=3)
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--net", type=int, default=0, help="198.18.<net>.0/24 (0-255)")
    parser.add_argument("--rate-limits", choices=("on", "off"), default="on")
    args = parser.parse_args(argv)
    if args.command == "up":
        cluster = up(Cluster(name=args.name, hosts=args.hosts, port=args.port, net=args.net,
                             rate_limits=args.rate_limits == "on"))
        where = "network namespaces" if cluster.namespaces else "loopback ports"
        print(f"Conduit cluster '{cluster.name}': {cluster.hosts} hosts ({where}) behind HAProxy at "
              f"{cluster.url}, Prometheus at {monitoring.url(cluster)}  (python deploy/cluster.py "
              "top: how it is doing; make cluster-down stops it)")
        return 0
    found = Cluster.load(args.name)
    if found is None:
        print(f"cluster: {args.name} is not up", file=sys.stderr)
        return 0 if args.command == "down" else 1
    if args.command == "down":
        down(found)
    elif args.command == "status":
        print(haproxy(found, "show servers state app"))
    elif args.command == "top":
        print(monitoring.top(found))
    elif args.host is None or not 1 <= args.host <= found.hosts:
        parser.error(f"{args.command} needs a host number from 1 to {found.hosts}")
    elif args.command == "start":
        start_host(found, args.host)
    else:
        signal_host(found, args.host, signal.SIGKILL if args.command == "kill" else signal.SIGTERM)
    return 0


if __name__ == "__main__":
    sys.exit(main())
