"""server.checks: the verdicts of the exercises' check cells."""

from __future__ import annotations

import asyncio
import builtins
import io
import json

import pytest
from fastapi import FastAPI, WebSocket, WebSocketDisconnect
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from server.checks import (
    BINARY_FOR_TEXT,
    LEFT_BEFORE_REPLY,
    NEVER_ACCEPTED,
    NOTHING_SENT,
    TEXT_FOR_BINARY,
    CheckFailed,
    checking,
    expect,
    serving,
    watching_writes,
    wrong_kind,
)


def echo_app(handler) -> FastAPI:
    app = FastAPI()
    app.websocket("/ws/echo")(handler)
    return app


def test_checking_prints_the_success_line(capsys: pytest.CaptureFixture[str]) -> None:
    """A check whose expectations hold prints ✓ and the success message."""
    with checking("f()", success="f works"):
        expect(True, "never shown")
    assert capsys.readouterr().out == "✓ f works\n"


def test_a_stub_is_reported_as_not_written_yet() -> None:
    """NotImplementedError from a stub becomes "... is not written yet: <hint>"."""
    with pytest.raises(CheckFailed, match=r"^f\(\) is not written yet: send it$"):
        with checking("f()", success="f works"):
            raise NotImplementedError("send it")


def test_a_failed_expectation_is_its_hint() -> None:
    """A failed expect() raises CheckFailed with the hint alone."""
    with pytest.raises(CheckFailed, match="^expected 2, got 3$"):
        with checking("f()", success="f works"):
            expect(1 + 2 == 2, "expected 2, got 3")


@pytest.mark.parametrize(
    ("raised", "verdict"),
    [
        (CheckFailed("expected 2, got 3"), "expected 2, got 3"),
        (NotImplementedError("send it"), "f() is not written yet: send it"),
        (TimeoutError(), "f(): nothing arrived in time"),
        (KeyError("text"), "f() raised KeyError: 'text'"),
    ],
)
def test_with_an_exercise_number_every_failure_says_how_to_get_a_hint(raised: Exception, verdict: str) -> None:
    """checking(..., exercise=3) ends each ✗ line, whatever failed, with "stuck? hint(3)"."""
    with pytest.raises(CheckFailed) as failed:
        with checking("f()", success="f works", exercise=3):
            raise raised
    assert str(failed.value).startswith(verdict)
    assert str(failed.value).endswith(" — stuck? hint(3)")
    assert failed.value._render_traceback_() == [f"✗ {failed.value}"]


def test_with_an_exercise_number_a_pass_is_still_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    """A check that passes prints its ✓ line alone, with no hint."""
    with checking("f()", success="f works", exercise=3):
        expect(True, "never shown")
    assert capsys.readouterr().out == "✓ f works\n"


def test_serving_a_correct_app_reports_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    """An app that behaves lets the check pass, and uvicorn prints nothing."""

    async def echo(websocket: WebSocket):
        await websocket.accept()
        try:
            while True:
                await websocket.send_text(await websocket.receive_text())
        except WebSocketDisconnect:
            pass

    with checking("echo", success="echoed"), serving(echo_app(echo)) as server:
        with connect(server.ws_url("/ws/echo")) as websocket:
            websocket.send("hi")
            expect(websocket.recv(timeout=5) == "hi", "no echo")
    assert capsys.readouterr() == ("✓ echoed\n", "")


def test_a_stub_endpoint_is_reported_as_not_written_yet(capsys: pytest.CaptureFixture[str]) -> None:
    """A handler that raises NotImplementedError gives the stub's verdict, not a refused handshake."""

    async def stub(websocket: WebSocket):
        raise NotImplementedError("accept, then loop")

    with pytest.raises(CheckFailed, match=r"^your endpoint is not written yet: accept, then loop$"):
        with checking("your endpoint", success="never"), serving(echo_app(stub)) as server:
            with connect(server.ws_url("/ws/echo")) as websocket:
                websocket.recv(timeout=5)
    assert capsys.readouterr().err == ""


