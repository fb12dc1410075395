"""Fan-out of the capstone chat room next to a bare ``websockets`` broadcast server, and through Redis.

``python -m benchmarks.bench_chat [--members 200] [--messages 500] [--latency-messages 100] [--repeats 3]``

Three servers, one room of ``--members`` members each:

* **lesson**: ``server.chat.create_app()``, the in-memory room, in one process;
* **bare**: ``websockets.asyncio.server.serve`` with a handler that speaks the
  room's protocol and fans out with ``websockets.broadcast()``;
* **redis**: two processes, each ``server.chat.create_app(redis_url=...)``,
  sharing the room through a private ``redis-server``; members alternate
  between them, the talker is on the first.

Two measurements per server and repeat:

* **Throughput**: one member says ``--messages`` messages as fast as it
  can; every member, the sender too, reads until it has all of them. The
  rate is messages delivered (members x messages) per second, from the first
  send to the last delivery.
* **Latency**: one member says ``--latency-messages`` messages one at a
  time, each once every member has the one before; p50 and p99 of the time
  from the send to each member's receipt (per delivery), and of the time to
  the last member's receipt (per message).

Each repeat runs the servers in turn, in an order that alternates, so a busy
moment of the machine hits all; the verdict is the median of each repeat's
own ratio to the bare server ("paired").

How it is made fair:

* **Servers in child processes, the client in the parent**, as in the other
  benchmarks: on two cores a server and its clients in one process would
  measure the GIL.
* **The same protocol and the same bytes.** The bare server speaks the
  room's protocol (join, welcome, joined, say, message, left) and fans out
  with ``websockets.broadcast``, the library's own way: each frame encoded
  once, written to every connection at once, with no backpressure and no
  queue. The lesson server validates each message with Pydantic and gives
  each member a bounded queue and a sending task (the slow-member policy);
  the Redis room adds a Lua script per message and a stream read per batch.
* **Within the limits, not measuring them**: the room's rate limit (20
  messages a second) is off (``rate_limit=None``) and its connection limit
  raised to fit the members; everything else is as the room ships.
* **Compression off on both sides** (the client offers none): the fan-out,
  not zlib.
* The client is one asyncio loop reading every member's connection, and
  counts message frames by their first bytes without parsing them (the
  room's order makes the k-th message frame message k). With 200 members it
  does as much work as any server, so every rate is partly the client's;
  the ratios still compare the servers under the same load.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import statistics
import time
from datetime import UTC, datetime
from typing import Any

import psutil
from websockets.asyncio.client import connect

#: How every message event starts, on both servers (compact JSON, "type" first).
MESSAGE_PREFIX = '{"type":"message",'


# -- servers, each run in a child process ---------------------------------------


def run_lesson(conn: Any, members: int, redis_url: str | None = None) -> None:
    from server import chat
    from server.background import BackgroundServer

    app = chat.create_app(rate_limit=None, max_connections=members + 10, redis_url=redis_url)
    with BackgroundServer(app, name="bench-chat") as server:
        conn.send(server.ws_url("/ws/room"))
        conn.recv()  # until told to stop


def encode(event: dict[str, Any]) -> str:
    return json.dumps(event, ensure_ascii=False, separators=(",", ":"))


def run_bare(conn: Any, members: int) -> None:
    from websockets.asyncio.server import broadcast, serve
    from websockets.exceptions import ConnectionClosed

    room: dict[str, Any] = {}
    last_id = 0

    async def handler(ws: Any) -> None:
        nonlocal last_id
        name = None
        try:
            async for frame in ws:
                message = json.loads(frame)
                if message["type"] == "join" and name is None and message["name"] not in room:
                    name = message["name"]
                    room[name] = ws
                    await ws.send(encode({"type": "welcome", "name": name, "members": list(room), "history": []}))
                    broadcast([other for other in room.values() if other is not ws], encode({"type": "joined", "name": name}))
                elif message["type"] == "say" and name is not None:
                    last_id += 1
                    now = datetime.now(UTC).isoformat()
                    event = {"type": "message", "from": name, "text": message["text"], "id": last_id, "time": now}
                    broadcast(room.values(), encode(event))
        except ConnectionClosed:
            pass
        finally:
            if name is not None and room.get(name) is ws:
                del room[name]
                broadcast(room.values(), encode({"type": "left", "name": name}))

    async def main() -> None:
        async with serve(handler, "127.0.0.1", 0, compression=None, max_size=16 * 1024, backlog=2048) as server:
            port = server.sockets[0].getsockname()[1]
            conn.send(f"ws://127.0.0.1:{port}/ws/room")
            await asyncio.get_running_loop().run_in_executor(None, conn.recv)

    asyncio.run(main())


def cpu_of(pid: int) -> float:
    """A process's CPU time so far, in seconds (the scheduler's nanosecond counters, as in bench_text)."""
    try:
        total = 0
        for task in os.scandir(f"/proc/{pid}/task"):
            with open(f"{task.path}/schedstat") as file:
                total += int(file.read().split()[0])
        return total / 1e9
    except OSError:
        return sum(psutil.Process(pid).cpu_times()[:2])


class Server:
    """A server in a child process: ``.urls``, ``.cpu()``, ``.stop()``."""

    def __init__(self, kind: str, members: int, redis_url: str | None = None) -> None:
        ctx = mp.get_context("spawn")
        self.conn, child = ctx.Pipe()
        target = run_bare if kind == "bare" else run_lesson
        args = (child, members) if kind == "bare" else (child, members, redis_url)
        self.process = ctx.Process(target=target, args=args, daemon=True)
        self.process.start()
        if not self.conn.poll(30):
            raise RuntimeError(f"{kind} server did not start")
        self.urls: list[str] = [self.conn.recv()]
        self.pid = self.process.pid

    def cpu(self) -> float:
        return cpu_of(self.pid)

    def stop(self) -> None:
        self.conn.send("stop")
        self.process.join(10)
        if self.process.is_alive():
            self.process.kill()


class RedisPair:
    """Two room processes sharing a private redis-server: members alternate between ``.urls``."""

    def __init__(self, members: int) -> None:
        from server.broker import RedisServer

        self.redis = RedisServer().start()
        self.servers = [Server("redis", members, self.redis.url) for _ in range(2)]
        self.urls = [server.urls[0] for server in self.servers]

    def cpu(self) -> float:
        """Both processes' CPU time, and Redis's."""
        return sum(server.cpu() for server in self.servers) + cpu_of(self.redis.process.pid)

    def stop(self) -> None:
        for server in self.servers:
            server.stop()
        self.redis.stop()


# -- the client -------------------------------------------------------------------


async def read_messages(ws: Any, count: int, arrivals: list[float] | None = None) -> None:
    """Read until ``count`` message events have come; note when each came in ``arrivals``."""
    got = 0
    while got < count:
        frame = await asyncio.wait_for(ws.recv(), 30)
        if frame.startswith(MESSAGE_PREFIX):
            got += 1
            if arrivals is not None:
                arrivals.append(time.perf_counter())


_runs = iter(range(1_000_000))  # a fresh set of names for each run: a name is free only once its leave is done


async def joined(urls: list[str], members: int) -> list[Any]:
    """``members`` members joined, alternating between ``urls``, each having heard every join after its own."""
    run = next(_runs)
    connections = []
    for number in range(members):
        ws = await connect(urls[number % len(urls)], compression=None, open_timeout=30, max_queue=None)
        connections.append(ws)
        await ws.send(encode({"type": "join", "name": f"m{run}-{number}"}))
        while not (await asyncio.wait_for(ws.recv(), 30)).startswith('{"type":"welcome"'):
            pass
    for number, ws in enumerate(connections):
        for _ in range(members - 1 - number):
            await asyncio.wait_for(ws.recv(), 30)
    return connections


async def fan_out(server: Server | RedisPair, members: int, messages: int) -> tuple[float, float]:
    """Messages delivered per second, and server CPU seconds per delivery: ``members`` members, one saying ``messages``."""
    connections = await joined(server.urls, members)
    try:
        readers = [asyncio.create_task(read_messages(ws, messages)) for ws in connections]
        talker = connections[0]
        start, cpu = time.perf_counter(), server.cpu()
        for number in range(messages):
            await talker.send(encode({"type": "say", "text": f"message {number}"}))
        await asyncio.gather(*readers)
        delivered = members * messages
        return delivered / (time.perf_counter() - start), (server.cpu() - cpu) / delivered
    finally:
        await asyncio.gather(*(ws.close() for ws in connections))


async def latency(server: Server | RedisPair, members: int, messages: int) -> tuple[list[float], list[float]]:
    """Seconds from each send to each member's receipt, and to the last member's, one message at a time."""
    connections = await joined(server.urls, members)
    each, last = [], []
    try:
        for number in range(messages):
            arrivals: list[float] = []
            readers = [asyncio.create_task(read_messages(ws, 1, arrivals)) for ws in connections]
            sent = time.perf_counter()
            await connections[0].send(encode({"type": "say", "text": f"message {number}"}))
            await asyncio.gather(*readers)
            each += [arrival - sent for arrival in arrivals]
            last.append(max(arrivals) - sent)
        return each, last
    finally:
        await asyncio.gather(*(ws.close() for ws in connections))


async def bench(servers: dict[str, Any], members: int, messages: int, latency_messages: int, repeats: int) -> dict[str, Any]:
    kinds = list(servers)
    for kind in kinds:  # warm up: imports, the first handshakes, the allocator
        await fan_out(servers[kind], min(members, 5), min(messages, 100))
    runs: dict[str, Any] = {kind: {"rates": [], "cpus": [], "each": [], "last": []} for kind in kinds}
    for repeat in range(repeats):
        for kind in kinds if repeat % 2 == 0 else kinds[::-1]:
            rate, cpu = await fan_out(servers[kind], members, messages)
            each, last = await latency(servers[kind], members, latency_messages)
            runs[kind]["rates"].append(rate)
            runs[kind]["cpus"].append(cpu)
            runs[kind]["each"] += each
            runs[kind]["last"] += last
    return runs


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_chat", description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=200, help="members in the room")
    parser.add_argument("--messages", type=int, default=500, help="messages one member says per throughput measurement")
    parser.add_argument("--latency-messages", type=int, default=100, help="messages said one at a time per latency measurement")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-redis", action="store_true", help="leave out the two processes sharing Redis")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    from server.broker import redis_server_path

    args = parse_args(argv)
    load = os.getloadavg()
    started = time.perf_counter()
    with_redis = not args.no_redis and redis_server_path() is not None
    servers: dict[str, Any] = {}
    try:
        servers["lesson"] = Server("lesson", args.members)
        servers["bare"] = Server("bare", args.members)
        if with_redis:
            servers["redis"] = RedisPair(args.members)
        runs = asyncio.run(bench(servers, args.members, args.messages, args.latency_messages, args.repeats))
    finally:
        for server in servers.values():
            server.stop()
    print(f"chat fan-out: {args.members} members; throughput: one says {args.messages} messages, all read them;")
    print(f"latency: {args.latency_messages} messages one at a time; {args.repeats} repeats")
    print("lesson: server.chat.create_app(rate_limit=None) on BackgroundServer; bare: websockets serve() + broadcast()")
    if with_redis:
        print("redis: two processes of create_app(redis_url=...), members alternating, and a private redis-server")
    else:
        print("redis: left out (--no-redis, or no redis-server installed)")
    print("servers in child processes; the client is one asyncio loop in this process; compression off")
    print(f"load average before the run: {load[0]:.2f} on {os.cpu_count()} cores\n")
    print("          delivered msgs/s: median      min      max   CPU us/delivery   latency ms: p50    p99   last p50   last p99")
    for kind, run in runs.items():
        rates, each, last = run["rates"], run["each"], run["last"]
        print(
            f"  {kind:<8} {statistics.median(rates):20.0f} {min(rates):8.0f} {max(rates):8.0f}"
            f" {statistics.median(run['cpus']) * 1e6:14.2f}   {percentile(each, 0.5) * 1e3:15.2f}"
            f" {percentile(each, 0.99) * 1e3:6.2f} {percentile(last, 0.5) * 1e3:10.2f} {percentile(last, 0.99) * 1e3:10.2f}"
        )
    bare = runs["bare"]
    for kind in [kind for kind in runs if kind != "bare"]:
        run = runs[kind]
        paired = statistics.median(a / b for a, b in zip(run["rates"], bare["rates"]))
        cpu = statistics.median(run["cpus"]) / statistics.median(bare["cpus"])
        p50 = percentile(run["each"], 0.5) / percentile(bare["each"], 0.5)
        p99 = percentile(run["each"], 0.99) / percentile(bare["each"], 0.99)
        print(
            f"  -> {kind}/bare: msgs/s paired {paired:.2f}x; CPU per delivery {cpu:.2f}x; latency p50 {p50:.2f}x, p99 {p99:.2f}x"
        )
    print(f"\ntook {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
