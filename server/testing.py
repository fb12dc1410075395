"""Lesson 08: an endpoint worth testing, ``/ws/sum``, and broken copies of it.

The endpoint adds up numbers, one request at a time, in the order they came::

    client -> {"type": "sum", "id": 1, "numbers": [1, 2, 3]}
    server -> {"type": "result", "id": 1, "sum": 6}

What happens in each outcome:

* A sum request gets its result, with the request's ``id`` (``null`` when
  it had none). Replies go out in the order the requests came.
* Text that is not JSON gets the error reply ``invalid_json``; JSON that is
  not a sum request (not an object, another ``type``, ``numbers`` not a list
  of numbers, a sum too large to send) gets ``invalid_request``. The
  connection stays open: the next request is answered as usual.
* A binary frame closes the connection with 1003 (unsupported data) and the
  reason :data:`TEXT_ONLY`.
* After ``idle_timeout`` seconds of silence the server sends
  ``{"type": "heartbeat", "seq": n}``. Any message from the client (an ack
  ``{"type": "heartbeat_ack", "seq": n}`` needs no reply) sets the count of
  missed heartbeats back to 0; after ``max_missed`` unanswered ones in a row
  the server closes with 4000 (:data:`HEARTBEAT_TIMEOUT`) and a reason.
* The client leaves: the loop ends quietly.

``create_app(bug=...)`` builds a copy with one deliberate mistake from
:data:`BUGS`: a test is worth what it catches, and these copies are what the
lesson's tests must catch. :func:`try_test` runs a test against a server and
stops it when it hangs; :func:`judge` runs it against the correct server and
broken ones, and says what it missed.

Limits (lesson 06, :mod:`server.hardening`): messages over 64 KiB close with
1009; foreign pages and the 101st connection are refused at the handshake.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, WebSocket, WebSocketDisconnect
from websockets.exceptions import ConnectionClosed

from server.background import BackgroundServer
from server.checks import CheckFailed, describe_close
from server.errors import error_message
from server.frames import receive_frame
from server.hardening import harden

logger = logging.getLogger(__name__)

#: Close code after ``max_missed`` unanswered heartbeats (as in lesson 04).
HEARTBEAT_TIMEOUT = 4000
#: The reason sent with the 1003 close of a binary frame.
TEXT_ONLY = "text frames only"
#: The largest sum the server sends back: JSON numbers beyond it lose meaning.
MAX_SUM = 1e300

#: The deliberate mistakes ``create_app(bug=...)`` can make, and what each does.
BUGS = {
    "off_by_one": "leaves the last number out of the sum",
    "never_replies": "never answers a sum request",
    "no_id": "answers a sum request without its id",
    "error_without_code": "sends error replies without their code",
    "closes_after_error": "closes the connection after an error reply",
    "wrong_close_code": "closes with 1000 instead of 1003 on a binary frame",
    "no_close_reason": "closes with 1003 on a binary frame, but without a reason",
    "out_of_order": "works on requests side by side, so a quick reply overtakes a slow one",
    "no_heartbeat_close": "sends heartbeats to a silent client for ever and never closes it",
    "heartbeat_close_1000": "closes a silent client with 1000 and no reason, instead of 4000",
}


def create_app(*, idle_timeout: float = 10.0, max_missed: int = 3, bug: str | None = None, **limits: Any) -> FastAPI:
    """Build the lesson's app; with ``bug``, a copy that makes that mistake (a key of :data:`BUGS`).

    ``idle_timeout`` is how long the server waits for a message before it
    sends a heartbeat; ``max_missed`` how many unanswered heartbeats in a
    row it tolerates. ``limits`` override the defaults of
    :func:`server.hardening.harden`.
    """
    if bug is not None and bug not in BUGS:
        raise ValueError(f"unknown bug {bug!r}; the bugs are {', '.join(BUGS)}")
    app = FastAPI(title="Lesson 08: an endpoint worth testing" + (f" (bug: {bug})" if bug else ""))

    @app.websocket("/ws/sum")
    async def sum_numbers(websocket: WebSocket):
        await websocket.accept()
        seq = missed = 0  # the last heartbeat's number; heartbeats sent since the client last spoke
        pending: set[asyncio.Task] = set()  # bug "out_of_order" only
        try:
            while True:
                try:
                    async with asyncio.timeout(idle_timeout):
                        frame = await receive_frame(websocket)
                except TimeoutError:
                    if missed == max_missed and bug != "no_heartbeat_close":
                        if bug == "heartbeat_close_1000":
                            await websocket.close(1000)
                        else:
                            await websocket.close(HEARTBEAT_TIMEOUT, f"no reply to {max_missed} heartbeats")
                        return
                    seq, missed = seq + 1, missed + 1
                    await websocket.send_json({"type": "heartbeat", "seq": seq})
                    continue
                missed = 0  # any message is a sign of life
                if isinstance(frame, bytes):
                    code = 1000 if bug == "wrong_close_code" else 1003
                    await websocket.close(code, "" if bug == "no_close_reason" else TEXT_ONLY)
                    return
                reply = answer(frame)
                if reply is None or (bug == "never_replies" and reply["type"] == "result"):
                    continue
                if bug == "off_by_one" and reply["type"] == "result":
                    reply["sum"] = sum(json.loads(frame)["numbers"][:-1])
                if bug == "no_id" and reply["type"] == "result":
                    reply["id"] = None
                if reply["type"] == "error" and bug == "error_without_code":
                    del reply["code"]
                if bug == "out_of_order" and reply["type"] == "result":
                    # A request with more numbers takes longer: 0.05 s a number.
                    delay = min(1.0, 0.05 * len(json.loads(frame)["numbers"]))
                    task = asyncio.create_task(_send_later(websocket, reply, delay))
                    pending.add(task)
                    task.add_done_callback(pending.discard)
                    continue
                await websocket.send_json(reply)
                if reply["type"] == "error" and bug == "closes_after_error":
                    await websocket.close(1000)
                    return
        except WebSocketDisconnect as disconnect:
            logger.info("client left (close code %s)", disconnect.code)
        finally:
            for task in pending:
                task.cancel()

    return harden(app, **limits)


def answer(frame: str) -> dict | None:
    """The correct reply to one text message, or None when none is due."""
    try:
        data = json.loads(frame, parse_constant=_refuse)
    except (ValueError, RecursionError):  # not JSON (NaN is not JSON either), or nested too deep
        return error_message("invalid_json", "the message is not JSON text")
    if not isinstance(data, dict):
        return error_message("invalid_request", 'send an object such as {"type": "sum", "id": 1, "numbers": [1, 2]}')
    if data.get("type") == "heartbeat_ack":
        return None
    if data.get("type") != "sum":
        return error_message("invalid_request", 'the type should be "sum"')
    numbers = data.get("numbers")
    if not isinstance(numbers, list) or not all(_is_number(n) for n in numbers):
        return error_message("invalid_request", "numbers should be a list of numbers")
    total = sum(numbers)
    if abs(total) > MAX_SUM:
        return error_message("invalid_request", "the sum is too large to send")
    return {"type": "result", "id": data.get("id"), "sum": total}


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and abs(value) <= MAX_SUM


def _refuse(constant: str) -> float:
    raise ValueError(f"{constant} is not JSON")


async def _send_later(websocket: WebSocket, reply: dict, delay: float) -> None:
    await asyncio.sleep(delay)
    try:
        await websocket.send_json(reply)
    except (OSError, RuntimeError):  # the connection closed meanwhile
        pass


# -- running a test against a server -------------------------------------------


@dataclass
class Outcome:
    """How one run of a test went: it passed, raised ``error``, or ``hung`` and was stopped."""

    error: BaseException | None = None
    hung: bool = False

    @property
    def passed(self) -> bool:
        return self.error is None and not self.hung


def try_test(test: Callable[[str], None], app: Any, *, path: str = "/ws/sum", deadline: float = 5.0) -> Outcome:
    """Serve ``app``, run ``test(url)`` in a thread, and stop it if it has not finished within ``deadline`` seconds.

    A test that hangs in a receive without a timeout is freed by stopping
    the server: its client sees the close 1012 (service restart), and the
    outcome says it hung. The server is stopped in every case.
    """
    server = BackgroundServer(app, name=f"server.testing:try_test {id(app):x}").start()
    outcome = Outcome()

    def run() -> None:
        try:
            test(server.ws_url(path))
        except BaseException as error:  # pytest's failures are not Exceptions
            outcome.error = error

    thread = threading.Thread(target=run, name="try_test", daemon=True)
    try:
        thread.start()
        thread.join(deadline)
        outcome.hung = thread.is_alive()
    finally:
        server.stop()  # frees a receive that waits without a timeout
    thread.join(2)
    return outcome


def judge(test: Callable[[str], None], bugs: Iterable[str], *, deadline: float = 5.0, **knobs: Any) -> None:
    """Check a test: it must pass against the correct server and fail against a copy with each of ``bugs``.

    ``knobs`` go to :func:`create_app`. Raises :class:`~server.checks.CheckFailed`
    saying what went wrong: the test failed against the correct server (and
    what it raised), passed against a broken one ("did not catch ..."), or
    hung and was stopped after ``deadline`` seconds. A ``NotImplementedError``
    (an exercise not written yet) is raised as it is.
    """
    name = f"{getattr(test, '__name__', 'your test')}()"
    for bug in (None, *bugs):
        outcome = try_test(test, create_app(bug=bug, **knobs), deadline=deadline)
        against = "the correct server" if bug is None else f"a server that {BUGS[bug]}"
        if isinstance(outcome.error, NotImplementedError):
            raise outcome.error
        if outcome.hung:
            raise CheckFailed(
                f"{name} hung against {against}; it was stopped after {deadline:g} s: "
                "give every receive a timeout, such as recv(timeout=2), and every loop an end"
            )
        if bug is None and outcome.error is not None:
            raise CheckFailed(f"{name} failed against the correct server: {_what_failed(outcome.error)}")
        if bug is not None and outcome.passed:
            raise CheckFailed(f"{name} did not catch {against}: it passed against it")


def _what_failed(error: BaseException) -> str:
    """What a test raised, in a line: the exception, and for a bare assert its line of code."""
    if isinstance(error, ConnectionClosed):
        return f"{type(error).__name__}, {describe_close(error)}"
    said = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    frames = traceback.extract_tb(error.__traceback__)
    if isinstance(error, AssertionError) and frames and frames[-1].line:
        said += f" at {frames[-1].line.strip()!r}"
    return said


app = create_app()


def _knobs(parser) -> None:
    parser.add_argument("--idle-timeout", type=float, default=10.0, help="seconds of silence before a heartbeat")
    parser.add_argument("--max-missed", type=int, default=3, help="unanswered heartbeats before closing")
    parser.add_argument("--bug", choices=list(BUGS), help="serve a copy with this mistake")


if __name__ == "__main__":
    from server.cli import main

    main(__doc__, create_app, knobs=_knobs)