def test_an_error_after_accept_closes_with_1011_and_is_the_verdict() -> None:
    """The client sees close code 1011; the check reports the handler's exception."""
    seen = []

    async def broken(websocket: WebSocket):
        await websocket.accept()
        await websocket.receive_text()  # KeyError: 'text' on a binary frame

    with pytest.raises(CheckFailed, match=r"^your endpoint raised KeyError: 'text'$"):
        with checking("your endpoint", success="never"), serving(echo_app(broken)) as server:
            with connect(server.ws_url("/ws/echo")) as websocket:
                websocket.send(b"\x00")
                try:
                    websocket.recv(timeout=5)
                except ConnectionClosed as closed:
                    seen.append(closed.rcvd.code)
                    raise
    assert seen == [1011]


def test_an_escaping_disconnect_says_to_catch_it() -> None:
    """A handler that lets WebSocketDisconnect escape on a client's close fails the check with that advice."""

    async def careless(websocket: WebSocket):
        await websocket.accept()
        while True:
            await websocket.send_text(await websocket.receive_text())

    with pytest.raises(CheckFailed, match=r"client closed \(code 1000\).*catch it"):
        with checking("your endpoint", success="never"), serving(echo_app(careless)) as server:
            with connect(server.ws_url("/ws/echo")) as websocket:
                websocket.send("hi")
                expect(websocket.recv(timeout=5) == "hi", "no echo")


@pytest.mark.parametrize(
    ("limits", "path", "said"),
    [
        ({"token": "s3cret"}, "/ws/chat", "HTTP 401 (missing or wrong token): the server wants a token"),
        ({"max_connections": 0}, "/ws/chat", "HTTP 503 (too many connections; try again later): the server is full"),
        ({}, "/ws/nowhere", "HTTP 403: check the URL's path"),
    ],
)
def test_a_refused_handshake_says_why(serve, limits, path, said) -> None:
    """A refused handshake names its HTTP status, the server's reason and what it usually means."""
    from server import text

    server = serve(text.create_app(**limits))
    with pytest.raises(CheckFailed, match="^f\\(\\): the server refused the handshake with ") as failed:
        with checking("f()", success="never"):
            connect(server.ws_url(path)).close()
    assert said in str(failed.value)


async def echo(websocket: WebSocket):
    await websocket.accept()
    try:
        while True:
            await websocket.send_text(await websocket.receive_text())
    except WebSocketDisconnect:
        pass


async def text_only(websocket: WebSocket):
    await websocket.accept()
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        if message.get("bytes") is not None:
            await websocket.close(1003, "text frames only")
            return
        await websocket.send_text(message["text"])


def test_a_client_that_closes_before_reading_the_reply_is_told_so() -> None:
    """A recv() after the with block ends: the server saw the close before its reply went out."""
    with pytest.raises(CheckFailed, match=r"^f\(\): your client closed before reading the reply") as failed:
        with checking("f()", success="never"), serving(echo_app(echo)) as server:
            with connect(server.ws_url("/ws/echo")) as websocket:
                websocket.send("hi")
            websocket.recv(timeout=5)
    assert "your code closed the connection with code 1000" in str(failed.value)
    assert str(failed.value).startswith(f"f(): {LEFT_BEFORE_REPLY}")


def test_a_binary_frame_where_text_was_expected_is_named() -> None:
    """A server that closes on an unanswered binary frame: the verdict names the frame, then the close."""
    with pytest.raises(CheckFailed) as failed:
        with checking("f()", success="never"), serving(echo_app(text_only)) as server:
            with connect(server.ws_url("/ws/echo")) as websocket:
                websocket.send(b"hi")
                websocket.recv(timeout=5)
    assert str(failed.value) == f"f(): {BINARY_FOR_TEXT} (the server closed the connection with code 1003 (text frames only))"


