"""What deploy/cluster.py and deploy/monitoring.py share: where things are, running a command,
filling a template's ``{{...}}`` fields, starting a process of its own, waiting for it."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
BIN = Path(sys.executable).parent
START_TIMEOUT_S = 60


def sh(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, check=check, capture_output=True, text=True)


def fill(template: str, values: dict[str, str]) -> str:
    """The template with every ``{{name}}`` outside comments replaced (a field left unfilled is
    a KeyError)."""
    return "\n".join(line if line.lstrip().startswith("#") else
                     re.sub(r"\{\{(\w+)\}\}", lambda m: values[m.group(1)], line)
                     for line in template.splitlines()) + "\n"


def spawn(argv: list[str], log: Path, env: dict[str, str] | None = None) -> int:
    """``argv`` in a session (a process group) of its own, its output appended to ``log``; its pid."""
    with log.open("ab") as out:
        process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    return process.pid


def answers(url: str) -> bool:
    """``url`` answers 200 within 2 s (a probe: /readyz, Prometheus's /-/ready)."""
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


def wait_until(check: Callable[[], bool], what: str, timeout: float = START_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"cluster: {what} did not come up in {timeout:.0f} s")
        time.sleep(0.2)


def alive(pid: int) -> bool:
    """A process of the group ``pid`` still runs. A child of this process that has exited is
    reaped; zombies do not count (here PID 1 may never reap a dead host's orphaned workers)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                state, _ppid, group = stat.read().rsplit(")", 1)[1].split()[:3]
        except (FileNotFoundError, ProcessLookupError):
            continue
        if int(group) == pid and state != "Z":
            return True
    return False
