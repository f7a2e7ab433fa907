"""The load generator's command line: its options, each checked (``Usage``: exit status 2 with
one line), and the run they describe (``options``, ``live_options``)."""

from __future__ import annotations

import argparse
import ipaddress
import secrets
import socket
from pathlib import Path
from urllib.parse import urlsplit

from loadtest.live import LiveOptions
from loadtest.runner import RunOptions
from loadtest.scenarios import SCENARIOS, WRITERS
from loadtest.stages import Profile, StageError
from loadtest.thresholds import ThresholdError, parse_threshold

DURATION = 10.0
CLOSED_USERS = 16
OPEN_IN_FLIGHT = 1000


class Usage(Exception):
    """A bad option: printed with the usage line, exit status 2."""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="conduit-loadtest",
        description="Fire concurrent requests at a Conduit server, verify every answer, report. "
        "A constant load is --concurrency users (closed loop) or --rate arrivals per second (open "
        "loop) for --duration; a shaped one is --stage, repeated.",
        epilog="Examples: --scenario api-read --rate 200 --duration 30;  --stage 30s:100/s "
        "--stage 60s:400/s --threshold 'p99<250ms' --threshold 'errors<0.1%%' --html report.html")
    p.add_argument("--url", default="http://127.0.0.1:8000",
                   help="the target's base URL (default: %(default)s)")
    p.add_argument("--scenario", default="mixed", choices=(*SCENARIOS, "live"),
                   help="what the users do (default: %(default)s)")
    p.add_argument("--concurrency", type=int,
                   help="closed loop: virtual users; open loop: the most requests in flight "
                   f"(default: {CLOSED_USERS} closed, {OPEN_IN_FLIGHT} open)")
    p.add_argument("--duration", type=float,
                   help=f"seconds to run (default: {DURATION:g}, unless --requests or --stage)")
    p.add_argument("--requests", type=int, help="stop after this many requests (default: no limit)")
    p.add_argument("--rate", type=float, help="open loop: arrivals per second (default: closed loop)")
    p.add_argument("--stage", action="append", metavar="DURATION:TARGET",
                   help="a stage of load, repeatable: 30s:100/s (arrivals per second) or 1m:50 "
                   "(users), each ramping linearly from the one before (the first from 0; 0s:N "
                   "jumps) (default: none)")
    p.add_argument("--threshold", action="append", metavar="EXPR",
                   help="a pass/fail criterion, repeatable: 'p99<250ms', 'errors<0.1%%', "
                   "'refused<5%%', 'goodput>100', '[GET /api/tags] p99<100ms'; exit 1 when one "
                   "fails (default: none)")
    p.add_argument("--warmup", type=float, default=0.0,
                   help="unrecorded seconds first, at the first stage's target (default: %(default)s)")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds per request (default: %(default)s)")
    p.add_argument("--procs", type=int, default=1, help="client worker processes (default: %(default)s)")
    p.add_argument("--max-delay-ms", type=int, default=50,
                   help="contexts scenarios: the largest random delay (default: %(default)s)")
    p.add_argument("--json", type=Path, help="also write the report as JSON here (default: none)")
    p.add_argument("--html", type=Path,
                   help="also write the report as one self-contained HTML page (default: none)")
    p.add_argument("--max-error-rate", type=float, default=0.0,
                   help="exit 1 when the share of failed requests is above this, 0..1 (default: %(default)s)")
    p.add_argument("--seed", type=int, default=1,
                   help="random seed for the request mix (default: %(default)s)")
    p.add_argument("--compare", help="run the same scenario against this second base URL too (default: none)")
    p.add_argument("--allow-remote", action="store_true",
                   help="allow a target that is not on this machine's loopback")
    p.add_argument("--allow-writes", action="store_true",
                   help=f"let {', '.join(WRITERS)} write accounts, articles and comments into the "
                   "target (make loadtest runs a throwaway server; quart --app app purge-load "
                   "removes what a run wrote)")
    live = p.add_argument_group("live", "--scenario live: WebSocket subscribers on one article, "
                                "writers commenting on it and toggling their favorite")
    live.add_argument("--subscribers", type=int, help="open sockets (default: 100)")
    live.add_argument("--writers", type=int, help="writing accounts, each one write at a time (default: 4)")
    live.add_argument("--writes", type=int, help="writes in all (default: 200)")
    live.add_argument("--write-rate", type=float,
                      help="writes per second in all (default: as fast as the answers come)")
    live.add_argument("--comment-share", type=float, help="share of writes that are comments (default: 0.5)")
    live.add_argument("--settle", type=float,
                      help="seconds to wait for events after the last write is answered (default: 10)")
    return p