def test_a_client_that_receives_before_sending_is_asked_whether_it_sent() -> None:
    """A timeout on a connection where the server received nothing asks "did you send before receiving?"."""
    with pytest.raises(CheckFailed) as failed:
        with checking("f()", success="never", exercise=2), serving(echo_app(echo)) as server:
            with connect(server.ws_url("/ws/echo")) as websocket:
                websocket.recv(timeout=0.2)
                websocket.send("hi")
    assert str(failed.value) == f"f(): {NOTHING_SENT} — stuck? hint(2)"


def test_a_timeout_after_a_message_is_not_blamed_on_the_client() -> None:
    """When the server received the client's message and stayed silent, the timeout gets the plain verdict."""

    async def silent(websocket: WebSocket):
        await websocket.accept()
        try:
            while True:
                await websocket.receive_text()
        except WebSocketDisconnect:
            pass

    with pytest.raises(CheckFailed, match=r"^f\(\): nothing arrived in time"):
        with checking("f()", success="never"), serving(echo_app(silent)) as server:
            with connect(server.ws_url("/ws/echo")) as websocket:
                websocket.send("hi")
                websocket.recv(timeout=0.2)


async def returns_at_once(websocket: WebSocket):
    return


async def receives_first(websocket: WebSocket):
    await websocket.receive_text()


async def sends_first(websocket: WebSocket):
    await websocket.send_text("hi")


@pytest.mark.parametrize(
    ("handler", "client"),
    [
        (returns_at_once, "the server refused the handshake with HTTP 500"),
        (receives_first, "it raised "),
        (sends_first, "it raised "),
    ],
)
def test_a_handler_that_never_accepts_is_told_so(handler, client: str) -> None:
    """A handler that returns, receives or sends without accept() gets "your handler never called accept()"."""
    with pytest.raises(CheckFailed) as failed:
        with checking("your endpoint", success="never"), serving(echo_app(handler)) as server:
            with connect(server.ws_url("/ws/echo")) as websocket:
                websocket.send("hi")
                websocket.recv(timeout=5)
    assert str(failed.value).startswith(f"your endpoint: {NEVER_ACCEPTED} ({client}")


def test_a_handler_that_refuses_before_accept_is_not_said_to_forget_it(serve) -> None:
    """Closing before accept() is a refusal: the verdict is the refused handshake."""

    async def refusing(websocket: WebSocket):
        await websocket.close(1008)

    with pytest.raises(CheckFailed, match=r"^f\(\): the server refused the handshake with HTTP 403"):
        with checking("f()", success="never"), serving(echo_app(refusing)) as server:
            connect(server.ws_url("/ws/echo")).close()


def test_watching_a_running_server_diagnoses_what_it_saw(serve) -> None:
    """checking(..., watch=server) explains a client's mistake from a server started earlier, then stops watching."""
    from server import text

    server = serve(text.create_app())
    app = server._server.config.loaded_app
    with pytest.raises(CheckFailed) as failed:
        with checking("f()", success="never", exercise=1, watch=server):
            with connect(server.ws_url("/ws/chat")) as websocket:
                websocket.send("hi")
            websocket.recv(timeout=5)
    assert str(failed.value).startswith(f"f(): {LEFT_BEFORE_REPLY}")
    assert str(failed.value).endswith(" — stuck? hint(1)")
    assert server._server.config.loaded_app is app
    with pytest.raises(CheckFailed) as failed:
        with checking("f()", success="never", watch=server):
            with connect(server.ws_url("/ws/chat")) as websocket:
                websocket.send("hi".encode())
                websocket.recv(timeout=5)
    assert str(failed.value) == f"f(): {BINARY_FOR_TEXT} (the server closed the connection with code 1003 (text frames only))"


