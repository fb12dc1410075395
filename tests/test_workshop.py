"""The workshop: students' kernels report their checks, the instructor's board shows them live.

The students are real Jupyter kernels, started in exercises/ with
``JPY_SESSION_NAME`` set as JupyterLab sets it, running the cells of
``exercises/01_text.ipynb``. The board page runs in headless Chromium, set
up as in tests/test_chat_browser.py (skipped, saying why, where there is none).
"""

from __future__ import annotations

import json
import os
import queue
import re
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from conftest import BROWSER_HOST as HOST
from jupyter_client.manager import KernelManager
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from server import checks, workshop, workshop_client
from server.background import BackgroundServer

ROOT = Path(__file__).resolve().parents[1]
EXERCISES = ROOT / "exercises"
STUDENT, INSTRUCTOR = "student-token", "instructor-token"
TIMEOUT = 5
#: Seconds a kernel may take to start, and to run one cell (the set-up cell imports the course).
KERNEL_TIMEOUT = 60
#: Seconds the board may take to show a check: "within a second" by design, more on a loaded machine.
SHOWS_WITHIN = 15

# exercises/01_text.ipynb's cells: the set-up, exercise 3's answer and its check; the worked answer.
_exercise = nbformat.read(EXERCISES / "01_text.ipynb", as_version=4)
_solution = nbformat.read(ROOT / "solutions" / "01_text.ipynb", as_version=4)
SETUP = next(c.source for c in _exercise.cells if c.cell_type == "code")
CHECK_3 = next(c.source for c in _exercise.cells if c.metadata.get("checks") == "reply_time")
RIGHT_3 = next(c.source for c in _solution.cells if c.metadata.get("exercise") == "reply_time")
WRONG_3 = '''
def reply_time(reply: str) -> datetime:
    """Parses the time but drops the offset: a naive datetime."""
    return datetime.strptime(reply[1:20], "%Y-%m-%dT%H:%M:%S")
'''
CHECK_1 = next(c.source for c in _exercise.cells if c.metadata.get("checks") == "send_and_receive")
STUB_1 = next(c.source for c in _exercise.cells if c.metadata.get("exercise") == "send_and_receive")


# -- helpers ----------------------------------------------------------------------------


class Kernel:
    """A student's kernel, as JupyterLab starts it for exercises/01_text.ipynb (``env`` adds variables)."""

    def __init__(self, **env: str) -> None:
        inherited = {key: value for key, value in os.environ.items() if not key.startswith("COURSE_WORKSHOP_")}
        env = {**inherited, "JPY_SESSION_NAME": str(EXERCISES / "01_text.ipynb"), **env}
        self.manager = KernelManager(kernel_name="python3")
        self.manager.start_kernel(cwd=str(EXERCISES), env=env)
        self.client = self.manager.client()
        self.client.start_channels()

    def ready(self) -> Kernel:
        self.client.wait_for_ready(timeout=KERNEL_TIMEOUT)
        return self

    def run(self, code: str) -> list[tuple[str, str]]:
        """Run one cell; its outputs as ("stdout"/"stderr"/"error", text)."""
        outputs: list[tuple[str, str]] = []

        def hook(message: dict[str, Any]) -> None:
            kind, content = message["header"]["msg_type"], message["content"]
            if kind == "stream":
                # One print can arrive in pieces (the kernel flushes on a timer): keep a stream's text whole.
                if outputs and outputs[-1][0] == content["name"]:
                    outputs[-1] = (content["name"], outputs[-1][1] + content["text"])
                else:
                    outputs.append((content["name"], content["text"]))
            elif kind == "error":
                outputs.append(("error", "\n".join(content["traceback"])))
            elif kind in ("execute_result", "display_data"):
                outputs.append((kind, content["data"].get("text/plain", "")))

        self.client.execute_interactive(code, timeout=KERNEL_TIMEOUT, output_hook=hook)
        return outputs

    def shutdown(self) -> None:
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)


