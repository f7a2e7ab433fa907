"""``--html report.html``: the run as one self-contained page (inline SVG and CSS, no script, no
CDN): throughput, errors and refusals over time, latency percentiles over time, the latency
distribution as HdrHistogram plots it (percentile on a scale of nines), the thresholds, the
per-endpoint table, the failures with examples, and the target's own /metrics when it has one."""

from __future__ import annotations

import math
from html import escape
from typing import Any

WIDTH, HEIGHT, PAD = 760, 240, 48
COLOURS = ("#2b7a3d", "#c0392b", "#d68910", "#1f618d", "#7d3c98")
CSS = """body{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:820px;color:#222}
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem}table{border-collapse:collapse;width:100%}
td,th{border-bottom:1px solid #ddd;padding:.25rem .5rem;text-align:right}td:first-child,
th:first-child{text-align:left}.pass{color:#2b7a3d}.fail{color:#c0392b;font-weight:bold}
svg{background:#fafafa;border:1px solid #ddd}pre{background:#f4f4f4;padding:.5rem;overflow:auto;
font-size:12px;max-height:24rem}.legend span{margin-right:1rem}"""


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:,.1f}"
    return f"{value:,}" if isinstance(value, int) else escape(str(value))


def line_chart(series: dict[str, list[tuple[float, float]]], x_label: str, y_label: str,
               log_y: bool = False, x_ticks: list[tuple[float, str]] | None = None) -> str:
    """An SVG line chart of named series of (x, y) points."""
    points = [p for values in series.values() for p in values if not log_y or p[1] > 0]
    if not points:
        return "<p>No data.</p>"
    x0, x1 = min(p[0] for p in points), max(p[0] for p in points)
    ys = [p[1] for p in points]
    if log_y:
        y0, y1 = float(math.floor(math.log10(min(ys)))), float(math.ceil(math.log10(max(ys))))
        y1 = max(y1, y0 + 1)
    else:
        y0, y1 = 0.0, max(ys) * 1.05 or 1.0
    x1 = x1 if x1 > x0 else x0 + 1

    def sx(x: float) -> float:
        return PAD + (x - x0) / (x1 - x0) * (WIDTH - 2 * PAD)

    def sy(y: float) -> float:
        v = math.log10(y) if log_y else y
        return HEIGHT - PAD + (v - y0) / (y0 - y1) * (HEIGHT - 2 * PAD)

    parts = [f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" role="img" '
             f'aria-label="{escape(y_label)} by {escape(x_label)}">']
    ticks = [(10.0 ** e, f"{10.0 ** e:g}") for e in range(int(y0), int(y1) + 1)] if log_y else \
        [(y0 + (y1 - y0) * i / 4, f"{y0 + (y1 - y0) * i / 4:,.0f}") for i in range(5)]
    for value, label in ticks:
        y = sy(value)
        parts.append(f'<line x1="{PAD}" x2="{WIDTH - PAD}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>'
                     f'<text x="{PAD - 4}" y="{y + 4:.1f}" font-size="11" text-anchor="end">'
                     f'{label}</text>')
    for value, label in x_ticks or [(x0 + (x1 - x0) * i / 5, f"{x0 + (x1 - x0) * i / 5:g}")
                                    for i in range(6)]:
        parts.append(f'<text x="{sx(value):.1f}" y="{HEIGHT - PAD + 16}" font-size="11" '
                     f'text-anchor="middle">{escape(label)}</text>')
    parts.append(f'<text x="{WIDTH / 2}" y="{HEIGHT - 8}" font-size="12" text-anchor="middle">'
                 f'{escape(x_label)}</text><text x="12" y="{HEIGHT / 2}" font-size="12" '
                 f'transform="rotate(-90 12 {HEIGHT / 2})" text-anchor="middle">{escape(y_label)}</text>')
    legend = []
    for (name, values), colour in zip(series.items(), COLOURS, strict=False):
        shown = [(x, y) for x, y in values if not log_y or y > 0]
        if shown:
            path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in shown)
            parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.8" points="{path}"/>')
        legend.append(f'<span style="color:{colour}">━ {escape(name)}</span>')
    parts.append("</svg>")
    return "".join(parts) + f'<p class="legend">{"".join(legend)}</p>'


