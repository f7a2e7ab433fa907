"""``python -m loadtest`` / ``conduit-loadtest``: verified load, a report, optional comparison."""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import math
import secrets
import socket
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from rich.console import Console
from rich.live import Live
from rich.table import Table

from loadtest.client import target_answers
from loadtest.live import LiveOptions, run_live
from loadtest.runner import RunOptions, RunResult, run, run_processes
from loadtest.scenarios import SCENARIOS
from loadtest.stats import Recorder, report_dict

CPU_SATURATED = 0.85


class Usage(Exception):
    """A bad option: printed with the usage line, exit status 2."""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="conduit-loadtest",
        description="Fire concurrent requests at a Conduit server, verify every answer, report.")
    p.add_argument("--url", default="http://127.0.0.1:8000", help="the target's base URL")
    p.add_argument("--scenario", default="mixed", choices=(*SCENARIOS, "live"))
    p.add_argument("--concurrency", type=int, default=16, help="virtual users (in-flight cap)")
    p.add_argument("--duration", type=float, help="seconds to run (default 10 unless --requests)")
    p.add_argument("--requests", type=int, help="stop after this many requests")
    p.add_argument("--rate", type=float, help="open loop: arrivals per second (default: closed loop)")
    p.add_argument("--warmup", type=float, default=0.0, help="unrecorded seconds first")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds per request")
    p.add_argument("--procs", type=int, default=1, help="client worker processes")
    p.add_argument("--max-delay-ms", type=int, default=50, help="contexts: largest random delay")
    p.add_argument("--json", type=Path, help="also write the report as JSON here")
    p.add_argument("--max-error-rate", type=float, default=0.0,
                   help="exit 1 when the share of failed requests is above this (0..1)")
    p.add_argument("--seed", type=int, default=1, help="random seed for the request mix")
    p.add_argument("--compare", help="run the same scenario against this second base URL too")
    p.add_argument("--allow-remote", action="store_true",
                   help="allow a target that is not on this machine's loopback")
    live = p.add_argument_group("live", "--scenario live: WebSocket subscribers on one article, "
                                "writers commenting on it and toggling their favorite")
    live.add_argument("--subscribers", type=int, help="open sockets (default 100)")
    live.add_argument("--writers", type=int, help="writing accounts, each one write at a time (default 4)")
    live.add_argument("--writes", type=int, help="writes in all (default 200)")
    live.add_argument("--write-rate", type=float,
                      help="writes per second in all (default: as fast as the answers come)")
    live.add_argument("--comment-share", type=float, help="share of writes that are comments (0.5)")
    live.add_argument("--settle", type=float,
                      help="seconds to wait for events after the last write is answered (10)")
    return p


LIVE_ONLY = ("subscribers", "writers", "writes", "write_rate", "comment_share", "settle")
NOT_LIVE = ("duration", "requests", "rate", "compare")


def live_options(args: argparse.Namespace, url: str) -> LiveOptions:
    """--scenario live's options, checked (Usage on a bad one)."""
    given = [name for name in NOT_LIVE if getattr(args, name) is not None]
    if given or args.procs != 1:
        name = given[0] if given else "procs"
        raise Usage(f"--{name.replace('_', '-')} does not apply to --scenario live "
                    "(use --subscribers, --writers, --writes, --write-rate)")
    opts = LiveOptions(
        url=url, subscribers=100 if args.subscribers is None else args.subscribers,
        writers=4 if args.writers is None else args.writers,
        writes=200 if args.writes is None else args.writes, write_rate=args.write_rate,
        comment_share=0.5 if args.comment_share is None else args.comment_share,
        settle=10.0 if args.settle is None else args.settle, timeout=args.timeout, seed=args.seed,
        run_id=secrets.token_hex(3))
    checks = [
        (1 <= opts.subscribers <= 50_000, "--subscribers must be between 1 and 50000"),
        (1 <= opts.writers <= 1000, "--writers must be between 1 and 1000"),
        (1 <= opts.writes <= 1_000_000, "--writes must be between 1 and 1000000"),
        (opts.write_rate is None or 0 < opts.write_rate <= 100_000, "--write-rate must be above 0"),
        (0 <= opts.comment_share <= 1, "--comment-share must be between 0 and 1"),
        (0 <= opts.settle <= 600, "--settle must be between 0 and 600 seconds"),
    ]
    for ok, message in checks:
        if not ok:
            raise Usage(message)
    return opts


def _check_url(url: str, allow_remote: bool) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Usage(f"--url/--compare must be an http(s) URL, not {url!r}")
    if not allow_remote:
        try:
            address = ipaddress.ip_address(socket.gethostbyname(parts.hostname))
        except (OSError, ValueError):
            raise Usage(f"cannot resolve {parts.hostname!r}") from None
        if not address.is_loopback:
            raise Usage(f"{parts.hostname} is not a loopback address; load goes to this machine "
                        "only unless --allow-remote")
    return url.rstrip("/")


