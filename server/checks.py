"""Feedback for the exercises' check cells.

A check cell runs the learner's code and says in one line what happened::

    with checking("send_and_receive()", success="you sent text and read the reply", exercise=1):
        reply = send_and_receive(url, "hello")
        expect("hello" in reply, f"the reply should contain 'hello', got {reply!r}")

What happens in each outcome:

* Everything passes: it prints ``✓ <success>``.
* An ``expect`` fails: it raises :class:`CheckFailed` with the hint.
* The learner's code raises: ``NotImplementedError`` (the exercise is not
  done yet), ``TimeoutError`` (nothing arrived in time), a closed
  connection (with its close code and reason) or any other exception
  becomes a :class:`CheckFailed` that says so.

With ``exercise=N`` every failure ends with where to get help, never with
the answer: ``✗ <what went wrong> — stuck? hint(N)`` (see :mod:`server.hints`).
In JupyterLab a ``CheckFailed`` shows as that one line, not a traceback:
IPython prints what ``_render_traceback_()`` returns.

When the exercise is an endpoint, serve it with :func:`serving` inside
``checking``: an exception in the learner's handler (``NotImplementedError``
from the stub, a ``KeyError``...) then becomes the check's verdict, instead
of a dropped connection and a traceback in the server log.

Diagnoses from what the server saw: :func:`serving`, and ``checking(...,
watch=server)`` for a lesson server already running, record what the server
saw on each connection (accept sent or not, each frame's kind, whether the
handler was waiting for a message, whether the client's close came before a
reply went out). When the client saw only a timeout, a close or a refused
handshake, the verdict says what the server saw instead, with the client's
side after it::

    send_and_receive(): your client closed before reading the reply: ...
    send_and_receive(): the server received a binary frame where it expected text (...)
    send_and_receive(): no message arrived in time, and the server received none from your client: ...
    your /ws/upper endpoint: your handler never called accept(): ...

To let a watched server see a close the client sent along with its message,
each reply it sends waits a couple of milliseconds.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from starlette.websockets import WebSocketDisconnect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from server.background import BackgroundServer


class CheckFailed(AssertionError):
    """A check's verdict: what was wrong, and a hint."""

    def _render_traceback_(self) -> list[str]:
        return [f"✗ {self}"]


def expect(condition: object, hint: str) -> None:
    """Raise :class:`CheckFailed` with ``hint`` unless ``condition`` holds."""
    if not condition:
        raise CheckFailed(hint)


def describe_close(exc: ConnectionClosed) -> str:
    """Say how a connection closed: who closed it, the code and the reason."""
    if exc.sent is not None and (exc.rcvd is None or exc.rcvd_then_sent is False):
        return f"your code closed the connection with code {exc.sent.code}"
    if exc.rcvd is not None:
        reason = f" ({exc.rcvd.reason})" if exc.rcvd.reason else ""
        return f"the server closed the connection with code {exc.rcvd.code}{reason}"
    return "the connection dropped without a close frame (code 1006)"


#: What a refused handshake usually means, by HTTP status.
_REFUSALS = {
    401: "the server wants a token: add ?token=... to the URL",
    403: "check the URL's path (no endpoint there), the Origin, or a handler that closes before accept()",
    404: "check the URL's path",
    503: "the server is full: close a connection, or try again later",
}


def describe_refusal(exc: InvalidStatus) -> str:
    """Say why the server refused the handshake: the status, its reason and what it usually means."""
    status = exc.response.status_code
    body = bytes(exc.response.body or b"").decode(errors="replace").strip()
    said = f" ({body})" if body and len(body) < 100 else ""
    meaning = _REFUSALS.get(status, "check the URL")
    return f"the server refused the handshake with HTTP {status}{said}: {meaning}"


#: What the server saw, in the words of a verdict.
NEVER_ACCEPTED = "your handler never called accept(): accept the connection before you receive or send"
BINARY_FOR_TEXT = "the server received a binary frame where it expected text"
LEFT_BEFORE_REPLY = (
    "your client closed before reading the reply: the server's answer went out after your close; "
    "call recv() inside the with block, before it ends"
)
NOTHING_SENT = (
    "no message arrived in time, and the server received none from your client: "
    "it was waiting for yours — did you send before receiving?"
)


class ServerSaw(Exception):
    """A failure explained by what the server saw; ``client`` says what the client saw."""

    def __init__(self, saw: str, client: str = "") -> None:
        super().__init__(saw)
        self.saw, self.client = saw, client


