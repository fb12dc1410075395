"""Does guarding lesson 01's text endpoint cost much, next to a bare websockets server?

Run from the repository root::

    python -m benchmarks.bench_text                  # 2000 messages, 7 repeats
    python -m benchmarks.bench_text --messages 5000 --repeats 9 --compression off

The claim: the lesson server (``server.text.create_app()`` with its default
limits, on uvicorn's default WebSocket implementation) keeps at least 0.9x
the round-trip rate and the pipelined throughput of a bare
``websockets.asyncio.server.serve`` server that does the same essential
work: answer each text frame with ``[<ISO-8601 UTC time>] Server received:
<text>``, and close with 1003 on a binary frame.

How it is made fair:

* Every server runs in a process of its own and the client (one asyncio
  loop) in this one, so client and server do not share a GIL. The lesson
  server runs with ``BackgroundServer``, as a notebook would run it.
* Both ways of compressing are measured, the same on both sides:
  permessage-deflate on (the default of uvicorn, of ``serve`` and of the
  client, with the same window bits and memory level) and off
  (``ws_per_message_deflate=False``, ``compression=None``). The bare
  server also takes the guard's message size limit (64 KiB) and pings
  (every 20 s).
* The lesson's default rate limit (100 messages a second per connection,
  burst 100) would refuse a single connection doing thousands of round
  trips, and measuring the rate limiter is not the point. So each
  measurement opens many connections in turn and sends at most 100
  messages on each, within the burst; only the messages are timed, not the
  handshakes or the closes. The bare server gets exactly the same client.
  A reply that does not quote its message (a ``rate_limited`` error, say)
  stops the benchmark.
* The servers take turns connection by connection (lesson, bare, bare,
  lesson...), so a slow moment of the machine hits both. The report gives
  medians over the repeats; the ratio it checks against 0.9 is the median
  of each repeat's own ratio ("paired"). For round trips it also gives the
  ratio of the p50 latencies ("by p50"), which a busy moment of the
  machine moves least.

What is measured, for ``--messages`` messages per server and repeat:

* round trips: send one message, wait for its reply, send the next;
  messages per second and the p50/p99 latency of one round trip;
* pipelined: send a connection's whole batch, then read every reply;
  messages per second.

The report also gives each side's CPU time per message over the timed
parts (the server's from the kernel's scheduler statistics). The client
runs the same code for both servers and takes part of every round trip,
so the servers' CPU per message shows their own cost more plainly.

The report says whether the lesson server's connections get TCP_NODELAY
(``BackgroundServer`` names ``IPPROTO_TCP`` on its socket so that asyncio
sets it; without it pipelined replies wait for delayed ACKs: see the README).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import socket
import statistics
import time
from datetime import datetime, timezone
from typing import Any

import psutil
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from server import text

#: Messages on one connection: within the default rate limit's burst.
PER_CONNECTION = 100
#: The guard's default message size limit on text, mirrored by the bare server.
MAX_MESSAGE_SIZE = 64 * 1024
COMPRESSIONS = ["deflate", "off"]
PATTERNS = ["round trip", "pipelined"]


# -- servers, each run in a child process ---------------------------------------


def run_lesson(conn: Any, compression: str, limits: dict[str, Any], guarded: bool = True) -> None:
    from server.background import BackgroundServer

    options = {} if compression == "deflate" else {"ws_per_message_deflate": False}
    app = text.create_app(**limits)
    if not guarded:
        # The same app and uvicorn settings without the guard middleware
        # (Starlette builds its middleware stack from this list on first use):
        # what the guard alone costs is the lesson's time over this one's.
        app.user_middleware.clear()
    with BackgroundServer(app, name="bench-text", **options) as server:
        conn.send((server.ws_url("/ws/chat"), tcp_nodelay(server), repr(app.state.limits)))
        conn.recv()  # until told to stop


def tcp_nodelay(server: Any) -> bool | None:
    """Whether asyncio sets TCP_NODELAY on the server's connections: only on IPPROTO_TCP sockets."""
    try:
        sock = server._server.servers[0].sockets[0]
    except (AttributeError, IndexError):  # a diagnostic: BackgroundServer's insides may change
        return None
    return sock.proto == socket.IPPROTO_TCP


async def bare_chat(ws: Any) -> None:
    """Lesson 01's endpoint on a bare ``websockets`` server."""
    try:
        async for message in ws:
            if isinstance(message, bytes):
                await ws.close(1003, "text frames only")
                return
            now = datetime.now(timezone.utc).isoformat()
            await ws.send(f"[{now}] Server received: {message}")
    except ConnectionClosed:
        pass  # the client left, whatever its close code: not an error, as in the lesson


