"""``make loadtest ARGS='...'``: conduit-loadtest against a throwaway server, so a load run never
writes into a blog anyone keeps.

A new SQLite database in a temporary folder gets the demo data; ``conduit-serve`` serves it on
``--port`` (2 workers, the shipped admission limits, rate limits off: every virtual user comes from
one address); the generator runs with ``--allow-writes`` and whatever else is given after ``--``;
then the server stops and the folder is deleted. The exit status is the generator's (thresholds
and --max-error-rate included).
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.servers import (
    ROOT,
    create_pg_database,
    drop_pg_database,
    pg_url,
    running_server,
)


@contextmanager
def _database(backend: str, folder: str) -> Iterator[str]:
    """A new, empty database: a SQLite file in ``folder``, or a PostgreSQL database of its own on
    this machine's server, dropped afterwards."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{Path(folder) / 'load.db'}"
        return
    name = f"conduit_load_{secrets.token_hex(4)}"
    create_pg_database(name)
    try:
        yield pg_url(name)
    finally:
        drop_pg_database(name)


@contextmanager
def throwaway_server(port: int, workers: int = 2, backend: str = "sqlite") -> Iterator[str]:
    """A new demo database (SQLite, or PostgreSQL), served on ``port``; yields the base URL."""
    with tempfile.TemporaryDirectory(prefix="conduit-load-") as folder, \
            _database(backend, folder) as url:
        env = {**os.environ, "CONDUIT_ENV": "development", "CONDUIT_RATE_LIMITS": "off",
               "CONDUIT_DATABASE_URL": url}
        subprocess.run([sys.executable, "-m", "quart", "--app", "app", "demo"], cwd=ROOT, env=env,
                       check=True, capture_output=True)
        base = f"http://127.0.0.1:{port}"
        command = [sys.executable, "-m", "app.serving.serve", "--bind", f"127.0.0.1:{port}",
                   "--workers", str(workers), "--access-logfile", os.devnull]
        print(f"throwaway server on {base} (a new demo database: {backend})", flush=True)
        with running_server(command, probe=f"{base}/healthz", env=env,
                            log=Path(folder) / "serve.log"):
            yield base
        print("throwaway server stopped; its database is deleted", flush=True)


def main(argv: list[str] | None = None) -> int:
    ask = argparse.ArgumentParser(prog="python -m bench.throwaway", description=__doc__.split("\n")[0])
    ask.add_argument("--port", type=int, default=8100, help="where the throwaway server listens "
                     "(default: %(default)s)")
    ask.add_argument("--workers", type=int, default=2, help="its workers (default: %(default)s)")
    ask.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite",
                     help="its database: a SQLite file, or a database of its own on this "
                     "machine's PostgreSQL (default: %(default)s)")
    ask.add_argument("generator", nargs=argparse.REMAINDER,
                     help="after --: conduit-loadtest's options (see conduit-loadtest --help)")
    args = ask.parse_args(argv)
    generator = [a for a in args.generator if a != "--"]
    with throwaway_server(args.port, args.workers, args.db) as base:
        done = subprocess.run([sys.executable, "-m", "loadtest", "--url", base, "--allow-writes",
                               *generator], cwd=ROOT)
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
