"""Lesson 05's common errors: what a WebSocket endpoint does with invalid data.

Each test pins a correction of the source article's "common errors" section
against today's FastAPI, Starlette, Pydantic and websockets.
"""

import asyncio
import queue

import anyio
import pytest
import websockets.exceptions
from fastapi import FastAPI, Query, WebSocket, WebSocketDisconnect, status
from pydantic import BaseModel, ValidationError
from websockets.exceptions import ConnectionClosedError, InvalidStatus
from websockets.sync.client import connect

from server.json_messages import ChatMessage


def test_validation_error_in_a_handler_has_no_body_location():
    """A ValidationError in WebSocket code locates the field, not ("body", ...) as HTTP's 422 does."""
    with pytest.raises(ValidationError) as invalid:
        ChatMessage.model_validate_json('{"user": "ada", "content": "hi"}')
    assert [error["loc"] for error in invalid.value.errors()] == [("timestamp",)]


def test_websocket_parameter_validation_refuses_the_handshake_with_403(serve):
    """FastAPI's own validation of a WebSocket query parameter closes with 1008 before accept: HTTP 403."""
    app = FastAPI()

    @app.websocket("/ws/rooms")
    async def rooms(websocket: WebSocket, room: int = Query()):
        await websocket.accept()
        await websocket.send_text(f"room {room}")

    server = serve(app)
    with connect(server.ws_url("/ws/rooms?room=7")) as websocket:
        assert websocket.recv(timeout=5) == "room 7"
    with pytest.raises(InvalidStatus) as refused:
        with connect(server.ws_url("/ws/rooms?room=seven")):
            pass
    assert refused.value.response.status_code == 403


def test_unhandled_exception_after_accept_drops_the_connection_without_a_close_frame(serve):
    """An exception after accept() reaches the client as 1006; closing with 1011 says what happened."""
    app = FastAPI()

    @app.websocket("/ws/crash")
    async def crash(websocket: WebSocket):
        await websocket.accept()
        1 / int(await websocket.receive_text())

    @app.websocket("/ws/careful")
    async def careful(websocket: WebSocket):
        await websocket.accept()
        try:
            1 / int(await websocket.receive_text())
        except ZeroDivisionError:
            await websocket.close(status.WS_1011_INTERNAL_ERROR, "internal error")

    server = serve(app)
    for path, code in [("/ws/crash", None), ("/ws/careful", 1011)]:
        with connect(server.ws_url(path)) as websocket:
            websocket.send("0")
            with pytest.raises(ConnectionClosedError) as closed:
                websocket.recv(timeout=5)
        received = closed.value.rcvd
        assert (received.code if received else None) == code, path


def test_optional_field_needs_optional_type():
    """timestamp: float = None lets a missing field be None but refuses null; float | None = None takes both."""

    class ArticleAdvice(BaseModel):
        timestamp: float = None  # the article's advice: the default is not validated

    class Corrected(BaseModel):
        timestamp: float | None = None

    assert ArticleAdvice().timestamp is None
    with pytest.raises(ValidationError):
        ArticleAdvice(timestamp=None)
    assert Corrected().timestamp is None
    assert Corrected(timestamp=None).timestamp is None


def test_websocket_timeout_exception_is_not_in_this_stack(serve):
    """There is no WebSocketTimeoutException here: receive timeouts raise the built-in TimeoutError."""
    assert not hasattr(websockets.exceptions, "WebSocketTimeoutException")
    assert asyncio.TimeoutError is TimeoutError
    app = FastAPI()

    @app.websocket("/ws/silent")
    async def silent(websocket: WebSocket):
        await websocket.accept()
        await websocket.receive_text()

    server = serve(app)
    with connect(server.ws_url("/ws/silent")) as websocket:
        with pytest.raises(TimeoutError):
            websocket.recv(timeout=0.05)
        websocket.send("the connection is still open after the timeout")


def test_fastapi_openapi_lists_no_websocket_routes():
    """Pydantic models on a WebSocket endpoint do not appear in FastAPI's OpenAPI docs."""
    from server import json_messages

    assert json_messages.app.openapi()["paths"] == {}


