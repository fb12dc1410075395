"""The instructor's server for a workshop: the class's chat room and a live progress board.

    python -m server.workshop                    # this machine only (127.0.0.1:8000)
    python -m server.workshop --host 0.0.0.0     # the room: every address of this machine

It always uses tokens, even on loopback, and prints two URLs: the students'
join URL, with the student token (the chat page in a browser, a phone's
too, and :func:`join` in a notebook), and the board's URL, with a separate
instructor token. Everything is one WebSocket application:

* ``/`` and ``/ws/room``: the chat room of :mod:`server.chat`, student token.
* ``/ws/report``: each student's kernel reports its checks (see
  :mod:`server.workshop_client`), student token. One JSON text frame per
  message, validated with Pydantic::

      client -> {"type": "hello", "name": "ada"}      first; 1-32 letters, digits, spaces and . @ ' - _
      server -> {"type": "welcome", "name": "ada"}
      client -> {"type": "check", "exercise": "01_text/3", "passed": false, "line": "..."}

  A message the server cannot use gets ``{"type": "error", "code": ...,
  "detail": ...}`` (``binary_frame``, ``invalid_json``,
  ``validation_error``, ``not_joined``, ``already_joined``, ``class_full``,
  ``unknown_exercise``) and the connection stays open. A second connection
  with a name already seen is the same student (a restarted kernel): its
  reports go to the same row. Memory stays bounded: at most
  ``MAX_STUDENTS`` names, and at most ``MAX_EXTRA_EXERCISES`` exercises the
  course does not list; one entry per student and exercise, each line at
  most 1000 characters.
* ``/board`` (the page), ``/ws/board`` (its live updates) and
  ``/api/progress`` (the same data as JSON, to export): instructor token
  only, as the ``token`` query parameter or ``Authorization: Bearer``. The
  student token gets 401, and so does none; a request or WebSocket
  handshake from a foreign page (its ``Origin``) gets 403 (pages on this
  machine and the board's own page may: :mod:`server.hardening`'s
  ``allow_same_origin``).

``/api/progress`` answers::

    {"exercises": ["01_text/1", ...],              every exercise of every lesson, in course order
     "students": {"ada": {"01_text/3": {"state": "failed", "time": "2026-...+00:00", "hint": "..."}}},
     "failing": {"ada": {"exercise": "01_text/3", "since": "2026-...+00:00"}},
     "stuck": {"ada": "01_text/3"}, "stuck_after": 600.0, "now": "2026-...+00:00"}

``hint`` is the line the check showed (the ✗ line with its hint, or the ✓
line). A student is **stuck** when their latest check failed and their
checks of that exercise have been failing for more than ``stuck_after``
seconds: ``failing`` says since when; a pass, or a check of another
exercise, starts over. The board pushes each check to its page as it
arrives, and the page redraws the "stuck" markers every second.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import uvicorn
from fastapi import Depends, FastAPI, HTTPException, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from server import chat, cli
from server.errors import error_message, parse_frame
from server.frames import receive_frame
from server.hardening import LOCAL_ORIGINS, KiB, harden, origin_allowed, same_origin, serving_options, token_matches
from server.workshop_client import NAME, join, join_from_environment, leave

__all__ = ["Progress", "Workshop", "create_app", "exercises", "join", "join_from_environment", "leave", "main"]

PAGE = Path(__file__).parent / "static" / "board.html"
#: ``solutions/`` of the course, next to ``server/`` in the repository the course runs from.
SOLUTIONS = Path(__file__).resolve().parent.parent / "solutions"
#: Updates queued for one board page before it is sent a whole new snapshot instead.
BOARD_QUEUE = 1000
#: The most students one board keeps, and the most exercises it keeps that the course does not list.
MAX_STUDENTS = 300
MAX_EXTRA_EXERCISES = 50


def exercises(solutions: Path = SOLUTIONS) -> list[str]:
    """Every exercise of every lesson in course order: ``"01_text/1"``, ... (answer cells carry ``"exercise"``)."""
    found = []
    for path in sorted(solutions.glob("*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        count = sum("exercise" in cell.get("metadata", {}) for cell in cells)
        found += [f"{path.stem}/{number}" for number in range(1, count + 1)]
    return found


# -- the messages a student's kernel sends ------------------------------------------


class _Message(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")


class Hello(_Message):
    type: Literal["hello"]
    name: str = Field(min_length=1, max_length=32, pattern=NAME)


class Check(_Message):
    type: Literal["check"]
    exercise: str = Field(pattern=r"^[0-9]{2}_[a-z0-9_]{1,40}/[0-9]{1,3}$")
    passed: bool
    line: str = Field(max_length=1000)


Incoming = TypeAdapter(Annotated[Hello | Check, Field(discriminator="type")])


def parse(frame: str | bytes) -> Hello | Check | dict[str, Any]:
    """The message a frame holds, or the error reply to send for it (see :func:`server.errors.parse_frame`)."""
    return parse_frame(Incoming, frame)


def encode(event: dict[str, Any]) -> str:
    return json.dumps(event, ensure_ascii=False, separators=(",", ":"))


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds")


# -- the progress of the class ------------------------------------------------------


class Progress:
    """Each student's latest outcome per exercise, and the board pages to tell about each change."""

    def __init__(self, exercises: Sequence[str], stuck_after: float) -> None:
        self.exercises = list(exercises)
        self.extra = 0  # exercises reported that the course does not list
        self.stuck_after = stuck_after
        self.students: dict[str, dict[str, dict[str, str]]] = {}
        #: For each student whose latest check failed: that exercise, and since when its checks fail.
        self.failing: dict[str, tuple[str, datetime]] = {}
        #: One queue per open board page (None in a queue: send a whole snapshot).
        self.watchers: set[asyncio.Queue[str | None]] = set()

    def join(self, name: str) -> bool:
        """Give ``name`` a row; False (and nothing done) if the board already has ``MAX_STUDENTS``."""
        if name not in self.students:
            if len(self.students) >= MAX_STUDENTS:
                return False
            self.students[name] = {}
            self.publish({"type": "student", "student": name})
        return True

    def record(self, name: str, exercise: str, passed: bool, line: str) -> bool:
        """Keep a check's outcome and tell the pages; False (nothing kept) for one exercise too many."""
        now = datetime.now(UTC)
        if exercise not in self.exercises:
            if self.extra >= MAX_EXTRA_EXERCISES:
                return False
            self.extra += 1
            self.exercises.append(exercise)  # a notebook the course does not list: keep it, at the end
        entry = {"state": "passed" if passed else "failed", "time": _iso(now), "hint": line}
        self.join(name)
        self.students[name][exercise] = entry
        was = self.failing.get(name)
        if passed:
            self.failing.pop(name, None)
        elif was is None or was[0] != exercise:
            self.failing[name] = (exercise, now)
        self.publish({"type": "check", "student": name, "exercise": exercise, "entry": entry, "failing": self._failing(name)})
        return True

    def _failing(self, name: str) -> dict[str, str] | None:
        if name not in self.failing:
            return None
        exercise, since = self.failing[name]
        return {"exercise": exercise, "since": _iso(since)}

    def stuck(self, now: datetime) -> dict[str, str]:
        """The students stuck now, with the exercise each is stuck on."""
        return {
            name: exercise for name, (exercise, since) in self.failing.items() if (now - since).total_seconds() > self.stuck_after
        }

    def snapshot(self) -> dict[str, Any]:
        now = datetime.now(UTC)
        return {
            "exercises": list(self.exercises),
            "students": {name: dict(done) for name, done in self.students.items()},
            "failing": {name: self._failing(name) for name in self.failing},
            "stuck": self.stuck(now),
            "stuck_after": self.stuck_after,
            "now": _iso(now),
        }

    def publish(self, event: dict[str, Any]) -> None:
        # Every page gets the same text in the same step; a page that has fallen behind gets a snapshot.
        text = encode({**event, "now": _iso(datetime.now(UTC))})
        for updates in list(self.watchers):
            try:
                updates.put_nowait(text)
            except asyncio.QueueFull:
                while not updates.empty():
                    updates.get_nowait()
                updates.put_nowait(None)


