"""Lesson 10: one chat room across several server processes, through Redis.

The in-memory room of :mod:`server.chat` lives in one process: a member
connected to another worker never sees its messages. :class:`RedisRoom` keeps
the room in Redis instead, so any number of processes serve one room::

    python -m server.chat --port 8001 --redis-url redis://127.0.0.1:6379/0
    python -m server.chat --port 8002 --redis-url redis://127.0.0.1:6379/0

**Why a Redis Stream, not pub/sub.** Every room event (``joined``, ``left``,
``message``) is one entry of a Redis Stream, added with ``XADD``, and each
process reads the stream with ``XREAD`` from the last entry it read. Redis
gives every entry an id that grows, so the stream *is* the room's order:
every process reads the same entries in the same order, each once. Pub/sub
forgets a message as soon as it is sent: a process whose connection blips
misses it for good, and there is no history to give a joiner. A message's
``id`` comes from one counter (``INCR``) in the same Lua script as its
``XADD``, so ``id`` order and stream order are the same; the script also
keeps the last ``history`` messages in a list.

What happens in each outcome:

* A ``message`` reaches every member of every process, the sender too,
  exactly once, in ``id`` order, while Redis stays up: each process hands
  each entry to its members' queues in one step, as the in-memory room does.
* ``join`` runs one Lua script: it refuses a name any process has
  (``name_taken``), adds the member, appends ``joined`` and returns the
  member list and history as of that entry. The joiner gets every entry
  after it, and none before: entries the process reads while the script
  runs wait in a buffer and are sorted out by id.
* The member list is a Redis hash (name -> the process that owns it) and a
  sorted set (the order of joining). Each process refreshes a heartbeat key
  every ``member_ttl / 3`` seconds; the key expires ``member_ttl`` seconds
  after its process stopped refreshing it. Every process sweeps the list on
  its heartbeat, so the members of a process that died (``kill -9``, a lost
  machine) are taken out, with ``left``, at most about ``member_ttl`` seconds later.
* **Redis goes away.** A process notices when a command fails: the
  blocking ``XREAD`` fails at once when the connection drops, and the
  heartbeat notices a Redis that restarted empty (its key is gone). It
  closes every joined member with **1013** (Try Again Later) and the reason
  ``"chat broker unavailable; join again"``: a member is never left in a
  room that silently stopped delivering. A ``say`` that was on its way when
  the broker failed may or may not have reached the others (at most once);
  the close tells the sender so. Until Redis answers again a ``join`` or
  ``members`` gets ``{"type": "error", "code": "broker_unavailable", ...}``
  and the connection stays open; the process retries every
  ``retry_delay`` seconds. When Redis is back, the process takes out the
  members it owned (the others get ``left``), and ``join`` works again.
  A Redis that restarted without its data starts an empty room, and ``id``
  goes on from the highest id the process has seen rather than from 1.

What is not guaranteed: the stream keeps about ``maxlen`` entries, so a
process that falls further behind than that (its event loop stalled while
the room talked) cannot read the oldest; it sees the gap in message ids and
closes its members with 1013 rather than skip messages silently. A Redis
that loses its data (restart without persistence) loses the history. And
the time in a ``message`` is the sending process's clock, so across
machines it need not grow with ``id``.

:class:`RedisServer` starts a private ``redis-server`` for tests and the
lesson, and :class:`ChatProcess` runs ``python -m server.chat`` in a process
of its own.
"""

from __future__ import annotations

import asyncio
import atexit
import json
import logging
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from server.chat import Member, Room, encode
from server.errors import error_message

logger = logging.getLogger(__name__)

#: The close code for members when the broker is gone: "Try Again Later".
TRY_AGAIN_LATER = 1013
UNAVAILABLE_REASON = "chat broker unavailable; join again"

