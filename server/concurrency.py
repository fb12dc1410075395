"""Lesson 07: receiving and sending at once, ``/ws/clock`` and ``/ws/feed``.

A handler that only sends, or waits on something other than the client (a
timer, a queue), does not see the client leave: the close arrives as a
``websocket.disconnect`` message that only ``receive()`` hands over. So an
endpoint that pushes messages runs two loops as two tasks in one
``asyncio.TaskGroup``, one that receives and one that sends, and ends both
as soon as either ends.

* ``/ws/clock`` sends ``{"type": "tick", "seq": n}`` every ``tick``
  seconds, and at the same time answers each text message with
  ``{"type": "echo", "data": <the text>}`` (a binary frame gets an error
  reply ``binary_frame``).
* ``/ws/feed`` sends each message published to ``app.state.feed``
  (:class:`Feed`), from a task or from another thread. Each client has a
  queue of ``queue_size`` messages. When it is full (the client reads
  slower than messages come) the oldest waiting message is dropped, and the
  client gets ``{"type": "dropped", "count": n}`` before the next one. What
  the client sends is ignored.

What happens in each outcome:

* The client closes or vanishes: the receive loop gets
  ``WebSocketDisconnect``; the task group cancels the other loop and the
  handler ends quietly. ``app.state.running`` counts the loops running, by
  name, so a test or a notebook can see that none is left.
* A send fails because the client has gone (uvicorn raises
  ``ClientDisconnected``, an ``OSError``, which Starlette turns into
  ``WebSocketDisconnect`` with code 1006): the send loop ends, and the task
  group cancels the receive loop.
* The client stops reading: each send waits while the socket's buffer is
  full, so the feed's queue fills and drops the oldest messages. After
  ``send_timeout`` seconds without progress the guard of
  :mod:`server.hardening` ends the handler.

Limits (lesson 06, :mod:`server.hardening`): messages over 64 KiB close
with 1009; foreign pages and the 101st connection are refused at the
handshake.
"""

import asyncio
import logging
from collections import Counter
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, WebSocket, WebSocketDisconnect

from server.errors import error_message
from server.frames import receive_frame
from server.hardening import harden

logger = logging.getLogger(__name__)


def offer(queue: asyncio.Queue, message: Any) -> bool:
    """Put ``message`` in a bounded queue without waiting; when it is full drop the oldest. False if one was dropped."""
    dropped = False
    if queue.full():
        queue.get_nowait()
        dropped = True
    queue.put_nowait(message)
    return not dropped


class Feed:
    """Messages published to every connected client of ``/ws/feed``, through a bounded queue each.

    :meth:`publish` runs on the server's event loop (in a handler, a task);
    :meth:`publish_threadsafe` from any other thread.
    """

    def __init__(self, queue_size: int) -> None:
        self.queue_size = queue_size
        self.queues: dict[asyncio.Queue, list[int]] = {}  # each client's queue, and its count of drops
        self.loop: asyncio.AbstractEventLoop | None = None  # the server's loop, set at start-up

    def publish(self, message: dict) -> int:
        """Queue ``message`` for every client; return how many there are."""
        for queue, dropped in self.queues.items():
            if not offer(queue, message):
                dropped[0] += 1
        return len(self.queues)

    def publish_threadsafe(self, message: dict, timeout: float = 5) -> int:
        """:meth:`publish` from another thread: run it on the server's loop and wait for it."""
        if self.loop is None:
            raise RuntimeError("the server has not started")

        async def publish() -> int:
            return self.publish(message)

        return asyncio.run_coroutine_threadsafe(publish(), self.loop).result(timeout)


def create_app(*, tick: float = 1.0, queue_size: int = 16, **limits: Any) -> FastAPI:
    """Build the lesson's app.

    ``tick`` is the clock's period in seconds, ``queue_size`` how many
    messages the feed keeps for a client that reads slowly. ``limits``
    override the defaults of :func:`server.hardening.harden`.
    """
    feed = Feed(queue_size)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        feed.loop = asyncio.get_running_loop()  # where publish_threadsafe() sends its work
        yield

    app = FastAPI(title="Lesson 07: receiving and sending at once", lifespan=lifespan)
    app.state.feed = feed
    app.state.running = Counter()  # loops running now, by name
    running = app.state.running

    @app.websocket("/ws/clock")
    async def clock(websocket: WebSocket):
        await websocket.accept()

        async def send_ticks():
            running["clock: send"] += 1
            try:
                seq = 0
                while True:
                    await asyncio.sleep(tick)
                    seq += 1
                    await websocket.send_json({"type": "tick", "seq": seq})
            finally:
                running["clock: send"] -= 1

        async def answer_messages():
            running["clock: receive"] += 1
            try:
                while True:
                    frame = await receive_frame(websocket)  # WebSocketDisconnect when the client leaves
                    if isinstance(frame, bytes):
                        await websocket.send_json(error_message("binary_frame", "this endpoint takes text frames"))
                    else:
                        await websocket.send_json({"type": "echo", "data": frame})
            finally:
                running["clock: receive"] -= 1

        try:
            # The first loop to raise cancels the other; the group waits for both.
            async with asyncio.TaskGroup() as group:
                group.create_task(send_ticks())
                group.create_task(answer_messages())
        except* WebSocketDisconnect as left:
            logger.info("client left the clock (close code %s)", left.exceptions[0].code)

    @app.websocket("/ws/feed")
    async def feed_endpoint(websocket: WebSocket):
        await websocket.accept()
        queue: asyncio.Queue = asyncio.Queue(maxsize=feed.queue_size)
        dropped = [0]
        feed.queues[queue] = dropped

        async def send_feed():
            running["feed: send"] += 1
            try:
                while True:
                    message = await queue.get()
                    if dropped[0]:
                        await websocket.send_json({"type": "dropped", "count": dropped[0]})
                        dropped[0] = 0
                    await websocket.send_json(message)
            finally:
                running["feed: send"] -= 1

        async def wait_for_close():
            running["feed: receive"] += 1
            try:
                while True:
                    await receive_frame(websocket)  # ignored; raises WebSocketDisconnect when the client leaves
            finally:
                running["feed: receive"] -= 1

        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(send_feed())
                group.create_task(wait_for_close())
        except* WebSocketDisconnect as left:
            logger.info("client left the feed (close code %s)", left.exceptions[0].code)
        finally:
            del feed.queues[queue]

    return harden(app, **limits)


app = create_app()


def _knobs(parser) -> None:
    parser.add_argument("--tick", type=float, default=1.0, help="seconds between the clock's ticks")
    parser.add_argument("--queue-size", type=int, default=16, help="messages the feed keeps for a slow client")


if __name__ == "__main__":
    from server.cli import main

    main(__doc__, create_app, knobs=_knobs)