@pytest.fixture
def kernels() -> Iterator[Callable[[int], list[Kernel]]]:
    """Start student kernels (all at once, then wait for each); shut them all down after the test."""
    started: list[Kernel] = []

    def start(count: int, **env: str) -> list[Kernel]:
        new = [Kernel(**env) for _ in range(count)]
        started.extend(new)
        return [kernel.ready() for kernel in new]

    yield start
    for kernel in started:
        kernel.shutdown()


def workshop_server(port: int = 0, **options: Any) -> BackgroundServer:
    app = workshop.create_app(student_token=STUDENT, instructor_token=INSTRUCTOR, **options)
    return BackgroundServer(app, port=port, name=f"workshop {id(app):x}")


def get(server: BackgroundServer, path: str, token: str | None = None, origin: str | None = None) -> tuple[int, Any]:
    """GET ``path`` (from a page of ``origin``); the status and the JSON body (None if it is not JSON)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if origin is not None:
        headers["Origin"] = origin
    request = urllib.request.Request(server.url + path, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310 - our own server
            status, body = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, body = error.code, error.read()
    try:
        return status, json.loads(body)
    except ValueError:
        return status, None


def states(server: BackgroundServer) -> dict[str, dict[str, str]]:
    """Each student's state per exercise tried, from /api/progress."""
    status, progress = get(server, "/api/progress", INSTRUCTOR)
    assert status == 200
    return {name: {ex: entry["state"] for ex, entry in done.items()} for name, done in progress["students"].items()}


def wait_for(server: BackgroundServer, name: str, exercise: str, state: str, within: float = SHOWS_WITHIN) -> None:
    """Poll /api/progress until ``name``'s ``exercise`` shows ``state``; fail after ``within`` seconds."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if states(server).get(name, {}).get(exercise) == state:
            return
        time.sleep(0.05)
    pytest.fail(f"{name}'s {exercise} is not {state!r} on the board: {states(server)}")


def join_cell(url: str, name: str) -> str:
    return f"from server import workshop_client as workshop\nreporter = workshop.join({url!r}, name={name!r})"


# -- two students, one board ---------------------------------------------------------------


def test_two_students_checks_show_on_the_board_from_failed_to_passed(kernels, browser_page) -> None:
    """Two students' kernels check a wrong then a right answer; /api/progress and the board page follow."""
    with workshop_server() as server:
        join_url = f"{server.url}/?token={STUDENT}"
        students = dict(zip(["ada", "bob"], kernels(2), strict=True))
        for name, kernel in students.items():
            assert kernel.run(SETUP)[-1][0] == "stdout"
            assert kernel.run(join_cell(join_url, name)) == [
                ("stdout", f"joined the workshop at 127.0.0.1:{server.port} as {name!r}: your checks now show on the board\n")
            ]
        assert states(server) == {"ada": {}, "bob": {}}
        for name, kernel in students.items():
            kernel.run(WRONG_3)
            [(kind, text)] = kernel.run(CHECK_3)
            assert kind == "error" and text.startswith("✗ the datetime should be timezone-aware")
            wait_for(server, name, "01_text/3", "failed")
        for name, kernel in students.items():
            kernel.run(RIGHT_3)
            assert kernel.run(CHECK_3) == [("stdout", "✓ you read the server's time, time zone included\n")]
            wait_for(server, name, "01_text/3", "passed")
        status, progress = get(server, "/api/progress", INSTRUCTOR)
        assert progress["exercises"][:5] == [f"01_text/{n}" for n in range(1, 6)]
        assert progress["exercises"] == workshop.exercises()
        assert progress["students"]["ada"]["01_text/3"]["hint"] == "you read the server's time, time zone included"
        assert progress["failing"] == {} and progress["stuck"] == {}

        # The board page: the same squares, then a new check live.
        from playwright.sync_api import expect

        page = browser_page
        page.goto(f"http://{HOST}:{server.port}/board?token={INSTRUCTOR}")
        expect(page.get_by_test_id("status")).to_have_text("live")
        for name in students:
            row = page.locator(f'tr[data-student="{name}"]')
            expect(row.locator('td[data-exercise="01_text/3"]')).to_have_attribute("data-state", "passed")
            expect(row.locator('td[data-state="not-tried"]')).to_have_count(len(progress["exercises"]) - 1)
        students["bob"].run(STUB_1)
        [(kind, text)] = students["bob"].run(CHECK_1)
        assert kind == "error" and text.endswith("— stuck? hint(1)")
        square = page.locator('tr[data-student="bob"] td[data-exercise="01_text/1"]')
        expect(square).to_have_attribute("data-state", "failed", timeout=SHOWS_WITHIN * 1000)
        expect(square).to_have_attribute("title", re.compile(f"^01_text/1 failed at .+: {re.escape(text[2:])}$"))
        for kernel in students.values():
            kernel.run("workshop.leave()")


