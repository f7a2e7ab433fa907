"""Benchmark harness (`make bench`, ``python -m bench.run``).

1. What a request costs (``bench.cost``): server CPU ms per request of the app against the floor
   server, SQLite and PostgreSQL, interleaved rounds: bench/results/<date>-cost.md; and the
   metrics' share of it (``bench.observe_cost``): bench/results/<date>-observe.md.
2. Live updates (``bench.live``): 100 and 1,000 WebSocket subscribers on one article with two
   workers, SQLite and PostgreSQL; every event delivered once and in order, delivery latency and
   server CPU per delivered event: bench/results/<date>-live.md.
3. The async app under Hypercorn versus the WSGI twin under gunicorn's threaded worker, measured
   with wrk, plus verified figures from the load generator: bench/results/<date>.md and a PNG plot
   of throughput and p99 against concurrency.

Everything runs on 127.0.0.1, each measurement bounded by --seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import cost, live
from bench.wrk import wrk
from tests.support.servers import NO_ADMISSION_LIMIT, ROOT, free_port, running_server

BIN = Path(sys.executable).parent
LEVELS = (1, 16, 64, 256, 1024)


def loadgen(url: str, scenario: str, concurrency: int, seconds: int, out: Path) -> dict[str, Any]:
    argv = [str(BIN / "python"), "-m", "loadtest", "--url", url, "--scenario", scenario,
            "--allow-writes", "--concurrency", str(concurrency), "--duration", str(seconds),
            "--json", str(out),
            "--max-error-rate", "0"]
    command = " ".join(["python", *argv[1:-4]])
    try:
        done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True,
                              timeout=seconds + 120)
    except subprocess.TimeoutExpired as expired:
        stderr = expired.stderr.decode(errors="replace") if isinstance(expired.stderr, bytes) \
            else expired.stderr or ""
        return {"scenario": scenario, "command": command, "stderr": stderr[-2000:],
                "error": f"did not finish in {seconds + 120} s"}
    # No report, or an exit other than 0 and 1, is a failed run; exit 1 with a report means some
    # answers failed verification (--max-error-rate 0). Both are shown, never as clean figures.
    if done.returncode not in (0, 1) or not out.exists():
        return {"scenario": scenario, "command": command, "stderr": done.stderr[-2000:],
                "error": f"exit status {done.returncode}"
                + ("" if out.exists() else ", no JSON report")}
    report: dict[str, Any] = json.loads(out.read_text())
    report["command"] = command
    if done.returncode == 1:
        report["error"] = (f"{report['requests'] - report['succeeded']} of {report['requests']} "
                           "answers were errors or failed verification")
        report["stderr"] = done.stderr[-2000:]
    return report


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for target in sorted({r["target"] for r in rows}):
        series = sorted((r for r in rows if r["target"] == target), key=lambda r: r["c"])
        xs = [r["c"] for r in series]
        left.plot(xs, [r["rps"] for r in series], marker="o", label=target)
        right.plot(xs, [r["p99_ms"] for r in series], marker="o", label=target)
    for axis, title, unit in ((left, "Throughput", "requests/s"), (right, "p99 latency", "ms")):
        axis.set_xscale("log", base=2)
        axis.set_xlabel("concurrent connections")
        axis.set_ylabel(unit)
        axis.set_title(title)
        axis.grid(True, alpha=0.3)
    right.set_yscale("log")
    left.legend(fontsize=8)
    fig.suptitle("contexts/echo?delay_ms=50 and app pages: async (Hypercorn) vs WSGI (gunicorn)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--levels", default=",".join(map(str, LEVELS)),
                        help="comma-separated concurrency levels")
    parser.add_argument("--seconds", type=int, default=10,
                        help="seconds per measurement (wrk's timeout is half of it)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--threads", type=int, default=8, help="the WSGI twin's thread pool")
    parser.add_argument("--cost-rounds", type=int, default=3,
                        help="interleaved rounds of the CPU-per-request comparison (0: skip it)")
    parser.add_argument("--cost-seconds", type=float, default=4, help="seconds per cost measurement")
    parser.add_argument("--live-subscribers", default="100,1000",
                        help="subscriber counts of the live-updates runs (empty: skip them)")
    parser.add_argument("--live-writes", default="200,100",
                        help="writes per live run (one, or one per count)")
    parser.add_argument("--live-db", choices=("sqlite", "postgresql", "both"), default="both")
    args = parser.parse_args()
    levels = [int(x) for x in args.levels.split(",")]
    if not shutil.which("wrk"):
        raise SystemExit("bench: wrk is not installed (make bench installs it: apt-get install wrk)")
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))  # 1024 connections
    cores = os.cpu_count() or 1
    args.out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="conduit-bench-"))
    # Rate limits off: the load generator's users all register and write from 127.0.0.1.
    env = {**os.environ, **NO_ADMISSION_LIMIT,
            "CONDUIT_ENV": "development", "CONDUIT_LOG_LEVEL": "WARNING",
           "CONDUIT_RATE_LIMITS": "off",
           "CONDUIT_DATABASE_URL": f"sqlite+aiosqlite:///{work / 'bench.db'}"}
    quart = [str(BIN / "quart"), "--app", "app"]
    subprocess.run([*quart, "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True)
    subprocess.run([*quart, "seed", "--users", "20", "--articles", "200"], cwd=ROOT, env=env,
                   check=True, capture_output=True)
    app_port, twin_port = free_port(), free_port()
    app_url, twin_url = f"http://127.0.0.1:{app_port}", f"http://127.0.0.1:{twin_port}"
    app_cmd = [str(BIN / "conduit-serve"), "--bind", f"127.0.0.1:{app_port}", "--workers",
               str(cores), "--access-logfile", "/dev/null"]
    twin_cmd = [str(BIN / "gunicorn"), "--worker-class", "gthread", "--workers", "1",
                "--threads", str(args.threads), "--no-control-socket", "--bind", f"127.0.0.1:{twin_port}",
                "--access-logfile", "/dev/null", "app.contexts.wsgi_twin:app"]
    rows: list[dict[str, Any]] = []
    verified: list[dict[str, Any]] = []
    stamp = datetime.now(UTC).strftime("%Y-%m-%d")
    cost_failed = 0
    if args.cost_rounds:
        cost_failed = cost.main(["--rounds", str(args.cost_rounds), "--seconds", str(args.cost_seconds),
                                 "--out", str(args.out / f"{stamp}-cost.md")])
    if args.cost_rounds:  # the metrics' own share of that cost, measured in one process
        observed = subprocess.run([sys.executable, "-m", "bench.observe_cost"], cwd=ROOT,
                                  capture_output=True, text=True)
        (args.out / f"{stamp}-observe.md").write_text(observed.stdout)
        cost_failed = cost_failed or observed.returncode
    live_failed = 0
    if args.live_subscribers:
        live_failed = live.main(["--db", args.live_db, "--subscribers", args.live_subscribers,
                                 "--writes", args.live_writes, "--out", str(args.out / f"{stamp}-live.md")])
    with running_server(app_cmd, env=env, probe=f"{app_url}/healthz", log=work / "app.log",
                        timeout=60), \
            running_server(twin_cmd, env=env, probe=f"{twin_url}/contexts/echo?token=up&delay_ms=0",
                           log=work / "twin.log", timeout=60):
        slug = json.load(urllib.request.urlopen(f"{app_url}/api/articles?limit=1"))[
            "articles"][0]["slug"]
        targets = [
            ("async echo (Hypercorn)", f"{app_url}/contexts/echo?token=t&delay_ms=50"),
            (f"WSGI echo (gunicorn gthread x{args.threads})",
             f"{twin_url}/contexts/echo?token=t&delay_ms=50"),
            ("async home page", f"{app_url}/"),
            ("async /api/articles", f"{app_url}/api/articles"),
            ("async one article", f"{app_url}/api/articles/{slug}"),
        ]
        for name, url in targets:
            for level in levels:
                result = wrk(url, level, args.seconds)
                rows.append({"target": name, "c": level, **result})
                print(f"{name:40} c={level:5} {result['rps']:9.1f} req/s "
                      f"p99 {result['p99_ms']:8.1f} ms errors {result['errors']}", flush=True)
        for scenario in ("contexts", "mixed"):
            report = loadgen(app_url, scenario, 64, args.seconds, work / f"{scenario}.json")
            verified.append(report)
            if "error" in report:
                print(f"loadgen {scenario}: FAILED ({report['error']}):\n{report['stderr']}",
                      flush=True)
            else:
                print(f"loadgen {scenario}: {report['requests']} requests, "
                      f"{report['succeeded']} verified", flush=True)

    png = args.out / f"{stamp}.png"
    plot(rows, png)
    lines = [
        f"# Benchmark {stamp}", "",
        f"Machine: {cores} cores, {os.uname().sysname} {os.uname().release}; Python "
        f"{sys.version.split()[0]}. Each measurement {args.seconds} s, loopback only.", "",
        f"- app: `{' '.join(['conduit-serve', *app_cmd[1:]])}` (uvloop, workers = cores, "
        "SQLite with 20 users and 200 articles)",
        f"- twin: `{' '.join(['gunicorn', *twin_cmd[1:]])}`", "",
        "| target | concurrency | completed | req/s | p50 ms | p99 ms | errors |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [f"| {r['target']} | {r['c']} | {r['requests']} | {r['rps']:.1f} | {r['p50_ms']:.1f} | "
              f"{r['p99_ms']:.1f} | {r['errors']} |" for r in rows]
    lines += ["", "wrk counts only completed requests: requests still waiting when a run ends are "
              "in none of its figures, so where `completed` is not much larger than `concurrency` "
              "the percentiles describe the lucky ones. Its `--timeout` equals the run length, so "
              "no completed answer is left out of the percentiles. `errors` are non-2xx answers "
              "plus socket errors (connect, read, write, timeout).", ""]
    lines += ["Verified figures from the load generator (every answer checked):", "",
              "| scenario | requests | verified | req/s | p50 ms | p99 ms | leaks |",
              "|---|---:|---:|---:|---:|---:|---:|"]
    failures: list[str] = []
    for rep in verified:
        if "error" in rep:
            lines.append(f"| {rep['scenario']} | **run failed: {rep['error']}** | | | | | |")
            failures += ["", f"`{rep['scenario']}` failed ({rep['error']}); the end of its "
                         "stderr:", "", "```", rep["stderr"].rstrip() or "(empty)", "```"]
            continue
        lat = rep["latency_ms"]
        lines.append(f"| {rep['scenario']} | {rep['requests']} | {rep['succeeded']} | "
                     f"{rep['throughput_rps']:.1f} | {lat['p50']:.1f} | {lat['p99']:.1f} | "
                     f"{rep['leaks']} |")
    lines += failures
    lines += ["", "Commands:", "", "```"]
    lines += sorted({r["command"].replace(app_url, "$APP").replace(twin_url, "$TWIN")
                     for r in rows})
    lines += [r["command"].replace(app_url, "$APP") for r in verified]
    lines += ["```", "", f"![throughput and p99]({png.name})", ""]
    md = args.out / f"{stamp}.md"
    md.write_text("\n".join(lines))
    print(f"wrote {md} and {png}")
    shutil.rmtree(work, ignore_errors=True)
    # The results are written, but a failed run is not a success.
    return 1 if failures or cost_failed or live_failed else 0


if __name__ == "__main__":
    sys.exit(main())