def run_bare(conn: Any, compression: str) -> None:
    from websockets.asyncio.server import serve

    async def main() -> None:
        async with serve(
            bare_chat,
            "127.0.0.1",
            0,
            compression="deflate" if compression == "deflate" else None,
            max_size=MAX_MESSAGE_SIZE,
            ping_interval=20,
            ping_timeout=20,
            backlog=2048,  # as BackgroundServer listens; asyncio's default is 100
        ) as server:
            port = server.sockets[0].getsockname()[1]
            conn.send((f"ws://127.0.0.1:{port}/ws/chat", True, ""))
            await asyncio.get_running_loop().run_in_executor(None, conn.recv)

    asyncio.run(main())


class Server:
    """A server in a child process: ``.url``, ``.pid``, ``.cpu()``, ``.stop()``.

    ``kind`` is "lesson", "unguarded" (the lesson app without its guard) or
    "bare"; ``limits`` go to the lesson's
    ``create_app``. ``.limits`` is the lesson app's, as text, and
    ``.nodelay`` whether its connections get TCP_NODELAY.
    """

    def __init__(self, kind: str, compression: str, **limits: Any) -> None:
        ctx = mp.get_context("spawn")
        self.conn, child = ctx.Pipe()
        if kind == "bare":
            target, args = run_bare, (child, compression)
        else:
            target, args = run_lesson, (child, compression, limits, kind == "lesson")
        self.process = ctx.Process(target=target, args=args, daemon=True)
        self.process.start()
        if not self.conn.poll(30):
            raise RuntimeError(f"{kind} server did not start")
        self.url: str
        self.nodelay: bool | None
        self.limits: str
        self.url, self.nodelay, self.limits = self.conn.recv()
        self.pid = self.process.pid
        self._ps = psutil.Process(self.pid)

    def cpu(self) -> float:
        """The server process's CPU time so far, in seconds.

        From the scheduler's nanosecond counters where Linux has them
        (psutil's user + system time moves in 10 ms ticks, coarser than one
        connection's work).
        """
        try:
            total = 0
            for task in os.scandir(f"/proc/{self.pid}/task"):
                with open(f"{task.path}/schedstat") as file:
                    total += int(file.read().split()[0])
            return total / 1e9
        except OSError:
            return sum(self._ps.cpu_times()[:2])

    def stop(self) -> None:
        self.conn.send("stop")
        self.process.join(10)
        if self.process.is_alive():
            self.process.kill()


# -- the client -------------------------------------------------------------------


def check(reply: Any, message: str) -> None:
    if not (isinstance(reply, str) and reply.endswith("] Server received: " + message)):
        raise RuntimeError(f"sent {message!r}, got {reply!r}")


class Run:
    """One measurement: timed seconds, round-trip latencies, server and client CPU."""

    def __init__(self) -> None:
        self.elapsed = 0.0
        self.messages = 0
        self.latencies: list[float] = []
        self.server_cpu = 0.0
        self.client_cpu = 0.0


async def one_connection(server: Server, compression: str, pattern: str, batch: list[str], run: Run) -> None:
    """Open a connection, time ``batch`` over it, close it; add to ``run``."""
    clock = time.perf_counter
    async with connect(server.url, compression="deflate" if compression == "deflate" else None, open_timeout=10) as ws:
        cpu, client_cpu = server.cpu(), time.process_time()
        start = clock()
        if pattern == "round trip":
            for message in batch:
                sent = clock()
                await ws.send(message)
                reply = await ws.recv()
                run.latencies.append(clock() - sent)
                check(reply, message)
        else:
            for message in batch:
                await ws.send(message)
            for message in batch:
                check(await ws.recv(), message)
        run.elapsed += clock() - start
        run.client_cpu += time.process_time() - client_cpu
        run.server_cpu += server.cpu() - cpu
    run.messages += len(batch)


async def measure(servers: list[Server], compression: str, pattern: str, messages: int) -> list[Run]:
    """Send ``messages`` messages to each server, at most PER_CONNECTION per connection.

    The servers take turns connection by connection (A B, B A, A B...), so a
    slow moment of the machine lands on both.
    """
    runs = [Run() for _ in servers]
    for number, first in enumerate(range(0, messages, PER_CONNECTION)):
        batch = [f"message {i}" for i in range(first, min(first + PER_CONNECTION, messages))]
        turn = list(zip(servers, runs))
        for server, run in turn if number % 2 == 0 else turn[::-1]:
            await one_connection(server, compression, pattern, batch, run)
    return runs


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# -- the run ----------------------------------------------------------------------


Results = dict[tuple[str, str, str], list[Run]]