# -- the apps -------------------------------------------------------------------------


def _local_or_same(scope: dict[str, Any], origin: str) -> bool:
    return origin_allowed(origin, LOCAL_ORIGINS) or same_origin(scope, origin)


def _board_app(progress: Progress, token: str, limits: dict[str, Any]) -> FastAPI:
    """The instructor's side: the board page, its live updates and the JSON export."""
    app = FastAPI(title="Workshop: the progress board")

    def instructor(request: Request) -> None:
        # A browser names the page a request comes from (not for typing the URL): a foreign one gets 403, as
        # at the WebSocket handshake, so that no other site can read the board with the instructor's token.
        origins = request.headers.getlist("origin")
        if len(origins) > 1 or (origins and not _local_or_same(request.scope, origins[0])):
            raise HTTPException(403, "origin not allowed")
        if not token_matches(request.scope, token):
            raise HTTPException(401, "missing or wrong token", headers={"WWW-Authenticate": "Bearer"})

    @app.get("/board", response_class=HTMLResponse, dependencies=[Depends(instructor)])
    async def board_page() -> str:
        return PAGE.read_text(encoding="utf-8")

    @app.get("/api/progress", dependencies=[Depends(instructor)])
    async def api_progress() -> dict[str, Any]:
        return progress.snapshot()

    @app.websocket("/ws/board")
    async def board(websocket: WebSocket):
        await websocket.accept()
        updates: asyncio.Queue[str | None] = asyncio.Queue(BOARD_QUEUE)
        progress.watchers.add(updates)
        # The page sends nothing; a receive that ends means it has gone.
        gone = asyncio.ensure_future(websocket.receive())
        update: asyncio.Future[str | None] | None = None
        try:
            await websocket.send_text(encode({"type": "progress", **progress.snapshot()}))
            while True:
                update = asyncio.ensure_future(updates.get())
                await asyncio.wait({gone, update}, return_when=asyncio.FIRST_COMPLETED)
                if gone.done():
                    break
                text = update.result()
                await websocket.send_text(text or encode({"type": "progress", **progress.snapshot()}))
        except (WebSocketDisconnect, RuntimeError, OSError):  # the page has gone
            pass
        finally:
            progress.watchers.discard(updates)
            for task in (gone, update):
                if task is not None:
                    task.cancel()

    return harden(app, **{"allow_same_origin": True, **limits, "token": token})


