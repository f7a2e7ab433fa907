"""The client's address a request or a WebSocket handshake comes from: the peer's, or, when the peer
is a trusted proxy, the client it forwards for, read from ``X-Forwarded-For``.

Whatever counts or limits per client needs the same answer (the rate limits, the live sockets' slots
per address), so it is worked out here, once. The header is read from the right: a client can put
anything on its left, and only hops written by the configured proxies (``CONDUIT_TRUSTED_PROXIES``)
are believed.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network
from typing import Any

from quart import request


def client_address(proxies: tuple[IPv4Network | IPv6Network, ...], asked: Any = None) -> str:
    """The peer's address, or the client a trusted proxy says it forwards for: the first hop of
    X-Forwarded-For, read from the right, that is not a trusted proxy. IPv6 clients are counted
    by their /64 (one host can hold a whole /64). ``asked``: the request (default) or websocket."""
    asked = request if asked is None else asked
    peer = _parse(asked.remote_addr or "")
    if peer is None:
        return asked.remote_addr or "unknown"
    if proxies and any(peer in network for network in proxies):
        forwarded = ",".join(asked.headers.getlist("X-Forwarded-For"))
        for hop in reversed([hop.strip() for hop in forwarded.split(",") if hop.strip()]):
            address = _parse(hop)
            if address is None:  # not an address: a proxy did not write this; stop believing
                break
            peer = address
            if not any(address in network for network in proxies):
                break
    if isinstance(peer, IPv6Address):
        return str(ip_network(f"{peer}/64", strict=False))
    return str(peer)


def _parse(text: str) -> IPv4Address | IPv6Address | None:
    """An address as proxies write it: ``1.2.3.4``, ``1.2.3.4:5678``, ``[2001:db8::1]:443``, or
    an IPv4 address mapped into IPv6 (``::ffff:10.0.0.5``, as a dual-stack socket reports it)."""
    text = text.strip()
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        address = ip_address(text)
    except ValueError:
        return None
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address
