"""The API against its own OpenAPI document: schemathesis with every check, signed in and not.

Starts a production-mode server (``conduit-serve``, one worker, rate limits off so that thousands
of requests from one address are not refused: ``tests.support.servers.fresh_production_server``) on a
fresh database, registers a user, and runs
``st run --checks all`` over the whole document twice: once with that user's token and once
without. Any failure (a 5xx, an answer the document does not list, schema-valid data refused,
schema-invalid data taken, ...) fails the run. Schemathesis comes with the dev extra.

    python -m bench.fuzz --db sqlite --examples 30
    python -m bench.fuzz --db postgresql --examples 30

The summary of each run goes to stdout; JUnit reports to ``instance/fuzz-<db>/``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

from tests.support.servers import ROOT, fresh_production_server

BIN = Path(sys.executable).parent


def _token(base: str) -> str:
    body = json.dumps({"user": {"username": "fuzzer", "email": "fuzzer@fuzz.test",
                                "password": "fuzzer-password"}}).encode()
    request = urllib.request.Request(f"{base}/api/users", data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        token: str = json.load(response)["user"]["token"]
    return token


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--examples", type=int, default=30, help="cases per operation and phase")
    args = parser.parse_args()
    reports = ROOT / "instance" / f"fuzz-{args.db}"
    reports.mkdir(parents=True, exist_ok=True)
    failed = False
    with tempfile.TemporaryDirectory(prefix="conduit-fuzz-") as work, \
            fresh_production_server(args.db, Path(work)) as base:
        token = _token(base)
        for who, headers in (("signed in", ["-H", f"Authorization: Token {token}"]), ("anonymous", [])):
            print(f"--- schemathesis, {args.db}, {who}", flush=True)
            tag = who.replace(" ", "-")
            result = subprocess.run(
                [str(BIN / "st"), "run", f"{base}/api/openapi.json", "--checks", "all",
                 "--max-examples", str(args.examples), "--workers", "1", "--seed", "1",
                 "--generation-database", "none",
                 "--report", "junit", "--report-dir", str(reports / tag), "--no-color", *headers],
                cwd=ROOT, env={k: v for k, v in os.environ.items() if not k.startswith("CONDUIT_")})
            failed |= result.returncode != 0
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