@pytest.fixture
def browser_page(new_page: Callable[..., Any]) -> Any:
    return new_page()


# -- a board that goes away -------------------------------------------------------------------


def test_checks_print_the_same_with_the_board_absent_up_gone_and_back(kernels) -> None:
    """A student's checks print the same ✗ and ✓ lines without a board, with it, after it went and when it is back."""
    [kernel] = kernels(1)
    kernel.run(SETUP)

    def wrong_then_right() -> list[list[tuple[str, str]]]:
        kernel.run(WRONG_3)
        wrong = kernel.run(CHECK_3)
        kernel.run(RIGHT_3)
        return [wrong, kernel.run(CHECK_3)]

    absent = wrong_then_right()
    assert absent[0][0][1].startswith("✗ the datetime should be timezone-aware")
    assert absent[1] == [("stdout", "✓ you read the server's time, time zone included\n")]

    server = workshop_server().start()
    port = server.port
    try:
        kernel.run(join_cell(f"{server.url}/?token={STUDENT}", "ada"))
        assert wrong_then_right() == absent
        wait_for(server, "ada", "01_text/3", "passed")
    finally:
        server.stop()
    assert wrong_then_right() == absent  # the reporter may not have noticed yet
    assert wrong_then_right() == absent  # it has, or is trying again

    back = workshop_server(port=port).start()
    try:
        assert wrong_then_right() == absent
        # Queued while the board was away, sent once the reporter is back (after its pause of at most 10 s).
        wait_for(back, "ada", "01_text/3", "passed", within=workshop_client.BACKOFF[1] + SHOWS_WITHIN)
    finally:
        back.stop()
    # The reporter said once that the board was unreachable; it never dropped a report for a full queue.
    assert kernel.run("print(reporter.warned, reporter.dropped)") == [("stdout", "True 0\n")]
    kernel.run("workshop.leave()")


def test_a_kernel_started_with_the_workshop_variables_joins_in_its_set_up_cell(kernels) -> None:
    """With COURSE_WORKSHOP_URL and COURSE_WORKSHOP_NAME set, the exercise's own set-up cell joins; no join cell."""
    with workshop_server() as server:
        [kernel] = kernels(1, COURSE_WORKSHOP_URL=f"{server.url}/?token={STUDENT}", COURSE_WORKSHOP_NAME="cy")
        printed = "".join(text for kind, text in kernel.run(SETUP) if kind == "stdout")
        assert f"joined the workshop at 127.0.0.1:{server.port} as 'cy': your checks now show on the board\n" in printed
        kernel.run(WRONG_3)
        kernel.run(CHECK_3)
        wait_for(server, "cy", "01_text/3", "failed")
        kernel.run("from server import workshop_client; workshop_client.leave()")


def test_only_checks_in_an_exercises_folder_are_reported(monkeypatch) -> None:
    """A solution notebook's checks, or a notebook elsewhere, never light a square."""
    for session, key in [
        ("exercises/01_text.ipynb", "01_text/3"),
        ("/home/ada/course/exercises/01_text.ipynb", "01_text/3"),
        ("solutions/01_text.ipynb", None),
        ("notebooks/01_text.ipynb", None),
        ("01_text.ipynb", None),
    ]:
        monkeypatch.setenv("JPY_SESSION_NAME", session)
        assert workshop_client.exercise_key(3) == key, session