# Each script runs atomically in Redis: nothing comes between its commands.
JOIN = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return false end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], redis.call('INCR', KEYS[3]), ARGV[1])
local entry = redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[4], '*', 'kind', 'joined', 'name', ARGV[1])
local history = {}
if tonumber(ARGV[3]) > 0 then history = redis.call('LRANGE', KEYS[5], -tonumber(ARGV[3]), -1) end
return {entry, redis.call('ZRANGE', KEYS[2], 0, -1), history}
"""
SAY = """
local id = redis.call('INCR', KEYS[1])
local data = ARGV[1] .. id .. ARGV[2]
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], '*', 'kind', 'message', 'id', id, 'data', data)
if tonumber(ARGV[3]) > 0 then
  redis.call('RPUSH', KEYS[3], data)
  redis.call('LTRIM', KEYS[3], -tonumber(ARGV[3]), -1)
end
return id
"""
LEAVE = """
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[3], '*', 'kind', 'left', 'name', ARGV[1])
return 1
"""
# Take out the members of processes whose heartbeat expired, and those of ARGV[3].
SWEEP = """
local members = redis.call('HGETALL', KEYS[1])
local gone = 0
for i = 1, #members, 2 do
  local name, owner = members[i], members[i + 1]
  if owner == ARGV[3] or redis.call('EXISTS', ARGV[1] .. owner) == 0 then
    redis.call('HDEL', KEYS[1], name)
    redis.call('ZREM', KEYS[2], name)
    redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[2], '*', 'kind', 'left', 'name', name)
    gone = gone + 1
  end
end
return gone
"""
FLOOR = """
if tonumber(redis.call('GET', KEYS[1]) or '0') < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) end
"""

_BROKER_ERRORS = (RedisError, OSError)


class RedisMissing(FileNotFoundError):
    """redis-server is not installed; the message says how to install it (shown without a traceback in a notebook)."""

    def _render_traceback_(self) -> list[str]:
        return [f"✗ {self}"]


class BrokerLost(RedisError):
    """Redis answers, but lost this process's state (it restarted without its data)."""


def entry_key(entry_id: str) -> tuple[int, int]:
    """A stream entry id, ``"1732690000000-3"``, as a tuple that sorts as Redis orders entries."""
    milliseconds, _, sequence = entry_id.partition("-")
    return int(milliseconds), int(sequence or 0)


