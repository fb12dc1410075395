"""Show what a background server logged, one line per record, in a notebook.

When a handler raises, uvicorn logs "Exception in ASGI application" with a
long traceback. The walkthroughs show the article's broken endpoints
failing on purpose, and want to print what the server saw next to what the
client saw, briefly::

    with ServerLog() as server_log:
        ...  # talk to a server whose handler crashes
        server_log.show()
    # server log: Exception in ASGI application → KeyError: 'text'

What happens in each outcome:

* Inside the ``with`` block (or between ``attach()`` and ``detach()``) each
  record of the watched loggers becomes one line: the message, then its
  chain of exceptions, oldest first, as a traceback would show them. The records do not also reach the
  root logger, so no traceback is printed.
* ``show()`` prints every line collected so far, waiting up to ``timeout``
  seconds for the first (a server may log just after the client is done);
  with none it prints ``server log: (nothing)``.
* ``next_line()`` returns the next line, or ``"(nothing logged)"`` after
  ``timeout`` seconds.
"""

from __future__ import annotations

import logging
import queue


class ServerLog(logging.Handler):
    """Collect the records of some loggers (uvicorn's errors by default) as one-line strings."""

    def __init__(self, *loggers: str, level: int = logging.INFO) -> None:
        super().__init__(level)
        self.loggers = [logging.getLogger(name) for name in loggers or ("uvicorn.error",)]
        self._lines: queue.Queue[str] = queue.Queue()
        self._propagate: dict[str, bool] = {}

    def attach(self) -> ServerLog:
        """Start collecting, and stop the records from reaching the root logger."""
        for logger in self.loggers:
            self._propagate.setdefault(logger.name, logger.propagate)
            logger.addHandler(self)
            logger.propagate = False
        return self

    def detach(self) -> None:
        """Stop collecting; the loggers propagate as before."""
        for logger in self.loggers:
            logger.removeHandler(self)
            logger.propagate = self._propagate.pop(logger.name, True)

    def __enter__(self) -> ServerLog:
        return self.attach()

    def __exit__(self, *exc_info: object) -> None:
        self.detach()

    def emit(self, record: logging.LogRecord) -> None:
        chain = []
        error = record.exc_info[1] if record.exc_info else None
        while error is not None:  # each exception, and the one it happened while handling
            chain.insert(0, f"{type(error).__name__}: {error}")
            error = error.__cause__ or (None if error.__suppress_context__ else error.__context__)
        self._lines.put(" → ".join([record.getMessage().strip(), *chain]))

    def next_line(self, timeout: float = 5) -> str:
        """The next line collected, waiting up to ``timeout`` seconds for it."""
        try:
            return self._lines.get(timeout=timeout)
        except queue.Empty:
            return "(nothing logged)"

    def show(self, timeout: float = 2) -> None:
        """Print every line collected so far as ``server log: ...``."""
        first = self.next_line(timeout)
        if first == "(nothing logged)":
            print("server log: (nothing)")
            return
        print("server log:", first)
        while True:
            try:
                print("server log:", self._lines.get_nowait())
            except queue.Empty:
                return