def _report_app(progress: Progress, token: str, limits: dict[str, Any]) -> FastAPI:
    """The students' kernels report their checks here."""
    app = FastAPI(title="Workshop: check reports")

    @app.websocket("/ws/report")
    async def report(websocket: WebSocket):
        await websocket.accept()
        name: str | None = None
        try:
            while True:
                message = parse(await receive_frame(websocket))
                if isinstance(message, dict):
                    await websocket.send_text(encode(message))
                elif isinstance(message, Hello):
                    if name is not None:
                        error = error_message("already_joined", f"this connection reports for {name!r}")
                        await websocket.send_text(encode(error))
                        continue
                    if not progress.join(message.name):
                        error = error_message("class_full", f"the board has {MAX_STUDENTS} students already")
                        await websocket.send_text(encode(error))
                        continue
                    name = message.name
                    await websocket.send_text(encode({"type": "welcome", "name": name}))
                elif name is None:
                    await websocket.send_text(encode(error_message("not_joined", 'send {"type": "hello", ...} first')))
                elif not progress.record(name, message.exercise, message.passed, message.line):
                    detail = f"the board keeps at most {MAX_EXTRA_EXERCISES} exercises the course does not list"
                    await websocket.send_text(encode(error_message("unknown_exercise", detail)))
        except WebSocketDisconnect:
            pass

    # Every notebook a student opens keeps a connection: a class of 30 with a few notebooks each needs hundreds.
    defaults = {"max_message_size": 4 * KiB, "rate_limit": 20, "max_connections": 1000}
    return harden(app, **{**defaults, **limits, "token": token})


