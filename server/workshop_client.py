"""A student's side of a workshop: each check's outcome goes to the instructor's board.

In a notebook, with the join URL the instructor's server printed::

    from server import workshop_client as workshop

    workshop.join("http://192.168.1.20:8000/?token=...", name="ada")

or, with ``COURSE_WORKSHOP_URL`` and ``COURSE_WORKSHOP_NAME`` set before
JupyterLab starts, ``workshop.join_from_environment()`` (it does nothing
when they are not set), which every exercise notebook's set-up cell calls
through ``server.hints.for_lesson``.

What happens in each outcome:

* :func:`join` starts one background thread that keeps one WebSocket to
  the server's ``/ws/report`` and adds a listener to
  :data:`server.checks.listeners`. It waits for the first connection at
  most ``wait`` seconds (3), so it returns within seconds even when the
  URL is unreachable.
* After every check with an exercise number the listener puts one report
  in a bounded queue: the exercise (``01_text/3``: the notebook's stem,
  from ``JPY_SESSION_NAME``, and the number), passed or not, and the line
  the check showed. It does nothing else: no I/O, no waiting (a full
  queue drops the report), so a check is never slowed down, changed or
  failed by reporting. Only the name and these outcomes are sent, never code.
* The thread sends the queued reports. When the server cannot be reached,
  or goes away, it says so once (one line on stderr, under the cell that
  called ``join``), tries again quietly with a growing pause (0.5 s up to
  10 s), and drops the reports it could not send; once the server is back,
  new reports go out again.
* :func:`leave` stops reporting: it takes the listener out, closes the
  connection and ends the thread. Joining again replaces the earlier join.
"""

from __future__ import annotations

import contextvars
import json
import os
import queue
import re
import sys
import threading
from pathlib import PurePath
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from server import checks

#: The server's endpoint for reports.
ENDPOINT = "/ws/report"
#: Reports waiting to be sent; past that, new ones are dropped.
QUEUE_SIZE = 100
#: The longest line sent with a report (the server accepts no more).
MAX_LINE = 1000
#: The first and the longest pause between two connection attempts, in seconds.
BACKOFF = (0.5, 10.0)
#: A student's name, as the server accepts it: 1 to 32 letters, digits, spaces and . @ ' - _ (not first).
NAME = r"^[^\W_][\w .@'-]{0,31}$"

_current: Reporter | None = None
_lock = threading.Lock()


def report_url(url: str) -> tuple[str, str | None]:
    """The ``ws://`` URL of the report endpoint, and the token, from the join URL the server printed."""
    parts = urlsplit(url.strip())
    scheme = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}.get(parts.scheme)
    if scheme is None or not parts.hostname:
        raise ValueError(f"not a join URL: {url!r}; it looks like http://192.168.1.20:8000/?token=...")
    tokens = parse_qs(parts.query).get("token", [])
    return urlunsplit((scheme, parts.netloc, ENDPOINT, "", "")), (tokens[0] if tokens else None)


def exercise_key(number: int | None) -> str | None:
    """``"<notebook stem>/<number>"`` for a check of this kernel's exercise notebook, else None.

    None when the number or the notebook is unknown, or the notebook is not in
    an ``exercises`` folder: running a solution's checks is not doing the
    exercise, and must not turn a square green.
    """
    session = os.environ.get("JPY_SESSION_NAME")
    if not session or number is None:
        return None
    notebook = PurePath(session)
    if notebook.parent.name != "exercises":
        return None
    return f"{notebook.stem}/{number}"


class Refused(ConnectionError):
    """The server answered the hello with an error (a full class, say): its detail."""


