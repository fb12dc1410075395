"""Lesson 06: hardening a WebSocket endpoint.

:func:`harden` puts a guard in front of every WebSocket endpoint of an app,
so that the endpoint itself can stay as simple as the lessons teach it::

    app = harden(FastAPI(), max_message_size=64 * KiB, rate_limit=100)

What happens in each outcome:

* **Origin.** A browser sends ``Origin`` with every WebSocket handshake and
  applies no same-origin policy to WebSockets, so any page a user visits
  could connect with the user's cookies (cross-site WebSocket hijacking).
  An ``Origin`` that is not in ``allowed_origins`` — compared exactly on
  scheme, host and port, never as a prefix; ``null`` is foreign — gets
  HTTP 403 at the handshake. No ``Origin`` at all (a program, not a browser)
  is allowed. By default only pages on this machine are
  (``http://localhost``, ``http://127.0.0.1``, ``http://[::1]``, any port).
  With ``allow_same_origin`` a page served by this very server is allowed
  too, whatever address it was reached by: its ``Origin`` names the same
  host and port as the handshake's ``Host`` header, on the matching scheme
  (``http`` page for ``ws``, ``https`` for ``wss``). A foreign page cannot
  pass that way: the browser sets both headers, and a script cannot set
  either, so a page from elsewhere sends its own origin and this server's
  host. A program that forges both is no browser, carries no user's
  cookies, and could as well send no ``Origin`` at all, which is allowed.
* **Token.** With ``token`` set, the handshake must carry it as the
  ``token`` query parameter or an ``Authorization: Bearer`` header; a
  missing, empty or wrong token gets HTTP 401. It is compared in constant
  time, so the time taken says nothing about how much of it was right.
* **Connections.** Past ``max_connections`` open connections a new one gets
  HTTP 503 with ``Retry-After``; once one leaves, the next gets in.
* **Message size.** uvicorn closes a message over ``max_message_size``
  bytes with 1009 (it reads the size from the frame header, or counts as
  data arrives, and a compressed message counts inflated), so the whole of
  it is never buffered. The guard checks again, for a server started
  without the app's settings.
* **Rate.** With ``rate_limit`` set, a connection may send that many
  messages per second on average, ``burst`` at once. A message over it is
  not passed on: the client gets ``{"type": "error", "code":
  "rate_limited", "detail": ..., "retry_after": <seconds>}``. A client that
  goes on sending before ``retry_after`` has passed, for ``grace`` seconds,
  is closed with 1008.
* **Liveness.** uvicorn sends a protocol Ping every ``ping_interval``
  seconds and closes with 1011 when no Pong comes within ``ping_timeout``:
  a client that vanished without a close frame frees its slot.
* **Crashes.** An exception in a handler closes the connection with 1011
  "internal error" and is logged once, with its traceback; a client that
  leaves (``WebSocketDisconnect``) is not an error and is not logged as one.
  A handler that returns without closing gets a proper 1000 close instead of
  a dropped TCP connection. A close code that must never be sent (1005,
  1006, 1015, or anything outside the ranges RFC 6455 allows) becomes 1011.

A client that reads slowly, or not at all, cannot make the server buffer
without bound: uvicorn's send waits while the socket's write buffer is full,
so only that client's handler waits. When not one send has completed for
``send_timeout`` seconds, the guard ends the handler (it sees
``WebSocketDisconnect`` with 1006) and frees the slot. The socket itself,
with its bounded buffer, stays until the client goes: a close frame would
have to be sent, and the client reads nothing.

Some of this only the server can do: an ASGI app cannot cap a frame before
uvicorn buffers it, or send Pings. So ``harden`` also records the uvicorn
settings the app needs in ``app.uvicorn_options``, and
:func:`serving_options` merges them with what a caller passes;
``BackgroundServer`` and ``python -m server.<lesson>`` both use it.
"""

from __future__ import annotations

import asyncio
import contextvars
import hmac
import json
import logging
import math
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from starlette.websockets import WebSocketDisconnect