def test_watching_a_server_lets_a_good_client_pass(serve, capsys: pytest.CaptureFixture[str]) -> None:
    """A client that sends, then reads its reply, passes a watched check."""
    from server import text

    server = serve(text.create_app())
    with checking("f()", success="read it", watch=server):
        with connect(server.ws_url("/ws/chat")) as websocket:
            websocket.send("hi")
            expect(websocket.recv(timeout=5).endswith("Server received: hi"), "no reply")
    assert capsys.readouterr().out == "✓ read it\n"


def test_an_error_reply_about_a_binary_frame_explains_a_keyerror(serve) -> None:
    """A client that trips over an unexpected_binary error reply is told the server got binary where it wanted text."""
    from server import binary

    server = serve(binary.create_app(chunk_size=4096))
    with pytest.raises(CheckFailed) as failed:
        with checking("f()", success="never", exercise=5, watch=server):
            with connect(server.ws_url("/ws/file-transfer")) as websocket:
                websocket.send(json.dumps({"type": "list"}).encode())
                json.loads(websocket.recv(timeout=5))["files"]
    assert str(failed.value) == f"f(): {BINARY_FOR_TEXT} (KeyError: 'files') — stuck? hint(5)"


def test_an_error_reply_about_a_text_frame_explains_a_timeout(serve) -> None:
    """Text where an upload wants binary: the unexpected_text reply explains the client's timeout."""
    from server import binary

    server = serve(binary.create_app(chunk_size=4096))
    request = {"type": "upload", "name": "a.bin", "size": 3, "sha256": "0" * 64}
    with pytest.raises(CheckFailed) as failed:
        with checking("f()", success="never", watch=server):
            with connect(server.ws_url("/ws/file-transfer")) as websocket:
                websocket.send(json.dumps(request))
                websocket.recv(timeout=5)  # ready
                websocket.send("abc")  # the data, as text
                while json.loads(websocket.recv(timeout=0.5))["type"] != "done":
                    pass
    assert str(failed.value).startswith(f"f(): {TEXT_FOR_BINARY}")


def test_a_watched_block_gets_what_the_server_saw(serve) -> None:
    """checking(..., watch=server) hands the block the connections it saw; wrong_kind() reads their error replies."""
    from server import timeout

    server = serve(timeout.create_app(idle_timeout=30))
    with checking("f()", success="seen", watch=server) as seen:
        with connect(server.ws_url("/ws/with-timeout")) as websocket:
            websocket.send("hi")
            websocket.recv(timeout=5)
        expect(wrong_kind(seen) is None, "a text frame is not the wrong kind")
        with connect(server.ws_url("/ws/with-timeout")) as websocket:
            websocket.send(b"hi")
            websocket.recv(timeout=5)
    assert [conn.frames for conn in seen] == [["text"], ["binary"]]
    assert seen[1].error_codes == ["binary_frame"]
    assert wrong_kind(seen) == BINARY_FOR_TEXT
    with checking("f()", success="not watched") as nothing:
        assert nothing is None


def test_watching_writes_tells_the_loop_from_a_worker_thread(tmp_path) -> None:
    """Writes to files under the folder are noted True on an event loop's thread, False in a worker thread."""

    async def write_both(path) -> None:
        with open(path, "ab") as file:
            file.write(b"on the loop")
            await asyncio.to_thread(file.write, b"in a worker")
        with path.open("ab") as file:
            await asyncio.to_thread(file.write, b"again")

    elsewhere = tmp_path.parent / f"{tmp_path.name}-elsewhere.bin"
    with watching_writes(tmp_path) as on_loop:
        asyncio.run(write_both(tmp_path / "data.bin"))
        with open(elsewhere, "wb") as file:  # not under the folder: not watched
            file.write(b"x")
    elsewhere.unlink()
    assert on_loop == [True, False, False]
    assert (tmp_path / "data.bin").read_bytes() == b"on the loopin a workeragain"
    assert builtins.open is io.open  # both put back
