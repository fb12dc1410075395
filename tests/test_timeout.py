"""Lesson 04: receive deadlines and application heartbeats on /ws/with-timeout.

Heartbeat tests use timeouts of a fraction of a second so they run fast;
they check the order and count of messages, never how long anything took,
and tolerate a client that stalls for a second on a busy machine. Tests of
other messages use a long idle timeout, so no heartbeat can come between.
"""

import json
import logging
import socket
import struct

import pytest
from websockets.exceptions import ConnectionClosedError
from websockets.sync.client import connect

from server import timeout

IDLE = 0.4  # with max_missed=3, a client may stall 1.2 s without being closed


@pytest.fixture
def url(serve, ws_impl):
    """An endpoint that sends heartbeats after IDLE seconds of silence."""
    app = timeout.create_app(idle_timeout=IDLE, max_missed=3)
    return serve(app, ws=ws_impl).ws_url("/ws/with-timeout")


@pytest.fixture
def patient_url(serve, ws_impl):
    """An endpoint whose heartbeats never come within a test."""
    app = timeout.create_app(idle_timeout=60, max_missed=3)
    return serve(app, ws=ws_impl).ws_url("/ws/with-timeout")


def receive(websocket):
    return json.loads(websocket.recv(timeout=5))


def test_silence_brings_a_numbered_heartbeat(url):
    """After idle_timeout of silence the server sends heartbeat seq 1."""
    with connect(url) as websocket:
        assert receive(websocket) == {"type": "heartbeat", "seq": 1}


def test_answered_heartbeats_keep_the_connection_open(url):
    """A client that acks every heartbeat is never closed; seqs count up."""
    with connect(url) as websocket:
        seen = []
        while len(seen) < 6:  # twice max_missed: unanswered, it would be closed by now
            message = receive(websocket)
            if message["type"] == "heartbeat":
                seen.append(message["seq"])
                websocket.send(json.dumps({"type": "heartbeat_ack", "seq": message["seq"]}))
            else:  # an ack that arrived after the next heartbeat was sent
                assert message["code"] == "unknown_seq"
    assert seen == [1, 2, 3, 4, 5, 6]


def test_silent_client_is_closed_after_max_missed_heartbeats(url):
    """max_missed unanswered heartbeats in a row close the connection with 4000."""
    with connect(url) as websocket:
        heartbeats = []
        with pytest.raises(ConnectionClosedError) as closed:
            while True:
                heartbeats.append(receive(websocket))
    assert [h["seq"] for h in heartbeats] == [1, 2, 3]
    assert closed.value.rcvd.code == timeout.HEARTBEAT_TIMEOUT == 4000
    assert closed.value.rcvd.reason == "no reply to 3 heartbeats"


def test_any_message_counts_as_a_sign_of_life(url):
    """A data message instead of an ack also resets the missed count."""
    with connect(url) as websocket:
        echoes = 0
        while echoes < 6:  # twice max_missed: without the resets it would be closed by now
            message = receive(websocket)
            if message["type"] == "heartbeat":
                websocket.send(json.dumps({"note": message["seq"]}))
            else:
                assert message == {"type": "echo", "data": {"note": message["data"]["note"]}}
                echoes += 1


def test_messages_are_echoed(patient_url):
    """JSON comes back parsed under data; other text comes back as a string."""
    with connect(patient_url) as websocket:
        websocket.send('{"type": "chat", "text": "hi"}')
        assert receive(websocket) == {"type": "echo", "data": {"type": "chat", "text": "hi"}}
        websocket.send("plain words")
        assert receive(websocket) == {"type": "echo", "data": "plain words"}


@pytest.mark.parametrize("text", ["NaN", "[1, Infinity]", "[" * 60_000])
def test_text_that_is_not_valid_json_is_echoed_as_text(patient_url, text):
    """NaN, Infinity and absurdly deep nesting come back as plain text, in valid JSON."""
    with connect(patient_url) as websocket:
        websocket.send(text)
        reply = websocket.recv(timeout=5)
    assert json.loads(reply, parse_constant=lambda c: pytest.fail(f"{c} in the reply")) == {"type": "echo", "data": text}


def test_ack_with_the_wrong_seq_gets_an_error(patient_url):
    """An ack for a heartbeat never sent gets an unknown_seq error reply."""
    with connect(patient_url) as websocket:
        websocket.send(json.dumps({"type": "heartbeat_ack", "seq": 99}))
        reply = receive(websocket)
    assert reply["type"] == "error"
    assert reply["code"] == "unknown_seq"


def test_binary_frame_gets_an_error(patient_url):
    """A binary frame gets a binary_frame error reply and the connection stays open."""
    with connect(patient_url) as websocket:
        websocket.send(b"\x00")
        assert receive(websocket)["code"] == "binary_frame"
        websocket.send("still here")
        assert receive(websocket) == {"type": "echo", "data": "still here"}


def test_client_disconnect_is_caught_as_websocket_disconnect(serve, caplog):
    """A client leaving mid-wait ends the handler quietly (Starlette's WebSocketDisconnect)."""
    caplog.set_level(logging.INFO)
    server = serve(timeout.create_app(idle_timeout=IDLE, max_missed=100))
    with connect(server.ws_url("/ws/with-timeout")) as websocket:
        receive(websocket)  # a heartbeat: the handler is waiting again
    with connect(server.ws_url("/ws/with-timeout")) as websocket:
        websocket.socket.shutdown(socket.SHUT_RDWR)  # vanish without a close frame
    with connect(server.ws_url("/ws/with-timeout")) as websocket:
        websocket.send("next client")
        reply = receive(websocket)
        while reply["type"] == "heartbeat":  # if this client stalled before sending
            reply = receive(websocket)
        assert reply == {"type": "echo", "data": "next client"}
    server.stop()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert sum("client left" in r.getMessage() for r in caplog.records) == 3


def _read_frames(sock):
    """Yield (opcode, payload) of the server's frames from a raw socket."""
    buffer = b""

    def need(n):
        nonlocal buffer
        while len(buffer) < n:
            chunk = sock.recv(4096)
            if not chunk:
                raise EOFError
            buffer += chunk
        data, buffer = buffer[:n], buffer[n:]
        return data

    while True:
        first, second = need(2)
        length = second & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", need(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", need(8))
        yield first & 0x0F, need(length)


@pytest.mark.parametrize("ws_impl", ["websockets-sansio", "websockets"])
def test_protocol_keepalive_closes_a_peer_that_never_pongs_with_1011(serve, ws_impl):
    """uvicorn's Ping/Pong closes a peer that does not answer Pings with 1011."""
    server = serve(timeout.create_app(), ws=ws_impl, ws_ping_interval=0.1, ws_ping_timeout=0.1)
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(
            b"GET /ws/with-timeout HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            b"Sec-WebSocket-Version: 13\r\n\r\n"
        )
        response = b""
        while b"\r\n\r\n" not in response:
            response += sock.recv(1)
        assert response.startswith(b"HTTP/1.1 101")
        opcodes = []
        for opcode, payload in _read_frames(sock):
            opcodes.append(opcode)
            if opcode == 0x8:  # close
                code = struct.unpack("!H", payload[:2])[0]
                break
    assert 0x9 in opcodes  # a Ping came first
    assert code == 1011