def test_reporting_only_puts_the_outcome_in_a_bounded_queue(monkeypatch) -> None:
    """The listener a check calls does no I/O and never waits: it puts to a bounded queue, and drops when full."""
    monkeypatch.setenv("JPY_SESSION_NAME", "exercises/01_text.ipynb")
    reporter = workshop_client.Reporter("http://127.0.0.1:9/?token=x", "ada", queue_size=2)  # never started
    calls: list[str] = []

    class Watched(queue.Queue):
        def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
            assert not block, "a blocking put() may wait"
            super().put(item, block=False)

        def put_nowait(self, item: Any) -> None:
            calls.append("put_nowait")
            super().put_nowait(item)

    reporter.queue = Watched(2)
    io_events: list[str] = []
    watching = threading.local()

    def audit(event: str, args: tuple) -> None:
        if getattr(watching, "on", False) and event.split(".")[0] in ("socket", "open", "os", "subprocess"):
            io_events.append(event)

    sys.addaudithook(audit)  # it stays for the process; it records only while ``watching.on``
    watching.on = True
    try:
        for outcome in (False, True, True):
            reporter.listener("reply_time()", 3, outcome, "a line")
        reporter.listener("a check without a number", None, True, "not reported")
    finally:
        watching.on = False
    assert io_events == []
    assert calls == ["put_nowait"] * 3
    assert reporter.queue.qsize() == 2 and reporter.dropped == 1
    assert reporter.queue.get_nowait() == {"type": "check", "exercise": "01_text/3", "passed": False, "line": "a line"}


def test_an_unreachable_board_is_said_once_and_checks_are_unchanged(capsys, monkeypatch) -> None:
    """join() returns at once for a board nobody serves; it says so once, however often it tries again."""
    monkeypatch.setenv("JPY_SESSION_NAME", "exercises/01_text.ipynb")
    monkeypatch.setattr(workshop_client, "BACKOFF", (0.01, 0.02))
    with workshop_server() as server:
        url = f"{server.url}/?token={STUDENT}"
    reporter = workshop_client.join(url, name="ada")  # the server has gone: its port is closed
    try:
        assert reporter.tried.is_set() and not reporter.connected.is_set()
        for _ in range(3):
            with checks.checking("f()", success="fine", exercise=1):
                pass
        first = capsys.readouterr()
        assert first.out == "✓ fine\n" * 3
        # Let it try again a few times: after each pause, the queued reports are still there to send.
        deadline = time.monotonic() + SHOWS_WITHIN
        while reporter.attempts < 4 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert reporter.attempts >= 4
    finally:
        workshop_client.leave()
    said = (first.err + capsys.readouterr().err).splitlines()
    assert said == [
        f"workshop: the board at 127.0.0.1:{server.port} is unreachable (ConnectionRefusedError); "
        "your checks work as before, and reports resume when it is back"
    ]
    assert reporter.listener not in checks.listeners


def test_a_join_url_with_an_old_token_is_said_once_with_its_status(capsys, monkeypatch) -> None:
    """A join URL whose token the server refuses: one line naming HTTP 401, and no connection."""
    monkeypatch.setenv("JPY_SESSION_NAME", "exercises/01_text.ipynb")
    with workshop_server() as server:
        reporter = workshop_client.join(f"{server.url}/?token=from-yesterday", name="ada")
        try:
            assert reporter.tried.is_set() and not reporter.connected.is_set()
        finally:
            workshop_client.leave()
    assert capsys.readouterr().err == (
        f"workshop: the board at 127.0.0.1:{server.port} is unreachable (HTTP 401); "
        "your checks work as before, and reports resume when it is back\n"
    )


# -- who may see the board -------------------------------------------------------------------


