"""Lesson 05's common errors: what a WebSocket endpoint does with invalid data.

Each test pins a correction of the source article's "common errors" section
against today's FastAPI, Starlette, Pydantic and websockets.
"""

import asyncio

import pytest
import websockets.exceptions
from fastapi import FastAPI, Query, WebSocket, status
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
