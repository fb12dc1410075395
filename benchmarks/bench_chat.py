"""Fan-out of the capstone chat room next to a bare ``websockets`` broadcast server.

``python -m benchmarks.bench_chat [--members 50] [--messages 1000] [--repeats 5]``

One member says ``--messages`` messages as fast as it can; every member,
the sender too, reads until it has all of them. The rate is messages
delivered (members x messages) per second, from the first send to the last
delivery. Each repeat runs both servers in turn (lesson, bare, then bare,
lesson...), so a busy moment of the machine hits both; the verdict is the
median of each repeat's own ratio ("paired").

How it is made fair:

* **Servers in child processes, the client in the parent**, as in the other
  benchmarks: on two cores a server and its clients in one process would
  measure the GIL.
* **The same protocol and the same bytes.** The bare server is
  ``websockets.asyncio.server.serve`` with a handler that speaks the room's
  protocol (join, welcome, joined, say, message, left) and fans out with
  ``websockets.broadcast``, the library's own way: each frame encoded once,
  written to every connection at once, with no backpressure and no queue.
  The lesson server, ``server.chat.create_app()`` on ``BackgroundServer``,
  validates each message with Pydantic and gives each member a bounded
  queue and a sending task (the slow-member policy); that is what the
  ratio prices.
* **Within the limits, not measuring them**: the room's rate limit (20
  messages a second) is off for the lesson server (``rate_limit=None``) and
  its connection limit raised to fit the members; everything else is as
  the room ships.
* **Compression off on both sides** (the client offers none): the fan-out,
  not zlib.
* The client is one asyncio loop reading every member's connection, and
  counts message frames by their first bytes without parsing them. With 50
  members it does as much work as either server, so both rates are partly
  the client's; the ratio still compares the servers under the same load.
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


def run_lesson(conn: Any, members: int) -> None:
    from server import chat
    from server.background import BackgroundServer

    app = chat.create_app(rate_limit=None, max_connections=members + 10)
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


class Server:
    """A server in a child process: ``.url``, ``.stop()``."""

    def __init__(self, kind: str, members: int) -> None:
        ctx = mp.get_context("spawn")
        self.conn, child = ctx.Pipe()
        target = run_lesson if kind == "lesson" else run_bare
        self.process = ctx.Process(target=target, args=(child, members), daemon=True)
        self.process.start()
        if not self.conn.poll(30):
            raise RuntimeError(f"{kind} server did not start")
        self.url: str = self.conn.recv()
        self.pid = self.process.pid

    def cpu(self) -> float:
        """The server process's CPU time so far, in seconds (the scheduler's nanosecond counters, as in bench_text)."""
        try:
            total = 0
            for task in os.scandir(f"/proc/{self.pid}/task"):
                with open(f"{task.path}/schedstat") as file:
                    total += int(file.read().split()[0])
            return total / 1e9
        except OSError:
            return sum(psutil.Process(self.pid).cpu_times()[:2])

    def stop(self) -> None:
        self.conn.send("stop")
        self.process.join(10)
        if self.process.is_alive():
            self.process.kill()


# -- the client -------------------------------------------------------------------


async def read_messages(ws: Any, count: int) -> None:
    """Read until ``count`` message events have come."""
    got = 0
    while got < count:
        frame = await asyncio.wait_for(ws.recv(), 30)
        got += frame.startswith(MESSAGE_PREFIX)


async def fan_out(server: Server, members: int, messages: int) -> tuple[float, float]:
    """Messages delivered per second, and server CPU seconds per delivery: ``members`` members, one saying ``messages``."""
    url = server.url
    connections = []
    try:
        for number in range(members):
            ws = await connect(url, compression=None, open_timeout=30, max_queue=None)
            connections.append(ws)
            await ws.send(encode({"type": "join", "name": f"m{number}"}))
            while not (await asyncio.wait_for(ws.recv(), 30)).startswith('{"type":"welcome"'):
                pass
        # Every member has heard every join before the clock starts.
        for number, ws in enumerate(connections):
            for _ in range(members - 1 - number):
                await asyncio.wait_for(ws.recv(), 30)
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


async def bench(servers: dict[str, Server], members: int, messages: int, repeats: int) -> dict[str, list[tuple[float, float]]]:
    kinds = list(servers)
    for kind in kinds:  # warm up: imports, the first handshakes, the allocator
        await fan_out(servers[kind], min(members, 5), min(messages, 100))
    runs: dict[str, list[tuple[float, float]]] = {kind: [] for kind in kinds}
    for repeat in range(repeats):
        for kind in kinds if repeat % 2 == 0 else kinds[::-1]:
            runs[kind].append(await fan_out(servers[kind], members, messages))
    return runs


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_chat", description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=50, help="members in the room")
    parser.add_argument("--messages", type=int, default=1000, help="messages one member says per measurement")
    parser.add_argument("--repeats", type=int, default=5)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    load = os.getloadavg()
    started = time.perf_counter()
    servers = {kind: Server(kind, args.members) for kind in ("lesson", "bare")}
    try:
        runs = asyncio.run(bench(servers, args.members, args.messages, args.repeats))
    finally:
        for server in servers.values():
            server.stop()
    print(f"chat fan-out: {args.members} members, one says {args.messages} messages, all read them; {args.repeats} repeats")
    print("lesson: server.chat.create_app(rate_limit=None) on BackgroundServer; bare: websockets serve() + broadcast()")
    print("servers in child processes; the client is one asyncio loop in this process; compression off")
    print(f"load average before the run: {load[0]:.2f} on {os.cpu_count()} cores\n")
    print("            delivered msgs/s: median      min      max   server CPU us/delivery (median)")
    rates = {kind: [rate for rate, _ in values] for kind, values in runs.items()}
    cpus = {kind: statistics.median(cpu for _, cpu in values) for kind, values in runs.items()}
    for kind, values in rates.items():
        median = statistics.median(values)
        print(f"  {kind:<8} {median:22.0f} {min(values):8.0f} {max(values):8.0f} {cpus[kind] * 1e6:14.2f}")
    paired = statistics.median(a / b for a, b in zip(rates["lesson"], rates["bare"]))
    of_medians = statistics.median(rates["lesson"]) / statistics.median(rates["bare"])
    cpu_ratio = cpus["lesson"] / cpus["bare"]
    print(f"  -> lesson/bare msgs/s paired {paired:.2f}x, of medians {of_medians:.2f}x; server CPU per delivery {cpu_ratio:.2f}x")
    print(f"\ntook {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