def test_the_board_refuses_the_students_token_and_foreign_pages() -> None:
    """The board's page, its WebSocket and /api/progress want the instructor's token; a foreign Origin gets 403."""
    with workshop_server() as server:
        for token in (None, STUDENT, "wrong"):
            assert get(server, "/api/progress", token)[0] == 401
            assert get(server, "/board", token)[0] == 401
            query = f"?token={token}" if token else ""
            with pytest.raises(InvalidStatus) as refused:
                connect(server.ws_url(f"/ws/board{query}"), proxy=None, open_timeout=TIMEOUT)
            assert refused.value.response.status_code == 401
        assert get(server, "/api/progress", INSTRUCTOR)[0] == 200
        assert get(server, f"/board?token={INSTRUCTOR}")[0] == 200
        with pytest.raises(InvalidStatus) as refused:
            connect(
                server.ws_url(f"/ws/board?token={INSTRUCTOR}"),
                origin="http://evil.example",
                proxy=None,
                open_timeout=TIMEOUT,
            )
        assert refused.value.response.status_code == 403
        # The page and the export alike: a foreign page gets 403 even with the instructor's token.
        for path in ("/api/progress", f"/board?token={INSTRUCTOR}"):
            assert get(server, path, INSTRUCTOR, origin="http://evil.example")[0] == 403
            assert get(server, path, INSTRUCTOR, origin="null")[0] == 403
            assert get(server, path, INSTRUCTOR, origin=server.url)[0] == 200  # the board's own page
        # The students' endpoints want the students' token, not the instructor's.
        for path in ("/ws/report", "/ws/room"):
            with pytest.raises(InvalidStatus) as refused:
                connect(server.ws_url(f"{path}?token={INSTRUCTOR}"), proxy=None, open_timeout=TIMEOUT)
            assert refused.value.response.status_code == 401
        with connect(server.ws_url(f"/ws/board?token={INSTRUCTOR}"), proxy=None, open_timeout=TIMEOUT) as board:
            assert json.loads(board.recv(timeout=TIMEOUT))["type"] == "progress"


def test_the_class_chat_room_is_served_with_the_students_token() -> None:
    """The join URL opens the chat room's page, and its room takes the students' token."""
    with workshop_server() as server:
        assert get(server, f"/?token={STUDENT}")[0] == 200
        with connect(server.ws_url(f"/ws/room?token={STUDENT}"), proxy=None, open_timeout=TIMEOUT) as room:
            room.send(json.dumps({"type": "join", "name": "ada"}))
            assert json.loads(room.recv(timeout=TIMEOUT))["members"] == ["ada"]
        printed = workshop.urls(server.app, "127.0.0.1", server.port)
        assert printed == (f"{server.url}/?token={STUDENT}", f"{server.url}/board?token={INSTRUCTOR}")


def test_reports_are_validated_and_a_student_failing_long_enough_is_stuck() -> None:
    """A report the server cannot use gets an error reply; failing one exercise past stuck_after marks the student."""
    with workshop_server(stuck_after=0.2) as server:
        with connect(server.ws_url(f"/ws/report?token={STUDENT}"), proxy=None, open_timeout=TIMEOUT) as ws:

            def say(message: Any) -> dict[str, Any]:
                ws.send(message if isinstance(message, (str, bytes)) else json.dumps(message))
                return json.loads(ws.recv(timeout=TIMEOUT))

            check = {"type": "check", "exercise": "01_text/3", "passed": False, "line": "✗ nope"}
            assert say(check)["code"] == "not_joined"
            assert say({"type": "hello", "name": "ada"}) == {"type": "welcome", "name": "ada"}
            assert say("{")["code"] == "invalid_json"
            assert say(b"\x00")["code"] == "binary_frame"
            assert say({**check, "exercise": "../etc"})["code"] == "validation_error"
            assert say({**check, "code": "print('my answer')"})["code"] == "validation_error"
            assert say({"type": "hello", "name": "bob"})["code"] == "already_joined"
            ws.send(json.dumps(check))
            wait_for(server, "ada", "01_text/3", "failed")
            deadline = time.monotonic() + SHOWS_WITHIN
            while get(server, "/api/progress", INSTRUCTOR)[1]["stuck"] != {"ada": "01_text/3"}:
                assert time.monotonic() < deadline, "ada is not stuck"
                time.sleep(0.05)
            ws.send(json.dumps({**check, "passed": True, "line": "fine"}))
            wait_for(server, "ada", "01_text/3", "passed")
            progress = get(server, "/api/progress", INSTRUCTOR)[1]
            assert progress["stuck"] == {} and progress["failing"] == {}