from server.errors import error_message

__all__ = [
    "KiB",
    "LOCAL_ORIGINS",
    "Limits",
    "RateLimit",
    "harden",
    "origin_allowed",
    "same_origin",
    "serving_options",
    "token_matches",
]

logger = logging.getLogger(__name__)

KiB = 1024
MiB = 1024 * KiB

#: Pages on this machine, any port: JupyterLab's, or a page you serve locally.
LOCAL_ORIGINS = (
    "http://localhost:*",
    "http://127.0.0.1:*",
    "http://[::1]:*",
    "https://localhost:*",
    "https://127.0.0.1:*",
    "https://[::1]:*",
)


@dataclass(frozen=True)
class Limits:
    """What :func:`harden` enforces; ``app.state.limits`` shows an app's."""

    max_message_size: int = 64 * KiB
    max_connections: int = 100
    rate_limit: float | None = None
    burst: int | None = None  # default: one second's worth, at least 1
    grace: float = 3.0
    ping_interval: float | None = 20.0
    ping_timeout: float | None = 20.0
    send_timeout: float | None = 30.0  # seconds a send may wait for a client that does not read
    allowed_origins: Sequence[str] = LOCAL_ORIGINS
    allow_same_origin: bool = False  # also a page from this server, by whatever address (Origin matches Host)
    token: str | None = field(default=None, repr=False)


def harden(app: Any, **limits: Any) -> Any:
    """Guard every WebSocket endpoint of ``app`` with :class:`Limits`; return ``app``.

    Keywords are the fields of :class:`Limits`. The app keeps its type, so
    ``app.state`` and its routes stay as they were.
    """
    settings = Limits(**limits)
    app.add_middleware(Guard, limits=settings)
    app.state.limits = settings
    app.uvicorn_options = {
        "ws_max_size": settings.max_message_size,
        "ws_ping_interval": settings.ping_interval,
        "ws_ping_timeout": settings.ping_timeout,
    }
    return app


def serving_options(app: Any, **explicit: Any) -> dict[str, Any]:
    """The uvicorn settings to serve ``app`` with: the app's own, then ``explicit``.

    wsproto inflates a compressed frame without a cap before uvicorn can
    count it, so a deflate bomb could take hundreds of MiB; on wsproto
    compression is therefore off unless asked for explicitly.
    """
    options = dict(getattr(app, "uvicorn_options", None) or {})
    if explicit.get("ws") == "wsproto":
        options["ws_per_message_deflate"] = False
    options.update(explicit)
    return options


# -- the checks, one function each ---------------------------------------------


def _origin_parts(origin: str, pattern: bool = False) -> tuple[str, str, int | None] | None:
    """``(scheme, host, port)`` of an origin, or None if it is not one.

    In an allowed ``pattern`` a port of ``*`` means any port (given as None).
    """
    any_port = pattern and origin.endswith(":*")
    try:
        parts = urlsplit(origin[:-2] if any_port else origin)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    if parts.username is not None or parts.path or parts.query or parts.fragment:
        return None  # an origin is scheme://host[:port] and nothing else
    if any_port:
        return parts.scheme, parts.hostname, None
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80)


def origin_allowed(origin: str, allowed: Iterable[str]) -> bool:
    """True if ``origin`` matches one of ``allowed`` exactly (scheme, host, port).

    An allowed entry ending in ``:*`` matches any port. ``null`` (sent by
    sandboxed pages and local files) and anything that is not an origin
    never match.
    """
    parts = _origin_parts(origin)
    if parts is None:
        return False
    for pattern in allowed:
        wanted = _origin_parts(pattern, pattern=True)
        if wanted is not None and wanted[:2] == parts[:2] and wanted[2] in (None, parts[2]):
            return True
    return False


