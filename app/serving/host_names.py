"""Whether a Host header names a host the app can route: what Werkzeug's URL map accepts.

Werkzeug fails on a name IDNA cannot encode (``a..b``, a 64-letter label) before any of Quart's
error handlers runs, and the server would send an empty 500; the ASGI guard (app/serving/guard.py)
asks here first and answers 400 (403 to a WebSocket handshake) itself. The common case is checked
with a pattern, without the (slow) IDNA codec.
"""

from __future__ import annotations

import re

# The common case: ASCII labels of 1 to 63 characters, an IPv4 address or a bracketed IPv6 one,
# and a port.
PLAIN_HOST = re.compile(r"(?:[A-Za-z0-9_-]{1,63}(?:\.[A-Za-z0-9_-]{1,63})*\.?|\[[0-9A-Fa-f:.]+\])"
                        r"(?::\d{1,5})?")


def host_is_valid(host: str) -> bool:
    """What Werkzeug's URL map accepts: a name (port aside) that IDNA can encode."""
    if PLAIN_HOST.fullmatch(host):
        return True
    try:
        host.partition(":")[0].encode("idna")
    except UnicodeError:
        return False
    return True
