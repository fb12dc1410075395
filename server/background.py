"""Run an ASGI app on a real uvicorn server in a background thread.

One helper for notebooks, tests and benchmarks::

    from server.background import BackgroundServer
    from server.text import app

    server = BackgroundServer(app).start()
    server.ws_url("/ws/chat")      # 'ws://127.0.0.1:<port>/ws/chat'
    server.stop()

or ``with BackgroundServer(app) as server: ...``.

What happens in each outcome:

* ``start()`` binds the socket in the caller's thread (port 0 picks a free
  port; ``.port`` reports the real one), then runs uvicorn in a daemon
  thread and returns once the server accepts connections. There are no
  fixed sleeps.
* If the port is taken, ``start()`` raises ``OSError`` at once. If uvicorn
  cannot load the app (a bad import string) or the app's lifespan start-up
  fails, it raises :class:`StartupError` with uvicorn's message. If the
  server is not up within ``startup_timeout`` seconds it raises
  :class:`StartupError` too. Nothing is left running after a failure.
* Each server has a ``name``: by default where the app lives, such as
  ``"server.text:app"`` or ``"__main__:app"`` for an app defined in a
  notebook cell, or, for an app built inline
  (``BackgroundServer(create_app(...))``), the notebook cell that starts it
  (its first, second... server), or the file and line.
  Starting a server first stops any server this helper is still running
  on the same port, or under the same name when that is a re-run: from a
  notebook cell (or any code not read from a file), or with ``name=``
  given. Re-running the notebook cell that starts a lesson server therefore
  replaces the old server: no leaked thread, no "address already in use",
  and never the old code answering after the cell was changed. From a file
  (a helper function, a pytest fixture, a loop over lessons) only the same
  app object is replaced; different apps started by the same line run side
  by side, the later ones named ``"<name> #2"`` and so on. Pass ``name=`` to
  run the same app twice at once.
* The app says how it must be served: its ``uvicorn_options`` attribute
  (set by :func:`server.hardening.harden`: message size cap, Ping/Pong,
  compression) is applied, and options passed here win over it.
* ``stop()`` asks uvicorn to exit, wakes its main loop at once, closes open
  WebSocket connections (clients see close code 1012, "service restart"),
  joins the thread and frees the port. Handlers that ignore the shutdown
  are cancelled after ``timeout_graceful_shutdown`` seconds (default 2).
  ``stop()`` on a stopped server does nothing.

uvicorn stays quiet (log level "warning", no access log, and its logging
set-up left alone), so notebook cell output does not change from run to run;
errors, such as an exception in a handler, still show. It runs on a plain asyncio loop of
its own, which keeps working after ``nest_asyncio.apply()`` in the kernel.
"""

from __future__ import annotations

import asyncio
import atexit
import inspect
import logging
import os
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

import uvicorn

from server.hardening import serving_options

__all__ = ["BackgroundServer", "StartupError", "running_servers", "stop_all"]

_registry: dict[str, BackgroundServer] = {}
_registry_lock = threading.Lock()


class StartupError(RuntimeError):
    """The server did not start; the message says why."""


class _Server(uvicorn.Server):
    """uvicorn's server, told when it is up and woken at once to stop."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = threading.Event()
        self.loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        self.loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        await super().startup(sockets=sockets)
        if self.started:
            self.ready.set()

    async def main_loop(self) -> None:
        # uvicorn polls should_exit every 0.1 s; wait on an event as well so
        # that stop() does not pay for the poll (measured: stop() takes 100 ms
        # with this loop, 200 ms with uvicorn's own; benchmarks/bench_background).
        counter = 0
        while not await self.on_tick(counter):
            counter = (counter + 1) % 864000
            try:
                await asyncio.wait_for(self._wake.wait(), 0.1)
            except TimeoutError:
                pass

    def wake(self) -> None:
        self.should_exit = True
        if self.loop is not None and self._wake is not None:
            try:
                self.loop.call_soon_threadsafe(self._wake.set)
            except RuntimeError:  # the loop has already closed
                pass


class _ErrorLog(logging.Handler):
    """Collect uvicorn's error messages so start() can report them."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _default_name(app: Any, caller: FrameType | None) -> str:
    """Name an app after where it lives (``module:variable``), else after the code that starts it."""
    if isinstance(app, str):
        return app
    if caller is not None:
        for var, value in list(caller.f_globals.items()):
            if value is app and not var.startswith("_"):
                return f"{caller.f_globals.get('__name__', '?')}:{var}"
    for modname, module in list(sys.modules.items()):
        namespace = getattr(module, "__dict__", None)
        if not isinstance(namespace, dict):
            continue
        for var, value in list(namespace.items()):
            if value is app and not var.startswith("_"):
                return f"{modname}:{var}"
    if caller is None:
        return f"<app at {id(app):#x}>"
    # An app built inline, as in BackgroundServer(create_app(...)): name it
    # after the code that starts it. In a notebook cell that is the cell's
    # id (JupyterLab sends it; it stays the same when the cell is edited)
    # and the how-manieth server this run of the cell starts; in a file,
    # the file and line.
    cell = _notebook_cell()
    if cell is not None:
        cell_id, run = cell
        last_run, count = _cell_servers.get(cell_id, (None, 0))
        count = count + 1 if last_run == run else 1
        _cell_servers[cell_id] = (run, count)
        return f"<cell {cell_id}, server {count}>"
    return f"<{caller.f_code.co_filename}:{caller.f_lineno}>"