def same_origin(scope: dict[str, Any], origin: str) -> bool:
    """True if ``origin`` is the page origin of the server the handshake ``scope`` reached.

    That is: its host and port are those of the ``Host`` header, and its
    scheme is ``http`` for a ``ws`` handshake, ``https`` for ``wss``. Ports
    left out count as the scheme's default (80, 443).
    """
    parts = _origin_parts(origin)
    hosts = [value.decode("latin-1") for name, value in scope["headers"] if name == b"host"]
    if parts is None or len(hosts) != 1:
        return False
    scheme = "https" if scope.get("scheme") in ("wss", "https") else "http"
    return parts == _origin_parts(f"{scheme}://{hosts[0]}")


def token_matches(scope: dict[str, Any], token: str) -> bool:
    """True if the handshake carries ``token`` (query ``token=`` or ``Authorization: Bearer``)."""
    given = None
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, credentials = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer":
                given = credentials.strip()
    if given is None:
        values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token", [])
        given = values[0] if len(values) == 1 else None
    # compare_digest takes as long for a wrong first character as for a wrong last one.
    return bool(given) and hmac.compare_digest(given.encode(), token.encode())


class RateLimit:
    """A token bucket: ``rate`` messages per second, ``burst`` at once.

    :meth:`check` says whether the next message may pass, and if not how
    long to wait, rounded up to the millisecond so that a client that waits
    exactly that long gets through. A client that keeps sending before that
    time (give or take ``tolerance`` seconds of clock and network jitter),
    for ``grace`` seconds, is to be closed.
    """

    tolerance = 0.005

    def __init__(self, rate: float, burst: int, grace: float) -> None:
        self.rate, self.burst, self.grace = rate, burst, grace
        self.tokens = float(burst)
        self.updated = time.monotonic()
        self.retry_at = 0.0  # when the client was told it may send again
        self.ignoring_since: float | None = None  # start of a run of sends before retry_at
        self.last_ignored = 0.0

    def check(self, now: float) -> float | None:
        """None if the message may pass; else seconds to wait (``math.inf``: close)."""
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens > 1 - 1e-9:  # a client that waited exactly as told passes, rounding or not
            self.tokens = max(0.0, self.tokens - 1)
            return None
        if now < self.retry_at - self.tolerance:  # told to wait, and did not
            if self.ignoring_since is None or now - self.last_ignored > 1.0:
                self.ignoring_since = now
            self.last_ignored = now
            if now - self.ignoring_since >= self.grace:
                return math.inf
        wait = max(0.001, math.ceil((1 - self.tokens) / self.rate * 1000) / 1000)
        self.retry_at = now + wait
        return wait


# -- the guard -------------------------------------------------------------------

#: Close codes an endpoint may send (RFC 6455 7.4): 1005, 1006 and 1015 are
#: for reporting only, 1004 and 1016-2999 are not assigned.
_SENDABLE = {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014}


def _sendable(code: int) -> bool:
    return code in _SENDABLE or 3000 <= code <= 4999


def _utf8_size(text: str, limit: int) -> int:
    """The UTF-8 size of ``text``, encoding it only when the answer is in doubt."""
    if len(text) > limit or 4 * len(text) <= limit:
        return len(text)  # either way, over or under the limit like the real size
    return len(text.encode())


class Guard:
    """ASGI middleware enforcing :class:`Limits` on WebSocket connections."""

    def __init__(self, app: Any, limits: Limits) -> None:
        self.app = app
        self.limits = limits
        self.active = 0  # connections past the handshake checks, not yet ended
        self._lock = threading.Lock()  # one app may run on servers in several threads

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "websocket":
            return await self.app(scope, receive, send)
        refusal = self._refusal(scope)
        if refusal is None:
            with self._lock:
                full = self.active >= self.limits.max_connections
                self.active += not full
            if full:
                refusal = 503, "too many connections; try again later", [(b"retry-after", b"1")]
        if refusal is not None:
            logger.info("refused %s: %s", scope.get("path"), refusal[1])
            return await _deny(scope, receive, send, *refusal)
        try:
            await _Connection(self.app, self.limits, scope, receive, send).run()
        finally:
            with self._lock:
                self.active -= 1

    def _origin_ok(self, scope: dict[str, Any], origin: str) -> bool:
        if origin_allowed(origin, self.limits.allowed_origins):
            return True
        return self.limits.allow_same_origin and same_origin(scope, origin)

    def _refusal(self, scope: dict[str, Any]) -> tuple[int, str, list] | None:
        """Why the handshake is refused, as (HTTP status, reason, headers); None if it is not."""
        origins = [value.decode("latin-1") for name, value in scope["headers"] if name == b"origin"]
        if len(origins) > 1 or (origins and not self._origin_ok(scope, origins[0])):
            return 403, "origin not allowed", []
        if self.limits.token is not None and not token_matches(scope, self.limits.token):
            return 401, "missing or wrong token", [(b"www-authenticate", b"Bearer")]
        return None


