"""Quiz Q1: text and binary frames on one socket with receive(), /ws/mixed."""

import logging

import pytest
from fastapi import FastAPI, WebSocket
from websockets.sync.client import connect

from server import mixed


@pytest.fixture
def url(serve, ws_impl):
    return serve(mixed.create_app(), ws=ws_impl).ws_url("/ws/mixed")


def test_text_gets_a_text_reply(url):
    """A text frame is answered with a text frame."""
    with connect(url) as websocket:
        websocket.send("hello")
        assert websocket.recv(timeout=5) == "text:hello"


def test_binary_gets_a_binary_reply(url):
    """A binary frame is answered with a binary frame."""
    with connect(url) as websocket:
        websocket.send(b"\x00\xff")
        assert websocket.recv(timeout=5) == b"bytes:\x00\xff"


def test_empty_frames_keep_their_kind(url):
    """An empty text frame is still text, an empty binary frame still bytes."""
    with connect(url) as websocket:
        websocket.send("")
        assert websocket.recv(timeout=5) == "text:"
        websocket.send(b"")
        assert websocket.recv(timeout=5) == b"bytes:"


def test_text_and_binary_interleave_on_one_socket(url):
    """Text and binary frames mixed on one connection each get their own kind of reply."""
    frames = ["a", b"b", "", b"", "c" * 1000, bytes(range(256))]
    with connect(url) as websocket:
        for frame in frames:
            websocket.send(frame)
        replies = [websocket.recv(timeout=5) for _ in frames]
    assert [type(r) for r in replies] == [type(f) for f in frames]


def test_disconnect_ends_the_loop_without_error(serve, caplog):
    """The websocket.disconnect message ends the loop; nothing is logged as an error."""
    caplog.set_level(logging.INFO)
    server = serve(mixed.create_app())
    for _ in range(3):
        with connect(server.ws_url("/ws/mixed")) as websocket:
            websocket.send("x")
            websocket.recv(timeout=5)
    server.stop()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_client_that_closes_before_its_reply_is_not_an_error(serve, caplog, ws_impl):
    """Clients that send and close at once end the handler quietly, even when the reply finds them gone."""
    caplog.set_level(logging.INFO)
    server = serve(mixed.create_app(), ws=ws_impl)
    for _ in range(20):
        with connect(server.ws_url("/ws/mixed")) as websocket:
            websocket.send("x")
            websocket.send(b"y")
    server.stop()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_articles_message_types_match_nothing(serve):
    """The article's "websocket.receive.text" check never matches: nothing is answered."""
    seen = []
    app = FastAPI()

    @app.websocket("/ws/article")
    async def article(websocket: WebSocket):
        await websocket.accept()
        while True:
            message = await websocket.receive()
            seen.append(message["type"])
            if message["type"] == "websocket.disconnect":
                break
            if message["type"] == "websocket.receive.text":
                await websocket.send_text(message["text"])
            elif message["type"] == "websocket.receive.bytes":
                await websocket.send_bytes(message["bytes"])

    server = serve(app)
    with connect(server.ws_url("/ws/article")) as websocket:
        websocket.send("hello")
        websocket.send(b"bytes")
        with pytest.raises(TimeoutError):
            websocket.recv(timeout=0.5)
    server.stop()
    assert seen == ["websocket.receive", "websocket.receive", "websocket.disconnect"]