# For each notebook cell: the run (request id) that last named a server, and
# how many servers that run has named.
_cell_servers: dict[str, tuple[str, int]] = {}


def _notebook_cell() -> tuple[str, str] | None:
    """The id of the notebook cell running now and of this run, when the front end sends them."""
    if "IPython" not in sys.modules:
        return None
    try:
        parent = sys.modules["IPython"].get_ipython().kernel.get_parent()
        cell_id = parent["metadata"].get("cellId")
        return (cell_id, parent["header"]["msg_id"]) if cell_id else None
    except Exception:  # not in a kernel, or a front end that sends no cell id
        return None


class BackgroundServer:
    """An ASGI app served by uvicorn in a background thread.

    ``uvicorn_options`` go to :class:`uvicorn.Config` (for example
    ``ws="wsproto"`` or ``ws_per_message_deflate=False``).
    """

    def __init__(
        self,
        app: Any,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        name: str | None = None,
        startup_timeout: float = 10.0,
        **uvicorn_options: Any,
    ) -> None:
        self.app = app
        self.host = host
        self.requested_port = port
        here = inspect.currentframe()
        caller = here.f_back if here else None
        self.name = name or _default_name(app, caller)
        # A re-run replaces the server of the same name; see the module docstring.
        self._rerun = name is not None or caller is None or not os.path.isfile(caller.f_code.co_filename)
        self.startup_timeout = startup_timeout
        options = {
            # Leave the process's logging set-up alone (no dictConfig on every
            # start, so handlers a notebook adds stay): errors still reach the
            # root logger, and from there the cell's stderr.
            "log_config": None,
            "log_level": "warning",
            "access_log": False,
            "lifespan": "auto",
            "loop": "asyncio",
            "timeout_graceful_shutdown": 2,
        }
        options.update(serving_options(app, **uvicorn_options))
        self.uvicorn_options = options
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._port: int | None = None

    # -- addresses -----------------------------------------------------

    @property
    def port(self) -> int:
        """The port the server listens on (the real one when asked for 0)."""
        if self._port is None:
            raise RuntimeError("the server has not been started")
        return self._port

    @property
    def url(self) -> str:
        """The server's base HTTP URL, such as ``http://127.0.0.1:8000``."""
        return f"http://{self._url_host}:{self.port}"

    def ws_url(self, path: str = "/") -> str:
        """The full ``ws://`` URL of an endpoint path on this server."""
        if not path.startswith("/"):
            path = "/" + path
        return f"ws://{self._url_host}:{self.port}{path}"

    @property
    def _url_host(self) -> str:
        return f"[{self.host}]" if ":" in self.host else self.host

    @property
    def running(self) -> bool:
        """True while the server thread is serving."""
        return self._thread is not None and self._thread.is_alive()

    # -- life cycle ----------------------------------------------------

    def start(self) -> BackgroundServer:
        """Start serving and return ``self`` once connections are accepted."""
        self.stop()
        self._stop_others()
        sock = self._bind()
        try:
            config = uvicorn.Config(self.app, **self.uvicorn_options)
            errors = _ErrorLog()
            uvicorn_logger = logging.getLogger("uvicorn.error")
            uvicorn_logger.addHandler(errors)
            try:
                try:
                    config.load()
                except SystemExit:
                    raise StartupError(self._why("could not load the app", errors)) from None
                server = _Server(config)
                failure: list[BaseException] = []
                thread = threading.Thread(
                    target=self._serve,
                    args=(server, sock, failure),
                    name=f"uvicorn {self.name}",
                    daemon=True,
                )
                thread.start()
                if not self._wait_ready(server, thread):
                    server.wake()
                    thread.join(5)
                    if failure or not thread.is_alive():
                        reason = "start-up failed"
                    else:
                        reason = f"not up within {self.startup_timeout} s"
                    raise StartupError(self._why(reason, errors))
            finally:
                uvicorn_logger.removeHandler(errors)
        except BaseException:
            sock.close()
            raise
        self._server, self._thread = server, thread
        self._port = sock.getsockname()[1]
        with _registry_lock:
            _registry[self.name] = self
        return self

    def stop(self) -> None:
        """Stop serving, join the thread and free the port."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.wake()
        thread.join(self.uvicorn_options["timeout_graceful_shutdown"] + 5)
        self._server = self._thread = None
        with _registry_lock:
            if _registry.get(self.name) is self:
                del _registry[self.name]
        if thread.is_alive():  # pragma: no cover - uvicorn ignored should_exit
            raise RuntimeError(f"server {self.name!r} did not stop")

    @contextmanager
    def wrapped(self, wrapper: Callable[[Any], Any]) -> Iterator[None]:
        """Serve connections opened during the block through ``wrapper(app)``.

        Connections opened before keep the app they had; after the block new
        ones get the plain app again. On a stopped server it does nothing.
        The exercise checks use it to watch what a lesson server sees.
        """
        config = self._server.config if self._server is not None else None
        if config is None:
            yield
            return
        app = config.loaded_app
        config.loaded_app = wrapper(app)  # uvicorn hands it to each new connection
        try:
            yield
        finally:
            config.loaded_app = app

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.url if self.running else "stopped"
        return f"<BackgroundServer {self.name} {where}>"

    # -- internals -----------------------------------------------------

    def _stop_others(self) -> None:
        """Stop the servers this one replaces; rename this one if it replaces none of its name."""
        with _registry_lock:
            others = [
                other
                for other in _registry.values()
                if other is not self
                and (
                    (self.requested_port and other._port == self.requested_port)
                    or (other.name == self.name and (self._rerun or other.app is self.app))
                )
            ]
            base, number = self.name, 1
            while (holder := _registry.get(self.name)) not in (None, self) and holder not in others:
                number += 1
                self.name = f"{base} #{number}"
        for other in others:
            other.stop()

    def _bind(self) -> socket.socket:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        # Name the protocol: asyncio turns Nagle's algorithm off (TCP_NODELAY) on
        # accepted connections only when the listening socket says IPPROTO_TCP.
        # Without it two small frames in a row wait for the peer's delayed ACK.
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        try:
            # Lets a restart on the same port reuse it while old connections
            # linger in TIME_WAIT; a port still listening stays an error.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self.requested_port))
            sock.listen(self.uvicorn_options.get("backlog", 2048))
        except BaseException:
            sock.close()
            raise
        sock.setblocking(False)
        return sock

    def _wait_ready(self, server: _Server, thread: threading.Thread) -> bool:
        deadline = self.startup_timeout
        step = 0.005
        waited = 0.0
        while thread.is_alive() and waited < deadline:
            if server.ready.wait(step):
                return True
            waited += step
            step = min(step * 2, 0.05)
        return server.ready.is_set()

    @staticmethod
    def _serve(server: _Server, sock: socket.socket, failure: list[BaseException]) -> None:
        # A loop of our own: asyncio.run() may be patched by nest_asyncio.
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(server.serve(sockets=[sock]))
        except BaseException as exc:  # SystemExit from a failed start-up
            failure.append(exc)
        finally:
            sock.close()
            try:
                _cancel_leftover_tasks(loop)
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                loop.close()

    def _why(self, reason: str, errors: _ErrorLog) -> str:
        message = f"server {self.name!r}: {reason}"
        if errors.messages:
            message += ": " + " | ".join(m.strip() for m in errors.messages)
        return message


def _cancel_leftover_tasks(loop: asyncio.AbstractEventLoop, timeout: float = 2.0) -> None:
    """Cancel what uvicorn left running (a keepalive, a protocol's closing task), as asyncio.run does.

    A task still pending when its loop closes is reported later, whenever the
    garbage collector finds it ("Task was destroyed but it is pending!"),
    in the log of whatever runs then.
    """
    tasks = asyncio.all_tasks(loop)
    if not tasks:
        return
    for task in tasks:
        task.cancel()
    loop.run_until_complete(asyncio.wait(tasks, timeout=timeout))
    for task in tasks:
        if task.done() and not task.cancelled():
            task.exception()  # retrieved, so that asyncio does not log it as never retrieved


def running_servers() -> list[BackgroundServer]:
    """The servers this helper is running now."""
    with _registry_lock:
        return list(_registry.values())


def stop_all() -> None:
    """Stop every server this helper is running."""
    for server in running_servers():
        server.stop()


atexit.register(stop_all)