async def bench(
    servers: dict[tuple[str, str], Server], kinds: list[str], compressions: list[str], messages: int, repeats: int
) -> Results:
    results: Results = {}
    for compression in compressions:
        group = [servers[kind, compression] for kind in kinds]
        # Warm up: lazy imports, the first handshakes, the allocator.
        for pattern in PATTERNS:
            await measure(group, compression, pattern, PER_CONNECTION)
    for _ in range(repeats):
        for compression in compressions:
            group = [servers[kind, compression] for kind in kinds]
            for pattern in PATTERNS:
                runs = await measure(group, compression, pattern, messages)
                for kind, run in zip(kinds, runs):
                    results.setdefault((compression, pattern, kind), []).append(run)
    return results


def report(results: Results, kinds: list[str], compressions: list[str]) -> None:
    def med(runs: list[Run], f: Any) -> float:
        return statistics.median(f(run) for run in runs)

    def rate(run: Run) -> float:
        return run.messages / run.elapsed

    def cpu(run: Run) -> float:
        return run.server_cpu / run.messages

    def p50(run: Run) -> float:
        return percentile(run.latencies, 0.50)

    for compression in compressions:
        title = "permessage-deflate on both" if compression == "deflate" else "compression off on both"
        print(f"\n{title}")
        print("                               msgs/s   p50 us   p99 us   server CPU us/msg   client CPU us/msg")
        for pattern in PATTERNS:
            for kind in kinds:
                runs = results[compression, pattern, kind]
                latency = f"{'':8} {'':8}"
                if pattern == "round trip":
                    p99 = med(runs, lambda r: percentile(r.latencies, 0.99))
                    latency = f"{med(runs, p50) * 1e6:8.0f} {p99 * 1e6:8.0f}"
                client_cpu = med(runs, lambda r: r.client_cpu / r.messages) * 1e6
                label = pattern if kind == kinds[0] else ""
                print(
                    f"  {label:<11} {kind:<14} {med(runs, rate):8.0f} {latency} {med(runs, cpu) * 1e6:12.1f} {client_cpu:19.1f}"
                )
            bare = results[compression, pattern, "bare"]
            for kind in kinds:
                if kind == "bare":
                    continue
                runs = results[compression, pattern, kind]
                ratio = med(runs, rate) / med(bare, rate)
                # Each repeat's pair shared the same moments of the machine: the verdict goes by their ratio.
                paired = statistics.median(rate(a) / rate(b) for a, b in zip(runs, bare))
                verdict = "ok" if paired >= 0.9 else "BELOW"
                line = f"{kind}/bare msgs/s paired {paired:.2f}x (target >= 0.9: {verdict}), of medians {ratio:.2f}x"
                if pattern == "round trip":  # the rate a typical round trip allows: steadier on a busy machine
                    line += f", by p50 {med(bare, p50) / med(runs, p50):.2f}x"
                print(f"  {'':<11} -> {line}; server CPU per message {med(runs, cpu) / med(bare, cpu):.2f}x")
            if "unguarded" in kinds:
                lesson, unguarded = results[compression, pattern, "lesson"], results[compression, pattern, "unguarded"]
                paired = statistics.median(rate(a) / rate(b) for a, b in zip(lesson, unguarded))
                print(
                    f"  {'':<11} -> the guard alone: lesson/unguarded msgs/s paired {paired:.2f}x; "
                    f"server CPU per message {med(lesson, cpu) / med(unguarded, cpu):.2f}x"
                )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_text", description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000, help="messages per server and repeat")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument(
        "--compression", choices=["both", *COMPRESSIONS], default="both", help="permessage-deflate on, off, or both"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    compressions = COMPRESSIONS if args.compression == "both" else [args.compression]
    kinds = ["lesson", "unguarded", "bare"]
    load = os.getloadavg()

    started = time.perf_counter()
    servers = {(kind, c): Server(kind, c) for c in compressions for kind in kinds}
    try:
        results = asyncio.run(bench(servers, kinds, compressions, args.messages, args.repeats))
    finally:
        for server in servers.values():
            server.stop()

    connections = -(-args.messages // PER_CONNECTION)
    print(
        f"text endpoint: {args.messages} messages per measurement ({connections} connections in turn, "
        f"<= {PER_CONNECTION} each, handshakes not timed), {args.repeats} repeats, medians"
    )
    lesson = servers["lesson", compressions[0]]
    print("lesson: server.text.create_app() on BackgroundServer, uvicorn's default WebSocket implementation,")
    print(f"  with its default {lesson.limits}")
    nodelay = {True: "on", False: "OFF (Nagle's algorithm on)", None: "unknown"}
    print(f"  TCP_NODELAY on its connections: {nodelay[lesson.nodelay]}")
    print("unguarded: the same app and uvicorn settings without the guard middleware")
    print(f"bare: websockets serve(), max_size={MAX_MESSAGE_SIZE}, pings as the guard's (20 s, 20 s timeout)")
    print("servers in child processes; the client is one asyncio loop in this process")
    print(f"load average before the run: {load[0]:.2f} on {os.cpu_count()} cores")
    report(results, kinds, compressions)
    print(f"\ntook {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
