"""``python -m bench.overload``: the server past its capacity, measured with the open-loop
generator: the ``mixed`` scenario on a throwaway server (2 workers, the shipped admission limits)
at 1x, 2x and 4x ``--rate`` (the sustainable rate), then at 1x again to see it recover. Each run
is its own 5 s warm-up and ``--seconds`` recorded; the table goes to stdout and, with --out, a
JSON file. Figures in docs/load-testing.md#overload.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.throwaway import throwaway_server
from tests.support.servers import ROOT, free_port

# Users of the closed-loop run that measures the sustainable rate: enough to keep both workers
# busy, fewer than their admission limits, so (nearly) nothing is refused.
CALIBRATION_USERS = {"sqlite": 16, "postgresql": 10}


def run(base: str, rate: float, seconds: float, warmup: float, *load: str) -> dict[str, Any]:
    """One run of ``mixed``: open loop at ``rate``, or the shape ``load`` gives."""
    shape = list(load) or ["--rate", str(rate)]
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "run.json"
        subprocess.run([sys.executable, "-m", "loadtest", "--url", base, "--scenario", "mixed",
                        "--allow-writes", *shape, "--duration", str(seconds),
                        "--warmup", str(warmup), "--max-error-rate", "1", "--json", str(out)],
                       cwd=ROOT, check=True, capture_output=True)
        report: dict[str, Any] = json.loads(out.read_text())
        return report


def row(label: str, rate: float, report: dict[str, Any]) -> dict[str, Any]:
    ok, refused, server = report["verified_latency_ms"], report["refused"], report.get("server")
    timeline = report["timeline"]
    first_clean = next((s["t"] for s in timeline if s["refused"] == 0 and s["errors"] == 0), None)
    return {"load": label, "rate": rate, "requests": report["requests"],
            "goodput_rps": round(report["goodput_rps"], 1),
            "verified_p50_ms": round(ok["p50"], 1), "verified_p99_ms": round(ok["p99"], 1),
            "refused": refused["count"], "refused_p99_ms": round(refused["latency_ms"]["p99"], 1),
            "client_late_p99_ms": round(report["client_late_ms"]["p99"], 1),
            "other_errors": sum(report["errors"].values()) - refused["count"],
            "first_clean_second": first_clean, "client_cpu": report["client_cpu"],
            # The server's own CPU per request it answered (its /metrics), refusals included.
            "server_cpu_ms": round(server["cpu_ms_per_request"], 2) if server else None}


def main(argv: list[str] | None = None) -> int:
    ask = argparse.ArgumentParser(prog="python -m bench.overload", description=__doc__.split("\n")[0])
    ask.add_argument("--rate", type=float, help="the 1x rate (default: measured, as the goodput of "
                     "16 users (10 on PostgreSQL) in a closed loop for 10 s)")
    ask.add_argument("--seconds", type=float, default=15, help="recorded per run (default: %(default)s)")
    ask.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite",
                     help="the throwaway server's database (default: %(default)s)")
    ask.add_argument("--out", type=Path, help="also write the rows as JSON here")
    args = ask.parse_args(argv)
    rows = []
    with throwaway_server(free_port(), backend=args.db) as base:
        if args.rate is None:
            closed = run(base, 0, 10, 3.0, "--concurrency", str(CALIBRATION_USERS[args.db]))
            args.rate = float(int(closed["goodput_rps"] // 10 * 10))
            print(f"the sustainable rate, measured: {args.rate:g}/s", flush=True)
        for label, factor, warmup in (("1x", 1, 5.0), ("2x", 2, 5.0), ("4x", 4, 5.0),
                                      ("1x after 4x", 1, 0.0)):
            rows.append(row(label, args.rate * factor, run(base, args.rate * factor,
                                                            args.seconds, warmup)))
            print(json.dumps(rows[-1]), flush=True)
    best = max(r["goodput_rps"] for r in rows)
    print("\n| load | arrivals/s | goodput/s | of best | verified p50 / p99 ms | refused (503) "
          "| refusals' p99 ms | client late p99 ms | server CPU ms/answer | other errors |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['load']} | {r['rate']:g} | {r['goodput_rps']} | {r['goodput_rps'] / best:.0%} "
              f"| {r['verified_p50_ms']} / {r['verified_p99_ms']} | {r['refused']} "
              f"| {r['refused_p99_ms']} | {r['client_late_p99_ms']} | {r['server_cpu_ms']} "
              f"| {r['other_errors']} |")
    if args.out:
        args.out.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
