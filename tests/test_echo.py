"""The echo endpoint the Autobahn testsuite runs against, /ws/echo."""

import logging

import pytest
from websockets.sync.client import connect

from server import echo
from server.hardening import MiB


@pytest.fixture
def server(serve, ws_impl):
    return serve(echo.create_app(), ws=ws_impl)


def test_text_echoes_as_text(server):
    """A text message comes back as the same text message."""
    with connect(server.ws_url("/ws/echo")) as websocket:
        websocket.send("héllo, wörld")
        assert websocket.recv(timeout=5) == "héllo, wörld"


def test_binary_echoes_as_binary(server):
    """A binary message comes back as the same bytes."""
    with connect(server.ws_url("/ws/echo")) as websocket:
        websocket.send(bytes(range(256)))
        assert websocket.recv(timeout=5) == bytes(range(256))


def test_empty_messages_keep_their_kind(server):
    """An empty text message comes back as text, an empty binary one as bytes."""
    with connect(server.ws_url("/ws/echo")) as websocket:
        websocket.send("")
        assert websocket.recv(timeout=5) == ""
        websocket.send(b"")
        assert websocket.recv(timeout=5) == b""


def test_fragmented_message_comes_back_whole(server):
    """A message sent in fragments comes back as one message."""
    with connect(server.ws_url("/ws/echo")) as websocket:
        websocket.send(["frag", "ment", "ed"])
        assert websocket.recv(timeout=5) == "fragmented"


def test_next_client_is_served_after_one_closes(server, caplog):
    """After a client closes, the next one is echoed too, and nothing is logged as an error."""
    caplog.set_level(logging.INFO)
    for number in range(3):
        with connect(server.ws_url("/ws/echo")) as websocket:
            websocket.send(f"client {number}")
            assert websocket.recv(timeout=5) == f"client {number}"
    server.stop()
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]


def test_room_for_autobahns_largest_message():
    """The echo app accepts messages up to 16 MiB, the size of Autobahn's largest."""
    assert echo.create_app().state.limits.max_message_size == 16 * MiB
    assert echo.app.uvicorn_options["ws_max_size"] == 16 * MiB
