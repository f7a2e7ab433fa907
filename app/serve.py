"""``conduit-serve`` (``python -m app.serve``): Hypercorn with hypercorn.toml, settings checked first.

Hypercorn imports the app only inside its worker processes, so a bad setting would be reported
once per worker while the parent exits 0. Checking the settings here first gives one line and
exit status 1 before any worker starts. Extra arguments go to Hypercorn (``--workers 4``).
"""

from __future__ import annotations

import sys

from hypercorn.__main__ import main as hypercorn_main

from app.config import PROJECT_ROOT, load_settings

CONFIG = PROJECT_ROOT / "hypercorn.toml"


def main(argv: list[str] | None = None) -> int:
    load_settings()  # raises ConfigError (SystemExit with one line) on a bad setting
    args = sys.argv[1:] if argv is None else argv
    return hypercorn_main(["--config", str(CONFIG), *args, "app.asgi:app"])


if __name__ == "__main__":
    sys.exit(main())