def options(argv: list[str]) -> tuple[RunOptions, argparse.Namespace]:
    args = _parser().parse_args(argv)
    checks = [
        (1 <= args.concurrency <= 10_000, "--concurrency must be between 1 and 10000"),
        (args.duration is None or 0 < args.duration <= 3600, "--duration must be in (0, 3600]"),
        (args.requests is None or 1 <= args.requests <= 10_000_000, "--requests must be >= 1"),
        (args.duration is None or args.requests is None, "give --duration or --requests, not both"),
        (args.rate is None or 0 < args.rate <= 1_000_000, "--rate must be above 0"),
        (0 <= args.warmup <= 600, "--warmup must be between 0 and 600 seconds"),
        (0 < args.timeout <= 300, "--timeout must be in (0, 300]"),
        (1 <= args.procs <= 64, "--procs must be between 1 and 64"),
        (args.procs <= args.concurrency, "--procs cannot exceed --concurrency"),
        (0 <= args.max_delay_ms <= 10_000, "--max-delay-ms must be between 0 and 10000"),
        (0 <= args.max_error_rate <= 1, "--max-error-rate must be between 0 and 1"),
    ]
    for ok, message in checks:
        if not ok:
            raise Usage(message)
    url = _check_url(args.url, args.allow_remote)
    if args.scenario != "live":
        given = [name for name in LIVE_ONLY if getattr(args, name) is not None]
        if given:
            raise Usage(f"--{given[0].replace('_', '-')} goes with --scenario live")
    if args.compare:
        args.compare = _check_url(args.compare, args.allow_remote)
    duration = 10.0 if args.duration is None and args.requests is None else args.duration
    opts = RunOptions(url=url, scenario=args.scenario, concurrency=args.concurrency,
                      duration=duration, requests=args.requests, rate=args.rate,
                      warmup=args.warmup, timeout=args.timeout, seed=args.seed,
                      max_delay_ms=args.max_delay_ms, run_id=secrets.token_hex(3))
    return opts, args


def _execute(opts: RunOptions, procs: int, console: Console) -> tuple[dict[str, Any] | None, str | None]:
    reason = asyncio.run(target_answers(opts.url))
    if reason:
        return None, f"target {opts.url} does not answer: {reason}"
    started = time.perf_counter()
    if procs == 1:
        with Live(console=console, transient=True, refresh_per_second=4) as live:
            def progress(recorder: Recorder, elapsed: float) -> None:
                failed = sum(recorder.errors.values())
                live.update(f"[bold]{opts.scenario}[/] → {opts.url}  {elapsed:5.1f}s  "
                            f"{recorder.requests} requests  {recorder.requests / elapsed:8.1f}/s  "
                            f"{failed} errors")
            results = [asyncio.run(run(opts, progress))]
    else:
        with console.status(f"{opts.scenario} → {opts.url} with {procs} processes"):
            results = run_processes(opts, procs)
    return _combine(opts, results, time.perf_counter() - started)


def _combine(opts: RunOptions, results: list[RunResult], _elapsed: float
             ) -> tuple[dict[str, Any] | None, str | None]:
    setup = next((r.setup_error for r in results if r.setup_error), None)
    if setup:
        return None, f"cannot run {opts.scenario!r} against {opts.url}: {setup}"
    recorder = Recorder()
    for result in results:
        recorder.merge(result.recorder)
    wall = max(r.wall for r in results)
    cpu = max(r.cpu for r in results)
    report = report_dict(recorder, target=opts.url, scenario=opts.scenario, wall_seconds=wall,
                         concurrency=opts.concurrency, client_cpu=cpu,
                         extra={"mode": "open" if opts.rate else "closed", "rate": opts.rate,
                                "processes": len(results)})
    report["client_saturated"] = cpu >= CPU_SATURATED
    return report, None


def _ms(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.1f}"


def print_report(console: Console, report: dict[str, Any]) -> None:
    lat = report["latency_ms"]
    console.print(f"\n[bold]{report['scenario']}[/] against {report['target']} — "
                  f"{report['mode']} loop, concurrency {report['concurrency']}, "
                  f"{report['processes']} process(es), {report['duration_s']}s")
    console.print(f"requests {report['requests']}  succeeded {report['succeeded']}  "
                  f"error rate {report['error_rate']:.2%}  "
                  f"throughput {report['throughput_rps']:.1f} req/s")
    console.print("latency ms  " + "  ".join(f"{k} {_ms(v)}" for k, v in lat.items()))
    console.print("statuses    " + (", ".join(f"{k}: {v}" for k, v in report["statuses"].items())
                                    or "none"))
    console.print("errors      " + ", ".join(f"{k}: {v}" for k, v in report["errors"].items())
                  + (f"  (context leaks: {report['leaks']})" if report["leaks"] else ""))
    table = Table("endpoint", "requests", "errors", "p50", "p90", "p99", "max")
    for name, row in report["endpoints"].items():
        e = row["latency_ms"]
        table.add_row(name, str(row["requests"]), str(row["errors"]), _ms(e["p50"]),
                      _ms(e["p90"]), _ms(e["p99"]), _ms(e["max"]))
    console.print(table)
    for line in report["sample_errors"][:5]:
        console.print(f"  [red]e.g.[/] {line}")
    if report["client_saturated"]:
        console.print(f"[yellow]warning: the client used {report['client_cpu']:.0%} of a core: "
                      "these figures are a client limit, not the server's; try --procs 2[/]")


