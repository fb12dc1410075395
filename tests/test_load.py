"""Lesson 01 under load: many clients at once on a real uvicorn server."""

from __future__ import annotations

import asyncio

import pytest
from websockets.asyncio.client import connect

from server import text

CLIENTS = 500
ROUND_TRIPS = 20
#: Handshakes under way at once: below the listen backlog of every OS's default.
HANDSHAKES_AT_ONCE = 50
#: Seconds for the whole run; replies missing by then count as lost.
DEADLINE = 60


@pytest.fixture
def enough_file_descriptors(open_files):
    """Room for both ends of every connection."""
    open_files(2 * CLIENTS + 200)


def quoted(reply: str | bytes) -> int | None:
    """The number a reply quotes; None if it quotes no number."""
    quote = reply.rpartition("Server received: ")[2] if isinstance(reply, str) else ""
    return int(quote) if quote.isdigit() else None


async def numbered_round_trips(url: str) -> list[list[int | None]]:
    """Each client's replies, as the numbers they quote, in the order they came."""
    replies: list[list[int | None]] = [[] for _ in range(CLIENTS)]
    handshakes = asyncio.Semaphore(HANDSHAKES_AT_ONCE)

    async def client(got: list[int | None]) -> None:
        async with handshakes:
            ws = await connect(url, open_timeout=30)
        async with ws:
            for n in range(ROUND_TRIPS):
                await ws.send(str(n))
                # Wait for the reply to n, keeping any stray reply that comes first.
                while not got or got[-1] != n:
                    got.append(quoted(await ws.recv()))
            try:  # a late duplicate of the last reply would come now
                async with asyncio.timeout(0.2):
                    while True:
                        got.append(quoted(await ws.recv()))
            except TimeoutError:
                pass

    try:
        # A bound on the whole run; what came by then is checked.
        async with asyncio.timeout(DEADLINE):
            await asyncio.gather(*(client(got) for got in replies))
    except TimeoutError:
        pass
    return replies


def test_500_clients_get_every_reply_once_and_in_order(serve, enough_file_descriptors):
    """500 clients doing 20 round trips each at once get every reply, once, in order."""
    server = serve(text.create_app(max_connections=CLIENTS + 10))
    replies = asyncio.run(numbered_round_trips(server.ws_url("/ws/chat")))
    unexpected = sum(got.count(None) for got in replies)
    numbers = [[n for n in got if n is not None] for got in replies]
    lost = sum(n not in got for got in numbers for n in range(ROUND_TRIPS))
    duplicated = sum(len(got) - len(set(got)) for got in numbers)
    reordered = sum(n < max(got[:i]) for got in numbers for i, n in enumerate(got) if i and n not in got[:i])
    counts = {"lost": lost, "duplicated": duplicated, "reordered": reordered, "unexpected": unexpected}
    assert counts == dict.fromkeys(counts, 0)