LIVE_ONLY = ("subscribers", "writers", "writes", "write_rate", "comment_share", "settle")
NOT_LIVE = ("duration", "requests", "rate", "compare", "stage", "threshold", "html", "concurrency")


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


def _profile(args: argparse.Namespace) -> Profile:
    if args.stage:
        if args.duration is not None or args.rate is not None:
            raise Usage("--stage gives the duration and the load: not with --duration or --rate")
        try:
            profile = Profile.parse(args.stage)
        except StageError as error:
            raise Usage(str(error)) from None
        if not profile.open_loop and args.concurrency is not None:
            raise Usage("closed-loop stages give the users: not with --concurrency")
        return profile
    duration = DURATION if args.duration is None and args.requests is None else args.duration
    if args.rate is not None:
        return Profile.held(args.rate, True, duration)
    return Profile.held(args.concurrency or CLOSED_USERS, False, duration)


def options(argv: list[str]) -> tuple[RunOptions, argparse.Namespace]:
    args = parser().parse_args(argv)
    checks = [
        (args.concurrency is None or 1 <= args.concurrency <= 10_000,
         "--concurrency must be between 1 and 10000"),
        (args.duration is None or 0 < args.duration <= 3600, "--duration must be in (0, 3600]"),
        (args.requests is None or 1 <= args.requests <= 10_000_000, "--requests must be >= 1"),
        (args.duration is None or args.requests is None, "give --duration or --requests, not both"),
        (args.rate is None or 0 < args.rate <= 1_000_000, "--rate must be above 0"),
        (0 <= args.warmup <= 600, "--warmup must be between 0 and 600 seconds"),
        (0 < args.timeout <= 300, "--timeout must be in (0, 300]"),
        (1 <= args.procs <= 64, "--procs must be between 1 and 64"),
        (0 <= args.max_delay_ms <= 10_000, "--max-delay-ms must be between 0 and 10000"),
        (0 <= args.max_error_rate <= 1, "--max-error-rate must be between 0 and 1"),
    ]
    for ok, message in checks:
        if not ok:
            raise Usage(message)
    url = _check_url(args.url, args.allow_remote)
    if args.scenario in WRITERS and not args.allow_writes:
        raise Usage(f"--scenario {args.scenario} writes accounts, articles and comments into "
                    f"{url}: run it against a throwaway server (make loadtest), or say "
                    "--allow-writes (quart --app app purge-load removes them afterwards)")
    if args.scenario != "live":
        given = [name for name in LIVE_ONLY if getattr(args, name) is not None]
        if given:
            raise Usage(f"--{given[0].replace('_', '-')} goes with --scenario live")
    if args.compare:
        args.compare = _check_url(args.compare, args.allow_remote)
    try:
        args.thresholds = [parse_threshold(text) for text in args.threshold or ()]
    except ThresholdError as error:
        raise Usage(str(error)) from None
    if args.scenario == "live":
        return RunOptions(url, args.scenario, Profile.held(1, False, 1), 1, None, 0, args.timeout,
                          args.seed, args.max_delay_ms, secrets.token_hex(3)), args
    profile = _profile(args)
    concurrency = args.concurrency or (OPEN_IN_FLIGHT if profile.open_loop else
                                       max(1, round(profile.peak)))
    if args.procs > concurrency:
        raise Usage("--procs cannot exceed the users (--concurrency or the stages' peak)")
    opts = RunOptions(url=url, scenario=args.scenario, profile=profile, concurrency=concurrency,
                      requests=args.requests, warmup=args.warmup, timeout=args.timeout,
                      seed=args.seed, max_delay_ms=args.max_delay_ms, run_id=secrets.token_hex(3))
    return opts, args