class Workshop:
    """The workshop's ASGI app: each path goes to the app it belongs to, each app with its own token."""

    BOARD_PATHS = ("/board", "/ws/board", "/api/progress")

    def __init__(self, board: Any, report: Any, room: Any, progress: Progress) -> None:
        self.board, self.report, self.room = board, report, room
        self.progress = progress
        self.state = board.state
        self.state.page = "/"
        # Served with the largest frame size any part allows; each part's guard enforces its own.
        options = [part.uvicorn_options for part in (board, report, room)]
        self.uvicorn_options = {**options[0], "ws_max_size": max(o["ws_max_size"] for o in options)}

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        if path in self.BOARD_PATHS:
            app = self.board
        elif path == "/ws/report":
            app = self.report
        else:
            app = self.room  # the chat room, and the lifespan events (FastAPI answers them)
        await app(scope, receive, send)


def create_app(
    *,
    student_token: str | None = None,
    instructor_token: str | None = None,
    stuck_after: float = 600.0,
    solutions: Path = SOLUTIONS,
    **limits: Any,
) -> Workshop:
    """Build the workshop's app; a token not given is generated (``app.state.tokens`` has both).

    ``limits`` override the defaults of :func:`server.hardening.harden`
    for the chat room and the report endpoint alike.
    """
    student_token = student_token or secrets.token_urlsafe(16)
    instructor_token = instructor_token or secrets.token_urlsafe(16)
    if student_token == instructor_token:
        raise ValueError("the instructor's token must differ from the students'")
    limits.pop("token", None)
    progress = Progress(exercises(solutions), stuck_after)
    board = _board_app(progress, instructor_token, {})
    report = _report_app(progress, student_token, limits)
    room = chat.create_app(**limits, token=student_token)
    app = Workshop(board, report, room, progress)
    app.state.progress = progress
    app.state.tokens = {"student": student_token, "instructor": instructor_token}
    return app


def urls(app: Workshop, host: str, port: int) -> tuple[str, str]:
    """The students' join URL and the instructor's board URL, as someone else would type them."""
    address = cli._address(argparse.Namespace(host=host, port=port))
    tokens = app.state.tokens
    return f"http://{address}/?token={tokens['student']}", f"http://{address}/board?token={tokens['instructor']}"


def main(argv: Sequence[str] | None = None) -> None:
    """Parse the command line, print the two URLs and serve until Ctrl+C."""
    parser = cli.parser(__doc__.strip().splitlines()[0])
    parser.add_argument(
        "--stuck-after",
        type=float,
        default=600.0,
        metavar="SECONDS",
        help="mark a student stuck when one exercise has failed for that long (default: %(default)s)",
    )
    for action in parser._actions:
        if action.dest == "token":  # a workshop always has one
            action.help = "the students' token (default: generated)"
    parser.add_argument("--board-token", help="the instructor's token (default: generated)")
    args = parser.parse_args(argv)
    limits = {name: getattr(args, name) for name in cli.LIMIT_OPTIONS if getattr(args, name) is not None}
    app = create_app(
        student_token=limits.pop("token", None),
        instructor_token=args.board_token,
        stuck_after=args.stuck_after,
        **limits,
    )
    join_url, board_url = urls(app, args.host, args.port)
    print(f"students join: {join_url}", file=sys.stderr, flush=True)
    print("  (the chat room in a browser or on a phone; in a notebook: workshop.join(URL, name=...))", file=sys.stderr)
    print(f"board: {board_url}", file=sys.stderr, flush=True)
    options = serving_options(app, ws=args.ws)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, **options)


if __name__ == "__main__":
    main()