#: Set in the task of a connection the guard refused with an HTTP response.
_denied: contextvars.ContextVar[bool] = contextvars.ContextVar("denied", default=False)


class _QuietUvicorn(logging.Filter):
    """Keep two of uvicorn's records that are not server errors out of the error log.

    * "ASGI callable returned without completing handshake." after the guard
      refused a handshake: uvicorn's websockets-sansio implementation (0.54)
      sends a refusal made with the ``websocket.http.response`` extension but
      never marks its handshake as done, so it logs that for every such
      refusal (the guard's 401, 403, 500 and 503 alike). It is dropped. (A fix
      is proposed upstream: Kludex/uvicorn pull request 3138.)
    * "Invalid UTF-8 sequence received from client.": the same implementation
      closes with 1007, as it should, then logs the client's bad data as a
      server error with a traceback. It becomes an info line.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg == "ASGI callable returned without completing handshake.":
            return not _denied.get()
        if record.msg == "Invalid UTF-8 sequence received from client.":
            record.levelno, record.levelname = logging.INFO, "INFO"
            record.exc_info = record.exc_text = None
        return True


logging.getLogger("uvicorn.error").addFilter(_QuietUvicorn())


async def _deny(scope: dict[str, Any], receive: Any, send: Any, status: int, reason: str, headers: list) -> None:
    """Refuse a handshake with an HTTP status, or plain 403 where the server cannot send another."""
    _denied.set(True)  # uvicorn's log call runs in this task, after the app returns
    await receive()  # websocket.connect
    if "websocket.http.response" in scope.get("extensions", {}):
        headers = [(b"content-type", b"text/plain; charset=utf-8"), *headers]
        await send({"type": "websocket.http.response.start", "status": status, "headers": headers})
        await send({"type": "websocket.http.response.body", "body": reason.encode()})
    else:
        await send({"type": "websocket.close", "code": 1008, "reason": reason})


_warned_size: set[int] = set()


def _warn_unguarded_size(limit: int, size: int) -> None:
    """Say once that uvicorn let a message over the limit through: its ws_max_size was not set."""
    if limit not in _warned_size:
        _warned_size.add(limit)
        logger.warning(
            "uvicorn buffered a %d-byte message although the app allows %d: serve it with app.uvicorn_options "
            "(BackgroundServer and python -m server.<lesson> do) so that uvicorn refuses it before reading it",
            size,
            limit,
        )


class _GuardClosed(OSError):
    """The guard has closed the connection; Starlette turns this into WebSocketDisconnect."""


class _Connection:
    """One WebSocket connection as the guard sees it: what was sent and received."""

    def __init__(self, app: Any, limits: Limits, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self.app, self.limits, self.scope = app, limits, scope
        self._receive, self._send = receive, send
        self.accepted = self.closed = self.gone = False
        self.sending = self.stuck = False  # a send is under way; it made no progress for send_timeout
        self.sent = 0
        self.rate = None
        if limits.rate_limit is not None:
            burst = limits.burst or max(1, math.ceil(limits.rate_limit))
            self.rate = RateLimit(limits.rate_limit, burst, limits.grace)

    async def run(self) -> None:
        watchdog = None
        if self.limits.send_timeout:
            watchdog = asyncio.get_running_loop().create_task(self._watch(asyncio.current_task()))
        try:
            await self.app(self.scope, self.receive, self.send)
        except asyncio.CancelledError:
            if not self.stuck:
                raise
            asyncio.current_task().uncancel()  # our watchdog's, landing just after a send
        except WebSocketDisconnect as disconnect:  # the client left: not an error
            logger.info("client left %s (close code %s)", self.scope.get("path"), disconnect.code)
        except Exception:
            logger.exception("handler for %s failed; closing with 1011", self.scope.get("path"))
            if not self.accepted and not self.closed:
                await _deny(self.scope, _nothing, self._send, 500, "internal error", [])
            else:
                await self.close(1011, "internal error")
        else:
            # uvicorn would drop the TCP connection: say goodbye properly.
            await self.close(1000, "")
        finally:
            if watchdog is not None:
                watchdog.cancel()

    async def _watch(self, handler: asyncio.Task) -> None:
        """Cancel the handler's send when it has made no progress for ``send_timeout`` seconds."""
        last = -1
        while True:
            await asyncio.sleep(self.limits.send_timeout)
            if self.sending and self.sent == last:
                path, seconds = self.scope.get("path"), self.limits.send_timeout
                logger.info("client of %s read nothing for %g s; ending its handler", path, seconds)
                self.stuck = self.gone = True
                handler.cancel()
                return
            last = self.sent

    async def close(self, code: int, reason: str) -> None:
        """Send a close frame unless one was sent, the client left, or there was no handshake."""
        if self.accepted and not (self.closed or self.gone):
            try:
                await self.send({"type": "websocket.close", "code": code, "reason": reason})
            except OSError:  # the client went meanwhile
                pass

    async def receive(self) -> dict[str, Any]:
        while True:
            message = await self._receive()
            if message["type"] == "websocket.disconnect":
                self.gone = True
            if message["type"] != "websocket.receive":
                return message
            data = message.get("text")
            size = len(message["bytes"]) if data is None else _utf8_size(data, self.limits.max_message_size)
            if size > self.limits.max_message_size:
                _warn_unguarded_size(self.limits.max_message_size, size)
                return await self._end(1009, f"message over {self.limits.max_message_size} bytes")
            if self.rate is None:
                return message
            wait = self.rate.check(time.monotonic())
            if wait is None:
                return message
            if wait == math.inf:
                return await self._end(1008, "rate limit exceeded")
            detail = f"over {self.rate.rate:g} messages per second; wait {wait:.3f} s"
            reply = error_message("rate_limited", detail, retry_after=wait)
            await self.send({"type": "websocket.send", "text": json.dumps(reply, separators=(",", ":"))})

    async def _end(self, code: int, reason: str) -> dict[str, Any]:
        """Close the connection; tell the handler the client is gone."""
        await self.close(code, reason)
        self.gone = True
        return {"type": "websocket.disconnect", "code": code, "reason": reason}

    async def send(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if self.closed and kind == "websocket.close":
            return  # closed already, by the guard or the handler
        if self.closed and kind == "websocket.send":
            raise _GuardClosed("the connection is closed")
        if kind == "websocket.accept":
            self.accepted = True
        elif kind == "websocket.close":
            code, reason = message.get("code", 1000), message.get("reason") or ""
            if not _sendable(code):
                logger.warning("close code %s must not be sent; sending 1011", code)
                code = 1011
            # A close frame's reason holds at most 123 bytes.
            reason = reason.encode()[:123].decode(errors="ignore")
            message = {**message, "code": code, "reason": reason}
            self.closed = True
        elif kind == "websocket.http.response.start":
            self.closed = True
        self.sending = True
        try:
            await self._send(message)
        except asyncio.CancelledError:
            if not self.stuck:
                raise
            asyncio.current_task().uncancel()  # the watchdog's: the client stopped reading
            raise _GuardClosed(f"the client read nothing for {self.limits.send_timeout:g} s") from None
        finally:
            self.sending = False
        self.sent += 1


async def _nothing() -> dict[str, Any]:
    return {"type": "websocket.connect"}
