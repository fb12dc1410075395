"""Lesson 04: a receive loop with a deadline and heartbeats, ``/ws/with-timeout``.

The server waits at most ``idle_timeout`` seconds for each message. When the
client stays silent that long, the server sends an application heartbeat
and expects an answer::

    server -> {"type": "heartbeat", "seq": 1}
    client -> {"type": "heartbeat_ack", "seq": 1}

What happens in each outcome:

* Any message from the client is a sign of life: the count of missed
  heartbeats goes back to zero.
* ``{"type": "heartbeat_ack", "seq": n}`` for the last heartbeat needs no
  reply; an ack with another ``seq`` gets an error reply ``unknown_seq``
  (it still counts as a sign of life).
* Any other text frame is echoed as ``{"type": "echo", "data": ...}``: the
  parsed JSON value, or the text itself when it is not JSON or could not go
  back out as JSON (``1e400`` is infinity, ``"\\ud800"`` no UTF-8, nesting
  deeper than :data:`MAX_DEPTH`). A binary frame gets an error reply
  ``binary_frame``.
* After ``max_missed`` heartbeats in a row go unanswered (that is, after
  ``(max_missed + 1) * idle_timeout`` seconds of silence) the server closes
  with code 4000 (:data:`HEARTBEAT_TIMEOUT`) and a reason saying so.
* The client closes or vanishes: Starlette raises ``WebSocketDisconnect``
  and the loop ends quietly. (The article catches
  ``websockets.exceptions.ConnectionClosed``, which never reaches a
  FastAPI app.)

Limits (lesson 06, :mod:`server.hardening`): messages over 64 KiB close
with 1009; foreign pages and the 101st connection are refused at the
handshake.

Two kinds of liveness check, on purpose:

* **Protocol Ping/Pong** is part of WebSocket itself. uvicorn sends a Ping
  every ``ws_ping_interval`` seconds (20 by default) and closes with 1011
  when no Pong comes back within ``ws_ping_timeout`` (20). Clients answer
  Pings automatically; application code never sees them. It tells whether
  the *connection* is alive: a dead network, a crashed client machine.
* **This heartbeat** is an application message. It tells whether the
  *client program* still takes part: a browser tab asleep, a client stuck
  in a loop that no longer reads its messages. It must be typed, expect a
  reply and count misses; a bare ``"HEARTBEAT"`` text with no reply, as in
  the article, detects nothing and mixes into the data stream.
"""

import asyncio
import json
import logging
import reprlib
from typing import Any

from fastapi import FastAPI, WebSocket, WebSocketDisconnect

from server.errors import error_message
from server.frames import receive_frame
from server.hardening import harden

logger = logging.getLogger(__name__)

#: Close code sent after ``max_missed`` unanswered heartbeats (4000-4999 are
#: for applications to define).
HEARTBEAT_TIMEOUT = 4000


def create_app(*, idle_timeout: float = 10.0, max_missed: int = 3, **limits: Any) -> FastAPI:
    """Build the lesson's app.

    ``idle_timeout`` is how long the server waits for a message before it
    sends a heartbeat; ``max_missed`` how many unanswered heartbeats in a
    row it tolerates before closing. ``limits`` override the defaults of
    :func:`server.hardening.harden`.
    """
    app = FastAPI(title="Lesson 04: receive timeouts and heartbeats")

    @app.websocket("/ws/with-timeout")
    async def with_timeout(websocket: WebSocket):
        await websocket.accept()
        seq = 0  # number of the last heartbeat sent
        missed = 0  # heartbeats sent since the client last spoke
        try:
            while True:
                try:
                    async with asyncio.timeout(idle_timeout):
                        frame = await receive_frame(websocket)
                except TimeoutError:
                    if missed == max_missed:
                        reason = f"no reply to {max_missed} heartbeats"
                        await websocket.close(HEARTBEAT_TIMEOUT, reason)
                        return
                    seq += 1
                    missed += 1
                    await websocket.send_json({"type": "heartbeat", "seq": seq})
                    continue
                missed = 0  # any message is a sign of life
                reply = answer(frame, seq)
                if reply is not None:
                    await websocket.send_json(reply)
        except WebSocketDisconnect as disconnect:
            logger.info("client left (close code %s)", disconnect.code)

    return harden(app, **limits)


def answer(frame: str | bytes, last_seq: int) -> dict | None:
    """The reply to one client message, or None when none is due."""
    if isinstance(frame, bytes):
        return error_message("binary_frame", "this endpoint takes text frames")
    try:
        data = json.loads(frame, parse_constant=_refuse)
    except (ValueError, RecursionError):  # not JSON (NaN is not JSON either), or nested too deep
        data = frame
    if isinstance(data, dict) and data.get("type") == "heartbeat_ack":
        if data.get("seq") == last_seq and last_seq > 0:
            return None
        return error_message(
            "unknown_seq",
            # reprlib: a short quote, whatever the client put there.
            f"heartbeat_ack for seq {reprlib.repr(data.get('seq'))}, but the last heartbeat sent was {last_seq}",
        )
    if not _sendable(data):
        data = frame
    return {"type": "echo", "data": data}


def _sendable(data: object) -> bool:
    """True if a parsed value can go back out as JSON text.

    1e400 parses as infinity, "\\ud800" as a lone surrogate that is not
    UTF-8, and deep nesting may pass the parser but not ``json.dumps`` in
    the handler, further down the stack.
    """
    try:
        json.dumps(data, ensure_ascii=False, allow_nan=False).encode()
    except (ValueError, RecursionError):
        return False
    return _depth(data) <= MAX_DEPTH


#: Deepest nesting of lists and objects echoed as JSON; deeper comes back as text.
MAX_DEPTH = 100


def _depth(value: object) -> int:
    """How deep lists and objects nest in a parsed JSON value (counted without recursion)."""
    deepest, todo = 0, [(value, 1)]
    while todo:
        item, depth = todo.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            todo.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def _refuse(constant: str) -> float:
    raise ValueError(f"{constant} is not JSON")


app = create_app()


def _knobs(parser) -> None:
    parser.add_argument("--idle-timeout", type=float, default=10.0, help="seconds of silence before a heartbeat")
    parser.add_argument("--max-missed", type=int, default=3, help="unanswered heartbeats before closing")


if __name__ == "__main__":
    from server.cli import main

    main(__doc__, create_app, knobs=_knobs)
