"""Does lesson 01's text endpoint answer 500 clients at once, every message, in order?

Run from the repository root::

    python -m benchmarks.bench_load                       # 500 clients x 100 round trips
    python -m benchmarks.bench_load --clients 200 --round-trips 50 --no-bare

Each client opens a connection to ``/ws/chat`` and, once all of them are
connected, does numbered round trips: it sends ``"0"``, waits for the reply,
checks that the reply quotes ``"0"``, sends ``"1"``, and so on. The report
counts, over all clients:

* lost: a message sent whose reply never came (by the deadline, or before
  the server closed the connection);
* duplicated: a reply for a number that had been answered already;
* reordered: a reply for a number lower than one already answered;
* unexpected: a reply that quotes nothing that was sent (an error reply,
  say), printed as it came;

and lists them when there are any, then the total rate (all replies, from
the moment every client is connected to the last reply) and the p50/p99 of
one round trip. After the last round trip every client listens for 0.2 s
more, so a late duplicate of its last reply is counted too.

The server runs in a child process (``BackgroundServer``, uvicorn's
default WebSocket implementation), the clients in this one on one asyncio
loop, so on two cores each side has a core. The lesson server keeps its
default limits except ``max_connections``, raised above the client count.
Its rate limit (100 messages a second per connection, burst 100) does not
bite: a client does at most 100 round trips, within the burst, and with
hundreds of clients sharing the server each one gets far fewer than 100
replies a second anyway. With ``--round-trips`` over 100 on a fast machine
the rate limit would show up as unexpected ``rate_limited`` replies.

The run is bounded: after ``--deadline`` seconds every client stops where it
is, and the report says what was still missing. The same load is then run
against a bare ``websockets`` server, for comparison (``--no-bare`` skips it).
This process needs a file descriptor per client: the soft limit is raised
to fit if the hard limit allows.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

try:
    from benchmarks.bench_text import Server, percentile
except ModuleNotFoundError:  # run as a script, python benchmarks/bench_load.py: its folder is on the path
    from bench_text import Server, percentile

#: What a reply quoting the message ends with.
QUOTE = "] Server received: "
#: Handshakes under way at once: below the listen backlog of any OS's default.
HANDSHAKES_AT_ONCE = 100


@dataclass
class Client:
    """What one client sent and got back."""

    number: int
    connected: bool = False
    sent: int = 0  # how many numbers were sent: 0 .. sent - 1
    answered: Counter[int] = field(default_factory=Counter)
    highest: int = -1  # the highest number answered so far
    duplicated: list[int] = field(default_factory=list)
    reordered: list[int] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    last_reply: float = 0.0
    ended: str = ""  # why the client stopped early, if it did

    def take(self, reply: Any) -> int | None:
        """Record a reply; return the number it quotes, or None."""
        text = reply if isinstance(reply, str) else repr(reply)
        head, sep, quoted = text.rpartition(QUOTE)
        if not sep or not quoted.isdigit() or int(quoted) >= self.sent or not head.startswith("["):
            self.unexpected.append(text)
            return None
        n = int(quoted)
        if self.answered[n]:
            self.duplicated.append(n)
        elif n < self.highest:
            self.reordered.append(n)
        self.answered[n] += 1
        self.highest = max(self.highest, n)
        self.last_reply = time.perf_counter()
        return n

    @property
    def lost(self) -> list[int]:
        return [n for n in range(self.sent) if not self.answered[n]]


async def run_client(
    client: Client,
    url: str,
    round_trips: int,
    compression: str | None,
    phases: tuple[asyncio.Queue[None], asyncio.Event, asyncio.Queue[None], asyncio.Event],
    handshakes: asyncio.Semaphore,
) -> None:
    """Connect, wait for the go, do the numbered round trips, then listen for strays.

    ``phases``: a queue told once the client is connected (or failed to),
    the go, a queue told once its round trips are over, and the end.
    """
    ready, go, finished, done = phases
    clock = time.perf_counter
    try:
        try:
            async with handshakes:
                ws = await connect(url, compression=compression, open_timeout=None, close_timeout=2)
            client.connected = True
        finally:
            ready.put_nowait(None)
        try:  # closed with 1000 even when the deadline cancels this task
            await go.wait()
            try:
                for n in range(round_trips):
                    start = clock()
                    client.sent = n + 1
                    await ws.send(str(n))
                    while client.take(await ws.recv()) != n:
                        pass  # a stray reply, recorded; wait on for ours
                    client.latencies.append(clock() - start)
            finally:
                finished.put_nowait(None)
            await done.wait()
            try:  # a duplicate of the last reply would come now
                async with asyncio.timeout(0.2):
                    while True:
                        client.take(await ws.recv())
            except TimeoutError:
                pass
        finally:
            await ws.close()
    except InvalidStatus as refused:
        client.ended = f"refused: HTTP {refused.response.status_code}"
    except InvalidHandshake as error:
        client.ended = f"handshake failed: {error}"
    except ConnectionClosed as closed:
        client.ended = f"closed by the server: {closed.rcvd.code if closed.rcvd else 'no close frame'}"
    except OSError as error:
        client.ended = f"could not connect: {error}"


@dataclass
class Result:
    clients: list[Client]
    connect_time: float
    elapsed: float
    deadline_hit: bool
    server_cpu: float = 0.0  # seconds, over the round trips
    client_cpu: float = 0.0

    @property
    def round_trips(self) -> int:
        """Round trips completed: numbers answered, each counted once."""
        return sum(len(c.answered) for c in self.clients)


async def load(server: Server, clients: int, round_trips: int, compression: str | None, deadline: float) -> Result:
    """Run ``clients`` clients against ``server``; stop them all after ``deadline`` seconds."""
    url = server.url
    everyone = [Client(number) for number in range(clients)]
    phases = (asyncio.Queue(), asyncio.Event(), asyncio.Queue(), asyncio.Event())
    ready, go, finished, done = phases
    start = time.perf_counter()
    handshakes = asyncio.Semaphore(HANDSHAKES_AT_ONCE)
    tasks = [asyncio.create_task(run_client(c, url, round_trips, compression, phases, handshakes)) for c in everyone]
    deadline_hit = False
    connect_time = elapsed = server_cpu = client_cpu = 0.0
    started = start
    try:
        async with asyncio.timeout(deadline):
            for _ in everyone:
                await ready.get()
            connect_time = time.perf_counter() - start
            cpu, client_cpu = server.cpu(), time.process_time()
            started = time.perf_counter()
            go.set()
            for _ in range(sum(c.connected for c in everyone)):
                await finished.get()
            elapsed = max(c.last_reply for c in everyone) - started
            server_cpu, client_cpu = server.cpu() - cpu, time.process_time() - client_cpu
            done.set()
            await asyncio.gather(*tasks)
    except TimeoutError:
        deadline_hit = True
        if go.is_set() and not elapsed:
            elapsed = max(c.last_reply for c in everyone) - started
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return Result(everyone, connect_time, elapsed, deadline_hit, server_cpu, client_cpu)


def summarize(name: str, result: Result, round_trips: int) -> None:
    clients = result.clients
    connected = sum(c.connected for c in clients)
    replies = sum(sum(c.answered.values()) for c in clients)
    in_order = result.round_trips
    lost = [(c.number, n) for c in clients for n in c.lost]
    duplicated = [(c.number, n) for c in clients for n in c.duplicated]
    reordered = [(c.number, n) for c in clients for n in c.reordered]
    unexpected = [(c.number, text) for c in clients for text in c.unexpected]
    not_sent = sum(round_trips - c.sent for c in clients)
    latencies = [t for c in clients for t in c.latencies]
    print(f"\n{name}")
    print(f"  connected {connected}/{len(clients)} in {result.connect_time:.2f} s")
    print(
        f"  replies: {replies} for {len(clients) * round_trips} round trips; "
        f"lost {len(lost)}, duplicated {len(duplicated)}, reordered {len(reordered)}, unexpected {len(unexpected)}"
    )
    if result.deadline_hit:
        print("  the DEADLINE passed before every client was done")
    if not_sent:
        print(f"  {not_sent} messages never sent")
    for label, items in [("lost", lost), ("duplicated", duplicated), ("reordered", reordered)]:
        if items:
            shown = ", ".join(f"client {c} #{n}" for c, n in items[:20])
            print(f"  {label}: {shown}" + (f" and {len(items) - 20} more" if len(items) > 20 else ""))
    for c, text in unexpected[:10]:
        print(f"  unexpected, client {c}: {text[:120]!r}")
    ended = Counter(c.ended for c in clients if c.ended)
    for why, count in ended.items():
        print(f"  {count} clients ended early: {why}")
    if latencies and result.elapsed > 0:
        print(
            f"  {in_order / result.elapsed:.0f} msgs/s over {result.elapsed:.2f} s; round trip "
            f"p50 {percentile(latencies, 0.5) * 1e3:.1f} ms, p99 {percentile(latencies, 0.99) * 1e3:.1f} ms, "
            f"max {max(latencies) * 1e3:.1f} ms"
        )
    if result.server_cpu:
        print(
            f"  CPU per round trip: server {result.server_cpu / in_order * 1e6:.0f} us, "
            f"client {result.client_cpu / in_order * 1e6:.0f} us"
        )


def raise_fd_limit(needed: int) -> None:
    """Raise this process's open-file limit to ``needed`` if the hard limit allows (children inherit it)."""
    try:
        import resource
    except ImportError:  # Windows: no such per-process limit
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        if hard != resource.RLIM_INFINITY and hard < needed:
            raise SystemExit(f"{needed} file descriptors needed, the hard limit is {hard}: use fewer --clients")
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_load", description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--round-trips", type=int, default=100, help="round trips per client")
    parser.add_argument("--deadline", type=float, default=120, help="seconds before every client stops")
    parser.add_argument("--compression", choices=["deflate", "off"], default="deflate")
    parser.add_argument("--no-bare", action="store_true", help="skip the run against a bare websockets server")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    raise_fd_limit(args.clients + 100)
    load_average = os.getloadavg()
    compression = "deflate" if args.compression == "deflate" else None
    kinds = ["lesson"] + ([] if args.no_bare else ["bare"])

    print(
        f"{args.clients} clients x {args.round_trips} numbered round trips on /ws/chat, "
        f"permessage-deflate {'on' if compression else 'off'}, deadline {args.deadline:.0f} s per run"
    )
    print("servers in child processes; the clients on one asyncio loop in this process")
    print(f"load average before the run: {load_average[0]:.2f} on {os.cpu_count()} cores")
    started = time.perf_counter()
    results = {}
    for kind in kinds:
        if kind == "lesson":
            server = Server("lesson", args.compression, max_connections=args.clients + 10)
            name = f"lesson: server.text.create_app(max_connections={args.clients + 10}), other limits default"
        else:
            server = Server("bare", args.compression)
            name = "bare: websockets serve(), the same reply"
        try:
            results[kind] = asyncio.run(load(server, args.clients, args.round_trips, compression, args.deadline))
        finally:
            server.stop()
        summarize(name, results[kind], args.round_trips)
    if len(results) == 2 and all(r.elapsed and r.server_cpu for r in results.values()):
        rate = {kind: r.round_trips / r.elapsed for kind, r in results.items()}
        cpu = {kind: r.server_cpu / r.round_trips for kind, r in results.items()}
        print(
            f"\nlesson/bare: {rate['lesson'] / rate['bare']:.2f}x msgs/s, "
            f"server CPU per round trip {cpu['lesson'] / cpu['bare']:.2f}x"
        )
    print(f"\ntook {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
