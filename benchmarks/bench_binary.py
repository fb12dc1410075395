"""How fast is lesson 02's file transfer, next to bare websockets servers?

Run from the repository root::

    python -m benchmarks.bench_binary            # 256 MiB, 5 repeats
    python -m benchmarks.bench_binary --size-mib 64 --repeats 3
    python -m benchmarks.bench_binary --compression   # also the lesson with deflate on

Every server runs in a process of its own and the client in this one, so
client and server do not share a GIL (on two cores a shared GIL would
measure Python's lock, not the servers). Compression is off everywhere but
in the opt-in ``--compression`` comparison. Each repeat visits every server
in turn, so drift in the machine hits them all alike; the report gives
medians and ratios to the baselines.

Upload (client sends the file in 1 MiB frames, with the lesson's protocol):

* lesson        -- ``server.binary`` on uvicorn via ``BackgroundServer``
* bare-hash     -- (a) a bare ``websockets`` server that receives, hashes
                   and writes to a file, all on its event loop
* bare-overlap  -- (a2) the same, with hashing and writing in a worker
                   thread (``server.binary.Sink``), for reference
* bare-receive  -- (b) a bare ``websockets`` server that only receives
* lesson-deflate -- with ``--compression``: the lesson server with
                   permessage-deflate switched on, and a client that offers it

Download (client receives, hashes and writes the file):

* lesson        -- ``server.binary``: reads the stored file, sends it
* bare-read     -- (a) bare server that reads the file and sends it
* bare-memory   -- (b) bare server that sends bytes from memory
* lesson-deflate -- with ``--compression``, as for uploads

The lesson server's RSS is sampled every 5 ms during its transfers; the
report gives the peak growth over the RSS at the start of a transfer.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import multiprocessing as mp
import os
import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil
from websockets.sync.client import connect

from server import binary, binary_client

CHUNK = binary.CHUNK_SIZE
MiB = 2**20
UPLOAD_SERVERS = ["lesson", "bare-hash", "bare-overlap", "bare-receive"]
DOWNLOAD_SERVERS = ["lesson", "bare-read", "bare-memory"]


# -- servers, each run in a child process ---------------------------------------


def run_lesson(conn: Any, folder: str, deflate: bool = False) -> None:
    from server.background import BackgroundServer

    app = binary.create_app(storage_dir=folder)
    # The app's own settings (no compression), or deflate switched back on,
    # with room for a chunk of random data, which deflate makes larger.
    options = {"ws_per_message_deflate": True, "ws_max_size": 2 * CHUNK} if deflate else {}
    with BackgroundServer(app, **options) as server:
        conn.send(server.ws_url("/ws/file-transfer"))
        conn.recv()  # until told to stop


async def bare_handler(ws: Any, mode: str, folder: Path, source: Path) -> None:
    async for message in ws:
        request = json.loads(message)
        if request["type"] == "upload":
            size, received = request["size"], 0
            await ws.send(json.dumps({"type": "ready", "offset": 0, "chunk_size": CHUNK}))
            digest = ""
            if mode == "bare-receive":
                while received < size:
                    received += len(await ws.recv())
            elif mode == "bare-hash":
                hasher = hashlib.sha256()
                with open(folder / request["name"], "wb") as file:
                    while received < size:
                        data = await ws.recv()
                        hasher.update(data)
                        file.write(data)
                        received += len(data)
                digest = hasher.hexdigest()
            else:  # bare-overlap
                sink = binary.Sink(folder / request["name"])
                while received < size:
                    data = await ws.recv()
                    await sink.write(data)
                    received += len(data)
                digest = await sink.finish()
            await ws.send(json.dumps({"type": "done", "size": size, "sha256": digest}))
        else:  # download
            size = source.stat().st_size
            await ws.send(json.dumps({"type": "file", "size": size, "sha256": "", "offset": 0}))
            if mode == "bare-memory":
                block = os.urandom(CHUNK)
                for start in range(0, size, CHUNK):
                    await ws.send(block[: min(CHUNK, size - start)])
            else:  # bare-read
                with open(source, "rb") as file:
                    while data := file.read(CHUNK):
                        await ws.send(data)
            await ws.send(json.dumps({"type": "done", "size": size}))


def run_bare(conn: Any, mode: str, folder: str, source: str) -> None:
    from websockets.asyncio.server import serve

    async def main() -> None:
        async def handler(ws: Any) -> None:
            await bare_handler(ws, mode, Path(folder), Path(source))

        async with serve(handler, "127.0.0.1", 0, compression=None, max_size=CHUNK) as server:
            port = server.sockets[0].getsockname()[1]
            conn.send(f"ws://127.0.0.1:{port}/")
            await asyncio.get_running_loop().run_in_executor(None, conn.recv)

    asyncio.run(main())


class Server:
    """A server in a child process: ``.url``, ``.pid``, ``.stop()``."""

    def __init__(self, kind: str, folder: Path, source: Path) -> None:
        ctx = mp.get_context("spawn")
        self.conn, child = ctx.Pipe()
        if kind.startswith("lesson"):
            target, args = run_lesson, (child, str(folder), kind == "lesson-deflate")
        else:
            target, args = run_bare, (child, kind, str(folder), str(source))
        self.process = ctx.Process(target=target, args=args, daemon=True)
        self.process.start()
        if not self.conn.poll(30):
            raise RuntimeError(f"{kind} server did not start")
        self.url: str = self.conn.recv()
        self.pid = self.process.pid

    def stop(self) -> None:
        self.conn.send("stop")
        self.process.join(10)
        if self.process.is_alive():
            self.process.kill()


# -- the client -------------------------------------------------------------------


def recv_json(ws: Any) -> dict[str, Any]:
    while True:
        message = json.loads(ws.recv(timeout=30))
        if message["type"] != "progress":
            return message


def connect_as(kind: str, url: str) -> Any:
    """Connect without compression, or offering deflate to lesson-deflate (and checking it is on)."""
    if kind == "lesson-deflate":  # a deflated chunk of random data is larger than the chunk
        compression, max_size = "deflate", 2 * CHUNK
    else:
        compression, max_size = None, CHUNK
    ws = connect(url, compression=compression, max_size=max_size, open_timeout=10)
    assert bool(ws.protocol.extensions) == (compression is not None), ws.protocol.extensions
    return ws


def upload_raw(kind: str, url: str, path: Path, name: str, size: int, sha256: str) -> dict[str, Any]:
    """Send ``path`` with the lesson's protocol; the same client for every server."""
    with connect_as(kind, url) as ws, open(path, "rb") as file:
        ws.send(json.dumps({"type": "upload", "name": name, "size": size, "sha256": sha256}))
        ready = recv_json(ws)
        assert ready["type"] == "ready", ready
        while data := file.read(CHUNK):
            ws.send(data)
            try:  # drop the progress reports that have arrived
                while True:
                    ws.recv(timeout=0)
            except TimeoutError:
                pass
        done = recv_json(ws)
        assert done["type"] == "done", done
        return done


