"""``conduit-serve`` (``python -m app.serving.serve``): Hypercorn with hypercorn.toml, settings checked first.

Hypercorn imports the app only inside its worker processes, so a bad setting would be reported
once per worker while the parent exits 0. Checking the settings here first gives one line and
exit status 1 before any worker starts.

The command line is ours and builds Hypercorn's public ``Config`` (hypercorn.toml first, then the
options given), which ``app.serving.supervisor.serve`` runs: no part of Hypercorn is replaced.

With more than one worker Hypercorn binds with SO_REUSEPORT, so a second server on an address
already served by another starts without a word and the kernel splits the connections between the
two. Each address is therefore tried first without that option: taken, and the server refuses to
start with one line. The workers are supervised (app/serving/supervisor.py): a dead one is replaced.
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import sys

from hypercorn.config import Config

from app.infra.settings import PROJECT_ROOT, load_settings
from app.observe.logs import configure_logging
from app.serving.supervisor import serve

CONFIG = PROJECT_ROOT / "hypercorn.toml"
APPLICATION = "app.serving.asgi:app"


def parser(defaults: Config) -> argparse.ArgumentParser:
    """The options an operator sets per host; everything else is in hypercorn.toml."""
    ask = argparse.ArgumentParser(
        prog="conduit-serve",
        description=f"Serve Conduit with Hypercorn: {CONFIG.name} first, then these options.")
    ask.add_argument("-b", "--bind", action="append", default=None, metavar="ADDRESS",
                     help=f"address to listen on, repeatable (default: {' '.join(defaults.bind)})")
    ask.add_argument("-w", "--workers", type=int, default=defaults.workers,
                     help="worker processes, kept alive by the supervisor; 0: one, in this process "
                     "(default: %(default)s)")
    ask.add_argument("-k", "--worker-class", choices=("uvloop", "asyncio"), default=defaults.worker_class,
                     help="event loop (default: %(default)s)")
    ask.add_argument("--access-logfile", default=None, metavar="PATH",
                     help="where access lines go: '-' for stdout, a file, or off "
                     "(default: CONDUIT_ACCESS_LOG, or stdout)")
    ask.add_argument("--error-logfile", default=None, metavar="PATH",
                     help="error log target, '-' for stderr (default: hypercorn.toml's)")
    ask.add_argument("--log-level", default=defaults.loglevel, help="(default: %(default)s)")
    ask.add_argument("--keep-alive", type=float, default=defaults.keep_alive_timeout, metavar="SECONDS",
                     help="close an idle connection after this long (default: %(default)s)")
    ask.add_argument("--graceful-timeout", type=float, default=defaults.graceful_timeout,
                     metavar="SECONDS",
                     help="how long a stopping worker finishes its requests (default: %(default)s)")
    ask.add_argument("--pid", default=None, metavar="PATH", help="write the master's pid here")
    ask.add_argument("--reload", action="store_true", help="restart when the code changes (development)")
    return ask


def build_config(args: list[str]) -> Config:
    """Hypercorn's Config from hypercorn.toml and the command line (argparse errors exit 2)."""
    config = Config.from_toml(CONFIG)
    given = parser(config).parse_args(args)
    config.application_path = APPLICATION
    if given.bind:
        config.bind = given.bind
    config.workers = given.workers
    config.worker_class = given.worker_class
    # The app writes the access lines itself (app/observe: route, database time, request ID):
    # Hypercorn writes none, and its error log goes through the app's handler unless a file is named.
    config.accesslog = None
    if given.access_logfile is not None:
        os.environ["CONDUIT_ACCESS_LOG"] = ("off" if given.access_logfile == os.devnull
                                            else given.access_logfile)
    if given.error_logfile is not None:
        config.errorlog = given.error_logfile
    if config.errorlog == "-":
        config.errorlog = logging.getLogger("hypercorn.error")
    config.loglevel = given.log_level
    config.keep_alive_timeout = given.keep_alive
    config.graceful_timeout = given.graceful_timeout
    config.pid_path = given.pid
    config.use_reloader = given.reload
    return config


def bind_addresses(args: list[str]) -> list[str]:
    """The addresses the server will bind: every ``--bind``/``-b`` given, else hypercorn.toml's."""
    return list(build_config(args).bind)


def check_free(address: str) -> None:
    """SystemExit with one line when another process already listens on ``address``."""
    if address.startswith(("unix:", "fd://")):
        return
    host, _, port = address.rpartition(":")
    host = host.strip("[]") or "0.0.0.0"
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers do: TIME_WAIT is free
        try:
            probe.bind((host, int(port)))
        except OSError as error:
            raise SystemExit(f"conduit-serve: cannot listen on {address}: {error.strerror} "
                             "(another server is there? stop it or give another --bind)") from None


def main(argv: list[str] | None = None) -> int:
    config = build_config(sys.argv[1:] if argv is None else argv)
    settings = load_settings()  # raises ConfigError (SystemExit with one line) on a bad setting
    configure_logging(settings.log_format, settings.log_level, settings.access_log)
    for address in config.bind:
        check_free(address)
    return serve(config)


if __name__ == "__main__":
    sys.exit(main())
