"""RealWorld's own API suite (the Postman collection, run with newman) against this API.

The collection is the RealWorld project's, not ours: it is read from a checkout of
https://github.com/gothinkster/realworld (``api/Conduit.postman_collection.json``), which this
repository does not copy. newman comes from npm (package.json; ``make browser`` installs it).

    git clone https://github.com/gothinkster/realworld /tmp/realworld
    python -m bench.realworld --db sqlite --spec /tmp/realworld
    python -m bench.realworld --db postgresql --spec /tmp/realworld

Starts a production-mode server on a fresh database (``tests.support.servers.fresh_production_server``)
and runs the collection against it with its usual variables (a new user each run); exits with
newman's status: 0 when every assertion passed.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.support.servers import ROOT, fresh_production_server

COLLECTION = Path("api") / "Conduit.postman_collection.json"
NEWMAN = ROOT / "node_modules" / ".bin" / "newman"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--spec", type=Path, required=True, help="a checkout of gothinkster/realworld")
    args = parser.parse_args()
    collection = args.spec / COLLECTION
    if not collection.is_file():
        sys.exit(f"bench.realworld: no {COLLECTION} under {args.spec}")
    if not NEWMAN.exists():
        sys.exit("bench.realworld: newman is not installed: run `make browser` (npm ci)")
    user = f"u{int(time.time())}"
    with tempfile.TemporaryDirectory(prefix="conduit-realworld-") as work, \
            fresh_production_server(args.db, Path(work)) as base:
        result = subprocess.run(
            [str(NEWMAN), "run", str(collection), "--color", "off",
             "--global-var", f"APIURL={base}/api", "--global-var", f"USERNAME={user}",
             "--global-var", f"EMAIL={user}@mail.com", "--global-var", "PASSWORD=password"],
            cwd=ROOT)
    sys.exit(result.returncode)


if __name__ == "__main__":
    main()