def download_raw(kind: str, url: str, name: str, dest: Path) -> str:
    """Receive a file, hash it and write it: the same client for every server."""
    hasher = hashlib.sha256()
    with connect_as(kind, url) as ws, open(dest, "wb") as file:
        ws.send(json.dumps({"type": "download", "name": name}))
        info = recv_json(ws)
        assert info["type"] == "file", info
        received = 0
        while received < info["size"]:
            data = ws.recv(timeout=30)
            hasher.update(data)
            file.write(data)
            received += len(data)
        assert recv_json(ws)["type"] == "done"
    return hasher.hexdigest()


class PeakRSS:
    """Sample a process's RSS every 5 ms; ``growth`` is peak minus start.

    ``cpu`` is the CPU time (user + system) the process used meanwhile.
    """

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.start = self.peak = self.process.memory_info().rss
        self.cpu = -sum(self.process.cpu_times()[:2])
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, self.process.memory_info().rss)

    def __enter__(self) -> PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.process.memory_info().rss)
        self.cpu += sum(self.process.cpu_times()[:2])

    @property
    def growth(self) -> int:
        return self.peak - self.start


def make_file(path: Path, size: int) -> str:
    """Write ``size`` bytes that do not compress; return their SHA-256."""
    hasher = hashlib.sha256()
    block = os.urandom(CHUNK)
    with open(path, "wb") as file:
        for i in range(0, size, CHUNK):
            data = i.to_bytes(8, "little") + block[8 : min(CHUNK, size - i)]
            hasher.update(data)
            file.write(data)
        file.flush()
        os.fsync(file.fileno())  # no writeback of it during the runs
    return hasher.hexdigest()