class Reporter:
    """One student's connection to the board: a bounded queue, and a thread that sends from it."""

    def __init__(self, url: str, name: str, *, queue_size: int = QUEUE_SIZE, open_timeout: float = 2.0) -> None:
        self.url, self.token = report_url(url)
        self.name = name
        self.open_timeout = open_timeout
        self.queue: queue.Queue[dict[str, Any]] = queue.Queue(queue_size)
        #: Reports dropped because the queue was full.
        self.dropped = 0
        #: Set while connected; ``tried`` once the first attempt has ended either way.
        self.connected = threading.Event()
        self.tried = threading.Event()
        self.warned = False
        #: Connection attempts so far.
        self.attempts = 0
        self._stopping = threading.Event()
        self._ws: Any = None
        # The thread runs in a copy of this context: in a kernel what it prints goes under the cell that joined.
        context = contextvars.copy_context()
        self._thread = threading.Thread(target=context.run, args=(self._run,), name="workshop reporter", daemon=True)

    def start(self) -> Reporter:
        self._thread.start()
        return self

    def listener(self, what: str, exercise: int | None, passed: bool, line: str) -> None:
        """Called by every check: queue its outcome, or drop it. Never waits, never does I/O."""
        key = exercise_key(exercise)
        if key is None:
            return
        try:
            self.queue.put_nowait({"type": "check", "exercise": key, "passed": bool(passed), "line": line[:MAX_LINE]})
        except queue.Full:
            self.dropped += 1

    def stop(self) -> None:
        """Stop sending, close the connection and end the thread."""
        self._stopping.set()
        ws = self._ws
        if ws is not None:
            ws.close()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(self.open_timeout + 5)

    # -- the thread ------------------------------------------------------

    def _run(self) -> None:
        pause = BACKOFF[0]
        while not self._stopping.is_set():
            self.attempts += 1
            try:
                headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
                with connect(
                    self.url,
                    additional_headers=headers,
                    open_timeout=self.open_timeout,
                    close_timeout=1,
                    proxy=None,
                ) as ws:
                    ws.send(json.dumps({"type": "hello", "name": self.name}))
                    welcome = json.loads(ws.recv(timeout=self.open_timeout))
                    if welcome.get("type") != "welcome":
                        raise Refused(welcome.get("detail") or "the server did not welcome us")
                    self._ws = ws
                    self.connected.set()
                    self.tried.set()
                    pause = BACKOFF[0]
                    self._send_all(ws)
            except Exception as exc:  # unreachable, refused, gone: say so once, then try again
                self._unreachable(exc)
            finally:
                self._ws = None
                self.connected.clear()
                self.tried.set()
            if self._stopping.wait(pause):
                break
            pause = min(pause * 2, BACKOFF[1])

    def _send_all(self, ws: Any) -> None:
        """Send queued reports until the connection ends; a report that cannot be sent is dropped."""
        while not self._stopping.is_set():
            try:
                report = self.queue.get(timeout=0.25)
            except queue.Empty:
                # Nothing to send: read what the server said (an error reply, its close), so that a
                # server gone meanwhile is noticed now, not at the next report.
                try:
                    ws.recv(timeout=0.001)
                except TimeoutError:
                    pass
                continue
            ws.send(json.dumps(report))

    def _unreachable(self, exc: Exception) -> None:
        if self.warned or self._stopping.is_set():
            return
        self.warned = True
        host = urlsplit(self.url).netloc
        if isinstance(exc, InvalidStatus):
            why = f"HTTP {exc.response.status_code}"
        elif isinstance(exc, Refused):
            why = str(exc)[:200]
        else:
            why = type(exc).__name__
        print(
            f"workshop: the board at {host} is unreachable ({why}); "
            "your checks work as before, and reports resume when it is back",
            file=sys.stderr,
            flush=True,
        )


def join(url: str, *, name: str, wait: float = 3.0) -> Reporter:
    """Report every check's outcome to the workshop server at ``url``, as ``name``; returns within ``wait`` seconds.

    ``url`` is the join URL the instructor's server printed (``http://host:port/?token=...``).
    """
    global _current
    name = name.strip()
    if not re.fullmatch(NAME, name):
        raise ValueError(f"name {name!r}: use 1 to 32 letters, digits, spaces and . @ ' - _, starting with a letter or digit")
    reporter = Reporter(url, name)
    leave()
    with _lock:
        _current = reporter
        checks.listeners.append(reporter.listener)
    reporter.start()
    reporter.tried.wait(wait)
    if reporter.connected.is_set():
        print(f"joined the workshop at {urlsplit(reporter.url).netloc} as {name!r}: your checks now show on the board")
    if not os.environ.get("JPY_SESSION_NAME"):
        print("this kernel does not know its notebook (JupyterLab sets JPY_SESSION_NAME): checks are not reported")
    return reporter


def join_from_environment() -> Reporter | None:
    """:func:`join` with ``COURSE_WORKSHOP_URL`` and ``COURSE_WORKSHOP_NAME``; None (and nothing done) if the URL is unset.

    Never raises: every exercise notebook's set-up cell calls it, so a bad URL or name is said in one line instead.
    """
    url = os.environ.get("COURSE_WORKSHOP_URL", "").strip()
    if not url:
        return None
    name = os.environ.get("COURSE_WORKSHOP_NAME", "").strip()
    if not name:
        print("COURSE_WORKSHOP_URL is set but COURSE_WORKSHOP_NAME is not: set it to your name, or call join()")
        return None
    try:
        return join(url, name=name)
    except ValueError as error:  # a set-up cell must run on: say what is wrong, report nothing
        print(f"not joining the workshop: {error} (COURSE_WORKSHOP_URL, COURSE_WORKSHOP_NAME)")
        return None


def leave() -> None:
    """Stop reporting (nothing happens if not joined)."""
    global _current
    with _lock:
        reporter, _current = _current, None
        if reporter is not None and reporter.listener in checks.listeners:
            checks.listeners.remove(reporter.listener)
    if reporter is not None:
        reporter.stop()
