"""``Observe``, the outermost ASGI layer: every request gets an ID and a record (app/observe/record.py)
before anything else runs, the ID goes back in ``X-Request-ID``, and when the answer is sent the
access line is written, and the slow-request line when it took ``CONDUIT_SLOW_REQUEST_MS`` or more.

The ID is the one HAProxy (or another proxy in ``CONDUIT_TRUSTED_PROXIES``) sent, when it looks like
an ID (``ID_PATTERN``); from anyone else, or malformed, a new one: a client cannot choose what the
logs call its request. Health probes are served with an ID but no access line (a balancer asks
every few seconds), unless one fails.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import time
from ipaddress import IPv4Network, IPv6Network, ip_address
from typing import Any
from urllib.parse import parse_qsl, urlencode

from hypercorn.typing import ASGIReceiveCallable, ASGISendCallable, Scope

from app.observe import metrics
from app.observe.logs import ACCESS_LOGGER
from app.observe.record import CURRENT, RequestRecord

ID_PATTERN = re.compile(rb"[A-Za-z0-9._:@/+=-]{1,128}")
HIDDEN = "[hidden]"
# Query parameters whose values never reach a log line.
SECRET_PARAMETERS = frozenset({"token", "access_token", "password", "secret", "key", "code", "jwt"})
METRICS_PATH = "/metrics"
FORWARDED = frozenset({b"x-forwarded-for", b"forwarded", b"x-real-ip"})
Networks = tuple[IPv4Network | IPv6Network, ...]

access = logging.getLogger(ACCESS_LOGGER)
slow_log = logging.getLogger("conduit.slow")


def new_id() -> str:
    return os.urandom(8).hex()


class Observe:
    def __init__(self, app: Any, *, proxies: Networks, slow_s: float, probes: frozenset[str],
                 metrics_allow: Networks = ()) -> None:
        self.app = app
        self.proxies = proxies
        self.slow_s = slow_s
        self.probes = probes
        self.metrics_allow = metrics_allow

    def request_id(self, scope: Any) -> str:
        given = next((value for name, value in scope["headers"] if name == b"x-request-id"), None)
        if given is not None and ID_PATTERN.fullmatch(given) and peer_in(scope, self.proxies):
            return str(given.decode("ascii"))
        return new_id()

    async def serve_metrics(self, scope: Any, send: ASGISendCallable) -> None:
        forwarded = any(name in FORWARDED for name, _value in scope["headers"])
        headers = [(b"content-type", b"text/plain; charset=utf-8")]
        if forwarded or not peer_in(scope, self.metrics_allow):
            status, body = 403, b"metrics are not open to this address\n"
        elif scope["method"] not in ("GET", "HEAD"):
            status, body = 405, b"metrics are read with GET\n"
            headers.append((b"allow", b"GET, HEAD"))
        else:
            status, headers = 200, [(b"content-type", metrics.CONTENT_TYPE.encode())]
            if metrics.multiprocess():  # every process's figures are files to read: not on the loop
                body = await asyncio.get_running_loop().run_in_executor(None, metrics.exposition)
            else:
                body = metrics.exposition()
        start: Any = {"type": "http.response.start", "status": status, "headers": [
            *headers, (b"content-length", str(len(body)).encode()), (b"cache-control", b"no-store"),
            (b"x-content-type-options", b"nosniff")]}
        await send(start)
        end: Any = {"type": "http.response.body", "body": body if scope["method"] != "HEAD" else b""}
        await send(end)

    async def __call__(self, scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "http" and scope["path"] == METRICS_PATH:
            await self.serve_metrics(scope, send)
            return
        record = RequestRecord(self.request_id(scope))
        token = CURRENT.set(record)
        if scope["type"] == "websocket":
            try:
                await self.app(scope, receive, send)
            finally:
                CURRENT.reset(token)
            return
        status, sent = 0, 0
        header = (b"x-request-id", record.id.encode("ascii"))

        async def send_with_id(message: Any) -> None:
            nonlocal status, sent
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", ()), header]}
            elif message["type"] == "http.response.body":
                sent += len(message.get("body", b""))
            await send(message)

        metrics.IN_FLIGHT.inc()
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            CURRENT.reset(token)
            metrics.IN_FLIGHT.dec()
            elapsed = time.perf_counter() - record.started
            if scope["path"] not in self.probes:  # a balancer's checks are not the traffic
                metrics.observe_request(record.route, scope["method"], status, elapsed,
                                        record.statements, record.db_seconds)
            self.log(scope, record, status, sent, elapsed)

    def log(self, scope: Any, record: RequestRecord, status: int, sent: int, elapsed: float) -> None:
        quiet_probe = scope["path"] in self.probes and status == 200
        if (access.disabled and elapsed < self.slow_s) or quiet_probe:
            return
        fields = access_fields(scope, record, status, sent, elapsed)
        if not access.disabled:
            access.info('%s "%s %s HTTP/%s" %s %s %dus route=%s db=%.1fms/%d user=%s',
                        fields["client"], fields["method"], fields["path"], scope["http_version"],
                        status or "-", sent, elapsed * 1e6, record.route or "-",
                        record.db_seconds * 1000, record.statements, record.user_id or "-",
                        extra={"fields": fields, "request_id": record.id})
        if elapsed >= self.slow_s:
            statements = [{"sql": sql, "ms": round(seconds * 1000, 2)} for sql, seconds in record.timed]
            slow_log.warning("slow request: %s %s took %.0f ms, %.0f ms in %d statements: %s",
                             fields["method"], fields["path"], elapsed * 1000,
                             record.db_seconds * 1000, record.statements,
                             "; ".join(f"{s['ms']} ms {s['sql']}" for s in statements),
                             extra={"fields": {**fields, "statements_timed": statements},
                                    "request_id": record.id})


def peer_in(scope: Any, networks: Networks) -> bool:
    client = scope.get("client")
    if not networks or not client:
        return False
    try:
        peer = ip_address(client[0])
    except ValueError:
        return False
    if peer.version == 6 and peer.ipv4_mapped is not None:  # ::ffff:127.0.0.1 on a dual-stack bind
        peer = peer.ipv4_mapped
    return any(peer in network for network in networks)


def access_fields(scope: Any, record: RequestRecord, status: int, sent: int,
                  elapsed: float) -> dict[str, Any]:
    client = scope.get("client")
    return {"client": client[0] if client else "-", "method": scope["method"],
            "path": shown_path(scope), "route": record.route, "status": status or None,
            "bytes": sent, "duration_ms": round(elapsed * 1000, 2),
            "db_ms": round(record.db_seconds * 1000, 2), "statements": record.statements,
            "user_id": record.user_id}


def shown_path(scope: Any) -> str:
    """The path and query string as a log shows them: secret parameters' values hidden."""
    path: str = scope["path"]
    query: bytes = scope.get("query_string", b"")
    if not query:
        return path
    pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True)
    if any(name.lower() in SECRET_PARAMETERS for name, _value in pairs):
        pairs = [(name, HIDDEN if name.lower() in SECRET_PARAMETERS else value) for name, value in pairs]
        return f"{path}?{urlencode(pairs, safe='[]/:,')}"
    return f"{path}?{query.decode('latin-1')}"
