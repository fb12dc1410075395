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
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
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
    if exc.rcvd is not None:
        reason = f" ({exc.rcvd.reason})" if exc.rcvd.reason else ""
        return f"the server closed the connection with code {exc.rcvd.code}{reason}"
    if exc.sent is not None:
        return f"your code closed the connection with code {exc.sent.code}"
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


@contextmanager
def checking(what: str, *, success: str, exercise: int | None = None) -> Iterator[None]:
    """Run the learner's code for one check and turn failures into hints.

    ``exercise`` is the exercise's number in the notebook: each failure then
    says how to ask for a hint.
    """
    try:
        yield
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
    raised: list[Exception] = []

    async def recorded(scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "websocket":
            return await app(scope, receive, send)
        closed = False

        async def tracked_send(message: dict) -> None:
            nonlocal closed
            closed = closed or message["type"] in ("websocket.close", "websocket.http.response.start")
            await send(message)

        try:
            await app(scope, receive, tracked_send)
        except Exception as exc:
            raised.append(exc)
            if not closed:
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
    except Exception:
        server.stop()  # joins the server: every handler has ended by now
        if raised:
            raise _verdict(raised[0]) from None
        raise
    finally:
        server.stop()
    if raised:
        raise _verdict(raised[0]) from None


def _verdict(exc: Exception) -> Exception:
    """What to report for an exception a learner's handler raised."""
    if isinstance(exc, WebSocketDisconnect):
        return CheckFailed(
            f"when the client closed (code {exc.code}), the handler let WebSocketDisconnect "
            "escape: catch it, so that a client's close ends the loop quietly"
        )
    return exc