def test_websocket_parameter_validation_closes_with_1008_before_accept(serve):
    """FastAPI answers an invalid WebSocket parameter with a 1008 close before accept, never with 422."""
    app = FastAPI()

    @app.websocket("/ws/room")
    async def room(websocket: WebSocket, number: int):
        await websocket.accept()

    sent = []

    async def recorded(scope, receive, send):
        async def recording_send(message):
            if scope["type"] == "websocket":
                sent.append(message)
            await send(message)

        await app(scope, receive, recording_send)

    server = serve(recorded)
    with pytest.raises(InvalidStatus) as refused:
        with connect(server.ws_url("/ws/room?number=seven")):
            pass
    assert refused.value.response.status_code == 403
    assert [(message["type"], message.get("code")) for message in sent] == [("websocket.close", status.WS_1008_POLICY_VIOLATION)]


def test_a_handler_that_never_receives_learns_of_the_close_at_its_next_send(serve, ws_impl):
    """A client's close cancels nothing; the handler's next send raises WebSocketDisconnect with code 1006."""
    events = queue.Queue()
    app = FastAPI()

    @app.websocket("/ws/ticker")
    async def ticker(websocket: WebSocket):
        await websocket.accept()
        try:
            while True:
                await websocket.send_text("tick")
                try:
                    await asyncio.sleep(0.2)
                except asyncio.CancelledError:
                    events.put("cancelled")
                    raise
                events.put("slept")
        except WebSocketDisconnect as disconnect:
            events.put(f"WebSocketDisconnect {disconnect.code}")

    server = serve(app, ws=ws_impl)
    with connect(server.ws_url("/ws/ticker")) as websocket:
        assert websocket.recv(timeout=5) == "tick"
    seen = [events.get(timeout=5)]
    while seen[-1] == "slept":
        seen.append(events.get(timeout=5))
    assert seen[-1] == "WebSocketDisconnect 1006"
    assert "cancelled" not in seen


def test_a_worker_thread_sends_only_through_the_servers_loop(serve):
    """From a thread, run_coroutine_threadsafe and anyio.from_thread.run send; calling send_text() sends nothing."""
    app = FastAPI()

    @app.websocket("/ws/worker/{way}")
    async def worker(websocket: WebSocket, way: str):
        await websocket.accept()
        loop = asyncio.get_running_loop()

        def work():
            if way == "call":
                websocket.send_text("from the thread").close()  # a coroutine object, never run
            elif way == "threadsafe":
                asyncio.run_coroutine_threadsafe(websocket.send_text("from the thread"), loop).result(timeout=5)
            else:
                anyio.from_thread.run(websocket.send_text, "from the thread")

        if way == "anyio":
            await anyio.to_thread.run_sync(work)
        else:
            await asyncio.to_thread(work)
        await websocket.send_text("done")

    server = serve(app)
    for way, wanted in [("call", ["done"]), ("threadsafe", ["from the thread", "done"]), ("anyio", ["from the thread", "done"])]:
        with connect(server.ws_url(f"/ws/worker/{way}")) as websocket:
            replies = [websocket.recv(timeout=5)]
            while replies[-1] != "done":
                replies.append(websocket.recv(timeout=5))
        assert replies == wanted, way


def test_asyncio_run_and_a_second_loop_refuse_to_run_in_a_running_loop():
    """Inside a running event loop (a notebook's), asyncio.run() and a new loop's run_until_complete() raise RuntimeError."""

    async def inside_a_running_loop():
        for attempt in ("asyncio.run", "run_until_complete"):
            coroutine = asyncio.sleep(0)
            loop = asyncio.new_event_loop()
            try:
                with pytest.raises(RuntimeError):
                    asyncio.run(coroutine) if attempt == "asyncio.run" else loop.run_until_complete(coroutine)
            finally:
                coroutine.close()
                loop.close()

    asyncio.run(inside_a_running_loop())
