"""Capstone: a chat room on ``/ws/room``, with its browser page at ``/``.

Every message is one JSON text frame with a ``"type"``, validated with
Pydantic (a discriminated union on ``type``)::

    client -> {"type": "join", "name": "ada"}                  first, 1-32 characters
    server -> {"type": "welcome", "name": "ada", "members": [...], "history": [...]}
    others <- {"type": "joined", "name": "ada"}
    client -> {"type": "say", "text": "hello"}                 1-2000 characters
    all    <- {"type": "message", "from": "ada", "text": "hello", "id": 7, "time": "2026-...+00:00"}
    client -> {"type": "members"}
    server -> {"type": "members", "members": ["ada", "bob"]}
    others <- {"type": "left", "name": "ada"}                  when ada leaves or is dropped

What happens in each outcome:

* ``welcome`` lists every member, the joiner included, in the order they
  joined, and the last ``history`` ``message`` events, oldest first.
* A ``message`` goes to every member, the sender too, exactly once. Its
  ``id`` grows by one across the room, and every member gets the messages
  in ``id`` order: the room hands an event to all members' queues in one
  step, with no ``await`` in between, so no other event can come between
  two members' copies. A sender's own messages keep the order it sent them
  in: its frames are read one after the other.
* A message the room cannot use gets ``{"type": "error", "code": ...,
  "detail": ...}`` and the connection stays open: ``binary_frame``,
  ``invalid_json``, ``validation_error`` (with ``errors``, as in lesson 03),
  ``not_joined`` (anything but ``join`` before joining), ``name_taken``
  (try another name) and ``already_joined``.
* Limits (lesson 06, :mod:`server.hardening`): messages over 16 KiB close
  with 1009 (2,000 characters can take 12,000 bytes as JSON escapes), more than 20 messages a second get ``rate_limited``, and a
  handshake needs the token when one is set. Pages on this machine, and
  the room's own page however it was reached (``allow_same_origin``), may
  connect; other pages get 403. The guard sends its ``rate_limited`` reply
  itself, at once, so it may come before events still in the member's queue.

**Slow members.** Each member has a send queue and a task that sends from
it, so the room never waits for one member: it only puts an event in each
queue. A member that stops reading first fills the TCP buffers (the
kernel's, then uvicorn's); then uvicorn's send waits, and its queue grows.
A member is dropped, closed with 1008 and a reason, and the others get
``left`` for it, when the room has an event for it and either

* its current send has waited ``stall_timeout`` seconds: it reads nothing
  (a member that reads, however slowly, finishes a send in moments), or
* its queue holds ``queue_size`` events: it reads, but slower than the room
  talks, and has fallen that far behind.

A burst of 1,000 messages to members who keep up therefore costs nothing:
their sends finish, and 1,000 is well below ``queue_size``. A queue holds
references to text encoded once for all members, so a full queue of 4,096
costs about 32 KiB plus the messages themselves. A member that stopped
reading cannot read the close frame either: it goes out when the member
reads again, or the guard's ``send_timeout`` ends the connection.

Nothing is left behind: when a member goes, its send task is cancelled, and
an error in the handler (logged, closed with 1011 by the guard) still takes
the member out of the room.

**Several processes.** This room lives in one process's memory. With
``create_app(redis_url=...)`` (``--redis-url`` on the command line) the room
is kept in Redis instead, shared by every process given the same URL:
see :mod:`server.broker` for what that guarantees and what happens when
Redis goes away. The protocol above stays the same.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from collections.abc import Awaitable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import FastAPI, WebSocket, WebSocketDisconnect
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from server.errors import error_message, parse_frame
from server.frames import receive_frame
from server.hardening import KiB, harden

logger = logging.getLogger(__name__)

#: The close code for a member that does not keep up (policy violation).
TOO_SLOW = 1008

PAGE = Path(__file__).parent / "static" / "chat.html"


# -- the messages a client sends ----------------------------------------------------


class _Message(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")


class Join(_Message):
    type: Literal["join"]
    name: str = Field(min_length=1, max_length=32)


class Say(_Message):
    type: Literal["say"]
    text: str = Field(min_length=1, max_length=2000)


class ListMembers(_Message):
    type: Literal["members"]


#: One incoming message: the "type" field picks the model.
Incoming = TypeAdapter(Annotated[Join | Say | ListMembers, Field(discriminator="type")])


def parse(frame: str | bytes) -> Join | Say | ListMembers | dict[str, Any]:
    """The message a frame holds, or the error reply to send for it (see :func:`server.errors.parse_frame`)."""
    return parse_frame(Incoming, frame)


def encode(event: dict[str, Any]) -> str:
    return json.dumps(event, ensure_ascii=False, separators=(",", ":"))


# -- the room ---------------------------------------------------------------------


class Member:
    """One connection: its send queue and the task that sends from it; a name once joined."""

    def __init__(self, websocket: WebSocket, queue_size: int) -> None:
        self.websocket = websocket
        self.name: str | None = None
        self.queue: asyncio.Queue[str] = asyncio.Queue(queue_size)
        self.sending_since: float | None = None  # when the send under way began
        self.dropped: tuple[int, str] | None = None  # the close code and reason, once dropped
        self.sender = asyncio.create_task(self._send_all())
        self.closer: asyncio.Task | None = None

    async def _send_all(self) -> None:
        try:
            while True:
                text = await self.queue.get()
                self.sending_since = time.monotonic()
                await self.websocket.send_text(text)
                self.sending_since = None
        except (WebSocketDisconnect, RuntimeError, OSError):  # the connection is closed or closing
            pass

    async def close(self, code: int, reason: str) -> None:
        """Stop sending the queue, then close; the close frame waits until the client reads."""
        self.sender.cancel()
        await asyncio.wait([self.sender])
        try:
            await self.websocket.close(code, reason)
        except (WebSocketDisconnect, RuntimeError, OSError):
            pass

    async def stop(self) -> None:
        """Cancel what runs for this member and wait until it has ended."""
        tasks = [task for task in (self.sender, self.closer) if task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.wait(tasks)


class Room:
    """The members by name, the last messages, and the rule for members who do not keep up."""

    def __init__(self, *, history: int, queue_size: int, stall_timeout: float) -> None:
        self.members: dict[str, Member] = {}
        self.history: deque[dict[str, Any]] = deque(maxlen=history)
        self.last_id = 0
        self.queue_size, self.stall_timeout = queue_size, stall_timeout

    def reply(self, member: Member, event: dict[str, Any]) -> None:
        self.deliver(member, encode(event))

    def join(self, member: Member, name: str) -> None:
        if member.name is not None:
            return self.reply(member, error_message("already_joined", f"you are in the room as {member.name!r}"))
        if name in self.members:
            return self.reply(member, error_message("name_taken", f"{name!r} is in the room; pick another name"))
        member.name = name
        self.members[name] = member
        welcome = {"type": "welcome", "name": name, "members": list(self.members), "history": list(self.history)}
        self.reply(member, welcome)
        self.broadcast({"type": "joined", "name": name}, but=member)

    def say(self, member: Member, text: str) -> None:
        self.last_id += 1
        time_sent = datetime.now(UTC).isoformat()
        event = {"type": "message", "from": member.name, "text": text, "id": self.last_id, "time": time_sent}
        self.history.append(event)
        self.broadcast(event)

    def list_members(self, member: Member) -> None:
        self.reply(member, {"type": "members", "members": list(self.members)})

    def leave(self, member: Member) -> None:
        """Take ``member`` out of the room, if it is in; the others get ``left``."""
        if member.name is not None and self.members.get(member.name) is member:
            del self.members[member.name]
            self.broadcast({"type": "left", "name": member.name})

    def broadcast(self, event: dict[str, Any], but: Member | None = None) -> None:
        # Encoded once; every queue gets the same text, in the same step.
        text = encode(event)
        for member in list(self.members.values()):
            if member is not but:
                self.deliver(member, text)

    def deliver(self, member: Member, text: str) -> None:
        """Queue ``text`` for ``member``, or drop the member if it does not keep up."""
        if member.dropped is not None:
            return
        since = member.sending_since
        if since is not None and time.monotonic() - since >= self.stall_timeout:
            return self.drop(member, f"read nothing for {self.stall_timeout:g} s")
        try:
            member.queue.put_nowait(text)
        except asyncio.QueueFull:
            self.drop(member, f"{self.queue_size} messages behind")

    def drop(self, member: Member, reason: str) -> None:
        logger.info("dropping %s: %s", member.name or "a client", reason)
        member.dropped = (TOO_SLOW, f"too slow: {reason}")
        member.closer = asyncio.create_task(member.close(*member.dropped))
        self.leave(member)


# -- the app ----------------------------------------------------------------------


async def settle(outcome: Awaitable[None] | None) -> None:
    """Wait for a room operation: the in-memory room's are done at once, a Redis room's go through Redis."""
    if outcome is not None:
        await outcome


def create_app(
    *,
    history: int = 50,
    queue_size: int = 4096,
    stall_timeout: float = 10.0,
    redis_url: str | None = None,
    member_ttl: float = 15.0,
    **limits: Any,
) -> FastAPI:
    """Build the chat room's app.

    ``history`` is how many messages a joiner gets; ``queue_size`` and
    ``stall_timeout`` say when a member that does not keep up is dropped
    (see the module docstring). With ``redis_url`` the room is kept in
    Redis and shared with every process using it (:mod:`server.broker`;
    ``member_ttl`` is how long a dead process's members stay listed).
    ``limits`` override the defaults of :func:`server.hardening.harden`.
    """
    knobs = {"history": history, "queue_size": queue_size, "stall_timeout": stall_timeout}
    if redis_url is None:
        room = Room(**knobs)
        app = FastAPI(title="Capstone: a chat room")
    else:
        from server.broker import RedisRoom

        room = RedisRoom(redis_url, member_ttl=member_ttl, **knobs)
        app = FastAPI(title="Capstone: a chat room", lifespan=room.lifespan)
    app.state.room = room
    app.state.page = "/"

    @app.get("/", response_class=HTMLResponse)
    async def page() -> str:
        return PAGE.read_text(encoding="utf-8")

    @app.websocket("/ws/room")
    async def chat_room(websocket: WebSocket):
        await websocket.accept()
        member = Member(websocket, queue_size)
        try:
            while True:
                message = parse(await receive_frame(websocket))
                if member.dropped is not None:
                    continue  # read until the client answers the close frame
                if isinstance(message, dict):
                    room.reply(member, message)
                elif isinstance(message, Join):
                    await settle(room.join(member, message.name))
                elif member.name is None:
                    room.reply(member, error_message("not_joined", 'send {"type": "join", "name": ...} first'))
                elif isinstance(message, Say):
                    await settle(room.say(member, message.text))
                else:
                    await settle(room.list_members(member))
        except WebSocketDisconnect as disconnect:
            logger.info("%s left (close code %s)", member.name or "a client", disconnect.code)
        finally:
            leaving = room.leave(member)
            await member.stop()
            await settle(leaving)

    return harden(app, **{"max_message_size": 16 * KiB, "rate_limit": 20, "allow_same_origin": True, **limits})


app = create_app()


def _knobs(parser) -> None:
    parser.add_argument("--history", type=int, default=50, help="messages a joiner gets (default: %(default)s)")
    parser.add_argument("--queue-size", type=int, default=4096, help="events queued per member before it is dropped")
    parser.add_argument("--stall-timeout", type=float, default=10.0, help="seconds one send may wait before a member is dropped")
    parser.add_argument("--redis-url", help="share the room with other processes through Redis, e.g. redis://127.0.0.1:6379/0")
    parser.add_argument(
        "--member-ttl", type=float, default=15.0, help="seconds a dead process's members stay listed (with --redis-url)"
    )


if __name__ == "__main__":
    from server.cli import main

    main(__doc__, create_app, knobs=_knobs)
