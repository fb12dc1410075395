"""How quickly does ``BackgroundServer`` start and stop?

Run from the repository root::

    python -m benchmarks.bench_background            # 30 cycles
    python -m benchmarks.bench_background --cycles 100

Each cycle starts a server, times ``start()`` up to a completed WebSocket
handshake (the client's ``connect`` has returned), closes the client, then
times ``stop()`` up to the moment the port can be bound again (with
``SO_REUSEADDR``, as the helper binds it: connections the server closed
linger in TIME_WAIT). The first start in the process pays for lazy imports
and is reported apart. Targets: start < 50 ms, stop < 200 ms (medians).
"""

from __future__ import annotations

import argparse
import socket
import statistics
import time

from fastapi import FastAPI, WebSocket
from websockets.sync.client import connect

from server.background import BackgroundServer

START_TARGET = 0.050
STOP_TARGET = 0.200

app = FastAPI()


@app.websocket("/ws")
async def hello(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.close()


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
            sock.listen()
        except OSError:
            return False
        return True


def cycle() -> tuple[float, float]:
    """One start and stop: (seconds to a handshake, seconds to a free port)."""
    begin = time.perf_counter()
    server = BackgroundServer(app, name="bench").start()
    with connect(server.ws_url("/ws"), compression=None, open_timeout=5):
        started = time.perf_counter() - begin
    port = server.port
    begin = time.perf_counter()
    server.stop()
    deadline = begin + 5
    while not port_is_free(port):
        if time.perf_counter() > deadline:
            raise RuntimeError(f"port {port} still taken 5 s after stop()")
        time.sleep(0.001)
    return started, time.perf_counter() - begin


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=30)
    args = parser.parse_args(argv)

    first_start, first_stop = cycle()
    results = [cycle() for _ in range(args.cycles)]
    starts = [r[0] for r in results]
    stops = [r[1] for r in results]

    def ms(seconds: float) -> str:
        return f"{seconds * 1000:6.1f} ms"

    def verdict(value: float, target: float) -> str:
        return f"target < {target * 1000:.0f} ms: {'ok' if value < target else 'MISSED'}"

    print(f"BackgroundServer, {args.cycles} cycles after a first one")
    print(f"  first start -> handshake  {ms(first_start)}   first stop -> free port {ms(first_stop)}")
    print(
        f"  start -> handshake  median {ms(statistics.median(starts))}  "
        f"max {ms(max(starts))}   {verdict(statistics.median(starts), START_TARGET)}"
    )
    print(
        f"  stop -> free port   median {ms(statistics.median(stops))}  "
        f"max {ms(max(stops))}   {verdict(statistics.median(stops), STOP_TARGET)}"
    )


if __name__ == "__main__":
    main()