def print_comparison(console: Console, first: dict[str, Any], second: dict[str, Any]) -> None:
    # Short labels: rich would cut two long URLs to the same "http://127.0.0.1:8…".
    console.print(f"\n[bold]A[/] = {first['target']}\n[bold]B[/] = {second['target']}")
    table = Table("", "A", "B", "B / A")
    rows = [("throughput req/s", first["throughput_rps"], second["throughput_rps"]),
            ("error rate", first["error_rate"], second["error_rate"])]
    rows += [(f"latency {k} ms", first["latency_ms"][k], second["latency_ms"][k])
             for k in first["latency_ms"]]
    for name, a, b in rows:
        ratio = "-" if not a or math.isnan(a) or math.isnan(b) else f"{b / a:.2f}x"
        table.add_row(name, _ms(a) if "latency" in name else f"{a:.4g}",
                      _ms(b) if "latency" in name else f"{b:.4g}", ratio)
    console.print(table)


def print_live_report(console: Console, report: dict[str, Any]) -> None:
    writes, lat, done = report["writes"], report["latency_ms"], report["complete_ms"]
    console.print(f"\n[bold]live[/] against {report['target']} — {report['connected']} of "
                  f"{report['subscribers']} subscribers connected in {report['connect_s']:.2f}s, "
                  f"{report['writers']} writers")
    console.print(f"writes      {writes['acknowledged']} acknowledged of {writes['sent']} "
                  f"({writes['comments']} comments, {writes['favorites']} favorite toggles, "
                  f"{writes['errors']} errors) in {report['write_s']:.2f}s")
    console.print(f"deliveries  {report['deliveries']} of {report['deliveries_expected']}  "
                  f"lost {report['lost']}  duplicated {report['duplicated']}  "
                  f"out of order {report['out_of_order']}  unexpected {report['unexpected']}  "
                  f"count mismatches {report['count_mismatches']}")
    console.print("latency ms  " + "  ".join(f"{k} {_ms(v)}" for k, v in lat.items())
                  + f"  (before the answer: {report['before_ack']})")
    console.print("all had it  " + "  ".join(f"{k} {_ms(v)}" for k, v in done.items()))
    if report["closed_early"]:
        console.print(f"closed by the server: {report['closed_early']}")
    for line in report["sample_errors"][:5]:
        console.print(f"  [red]e.g.[/] {line}")
    if report["client_cpu"] >= CPU_SATURATED:
        console.print(f"[yellow]warning: the client used {report['client_cpu']:.0%} of a core: "
                      "its own delay is in these latencies[/]")
    console.print("[green]passed[/]" if report["passed"] else "[red]FAILED[/]")


def main_live(args: argparse.Namespace, console: Console) -> int:
    opts = live_options(args, args.url)
    reason = asyncio.run(target_answers(opts.url))
    if reason:
        print(f"conduit-loadtest: target {opts.url} does not answer: {reason}", file=sys.stderr)
        return 1
    with console.status(f"live → {opts.url}: {opts.subscribers} subscribers, {opts.writers} writers"):
        report = asyncio.run(run_live(opts))
    if "setup_error" in report:
        print(f"conduit-loadtest: cannot run 'live' against {opts.url}: {report['setup_error']}",
              file=sys.stderr)
        return 1
    print_live_report(console, report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=str))
    return 0 if report["passed"] else 1


def main(argv: list[str] | None = None) -> int:
    console = Console(stderr=False)
    try:
        opts, args = options(sys.argv[1:] if argv is None else argv)
        if args.scenario == "live":
            args.url = opts.url
            return main_live(args, console)
    except Usage as error:
        _parser().print_usage(sys.stderr)
        print(f"conduit-loadtest: error: {error}", file=sys.stderr)
        return 2
    except SystemExit as done:  # argparse's own errors (2) and --help (0)
        return int(done.code or 0)
    report, failure = _execute(opts, args.procs, console)
    if failure or report is None:
        print(f"conduit-loadtest: {failure}", file=sys.stderr)
        return 1
    print_report(console, report)
    output: dict[str, Any] = report
    if args.compare:
        other, failure = _execute(
            RunOptions(**{**opts.__dict__, "url": args.compare}), args.procs, console)
        if failure or other is None:
            print(f"conduit-loadtest: {failure}", file=sys.stderr)
            return 1
        print_report(console, other)
        print_comparison(console, report, other)
        output = {"first": report, "second": other}
    if args.json:
        args.json.write_text(json.dumps(output, indent=2, default=str))
    worst = max([report["error_rate"]] + ([output["second"]["error_rate"]] if args.compare else []))
    if worst > args.max_error_rate:
        print(f"conduit-loadtest: error rate {worst:.2%} is above --max-error-rate "
              f"{args.max_error_rate:.2%}", file=sys.stderr)
        return 1
    return 0