# -- the run ----------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_binary", description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--dir", help="working folder (default: a temporary folder)")
    parser.add_argument(
        "--compression", action="store_true", help="also time the lesson server with permessage-deflate on"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    size = args.size_mib * MiB
    load = os.getloadavg()
    upload_servers = UPLOAD_SERVERS + ["lesson-deflate"] * args.compression
    download_servers = DOWNLOAD_SERVERS + ["lesson-deflate"] * args.compression

    root = Path(tempfile.mkdtemp(prefix="bench-binary-", dir=args.dir))
    try:
        source = root / "source.bin"
        sha256 = make_file(source, size)
        servers: dict[str, Server] = {}
        folders: dict[str, Path] = {}
        for kind in dict.fromkeys(upload_servers + download_servers):
            folders[kind] = root / kind
            folders[kind].mkdir()
            servers[kind] = Server(kind, folders[kind], source)
        # The lesson servers download a stored file; hash it once up front.
        for kind in servers:
            if kind.startswith("lesson"):
                os.link(source, folders[kind] / "stored.bin")
                binary_client.list_files(servers[kind].url)

        up: dict[str, list[float]] = {k: [] for k in upload_servers}
        down: dict[str, list[float]] = {k: [] for k in download_servers}
        cpu: dict[str, list[float]] = {f"up {k}": [] for k in upload_servers}
        cpu.update({f"down {k}": [] for k in download_servers})
        rss_up: list[int] = []
        rss_down: list[int] = []
        client_up: list[float] = []
        for repeat in range(args.repeats):
            for kind in upload_servers:
                name = f"up-{repeat}.bin"
                with PeakRSS(servers[kind].pid) as rss:
                    start = time.perf_counter()
                    done = upload_raw(kind, servers[kind].url, source, name, size, sha256)
                    up[kind].append(time.perf_counter() - start)
                cpu[f"up {kind}"].append(rss.cpu)
                if kind == "lesson":
                    rss_up.append(rss.growth)
                assert done["sha256"] in (sha256, ""), done
                (folders[kind] / name).unlink(missing_ok=True)
            for kind in download_servers:
                dest = root / f"down-{kind}.bin"
                with PeakRSS(servers[kind].pid) as rss:
                    start = time.perf_counter()
                    got = download_raw(kind, servers[kind].url, "stored.bin", dest)
                    down[kind].append(time.perf_counter() - start)
                cpu[f"down {kind}"].append(rss.cpu)
                if kind == "lesson":
                    rss_down.append(rss.growth)
                assert kind == "bare-memory" or got == sha256
                dest.unlink()
            # The lesson's own client, end to end (it hashes the file first).
            start = time.perf_counter()
            binary_client.upload(servers["lesson"].url, source, name="client.bin", progress=False)
            client_up.append(time.perf_counter() - start)
            (folders["lesson"] / "client.bin").unlink()
        for server in servers.values():
            server.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)

    def rate(times: list[float]) -> float:
        return size / MiB / statistics.median(times)

    def cost(key: str) -> float:
        return statistics.median(cpu[key]) * 1000 / (size / MiB)

    compression = "no compression" + (" but lesson-deflate" if args.compression else "")
    print(f"{args.size_mib} MiB, {args.repeats} repeats, medians; servers in child processes, {compression}")
    print(f"load average before the run: {load[0]:.2f} on {os.cpu_count()} cores")
    print("\nupload                 MiB/s   ratio to (a) bare-hash   server CPU ms/MiB")
    for kind in UPLOAD_SERVERS:
        ratio = rate(up[kind]) / rate(up["bare-hash"])
        print(f"  {kind:<18} {rate(up[kind]):8.0f}   {ratio:5.2f}x {cost('up ' + kind):25.2f}")
    print(f"  lesson vs (b) bare-receive: {rate(up['lesson']) / rate(up['bare-receive']):.2f}x")
    print(f"  lesson vs (a2) bare-overlap: {rate(up['lesson']) / rate(up['bare-overlap']):.2f}x")
    print(f"  binary_client.upload() end to end, hashing first: {rate(client_up):.0f} MiB/s")
    print("\ndownload               MiB/s   ratio to (a) bare-read   server CPU ms/MiB")
    for kind in DOWNLOAD_SERVERS:
        ratio = rate(down[kind]) / rate(down["bare-read"])
        print(f"  {kind:<18} {rate(down[kind]):8.0f}   {ratio:5.2f}x {cost('down ' + kind):25.2f}")
    print(f"  lesson vs (b) bare-memory: {rate(down['lesson']) / rate(down['bare-memory']):.2f}x")
    if args.compression:
        print("\nlesson with permessage-deflate   MiB/s   times slower than without   server CPU ms/MiB")
        for direction, key, times in (("upload", "up", up), ("download", "down", down)):
            slower = rate(times["lesson"]) / rate(times["lesson-deflate"])
            cpu_cost = cost(f"{key} lesson-deflate")
            print(f"  {direction:<28} {rate(times['lesson-deflate']):7.0f}   {slower:8.1f}x {cpu_cost:28.2f}")
    print(
        f"\nlesson server peak RSS growth: upload {max(rss_up) / MiB:.1f} MiB, "
        f"download {max(rss_down) / MiB:.1f} MiB (max over repeats)"
    )


if __name__ == "__main__":
    main()
