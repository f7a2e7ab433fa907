"""``conduit-serve`` (``python -m app.serve``): Hypercorn with hypercorn.toml, settings checked first.

Hypercorn imports the app only inside its worker processes, so a bad setting would be reported
once per worker while the parent exits 0. Checking the settings here first gives one line and
exit status 1 before any worker starts. Extra arguments go to Hypercorn (``--workers 4``).

With more than one worker Hypercorn binds with SO_REUSEPORT, so a second server on an address
already served by another starts without a word and the kernel splits the connections between the
two. Each address is therefore tried first without that option: taken, and the server refuses to
start with one line. The workers are supervised (app/supervise.py): a dead one is replaced.
"""

from __future__ import annotations

import socket
import sys

import hypercorn.__main__
from hypercorn.config import Config

from app.config import PROJECT_ROOT, load_settings
from app.supervise import serve

CONFIG = PROJECT_ROOT / "hypercorn.toml"


def bind_addresses(args: list[str]) -> list[str]:
    """The addresses Hypercorn will bind: every ``--bind``/``-b`` given, else hypercorn.toml's."""
    found = []
    for index, arg in enumerate(args):
        if arg in ("--bind", "-b") and index + 1 < len(args):
            found.append(args[index + 1])
        elif arg.startswith("--bind="):
            found.append(arg.split("=", 1)[1])
    return found or list(Config.from_toml(CONFIG).bind)


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
    load_settings()  # raises ConfigError (SystemExit with one line) on a bad setting
    args = sys.argv[1:] if argv is None else argv
    for address in bind_addresses(args):
        check_free(address)
    # Hypercorn's command line builds the Config (hypercorn.toml, then the arguments) and hands it
    # to hypercorn.run.run; ours keeps the workers alive instead (app/supervise.py).
    hypercorn.__main__.run = serve  # type: ignore[attr-defined]
    return hypercorn.__main__.main(["--config", str(CONFIG), *args, "app.asgi:app"])


if __name__ == "__main__":
    sys.exit(main())
