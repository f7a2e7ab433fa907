"""``python -m loadtest`` / ``conduit-loadtest``: verified load, a report, optional comparison.
The options are loadtest/options.py's."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from dataclasses import replace
from typing import Any

from rich.console import Console
from rich.live import Live

from loadtest import server_side
from loadtest.client import target_answers
from loadtest.console import (
    CPU_SATURATED,
    print_comparison,
    print_live_report,
    print_report,
    print_thresholds,
)
from loadtest.html_report import render
from loadtest.live import run_live
from loadtest.options import Usage, live_options, options, parser
from loadtest.runner import RunOptions, RunResult, run, run_processes
from loadtest.stats import Recorder, report_dict
from loadtest.thresholds import judge


def _execute(opts: RunOptions, procs: int, console: Console) -> tuple[dict[str, Any] | None, str | None]:
    reason = asyncio.run(target_answers(opts.url))
    if reason:
        return None, f"target {opts.url} does not answer: {reason}"
    before = server_side.fetch(opts.url)
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
    report, failure = _combine(opts, results, time.perf_counter() - started)
    if report is not None:
        report["server"] = server_side.view(before, server_side.fetch(opts.url))
    return report, failure


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
                         extra={"mode": "open" if opts.profile.open_loop else "closed",
                                "rate": opts.profile.peak if opts.profile.open_loop else None,
                                "stages": opts.profile.describe(), "processes": len(results)})
    report["client_saturated"] = cpu >= CPU_SATURATED
    return report, None


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


def _verdict(console: Console, args: argparse.Namespace, reports: list[dict[str, Any]]) -> int:
    """The exit status: 1 when a threshold or --max-error-rate is crossed by any report."""
    status = 0
    for report in reports:
        report["thresholds"] = judge(args.thresholds, report)
        print_thresholds(console, report["thresholds"])
        if any(not row["passed"] for row in report["thresholds"]):
            status = 1
    worst = max(report["error_rate"] for report in reports)
    if worst > args.max_error_rate:
        print(f"conduit-loadtest: error rate {worst:.2%} is above --max-error-rate "
              f"{args.max_error_rate:.2%}", file=sys.stderr)
        status = 1
    return status


def main(argv: list[str] | None = None) -> int:
    console = Console(stderr=False)
    try:
        opts, args = options(sys.argv[1:] if argv is None else argv)
        if args.scenario == "live":
            args.url = opts.url
            return main_live(args, console)
    except Usage as error:
        parser().print_usage(sys.stderr)
        print(f"conduit-loadtest: error: {error}", file=sys.stderr)
        return 2
    except SystemExit as done:  # argparse's own errors (2) and --help (0)
        return int(done.code or 0)
    report, failure = _execute(opts, args.procs, console)
    if failure or report is None:
        print(f"conduit-loadtest: {failure}", file=sys.stderr)
        return 1
    print_report(console, report)
    reports = [report]
    output: dict[str, Any] = report
    if args.compare:
        other, failure = _execute(replace(opts, url=args.compare), args.procs, console)
        if failure or other is None:
            print(f"conduit-loadtest: {failure}", file=sys.stderr)
            return 1
        print_report(console, other)
        print_comparison(console, report, other)
        reports.append(other)
        output = {"first": report, "second": other}
    status = _verdict(console, args, reports)
    if args.json:
        args.json.write_text(json.dumps(output, indent=2, default=str))
    if args.html:
        args.html.write_text(render(report, server_side.fetch(opts.url)))
        console.print(f"report: {args.html}")
    return status
