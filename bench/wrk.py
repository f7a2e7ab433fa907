"""wrk, run and read: requests, throughput, p50/p99 and errors from its text report."""

from __future__ import annotations

import os
import re
import subprocess
from typing import Any

UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    return float(match.group(1)) * UNITS[match.group(2)] if match else float("nan")


def wrk(url: str, connections: int, seconds: float, headers: dict[str, str] | None = None,
        threads: int | None = None) -> dict[str, Any]:
    threads = threads or max(1, min(connections, os.cpu_count() or 1))
    # wrk applies --timeout only when an answer arrives: a slower one is counted as an error and
    # left out of the percentiles. A timeout as long as the run keeps every answer in them.
    whole = max(1, round(seconds))
    argv = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{whole}s", "--timeout", f"{whole}s",
            "--latency"]
    for name, value in (headers or {}).items():
        argv += ["-H", f"{name}: {value}"]
    argv.append(url)
    out = subprocess.run(argv, capture_output=True, text=True, timeout=whole + 60).stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in", out)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    pct = dict(re.findall(r"^\s+(50|99)%\s+(\S+)\s*$", out, flags=re.MULTILINE))
    shown = [a if not a.startswith("Authorization:") else "Authorization: Token $TOKEN" for a in argv]
    return {
        "command": " ".join(shown),
        "rps": float(rps.group(1)) if rps else 0.0,
        "requests": int(total.group(1)) if total else 0,
        "p50_ms": _ms(pct.get("50", "")),
        "p99_ms": _ms(pct.get("99", "")),
        "errors": (int(non2xx.group(1)) if non2xx else 0)
        + (sum(int(x) for x in sock.groups()) if sock else 0),
    }
