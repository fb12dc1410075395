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

The server's own error replies count too: a JSON error reply whose code
names the wrong kind of frame (``unexpected_binary`` and ``binary_frame``,
``unexpected_text``, see :data:`WRONG_KIND`) explains a client that then
timed out, was closed or tripped over the reply (a ``KeyError`` on
``reply["offset"]``)::

    download_file(): the server received a binary frame where it expected text (KeyError: 'size')

``checking(..., watch=server)`` gives the block what the server saw (a list
of :class:`Seen`), for a check that passes on the client's side but not on
the server's: :func:`wrong_kind` says if the server answered a frame of the
wrong kind with an error reply.

The timing of "closed before reading the reply". A watched server waits
``pause`` (2 ms) before each reply it sends, then looks whether the
client's close frame has arrived: uvicorn's ``websockets-sansio`` (its
default) and ``wsproto`` implementations close the server's side of the
connection as soon as they read one. A reply that fails because the client
has gone counts too. So:

* A client that sends its message and closes at once (its ``with`` block
  ends before ``recv()``) is diagnosed when its close reaches the server
  before the reply's 2 ms are up. That is always so when message and close
  arrive in one read; when they arrive apart, the close may come as late as
  the handler's time to make its reply plus 2 ms. A loaded machine slows
  the handler too, which only leaves the close more time.
* A client that waits longer than that between its message and its close
  (a sleep, slow work) has its reply sent before its close arrives: no
  diagnosis. Its failure is then told from the client's side (a timeout, a
  closed connection, a wrong result): still a failure, in vaguer words.
* A client that reads its reply before it closes is never diagnosed,
  however fast or slow: its close can only come after the reply went out.
  And the diagnosis is only looked for when the check has failed anyway.