def _nines(percentile: float) -> float:
    return math.log10(100 / max(100 - percentile, 1e-4))


def _table(head: list[str], rows: list[list[Any]]) -> str:
    cells = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{_fmt(c) if not isinstance(c, Raw) else c}</td>"
                                    for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{cells}</tr>{body}</table>"


class Raw(str):
    """Cell content already escaped."""


def render(report: dict[str, Any], server_metrics: str | None = None) -> str:
    timeline = report["timeline"]
    lat, refused = report["latency_ms"], report["refused"]
    verdicts = report.get("thresholds", [])
    passed = all(row["passed"] for row in verdicts)
    out = [f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Load test: "
           f"{escape(report['scenario'])} against {escape(report['target'])}</title>"
           f"<style>{CSS}</style></head><body>",
           f"<h1>{escape(report['scenario'])} against {escape(report['target'])}</h1>",
           f"<p>{escape(report['mode'])} loop, {_fmt(report['duration_s'])} s, "
           f"{report['processes']} client process(es); stages: "
           f"{escape(', '.join(report.get('stages', [])) or 'one')}.</p>"]
    summary = [["requests", report["requests"]], ["verified answers", report["succeeded"]],
               ["throughput (req/s)", report["throughput_rps"]],
               ["goodput (verified answers/s)", report["goodput_rps"]],
               ["error rate", f"{report['error_rate']:.2%}"],
               ["refused (503)", refused["count"]],
               ["refusals' p99 (ms)", refused["latency_ms"]["p99"]],
               *[[f"latency {k} (ms)", v] for k, v in lat.items()]]
    out.append("<h2>Summary</h2>" + _table(["", ""], summary))
    if verdicts:
        rows = [[row["threshold"], row["observed"],
                 Raw('<span class="pass">passed</span>' if row["passed"] else
                     '<span class="fail">FAILED</span>')] for row in verdicts]
        out.append(f"<h2>Thresholds: {'all passed' if passed else 'FAILED'}</h2>"
                   + _table(["threshold", "observed", ""], rows))
    seconds = [float(row["t"]) for row in timeline]
    out.append("<h2>Throughput over time</h2>" + line_chart({
        "verified/s": [(t, float(r["ok"])) for t, r in zip(seconds, timeline, strict=True)],
        "errors/s": [(t, float(r["errors"] - r["refused"])) for t, r in zip(seconds, timeline, strict=True)],
        "refused/s": [(t, float(r["refused"])) for t, r in zip(seconds, timeline, strict=True)],
    }, "seconds into the run", "requests per second"))
    out.append("<h2>Latency over time</h2>" + line_chart({
        name: [(t, r[name]) for t, r in zip(seconds, timeline, strict=True) if r[name] is not None]
        for name in ("p50", "p90", "p99", "max")}, "seconds into the run", "ms (log)", log_y=True))
    curve = [(_nines(p), ms) for p, ms in report["distribution"] if p < 100]
    ticks = [(_nines(p), label) for p, label in ((0, "0%"), (90, "90%"), (99, "99%"),
                                                 (99.9, "99.9%"), (99.99, "99.99%"))]
    out.append("<h2>Latency distribution</h2>" + line_chart(
        {"latency": curve}, "percentile", "ms (log)", log_y=True, x_ticks=ticks))
    rows = [[name, row["requests"], row["errors"], *row["latency_ms"].values()]
            for name, row in report["endpoints"].items()]
    out.append("<h2>Endpoints</h2>" + _table(
        ["endpoint", "requests", "errors", *[f"{k} ms" for k in lat]], rows))
    out.append("<h2>Statuses and failures</h2>" + _table(
        ["status", "answers"], [[k, v] for k, v in report["statuses"].items()]))
    out.append(_table(["failure", "count"], [[k, v] for k, v in report["errors"].items()]))
    if report["sample_errors"]:
        out.append("<p>Examples:</p><pre>" + escape("\n".join(report["sample_errors"])) + "</pre>")
    out.append("<h2>The server's own figures</h2>")
    out.append(f"<pre>{escape(server_metrics)}</pre>" if server_metrics else
               "<p>The target has no <code>/metrics</code> (or would not show it to this "
               "client).</p>")
    out.append("</body></html>\n")
    return "\n".join(out)