class RedisRoom(Room):
    """The chat room kept in Redis, shared by every process that uses the same ``url`` and ``prefix``.

    ``self.members`` holds this process's members only; Redis holds the room.
    """

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "chat",
        member_ttl: float = 15.0,
        retry_delay: float = 0.5,
        maxlen: int = 10_000,
        **room: Any,
    ) -> None:
        super().__init__(**room)
        self.url, self.member_ttl, self.retry_delay, self.maxlen = url, member_ttl, retry_delay, maxlen
        self.history_size = self.history.maxlen or 0
        self.owner = uuid.uuid4().hex  # this process
        self.keys = {name: f"{prefix}:{name}" for name in ("events", "last_id", "history", "members", "order", "joins")}
        self.process_prefix = f"{prefix}:process:"
        self.available = False
        self.last_entry = "0-0"  # the last stream entry this process read
        self.highest_id = 0  # the highest message id this process has seen
        self.previous_id = 0  # the last message id read since (re)connecting: the next must be one more
        self.since: dict[Member, tuple[int, int]] = {}  # each member's own joined entry
        self.pending: dict[Member, list[tuple[tuple[int, int], str]]] = {}  # entries read while joining
        self.tasks: set[asyncio.Task] = set()
        self.redis: Redis | None = None

    # -- start and stop (the app's lifespan) -----------------------------------------

    @asynccontextmanager
    async def lifespan(self, app: Any) -> AsyncIterator[None]:
        await self.start()
        try:
            yield
        finally:
            await self.stop()

    async def start(self) -> None:
        """Connect, register this process and start reading; raise if Redis does not answer."""
        # No silent retries: a failed command must reach us, so that members hear of it. The asyncio Retry: it
        # awaits the command, so its failure handler runs and disconnects the broken connection (the sync
        # redis.retry.Retry gets back a coroutine it does not await: it never sees the failure). A blocking
        # pool: a burst of commands (200 members leaving at once) waits for a connection instead of failing.
        self.pool = BlockingConnectionPool.from_url(
            self.url,
            max_connections=50,
            timeout=10,
            decode_responses=True,
            protocol=2,
            retry=Retry(NoBackoff(), 0),
            socket_connect_timeout=2,
        )
        self.redis = Redis(connection_pool=self.pool)
        self.scripts = {
            name: self.redis.register_script(code)
            for name, code in [("join", JOIN), ("say", SAY), ("leave", LEAVE), ("sweep", SWEEP), ("floor", FLOOR)]
        }
        try:
            await self._connect()
        except _BROKER_ERRORS as exc:
            await self._disconnect()
            raise RuntimeError(f"cannot reach Redis at {self.url}: {exc}") from exc
        self._spawn(self._read())
        self._spawn(self._beat())

    async def stop(self) -> None:
        """Stop reading, take this process's members out of the room, and disconnect."""
        for task in list(self.tasks):
            task.cancel()
        if self.tasks:
            await asyncio.wait(self.tasks)
        if self.redis is None:
            return
        try:
            if self.available:
                await self._sweep(mine=True)
                await self.redis.delete(self.process_prefix + self.owner)
        except _BROKER_ERRORS as exc:
            logger.warning("could not leave the room in Redis: %s", exc)
        finally:
            await self._disconnect()

    async def _disconnect(self) -> None:
        await self.redis.aclose()
        await self.pool.disconnect()

    async def _connect(self) -> None:
        """(Re)join Redis: heartbeat, forget members this process had, ids go on, read from the end."""
        await self._register()
        await self._sweep(mine=True)
        await self.scripts["floor"](keys=[self.keys["last_id"]], args=[self.highest_id])
        last = await self.redis.xrevrange(self.keys["events"], count=1)
        self.last_entry = last[0][0] if last else "0-0"
        self.previous_id = 0
        self.available = True

    async def _register(self) -> None:
        await self.redis.set(self.process_prefix + self.owner, "1", px=int(self.member_ttl * 1000))

    async def _sweep(self, mine: bool = False) -> int:
        keys = [self.keys["members"], self.keys["order"], self.keys["events"]]
        return await self.scripts["sweep"](keys=keys, args=[self.process_prefix, self.maxlen, self.owner if mine else ""])

    def _spawn(self, coroutine: Any) -> asyncio.Task:
        task = asyncio.create_task(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    # -- what members ask for --------------------------------------------------------

    async def join(self, member: Member, name: str) -> None:
        if member.name is not None:
            return self.reply(member, error_message("already_joined", f"you are in the room as {member.name!r}"))
        if not self.available:
            return self.reply(member, unavailable())
        self.pending[member] = []
        try:
            keys = [self.keys[key] for key in ("members", "order", "joins", "events", "history")]
            joined = await self.scripts["join"](keys=keys, args=[name, self.owner, self.history_size, self.maxlen])
        except _BROKER_ERRORS as exc:
            self.pending.pop(member, None)
            self.lost(exc)
            return self.reply(member, unavailable())
        pending = self.pending.pop(member, [])
        if joined is None:
            return self.reply(member, error_message("name_taken", f"{name!r} is in the room; pick another name"))
        if not self.available:
            return self.reply(member, unavailable())  # lost while joining: taken out when Redis is back
        entry, names, history = joined
        member.name, since = name, entry_key(entry)
        self.members[name] = member
        self.since[member] = since
        self.reply(member, {"type": "welcome", "name": name, "members": names, "history": [json.loads(h) for h in history]})
        # What this process read while the script ran, from after the member's own joined on.
        for key, text in pending:
            if key > since:
                self.deliver(member, text)

    async def say(self, member: Member, text: str) -> None:
        if not self.available:
            return  # the member was closed with 1013 when the broker went
        head = encode({"type": "message", "from": member.name, "text": text})[:-1] + ',"id":'
        tail = ',"time":' + json.dumps(datetime.now(UTC).isoformat()) + "}"
        keys = [self.keys["last_id"], self.keys["events"], self.keys["history"]]
        try:
            await self.scripts["say"](keys=keys, args=[head, tail, self.history_size, self.maxlen])
        except _BROKER_ERRORS as exc:
            self.lost(exc)

    async def list_members(self, member: Member) -> None:
        try:
            names = await self.redis.zrange(self.keys["order"], 0, -1) if self.available else None
        except _BROKER_ERRORS as exc:
            self.lost(exc)
            names = None
        self.reply(member, unavailable() if names is None else {"type": "members", "members": names})

    def leave(self, member: Member) -> asyncio.Task | None:
        """Take ``member`` out here at once; Redis and the other processes hear of it in a task."""
        self.pending.pop(member, None)
        if member.name is None or self.members.get(member.name) is not member:
            return None
        del self.members[member.name]
        del self.since[member]
        return self._spawn(self._leave(member.name))

    async def _leave(self, name: str) -> None:
        if not self.available:
            return  # taken out when Redis is back
        try:
            await self.scripts["leave"](
                keys=[self.keys["members"], self.keys["order"], self.keys["events"]], args=[name, self.owner, self.maxlen]
            )
        except _BROKER_ERRORS as exc:
            self.lost(exc)

    # -- what Redis tells us ---------------------------------------------------------

    async def _read(self) -> None:
        """Hand each new stream entry to this process's members; reconnect when Redis fails."""
        while True:
            try:
                if not self.available:
                    await self._connect()
                    logger.warning("chat broker available again")
                replies = await self.redis.xread({self.keys["events"]: self.last_entry}, count=1000, block=1000)
                for _stream, entries in replies or []:
                    for entry_id, fields in entries:
                        self.last_entry = entry_id
                        self.dispatch(entry_key(entry_id), fields)
            except _BROKER_ERRORS as exc:
                self.lost(exc)
                await asyncio.sleep(self.retry_delay)

    def dispatch(self, key: tuple[int, int], fields: dict[str, str]) -> None:
        """Queue one stream entry for every member here that joined before it: in one step, no ``await``."""
        if fields["kind"] == "message":
            text, number = fields["data"], int(fields["id"])
            if self.previous_id and number > self.previous_id + 1:
                # The stream was trimmed past what this process had read: say so rather than skip.
                self.close_all(f"this server missed {number - self.previous_id - 1} message(s); join again", leave=True)
            self.previous_id = number
            self.highest_id = max(self.highest_id, number)
        else:
            text = encode({"type": fields["kind"], "name": fields["name"]})
        for member in list(self.members.values()):
            if self.since.get(member, key) < key:
                self.deliver(member, text)
        for waiting in self.pending.values():
            waiting.append((key, text))

    async def _beat(self) -> None:
        """Keep this process's heartbeat alive and take out the members of dead processes."""
        while True:
            await asyncio.sleep(self.member_ttl / 3)
            if not self.available:
                continue
            try:
                alive = await self.redis.set(self.process_prefix + self.owner, "1", px=int(self.member_ttl * 1000), xx=True)
                if not alive:
                    raise BrokerLost("Redis no longer knows this process (did it restart?)")
                await self._sweep()
            except _BROKER_ERRORS as exc:
                self.lost(exc)

    def lost(self, exc: BaseException) -> None:
        """The broker failed: close every joined member with 1013, and answer joins with an error until it is back."""
        if not self.available:
            return
        self.available = False
        logger.warning("chat broker unavailable (%s): closing %d member(s) with 1013", exc, len(self.members))
        self.close_all(UNAVAILABLE_REASON, leave=False)

    def close_all(self, reason: str, *, leave: bool) -> None:
        """Close every member of this process with 1013 and ``reason``; with ``leave``, tell Redis too."""
        for member in list(self.members.values()):
            member.dropped = (TRY_AGAIN_LATER, reason)
            member.closer = asyncio.create_task(member.close(*member.dropped))
            if leave:
                self.leave(member)
        self.members.clear()
        self.since.clear()


def unavailable() -> dict[str, Any]:
    return error_message("broker_unavailable", "the chat broker (Redis) does not answer; try again in a moment")


# -- processes for tests and the lesson -----------------------------------------------


def free_port() -> int:
    """A loopback port no one listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def redis_server_path() -> str | None:
    """Where ``redis-server`` is installed, or None."""
    return shutil.which("redis-server") or shutil.which("redis-server", path="/usr/sbin:/usr/bin:/usr/local/bin")


class RedisServer:
    """A private ``redis-server`` on a free loopback port, in a temporary folder, keeping nothing on disk.

    ``start()`` returns once it answers; ``stop()`` ends it and removes the
    folder; ``restart()`` stops it and starts a new, empty one on the same port.
    Also ``with RedisServer() as redis: redis.url``.
    """

    def __init__(self, startup_timeout: float = 10.0) -> None:
        self.port = 0
        self.startup_timeout = startup_timeout
        self.process: subprocess.Popen | None = None
        self.folder: str | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        executable = redis_server_path()
        if executable is None:
            raise RedisMissing(
                "redis-server is not installed. Install it (Debian/Ubuntu: sudo apt-get install redis-server; "
                "macOS: brew install redis; conda: conda install -c conda-forge redis-server), then run this again"
            )
        self.folder = self.folder or tempfile.mkdtemp(prefix="redis-")
        self.port = self.port or free_port()
        command = [executable, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        command += ["--dir", self.folder, "--daemonize", "no", "--loglevel", "warning"]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # A kernel restarted, or a test run that ends, takes its redis-server with it.
        atexit.register(self.stop)
        deadline = time.monotonic() + self.startup_timeout
        while not self._answers():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"redis-server did not start on port {self.port}")
            time.sleep(0.02)
        return self

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as connection:
                connection.sendall(b"PING\r\n")
                return connection.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self, *, keep_folder: bool = False) -> None:
        atexit.unregister(self.stop)
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None
        if self.folder is not None and not keep_folder:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None

    def restart(self) -> None:
        self.stop(keep_folder=True)
        self.start()

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class ChatProcess:
    """``python -m server.chat`` in a process of its own, on a free port.

    ``ChatProcess("--redis-url", url).start()`` returns once the server
    listens; ``ws_url`` is its room; ``stop()`` ends it as Ctrl+C would
    (members get 1012) and ``kill()`` as a crash would (no goodbye at all).
    """

    def __init__(self, *options: str, startup_timeout: float = 60.0) -> None:
        self.options = options
        self.startup_timeout = startup_timeout
        self.port = 0
        self.process: subprocess.Popen | None = None
        self.log: Path | None = None

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/room"

    def start(self) -> ChatProcess:
        handle, name = tempfile.mkstemp(prefix="chat-", suffix=".log")
        self.log = Path(name)
        # uvicorn says which port it got ("Uvicorn running on ...") at log level info.
        command = [sys.executable, "-m", "server.chat", "--port", "0", "--log-level", "info", *self.options]
        with os.fdopen(handle, "w") as log:
            self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log)
        atexit.register(self.stop)  # the process that started it ends: so does it
        deadline = time.monotonic() + self.startup_timeout
        while not (found := re.search(r"Uvicorn running on http://127\.0\.0\.1:(\d+)", self.output())):
            if self.process.poll() is not None or time.monotonic() > deadline:
                output = self.output()
                self.stop()
                raise RuntimeError(f"python -m server.chat did not start:\n{output}")
            time.sleep(0.02)
        self.port = int(found.group(1))
        return self

    def output(self) -> str:
        """What the process has logged so far."""
        return self.log.read_text(errors="replace") if self.log is not None and self.log.exists() else ""

    def stop(self) -> None:
        atexit.unregister(self.stop)
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None
        if self.log is not None:
            self.log.unlink(missing_ok=True)
            self.log = None

    def kill(self) -> None:
        """End the process at once, as a crash would: no member is told, its heartbeat just stops."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
        self.stop()

    def __enter__(self) -> ChatProcess:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