def test_the_board_page_marks_a_student_stuck_and_clears_it_on_a_pass(browser_page) -> None:
    """On the board page a student failing one exercise past stuck_after gets the stuck marker; a pass removes it."""
    from playwright.sync_api import expect

    with workshop_server(stuck_after=0.5) as server:
        page = browser_page
        page.goto(f"http://{HOST}:{server.port}/board?token={INSTRUCTOR}")
        expect(page.get_by_test_id("status")).to_have_text("live")
        with connect(server.ws_url(f"/ws/report?token={STUDENT}"), proxy=None, open_timeout=TIMEOUT) as ws:
            ws.send(json.dumps({"type": "hello", "name": "ada"}))
            assert json.loads(ws.recv(timeout=TIMEOUT))["type"] == "welcome"
            row = page.locator('tr[data-student="ada"]')
            expect(row.locator('td[data-state="not-tried"]')).to_have_count(len(workshop.exercises()))
            check = {"type": "check", "exercise": "02_binary/2", "passed": False, "line": "no — stuck? hint(2)"}
            ws.send(json.dumps(check))
            square = row.locator('td[data-exercise="02_binary/2"]')
            expect(square).to_have_attribute("data-state", "failed")
            expect(row).to_have_class(re.compile(r"\bstuck\b"), timeout=SHOWS_WITHIN * 1000)
            expect(row.locator(".marker")).to_be_visible()
            ws.send(json.dumps({**check, "passed": True, "line": "done"}))
            expect(square).to_have_attribute("data-state", "passed")
            expect(row).not_to_have_class(re.compile(r"\bstuck\b"))
            expect(row.locator(".marker")).to_be_hidden()


def test_unreachable_address_join_returns_and_the_attempt_ends_within_its_open_timeout(capsys, monkeypatch) -> None:
    """A join URL nobody answers (a blackholed address): join() returns, and each attempt ends at its open timeout."""
    monkeypatch.setenv("JPY_SESSION_NAME", "exercises/01_text.ipynb")
    reporter = workshop_client.join("http://10.255.255.1:8000/?token=x", name="ada", wait=0.1)
    try:
        assert not reporter.connected.is_set()
        # The first attempt ends (timed out, or refused by the network) within its open timeout, not TCP's minutes.
        assert reporter.tried.wait(reporter.open_timeout + TIMEOUT)
        with checks.checking("f()", success="fine", exercise=1):
            pass
        assert capsys.readouterr().out == "✓ fine\n"
    finally:
        workshop_client.leave()
    assert not reporter._thread.is_alive()


# -- names and memory ---------------------------------------------------------------------------------


def test_names_are_validated_on_both_sides() -> None:
    """join() refuses a name the server would refuse; the server answers a bad hello with validation_error."""
    for name in ("", " ", "x" * 33, "<img src=x onerror=alert(1)>", "a\nb", "_ada"):
        with pytest.raises(ValueError, match="letters, digits"):
            workshop_client.join("http://127.0.0.1:9/?token=x", name=name)
    assert workshop_client._current is None
    with workshop_server() as server:
        with connect(server.ws_url(f"/ws/report?token={STUDENT}"), proxy=None, open_timeout=TIMEOUT) as ws:
            for name in ("", "x" * 33, "<b>ada</b>", "ada\u0000", "\u202eada"):
                ws.send(json.dumps({"type": "hello", "name": name}))
                assert json.loads(ws.recv(timeout=TIMEOUT))["code"] == "validation_error", name
            for name in ("Ada Lovelace", "José", "o'brien-2", "ada@example.org"):
                with connect(server.ws_url(f"/ws/report?token={STUDENT}"), proxy=None, open_timeout=TIMEOUT) as other:
                    other.send(json.dumps({"type": "hello", "name": name}))
                    assert json.loads(other.recv(timeout=TIMEOUT)) == {"type": "welcome", "name": name}
        assert sorted(states(server)) == ["Ada Lovelace", "José", "ada@example.org", "o'brien-2"]


