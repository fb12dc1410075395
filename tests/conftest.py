"""Shared fixtures: lesson apps served on real uvicorn servers."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import stat
import subprocess
import threading
import time
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


# -- a real browser: the system's Chromium, driven by Playwright --------------------------------

#: Debian's chromium package (.ci/run installs it); else a Chromium or Chrome on PATH.
CHROMIUM = "/usr/bin/chromium"
OTHER_BROWSERS = ("chromium", "chromium-browser", "google-chrome")
#: A name only this browser knows: it resolves to 127.0.0.1, so a page served by it is not on a local origin.
BROWSER_HOST = "chat.test"
#: Headless, with nothing that reaches for the network (this machine has none: each try costs time).
BROWSER_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--no-proxy-server",
    "--disable-dev-shm-usage",
    f"--host-resolver-rules=MAP {BROWSER_HOST} 127.0.0.1",
]
#: Milliseconds Playwright waits for a page to show what is expected.
BROWSER_WAIT_MS = 10_000


def browser_executable() -> str | None:
    """The browser to drive: Debian's Chromium, or one on PATH."""
    if os.path.exists(CHROMIUM):
        return CHROMIUM
    return next(filter(None, map(shutil.which, OTHER_BROWSERS)), None)


def browser_unavailable() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if browser_executable() is None:
        return f"no Chromium at {CHROMIUM} nor on PATH (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright is not installed (pip install -e '.[test]')"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A headless Chromium for the module's tests; skipped, saying why, where there is none, but failed under CI."""
    reason = browser_unavailable()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"browser tests cannot run under CI: {reason}", pytrace=False)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=browser_executable(), args=BROWSER_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def new_page(browser: Any) -> Iterator[Callable[..., Any]]:
    """``new_page(**context_options)``: a page in a context of its own (no shared cookies); all closed after the test."""
    contexts: list[Any] = []

    def open_page(**options: Any) -> Any:
        context = browser.new_context(**options)
        context.set_default_timeout(BROWSER_WAIT_MS)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture
def open_files() -> Iterator[Callable[[int], None]]:
    """``open_files(n)``: raise this process's open-file limit to ``n`` for the test, where there is one.

    macOS allows 256 by default, too few for both ends of hundreds of connections;
    the test is skipped where the hard limit is lower than ``n``.
    """
    try:
        import resource
    except ImportError:  # Windows: no such per-process limit
        yield lambda needed: None
        return
    before = resource.getrlimit(resource.RLIMIT_NOFILE)

    def raise_to(needed: int) -> None:
        soft, hard = before
        if soft != resource.RLIM_INFINITY and soft < needed:
            if hard != resource.RLIM_INFINITY and hard < needed:
                pytest.skip(f"needs {needed} open files, the hard limit is {hard}")
            resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))

    yield raise_to
    resource.setrlimit(resource.RLIMIT_NOFILE, before)


# -- commands the tests start: a free port, waiting for it, stopping everything they started ----------


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, deadline: float = 60, output: Callable[[], str] = str) -> None:
    """Return once ``port`` accepts a connection; fail if ``process`` exits first or ``deadline`` passes.

    ``output()`` gives what to show of the process when it failed (its log, say).
    """
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if process.poll() is not None:
            raise AssertionError(f"{process.args[1:3]} exited with {process.returncode}:\n{output()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nothing listening on port {port} after {deadline} s:\n{output()}")


def stop_process(process: subprocess.Popen, grace: float = 30) -> None:
    """Ask a process to stop (SIGTERM), kill it after ``grace`` seconds, and kill anything it started that is left.

    A process started in a session of its own is killed with its whole group.
    Children that run in sessions of their own (Jupyter kernels) are found by
    the process tree, taken before the process ends.
    """
    try:
        family = psutil.Process(process.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        family = []
    process.terminate()
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        if hasattr(os, "killpg"):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                if os.getpgid(process.pid) == process.pid:
                    os.killpg(process.pid, signal.SIGKILL)
        process.kill()
        process.wait()
    finally:
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
    left = [child for child in family if child.is_running()]
    for child in left:
        with contextlib.suppress(psutil.NoSuchProcess):
            child.kill()
    psutil.wait_procs(left, timeout=10)
