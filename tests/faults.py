"""Databases a test may break: a PostgreSQL cluster of its own (stopped with SIGSTOP, shut down,
made read-only) and a SQLite file on a tiny tmpfs of its own (filled up, remounted read-only).
The machine's shared PostgreSQL server is never touched."""

from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.servers import free_port


def _pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise RuntimeError(f"PostgreSQL's {name} is not installed (Debian: postgresql)")
    return found[-1]


def _as_postgres(*command: str) -> None:
    subprocess.run(["runuser", "-u", "postgres", "--", *command], check=True, capture_output=True,
                   timeout=60)


@dataclass
class Cluster:
    folder: Path
    port: int

    @property
    def data(self) -> Path:
        return self.folder / "data"

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/conduit"

    def start(self) -> None:
        _as_postgres(_pg_bin("pg_ctl"), "-D", str(self.data), "-w", "-l", str(self.folder / "log"),
                     "-o", f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 "
                           "-c fsync=off -c max_connections=40", "start")

    def stop(self) -> None:
        _as_postgres(_pg_bin("pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def psql(self, *statements: str, database: str = "conduit") -> None:
        """Each statement on its own (one session; none in a transaction block)."""
        commands = [arg for statement in statements for arg in ("-c", statement)]
        subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                        "-d", database, "-v", "ON_ERROR_STOP=1", *commands],
                       check=True, capture_output=True, timeout=30)

    def signal_all(self, sig: signal.Signals) -> None:
        """SIGSTOP or SIGCONT the postmaster and every backend: a frozen server."""
        postmaster = int((self.data / "postmaster.pid").read_text().split()[0])
        children = Path(f"/proc/{postmaster}/task/{postmaster}/children").read_text().split()
        for pid in (postmaster, *map(int, children)):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                continue


@contextmanager
def private_cluster() -> Iterator[Cluster]:
    """A PostgreSQL cluster of this test's own on a free port, with an empty ``conduit`` database."""
    folder = Path(tempfile.mkdtemp(prefix="conduit-pg-"))
    shutil.chown(folder, "postgres")
    cluster = Cluster(folder, free_port())
    try:
        _as_postgres(_pg_bin("initdb"), "-D", str(cluster.data), "-A", "trust", "-U", "postgres")
        cluster.start()
        cluster.psql("CREATE DATABASE conduit", database="postgres")
        yield cluster
    finally:
        if (cluster.data / "postmaster.pid").exists():
            cluster.signal_all(signal.SIGCONT)
            cluster.stop()
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def tiny_tmpfs(size: str = "8m") -> Iterator[Path]:
    """A file system of ``size`` of this test's own (root mounts it), removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="conduit-tmpfs-"))
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], check=True)
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=True)
        folder.rmdir()


@contextmanager
def read_only_view(folder: Path) -> Iterator[Path]:
    """``folder`` again, through a read-only bind mount (a file system cannot be remounted
    read-only while a server has a database on it open for writing)."""
    view = Path(tempfile.mkdtemp(prefix="conduit-ro-"))
    subprocess.run(["mount", "--bind", str(folder), str(view)], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(view)], check=True)
        yield view
    finally:
        subprocess.run(["umount", "-l", str(view)], check=True)
        view.rmdir()


def fill(folder: Path) -> Path:
    """Write a file until the disk is full; delete it to free the space."""
    filler = folder / "filler"
    with filler.open("wb") as out:
        try:
            while True:
                out.write(b"\0" * 65536)
                out.flush()
        except OSError:
            pass
    return filler