def test_memory_is_bounded_for_a_flood_of_reports_names_and_exercises(monkeypatch) -> None:
    """One entry per student and exercise however many reports; past the limits, error replies and nothing kept."""
    monkeypatch.setattr(workshop, "MAX_STUDENTS", 3)
    monkeypatch.setattr(workshop, "MAX_EXTRA_EXERCISES", 2)
    with workshop_server(rate_limit=10_000) as server:
        with connect(server.ws_url(f"/ws/report?token={STUDENT}"), proxy=None, open_timeout=TIMEOUT) as ws:

            def say(message: dict[str, Any]) -> None:
                ws.send(json.dumps(message))

            say({"type": "hello", "name": "ada"})
            assert json.loads(ws.recv(timeout=TIMEOUT))["type"] == "welcome"
            check = {"type": "check", "exercise": "01_text/3", "passed": False, "line": "✗ " + "x" * 998}
            for _ in range(200):
                say(check)
            for number in (1, 2, 3, 4):
                say({**check, "exercise": f"99_mine/{number}"})
            error = json.loads(ws.recv(timeout=TIMEOUT))
            assert error["code"] == "unknown_exercise"
            for name in ("bob", "cy", "dee"):
                with connect(server.ws_url(f"/ws/report?token={STUDENT}"), proxy=None, open_timeout=TIMEOUT) as other:
                    other.send(json.dumps({"type": "hello", "name": name}))
                    reply = json.loads(other.recv(timeout=TIMEOUT))
            assert reply["code"] == "class_full"
            wait_for(server, "ada", "99_mine/2", "failed")
        progress = get(server, "/api/progress", INSTRUCTOR)[1]
        assert sorted(progress["students"]) == ["ada", "bob", "cy"]
        assert sorted(progress["students"]["ada"]) == ["01_text/3", "99_mine/1", "99_mine/2"]
        assert progress["exercises"] == [*workshop.exercises(), "99_mine/1", "99_mine/2"]


def test_the_board_page_shows_names_and_hints_as_text_never_as_html(browser_page) -> None:
    """A name or a hint holding HTML is shown as those characters: no element is made, no script runs."""
    from playwright.sync_api import expect

    evil = "<img src=x onerror=alert(1)>"
    with workshop_server() as server:
        server.app.progress.record(evil, "01_text/1", False, f"✗ {evil}")  # before any page watches
        page = browser_page
        dialogs: list[str] = []
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        page.goto(f"http://{HOST}:{server.port}/board?token={INSTRUCTOR}")
        expect(page.get_by_test_id("status")).to_have_text("live")
        student = page.locator("th.student")
        expect(student).to_have_count(1)
        expect(student).to_contain_text(evil)
        expect(page.locator("img")).to_have_count(0)
        square = page.locator('td[data-exercise="01_text/1"]')
        expect(square).to_have_attribute("title", re.compile(re.escape(f"✗ {evil}") + "$"))
        with connect(server.ws_url(f"/ws/report?token={STUDENT}"), proxy=None, open_timeout=TIMEOUT) as ws:
            ws.send(json.dumps({"type": "hello", "name": "ada"}))
            assert json.loads(ws.recv(timeout=TIMEOUT))["type"] == "welcome"
            hint = "✗ <script>alert(2)</script><b>bold</b>"
            ws.send(json.dumps({"type": "check", "exercise": "01_text/2", "passed": False, "line": hint}))
            square = page.locator('tr[data-student="ada"] td[data-exercise="01_text/2"]')
            expect(square).to_have_attribute("title", re.compile(re.escape(hint) + "$"))
        expect(page.locator("img, b, tbody script")).to_have_count(0)
        assert dialogs == []


def test_a_bad_name_or_url_in_the_environment_is_said_and_the_set_up_cell_runs_on(capsys, monkeypatch) -> None:
    """join_from_environment() never raises: every exercise's set-up cell calls it."""
    for url, name, said in [
        ("http://127.0.0.1:9/?token=x", "<b>ada</b>", "letters, digits"),
        ("http://127.0.0.1:9/?token=x", "x" * 40, "letters, digits"),
        ("192.168.1.20:8000", "ada", "not a join URL"),
    ]:
        monkeypatch.setenv("COURSE_WORKSHOP_URL", url)
        monkeypatch.setenv("COURSE_WORKSHOP_NAME", name)
        assert workshop_client.join_from_environment() is None
        out = capsys.readouterr().out
        assert out.startswith("not joining the workshop: ") and said in out, out
        assert workshop_client._current is None
