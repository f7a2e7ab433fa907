"""What the load generator prints: the run's report, a comparison of two runs, a live run."""

from __future__ import annotations

import math
from typing import Any

from rich.console import Console
from rich.table import Table

CPU_SATURATED = 0.85


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
    refused = report["refused"]
    if refused["count"]:
        console.print(f"refused     {refused['count']} answered 503 (p50 "
                      f"{_ms(refused['latency_ms']['p50'])} ms, p99 {_ms(refused['latency_ms']['p99'])} "
                      f"ms); goodput {report['goodput_rps']:.1f} verified answers/s")
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
    server = report.get("server")
    if server:
        console.print(f"server      its /metrics: {server['requests']} requests, p50 "
                      f"{_ms(server['latency_ms']['p50'])} ms, p99 {_ms(server['latency_ms']['p99'])} ms, "
                      f"CPU {_ms(server['cpu_ms_per_request'])} ms a request, "
                      f"{server['refused']} refused as busy, {server['errors_5xx']} answered 5xx"
                      "  (the server's time; the client's p99 adds queues and network)")
    late = report["client_late_ms"]
    if not math.isnan(late["p99"]):
        console.print(f"client late p50 {_ms(late['p50'])} ms, p99 {_ms(late['p99'])} ms  "
                      "(its own sending behind schedule: a part of every latency above)")
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


def print_thresholds(console: Console, rows: list[dict[str, Any]]) -> None:
    for row in rows:
        seen = "-" if row["observed"] is None else f"{row['observed']:.4g}"
        mark = "[green]passed[/]" if row["passed"] else "[red]FAILED[/]"
        console.print(f"threshold  {row['threshold']:<32} observed {seen:<10} {mark}")
