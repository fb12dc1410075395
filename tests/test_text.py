"""Lesson 01: text messages on /ws/chat, against a real uvicorn server."""

import logging
import re
import socket
from datetime import datetime, timedelta

import pytest
from websockets.exceptions import ConnectionClosedError
from websockets.sync.client import connect

from server import text

REPLY = re.compile(r"^\[(?P<stamp>[^\]]+)\] Server received: (?P<text>.*)$", re.DOTALL)


@pytest.fixture
def chat_url(serve, ws_impl):
    return serve(text.create_app(), ws=ws_impl).ws_url("/ws/chat")


def test_text_gets_a_text_reply_with_the_message(chat_url):
    """A text message comes back in a text reply that quotes it."""
    with connect(chat_url) as websocket:
        websocket.send("hello, 世界")
        reply = websocket.recv(timeout=5)
    assert isinstance(reply, str)
    assert REPLY.match(reply)["text"] == "hello, 世界"


def test_reply_timestamp_is_timezone_aware_iso_8601(chat_url):
    """The reply's timestamp is ISO-8601 in UTC, not naive local time."""
    before = datetime.now().astimezone()
    with connect(chat_url) as websocket:
        websocket.send("what time is it?")
        stamp = datetime.fromisoformat(REPLY.match(websocket.recv(timeout=5))["stamp"])
    assert stamp.tzinfo is not None
    assert stamp.utcoffset() == timedelta(0)
    assert abs(stamp - before) < timedelta(minutes=5)


def test_first_message_is_answered(chat_url):
    """The first message gets a reply (the article's missing imports crashed it)."""
    with connect(chat_url) as websocket:
        websocket.send("first")
        assert websocket.recv(timeout=5).endswith("Server received: first")


def test_many_messages_on_one_connection_are_answered_in_order(chat_url):
    """Messages on one connection are answered one by one, in order."""
    with connect(chat_url) as websocket:
        for i in range(20):
            websocket.send(f"message {i}")
        replies = [websocket.recv(timeout=5) for _ in range(20)]
    assert [REPLY.match(r)["text"] for r in replies] == [f"message {i}" for i in range(20)]


def test_empty_text_is_answered(chat_url):
    """An empty text frame is still text and gets a reply."""
    with connect(chat_url) as websocket:
        websocket.send("")
        assert websocket.recv(timeout=5).endswith("Server received: ")


def test_binary_frame_closes_with_1003_and_a_reason(chat_url):
    """A binary frame closes the connection with 1003 "text frames only"."""
    with connect(chat_url) as websocket:
        websocket.send(b"\x89PNG")
        with pytest.raises(ConnectionClosedError) as closed:
            websocket.recv(timeout=5)
    assert closed.value.rcvd.code == 1003
    assert closed.value.rcvd.reason == "text frames only"


def test_server_serves_the_next_client_after_a_binary_frame(chat_url):
    """After closing one client with 1003 the server answers the next."""
    with connect(chat_url) as websocket:
        websocket.send(b"\x00")
        with pytest.raises(ConnectionClosedError):
            websocket.recv(timeout=5)
    with connect(chat_url) as websocket:
        websocket.send("still there?")
        assert websocket.recv(timeout=5).endswith("still there?")


def test_client_close_ends_the_loop_quietly(serve, caplog):
    """A client's close logs one info line and no error."""
    caplog.set_level(logging.INFO, logger="server.text")
    server = serve(text.create_app())
    with connect(server.ws_url("/ws/chat")) as websocket:
        websocket.send("bye")
        websocket.recv(timeout=5)
    server.stop()  # waits for the handler to finish
    left = [r for r in caplog.records if r.name == "server.text"]
    assert [r.getMessage() for r in left] == ["chat client left (close code 1000)"]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_abrupt_disconnect_is_not_an_error(serve, caplog):
    """A client that drops TCP without a close frame is logged as gone, not as an error."""
    caplog.set_level(logging.INFO, logger="server.text")
    server = serve(text.create_app())
    with connect(server.ws_url("/ws/chat")) as websocket:
        websocket.send("about to vanish")
        websocket.recv(timeout=5)
        websocket.socket.shutdown(socket.SHUT_RDWR)  # drop TCP, no close frame
    with connect(server.ws_url("/ws/chat")) as other:
        other.send("next client")
        assert other.recv(timeout=5).endswith("next client")
    server.stop()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert any("chat client left" in r.getMessage() for r in caplog.records)
