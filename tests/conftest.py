"""Shared fixtures: lesson apps served on real uvicorn servers."""

from __future__ import annotations

import contextlib
import os
import stat
import threading
from collections.abc import Callable, Iterator
from typing import Any

import psutil
import pytest

from server.background import BackgroundServer

#: uvicorn's WebSocket implementations the course supports.
WS_IMPLEMENTATIONS = ["websockets-sansio", "websockets", "wsproto"]


@pytest.fixture(params=WS_IMPLEMENTATIONS)
def ws_impl(request: pytest.FixtureRequest) -> str:
    """Each of uvicorn's WebSocket implementations in turn."""
    return request.param


@pytest.fixture
def serve() -> Iterator[Callable[..., BackgroundServer]]:
    """Start apps on background uvicorn servers; stop them after the test.

    ``serve(app, **uvicorn_options)`` returns the started server. Each call
    gets a name of its own, so one test can run the same app twice.
    """
    servers: list[BackgroundServer] = []

    def start(app: Any, **options: Any) -> BackgroundServer:
        options.setdefault("name", f"test-{len(servers)}-{id(app):x}")
        server = BackgroundServer(app, **options).start()
        servers.append(server)
        return server

    yield start
    for server in reversed(servers):
        server.stop()


@pytest.fixture
def disk_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record the file transfer's fsyncs and renames, in order: "fsync file", "replace", "fsync folder".

    server.binary and server.binary_client both call them through ``os``,
    so patching ``os`` records the server's and the client's.
    """
    calls: list[str] = []
    fsync, replace = os.fsync, os.replace

    def noting_fsync(fd: int) -> None:
        calls.append("fsync folder" if stat.S_ISDIR(os.fstat(fd).st_mode) else "fsync file")
        fsync(fd)

    def noting_replace(*args: Any) -> None:
        calls.append("replace")
        replace(*args)

    monkeypatch.setattr(os, "fsync", noting_fsync)
    monkeypatch.setattr(os, "replace", noting_replace)
    return calls


class PeakRSS:
    """Sample a process's resident memory every 2 ms while in the block; ``growth`` is peak minus start."""

    def __init__(self, process: psutil.Process | None = None) -> None:
        self.process = process or psutil.Process()
        self.start = self.peak = self.process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.002):
            with contextlib.suppress(psutil.Error):  # the process may end first
                self.peak = max(self.peak, self.process.memory_info().rss)

    def __enter__(self) -> PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def growth(self) -> int:
        return self.peak - self.start


@pytest.fixture
def peak_rss() -> type[PeakRSS]:
    """``with peak_rss(process) as rss: ...`` then ``rss.growth``: a process's peak memory growth (this one's by default)."""
    return PeakRSS