@dataclass
class Seen:
    """What a server saw on one WebSocket connection."""

    accepted: bool = False
    #: The server closed, or refused the handshake.
    closed: bool = False
    #: The kind of each frame received, in order: "text" or "binary".
    frames: list[str] = field(default_factory=list)
    #: The handler is waiting for a message (receive()) right now.
    waiting: bool = False
    #: The handler called receive() before it accepted the connection.
    read_before_accept: bool = False
    #: The handler read the client's close (websocket.disconnect).
    client_left: bool = False
    #: A reply went out (or failed) after the client's close had arrived.
    left_before_reply: bool = False
    #: The last frame was binary and the handler closed or raised instead of replying.
    binary_refused: bool = False
    #: A reply went out after the last frame.
    answered: bool = False
    #: The handler has returned or raised.
    ended: bool = False


def recording(app: Any, seen: list[Seen], *, pause: float = 0.002) -> Any:
    """Wrap an ASGI app: note in ``seen`` what happens on each WebSocket connection.

    Before each reply it waits ``pause`` seconds, so that a close the client
    sent right after its message has arrived when the reply goes out.
    """

    async def recorded(scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "websocket":
            return await app(scope, receive, send)
        conn = scope["server.checks.seen"] = Seen()  # for serving(), which wraps this
        seen.append(conn)
        # The server's side of the connection: is it closing (the client's close has arrived)?
        transport = getattr(getattr(receive, "__self__", None), "transport", None)

        async def watched_receive() -> dict:
            conn.read_before_accept = conn.read_before_accept or not conn.accepted
            conn.waiting = True
            try:
                message = await receive()
            finally:
                conn.waiting = False
            if message["type"] == "websocket.receive":
                conn.frames.append("binary" if message.get("bytes") is not None else "text")
                conn.answered = False
            elif message["type"] == "websocket.disconnect":
                conn.client_left = True
            return message

        async def watched_send(message: dict) -> None:
            kind = message["type"]
            if kind == "websocket.accept":
                conn.accepted = True
            elif kind in ("websocket.close", "websocket.http.response.start"):
                conn.binary_refused = conn.binary_refused or _refusing_binary(conn)
                conn.closed = True
            elif kind == "websocket.send" and not conn.closed:
                conn.answered = True
                await asyncio.sleep(pause)
                if transport is not None and transport.is_closing():
                    conn.left_before_reply = True
            try:
                await send(message)
            except OSError:  # uvicorn's ClientDisconnected: the client has gone
                if kind == "websocket.send":
                    conn.left_before_reply = True
                raise

        try:
            await app(scope, watched_receive, watched_send)
        except Exception:
            conn.binary_refused = conn.binary_refused or _refusing_binary(conn)
            raise
        finally:
            conn.ended = True

    return recorded


def _refusing_binary(conn: Seen) -> bool:
    """The handler ends the connection on a binary frame it has not answered."""
    return bool(conn.frames) and conn.frames[-1] == "binary" and not conn.answered and not conn.client_left


def diagnose(seen: list[Seen], exc: BaseException) -> str | None:
    """What the server saw that explains the client's timeout, close or refused handshake; None if nothing.

    A close or a timeout is explained by the latest connection only: the
    earlier ones of the same check may have closed as they should.
    """
    if isinstance(exc, (InvalidStatus, TimeoutError)) and any(not c.accepted and not c.closed for c in seen):
        return NEVER_ACCEPTED
    if not seen or not isinstance(exc, (ConnectionClosed, TimeoutError)):
        return None
    latest = seen[-1]
    if latest.binary_refused:
        return BINARY_FOR_TEXT
    if latest.left_before_reply:
        return LEFT_BEFORE_REPLY
    if isinstance(exc, TimeoutError) and latest.accepted and not latest.frames and not latest.closed:
        return NOTHING_SENT
    return None


def _client_side(exc: BaseException) -> str:
    """What the client saw, said briefly."""
    if isinstance(exc, ConnectionClosed):
        return describe_close(exc)
    if isinstance(exc, InvalidStatus):
        return describe_refusal(exc)
    if isinstance(exc, TimeoutError):
        return ""
    return f"{type(exc).__name__}: {exc}"


def _settle(seen: list[Seen], timeout: float = 1) -> None:
    """Give the handlers of closed connections up to ``timeout`` seconds to see the client go."""
    deadline = time.monotonic() + timeout
    while any(not c.ended and not c.waiting for c in seen) and time.monotonic() < deadline:
        time.sleep(0.01)


@contextmanager
def watching(server: BackgroundServer) -> Iterator[list[Seen]]:
    """Record what a running server sees on the connections opened during the block."""
    seen: list[Seen] = []
    with server.wrapped(lambda app: recording(app, seen)):
        yield seen


@contextmanager
def checking(what: str, *, success: str, exercise: int | None = None, watch: BackgroundServer | None = None) -> Iterator[None]:
    """Run the learner's code for one check and turn failures into hints.

    ``exercise`` is the exercise's number in the notebook: each failure then
    says how to ask for a hint. With ``watch=server`` (a lesson server
    running in the background) a timeout, close or refused handshake is
    explained by what that server saw, when it saw the cause.
    """
    try:
        if watch is None:
            yield
        else:
            with watching(watch) as seen:
                try:
                    yield
                except (TimeoutError, ConnectionClosed, InvalidStatus) as exc:
                    _settle(seen)
                    if saw := diagnose(seen, exc):
                        raise ServerSaw(saw, _client_side(exc)) from None
                    raise
    except Exception as exc:
        verdict = _verdict_of(what, exc)
        if exercise is not None:
            verdict = f"{verdict} — stuck? hint({exercise})"
        raise CheckFailed(verdict) from None
    print(f"✓ {success}")


def _verdict_of(what: str, exc: Exception) -> str:
    """The one line that says what went wrong in the learner's code."""
    if isinstance(exc, CheckFailed):
        return str(exc)
    if isinstance(exc, ServerSaw):
        return f"{what}: {exc.saw}" + (f" ({exc.client})" if exc.client else "")
    if isinstance(exc, NotImplementedError):
        return f"{what} is not written yet" + (f": {exc}" if str(exc) else "")
    if isinstance(exc, TimeoutError):
        return (
            f"{what}: nothing arrived in time. Is your code waiting for a message "
            "the server never sends, or did it forget to send one?"
        )
    if isinstance(exc, ConnectionClosed):
        return f"{what}: {describe_close(exc)}"
    if isinstance(exc, InvalidStatus):
        return f"{what}: {describe_refusal(exc)}"
    if isinstance(exc, ConnectionRefusedError):
        return f"{what}: no server answers at that address; run the cell that starts it"
    return f"{what} raised {type(exc).__name__}: {exc}"


@contextmanager
def serving(app: Any, **options: Any) -> Iterator[BackgroundServer]:
    """Serve a learner's app for the block; re-raise what its handler raised.

    The first exception a WebSocket handler raises is kept (uvicorn neither
    logs it nor sees it) and raised when the block ends, in place of what
    the client saw meanwhile (a refused handshake, a closed connection, a
    failed ``expect``), so that :func:`checking` reports the real cause.
    ``options`` go to :class:`~server.background.BackgroundServer`.
    """
    raised: list[tuple[Exception, Seen]] = []
    seen: list[Seen] = []
    watched = recording(app, seen)

    async def recorded(scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "websocket":
            return await app(scope, receive, send)
        try:
            await watched(scope, receive, send)
        except Exception as exc:
            conn = scope["server.checks.seen"]
            raised.append((exc, conn))
            if not conn.closed:
                # What a handler should do on an error: close with 1011
                # (before accept() uvicorn turns this into HTTP 403).
                try:
                    await send({"type": "websocket.close", "code": 1011, "reason": ""})
                except Exception:  # the client has already gone
                    pass

    options.setdefault("name", "server.checks:serving")
    server = BackgroundServer(recorded, **options).start()
    try:
        yield server
    except Exception as exc:
        server.stop()  # joins the server: every handler has ended by now
        if raised:
            raise _verdict(*raised[0]) from None
        if saw := diagnose(seen, exc):
            raise ServerSaw(saw, _client_side(exc)) from None
        raise
    finally:
        server.stop()
    if raised:
        raise _verdict(*raised[0]) from None


def _verdict(exc: Exception, conn: Seen) -> Exception:
    """What to report for an exception a learner's handler raised on a connection."""
    if not (conn.accepted or conn.closed or isinstance(exc, NotImplementedError)):
        # Starlette's error names accept; a raw receive() first gets the handshake's "websocket.connect".
        if conn.read_before_accept or (isinstance(exc, RuntimeError) and "accept" in str(exc)):
            return ServerSaw(NEVER_ACCEPTED, f"it raised {type(exc).__name__}: {exc}")
    if isinstance(exc, WebSocketDisconnect):
        return CheckFailed(
            f"when the client closed (code {exc.code}), the handler let WebSocketDisconnect "
            "escape: catch it, so that a client's close ends the loop quietly"
        )
    return exc