"""

from __future__ import annotations

import asyncio
import builtins
import io
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
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
TEXT_FOR_BINARY = "the server received a text frame where it expected binary"
#: Error reply codes of the lesson servers that name the wrong kind of frame.
WRONG_KIND = {
    "unexpected_binary": BINARY_FOR_TEXT,  # lesson 02's file transfer
    "binary_frame": BINARY_FOR_TEXT,  # the JSON and heartbeat servers
    "unexpected_text": TEXT_FOR_BINARY,  # lesson 02, during an upload
}
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
    #: The code of each JSON error reply sent ({"type": "error", "code": ...}), in order.
    error_codes: list[str] = field(default_factory=list)


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
                if code := _error_code(message.get("text")):
                    conn.error_codes.append(code)
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


def _error_code(text: str | None) -> str | None:
    """The code of a JSON error reply ({"type": "error", "code": ...}); None for any other text."""
    if text is None or '"error"' not in text:
        return None
    try:
        reply = json.loads(text)
    except ValueError:
        return None
    if isinstance(reply, dict) and reply.get("type") == "error" and isinstance(reply.get("code"), str):
        return reply["code"]
    return None


def wrong_kind(seen: list[Seen]) -> str | None:
    """What the server said about a frame of the wrong kind, with an error reply, on any connection; None if nothing."""
    for conn in seen:
        for code in conn.error_codes:
            if code in WRONG_KIND:
                return WRONG_KIND[code]
    return None


def _refusing_binary(conn: Seen) -> bool:
    """The handler ends the connection on a binary frame it has not answered."""
    return bool(conn.frames) and conn.frames[-1] == "binary" and not conn.answered and not conn.client_left


def diagnose(seen: list[Seen], exc: BaseException, *, error_replies: bool = True) -> str | None:
    """What the server saw that explains the client's timeout, close or refused handshake; None if nothing.

    A close or a timeout is explained by the latest connection only: the
    earlier ones of the same check may have closed as they should. So is any
    other exception of the client's code (a ``KeyError`` on a reply), by an
    error reply that names the wrong kind of frame (:data:`WRONG_KIND`),
    unless ``error_replies`` is false: for a learner's own endpoint, which
    the check may send the wrong kind of frame on purpose.
    """
    if isinstance(exc, (InvalidStatus, TimeoutError)) and any(not c.accepted and not c.closed for c in seen):
        return NEVER_ACCEPTED
    if not seen or isinstance(exc, (InvalidStatus, CheckFailed, NotImplementedError)):
        return None
    latest = seen[-1]
    if isinstance(exc, (ConnectionClosed, TimeoutError)):
        if latest.binary_refused:
            return BINARY_FOR_TEXT
        if latest.left_before_reply:
            return LEFT_BEFORE_REPLY
        if isinstance(exc, TimeoutError) and latest.accepted and not latest.frames and not latest.closed:
            return NOTHING_SENT
    # The client's code went on after an error reply that names the wrong kind of frame.
    return wrong_kind([latest]) if error_replies else None


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
def checking(
    what: str, *, success: str, exercise: int | None = None, watch: BackgroundServer | None = None
) -> Iterator[list[Seen] | None]:
    """Run the learner's code for one check and turn failures into hints.

    ``exercise`` is the exercise's number in the notebook: each failure then
    says how to ask for a hint. With ``watch=server`` (a lesson server
    running in the background) a timeout, close or refused handshake, or an
    exception after an error reply about the kind of frame, is explained by
    what that server saw, when it saw the cause; the block gets the list of
    what it saw (:class:`Seen`, one per connection), else None.
    """
    try:
        if watch is None:
            yield None
        else:
            with watching(watch) as seen:
                try:
                    yield seen
                except Exception as exc:
                    if isinstance(exc, (CheckFailed, NotImplementedError)):
                        raise  # the check or the stub has said what is wrong
                    _settle(seen)
                    if saw := diagnose(seen, exc):
                        raise ServerSaw(saw, _client_side(exc)) from None
                    raise
    except Exception as exc:
        verdict = _verdict_of(what, exc)
        if exercise is not None:
            verdict = f"{verdict} — stuck? hint({exercise})"
        _tell(what, exercise, False, verdict)
        raise CheckFailed(verdict) from None
    print(f"✓ {success}")
    _tell(what, exercise, True, success)


#: Called after every check with ``(what, exercise, passed, line)``, where
#: ``line`` is the ✓ or ✗ line without its mark. A workshop's reporter adds
#: itself here; a listener must return at once, and what it raises is ignored,
#: so it can never change or fail a check.
listeners: list[Callable[[str, int | None, bool, str], None]] = []


def _tell(what: str, exercise: int | None, passed: bool, line: str) -> None:
    for listener in list(listeners):
        try:
            listener(what, exercise, passed, line)
        except Exception:  # noqa: S110 - a listener never fails a check
            pass


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
        if saw := diagnose(seen, exc, error_replies=False):
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


class _WatchedFile:
    """An open file whose write() notes whether it ran on an event loop's thread."""

    def __init__(self, file: Any, on_loop: list[bool]) -> None:
        self._file, self._on_loop = file, on_loop

    def write(self, data: Any) -> int:
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # no loop runs in this thread: a worker thread
            self._on_loop.append(False)
        else:
            self._on_loop.append(True)
        return self._file.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._file, name)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._file)

    def __enter__(self) -> _WatchedFile:
        self._file.__enter__()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._file.__exit__(*exc_info)


@contextmanager
def watching_writes(folder: str | os.PathLike[str]) -> Iterator[list[bool]]:
    """Note, for each ``write()`` to a file opened under ``folder`` during the block, whether it ran on an event loop.

    The list gets ``True`` for a write made in a thread where an asyncio
    event loop is running (the handler's own thread: every connection waits
    for it) and ``False`` for one made in a worker thread
    (``asyncio.to_thread``, ``anyio.to_thread.run_sync``). No timing is
    involved, so a slow machine cannot change the answer. Files opened with
    ``open()`` (also IPython's, in a notebook), ``io.open()`` or
    ``Path.open()`` are watched; ``os.write`` on a raw descriptor is not
    (the list then stays empty).
    """
    root = os.path.realpath(folder)
    on_loop: list[bool] = []

    def watched(real_open: Any) -> Any:
        def watched_open(*args: Any, **kwargs: Any) -> Any:
            opened = real_open(*args, **kwargs)
            file = args[0] if args else kwargs.get("file")
            if isinstance(file, (str, os.PathLike)) and os.path.realpath(file).startswith(root + os.sep):
                return _WatchedFile(opened, on_loop)
            return opened

        return watched_open

    namespaces = [vars(builtins), vars(io)]
    shell = getattr(sys.modules.get("IPython"), "get_ipython", lambda: None)()
    if shell is not None and "open" in shell.user_ns:  # IPython puts an open() of its own there
        namespaces.append(shell.user_ns)
    saved = [(namespace, namespace["open"]) for namespace in namespaces]
    for namespace, real_open in saved:
        namespace["open"] = watched(real_open)
    try:
        yield on_loop
    finally:
        for namespace, real_open in saved:
            namespace["open"] = real_open
