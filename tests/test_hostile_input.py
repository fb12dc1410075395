"""Hostile input: what a careless or malicious client sends, against every lesson endpoint.

Each case is endpoint x input -> the answer the endpoint's module documents: an
error reply (the connection then stays open), a close code with its reason, or an
HTTP status at the handshake. The ``hostile`` fixture serves the lesson on a real
uvicorn server, once per WebSocket implementation, and when the case is over checks
what every case promises besides its answer: a new client is served right after,
and the log holds no error and no traceback.

A case marked ``xfail(strict=True)`` is a known fault in the server or in uvicorn,
described in its reason; it is for the server to fix, not for the test to hide.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import select
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import psutil
import pytest
from websockets.client import ClientProtocol
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.extensions.permessage_deflate import enable_client_permessage_deflate
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.protocol import State
from websockets.sync.client import connect
from websockets.uri import parse_uri

from server import binary, chat, json_messages, mixed, text, timeout

KiB, MiB = 2**10, 2**20
TIMEOUT = 5  # seconds for every receive: a hung server fails the case, it never hangs the suite
IMPLEMENTATIONS = ("websockets-sansio", "websockets", "wsproto")
ROOT = Path(__file__).resolve().parents[1]
VALID = {"user": "ada", "content": "hello", "timestamp": 1764000000.5}


# -- the endpoints ------------------------------------------------------------------


def strict_json(reply: str | bytes) -> Any:
    """Parse a reply as JSON proper: ``NaN`` and ``Infinity`` are not JSON."""
    assert isinstance(reply, str), f"expected a text frame, got {reply!r:.80}"

    def refuse(constant: str) -> None:
        raise AssertionError(f"the reply holds {constant}, which is not JSON: {reply:.80}")

    return json.loads(reply, parse_constant=refuse)


@dataclass(frozen=True)
class Lesson:
    """An endpoint, how to serve it, and what a normal exchange with it looks like."""

    name: str
    create_app: Callable[..., Any]
    path: str
    normal: str  # a message the endpoint answers normally...
    answered: Callable[[str | bytes], bool]  # ...and how to recognise its answer
    defaults: dict[str, Any] = field(default_factory=dict)
    begin: Callable[[Any], None] | None = None  # puts a fresh connection in the state a case needs
    end: Callable[[Any], None] | None = None  # leaves that state again

    def __str__(self) -> str:
        return self.name

    def app(self, tmp_path: Path, **limits: Any) -> Any:
        options = {**self.defaults, **limits}
        if self.create_app is binary.create_app:
            options.setdefault("storage_dir", tmp_path / "files")
        return self.create_app(**options)

    def still_answers(self, websocket: Any) -> None:
        """The same connection leaves the state ``begin`` put it in and gets the normal answer."""
        if self.end is not None:
            self.end(websocket)
        self.exchange(websocket)

    def exchange(self, websocket: Any) -> None:
        """The normal message gets the normal answer."""
        websocket.send(self.normal)
        reply = websocket.recv(timeout=TIMEOUT)
        assert self.answered(reply), f"{self}: expected the normal answer, got {reply!r:.200}"


UPLOAD = {"type": "upload", "name": "hostile.bin", "size": 64 * KiB, "sha256": "0" * 64}


def start_upload(websocket: Any) -> None:
    websocket.send(json.dumps(UPLOAD))
    assert strict_json(websocket.recv(timeout=TIMEOUT))["type"] == "ready"


def cancel_upload(websocket: Any) -> None:
    websocket.send('{"type": "cancel"}')
    assert strict_json(websocket.recv(timeout=TIMEOUT)) == {"type": "cancelled", "name": "hostile.bin"}


CHAT = Lesson(
    "chat",
    text.create_app,
    "/ws/chat",
    "still there?",
    lambda reply: isinstance(reply, str) and reply.endswith("] Server received: still there?"),
)
JSON = Lesson(
    "json",
    json_messages.create_app,
    "/ws/json-demo",
    json.dumps(VALID),
    lambda reply: strict_json(reply) == VALID | {"status": "PROCESSED"},
)
# A heartbeat never comes between a message and its answer: the idle timeout is a minute.
HEARTBEAT = Lesson(
    "with-timeout",
    timeout.create_app,
    "/ws/with-timeout",
    "still there?",
    lambda reply: strict_json(reply) == {"type": "echo", "data": "still there?"},
    defaults={"idle_timeout": 60},
)
MIXED = Lesson("mixed", mixed.create_app, "/ws/mixed", "still there?", lambda reply: reply == "text:still there?")
# chunk_size 4096 is also the message limit: uvicorn itself refuses a bigger frame.
FILES = Lesson(
    "file-transfer",
    binary.create_app,
    "/ws/file-transfer",
    '{"type": "list"}',
    lambda reply: strict_json(reply)["type"] == "files",
    defaults={"chunk_size": 4 * KiB},
)
UPLOADING = replace(FILES, name="file-transfer mid-upload", begin=start_upload, end=cancel_upload)


def room_answered(reply: str | bytes) -> bool:
    """The room's answer to ``members``: the list once joined, ``not_joined`` before."""
    message = strict_json(reply)
    return message["type"] == "members" or message.get("code") == "not_joined"


def join_room(websocket: Any) -> None:
    websocket.send('{"type": "join", "name": "ada"}')
    assert strict_json(websocket.recv(timeout=TIMEOUT))["type"] == "welcome"


# The chat room of lesson 09, before and after joining (no rate limit: the cases are not floods).
ROOM = Lesson("room", chat.create_app, "/ws/room", '{"type": "members"}', room_answered, defaults={"rate_limit": None})
ROOM_JOINED = replace(ROOM, name="room joined", begin=join_room)
# Under the file transfer's smallest message limit (4096) uvicorn lets a 2 KiB chunk through:
# the endpoint checks chunk_size itself.
SMALL_CHUNKS = replace(UPLOADING, name="file-transfer mid-upload, 1 KiB chunks", defaults={"chunk_size": KiB})


# -- what the server may answer -------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    """A reply that ``matches``; the connection stays open and answers the next message."""

    what: str
    matches: Callable[[str | bytes], bool]

    def check(self, websocket: Any, lesson: Lesson) -> None:
        reply = websocket.recv(timeout=TIMEOUT)
        assert self.matches(reply), f"expected {self.what}, got {reply!r:.300}"
        lesson.still_answers(websocket)

    def __str__(self) -> str:
        return self.what


@dataclass(frozen=True)
class Close:
    """A close frame with ``code`` (and ``reason``, unless None: it differs by implementation)."""

    code: int
    reason: str | None = None

    def check(self, websocket: Any, lesson: Lesson) -> None:
        with pytest.raises(ConnectionClosed) as closed:
            websocket.recv(timeout=TIMEOUT)
        received = closed.value.rcvd
        assert received is not None, "the server dropped the connection without a close frame"
        assert received.code == self.code, f"expected close code {self.code}, got {received}"
        if self.reason is not None:
            assert received.reason == self.reason

    def __str__(self) -> str:
        return f"close {self.code}" + (f" {self.reason!r}" if self.reason else "")


def error(code: str, *problems: tuple[list, str]) -> Reply:
    """An error reply with ``code``; for a validation error, its (loc, type) problems in order."""

    def matches(reply: str | bytes) -> bool:
        message = strict_json(reply)
        if (message["type"], message["code"]) != ("error", code) or not message["detail"]:
            return False
        return not problems or [(e["loc"], e["type"]) for e in message["errors"]] == list(problems)

    return Reply(f"error {code} {list(problems) or ''}".strip(), matches)


def processed(message: dict) -> Reply:
    return Reply("PROCESSED", lambda reply: strict_json(reply) == message | {"status": "PROCESSED"})


def chat(text: str) -> Reply:
    return Reply(f"chat reply quoting {text!r:.20}", lambda reply: reply.endswith(f"] Server received: {text}"))


def echo(data: Any) -> Reply:
    return Reply(f"echo of {data!r:.20}", lambda reply: strict_json(reply) == {"type": "echo", "data": data})


def same_kind(data: str | bytes) -> Reply:
    """The mixed endpoint's answer: text for text, bytes for bytes."""
    expected = "text:" + data if isinstance(data, str) else b"bytes:" + data
    return Reply(f"{type(data).__name__} echo", lambda reply: reply == expected)


def some_json_reply() -> Reply:
    """An echo or an error reply, as long as it is JSON (the module documents no more)."""
    return Reply("an echo or error reply in JSON", lambda reply: strict_json(reply)["type"] in ("echo", "error"))


def files_listed() -> Reply:
    return Reply("the file list", lambda reply: strict_json(reply)["type"] == "files")


# -- the fixture every case goes through ---------------------------------------------


def clean_log(records: list[logging.LogRecord]) -> None:
    """No record at ERROR or above, none with a traceback (uvicorn logs "Exception in ASGI application").

    Records of the ``websockets`` client are the test's own, not the server's.
    """
    server_side = [r for r in records if not r.name.startswith("websockets.client")]
    bad = [f"{r.levelname} {r.name}: {r.getMessage()}" for r in server_side if r.levelno >= logging.ERROR or r.exc_info]
    assert not bad, "the log shows errors:\n" + "\n".join(bad)


def clean_stderr(output: str) -> None:
    """A server process's stderr shows no error line and no traceback."""
    bad = [line for line in output.splitlines() if line.startswith(("ERROR", "Traceback"))]
    assert not bad, "the server's stderr shows errors:\n" + output


def serves_a_new_client(lesson: Lesson, url: str, within: float = TIMEOUT) -> None:
    """A new client gets the normal answer to the normal message.

    HTTP 503 (all ``max_connections`` slots taken) is asked again until ``within``
    seconds have passed: a server notices a client has gone a moment after it goes.
    """
    deadline = time.monotonic() + within
    while True:
        try:
            with connect(url, open_timeout=TIMEOUT) as websocket:
                lesson.exchange(websocket)
            return
        except InvalidStatus as refused:
            if refused.response.status_code != 503 or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


class Hostile:
    """Serve a lesson for one case; afterwards, check it still serves and logged no error."""

    def __init__(self, serve: Any, ws_impl: str, caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
        self.serve, self.ws_impl, self.caplog, self.tmp_path = serve, ws_impl, caplog, tmp_path

    @contextlib.contextmanager
    def __call__(self, lesson: Lesson, **limits: Any) -> Iterator[str]:
        """Serve ``lesson`` in this process (``limits`` go to its ``create_app``); yield its URL."""
        server = self.serve(lesson.app(self.tmp_path, **limits), ws=self.ws_impl)
        url = server.ws_url(lesson.path)
        yield url
        # Reached only when the case passed: a failure is reported as itself.
        serves_a_new_client(lesson, url)
        server.stop()  # waits for the handlers to end, so their last words are in the log
        clean_log(self.caplog.records)

    @contextlib.contextmanager
    def process(self, lesson: Lesson, module: str, *options: str) -> Iterator[SpawnedServer]:
        """Serve ``lesson`` as ``python -m <module> <options>`` in a process of its own, to measure its memory."""
        with SpawnedServer([module, *options], self.ws_impl, self.tmp_path / "server.log") as spawned:
            spawned.url = f"ws://127.0.0.1:{spawned.port}{lesson.path}"
            yield spawned
            serves_a_new_client(lesson, spawned.url)
        clean_stderr(spawned.output)


@pytest.fixture
def hostile(serve: Any, ws_impl: str, caplog: pytest.LogCaptureFixture, tmp_path: Path) -> Hostile:
    """``with hostile(lesson) as url:`` serves the lesson on each implementation, then checks it."""
    caplog.set_level(logging.INFO)
    return Hostile(serve, ws_impl, caplog, tmp_path)


def on_each_implementation(**known_faults: str) -> pytest.MarkDecorator:
    """Run on every implementation; ``known_faults`` maps one (with _ for -) to why it fails."""
    faults = {impl.replace("_", "-"): reason for impl, reason in known_faults.items()}
    params = [
        pytest.param(impl, marks=pytest.mark.xfail(strict=True, reason=faults[impl])) if impl in faults else impl
        for impl in IMPLEMENTATIONS
    ]
    return pytest.mark.parametrize("ws_impl", params)


# -- clients that misbehave on purpose ------------------------------------------------


class RawClient:
    """A WebSocket client on a plain socket, frame by frame.

    It sends what the ``websockets`` client refuses to (invalid UTF-8, half a
    message) and does nothing by itself: it reads only when told, and a Pong
    its protocol queues goes out only with the next frame it is told to send.
    """

    def __init__(self, url: str, *, compression: bool = False) -> None:
        uri = parse_uri(url)
        self.sock = socket.create_connection((uri.host, uri.port), timeout=TIMEOUT)
        # With compression it offers permessage-deflate as the websockets client does by default.
        extensions = [enable_client_permessage_deflate(None)[0]] if compression else None
        self.protocol = ClientProtocol(uri, extensions=extensions)
        self.protocol.send_request(self.protocol.connect())
        self.flush()
        self.frames: list[Frame] = []
        while self.protocol.state is State.CONNECTING:
            self.feed(self.sock.recv(64 * KiB))
        assert self.protocol.state is State.OPEN, self.protocol.handshake_exc

    def flush(self) -> None:
        for data in self.protocol.data_to_send():
            self.sock.sendall(data)

    def feed(self, data: bytes) -> None:
        if data:
            self.protocol.receive_data(data)
        else:
            self.protocol.receive_eof()
        self.frames += [event for event in self.protocol.events_received() if not isinstance(event, Response)]

    def send_text(self, data: bytes, fin: bool = True) -> None:
        """A text frame with whatever bytes: the protocol layer does not check UTF-8."""
        self.protocol.send_text(data, fin=fin)
        self.flush()

    def send_continuation(self, data: bytes, fin: bool) -> None:
        self.protocol.send_continuation(data, fin=fin)
        self.flush()

    def pump(self, outgoing: Iterator[bytes | None] | None = None) -> str:
        """Write ``outgoing`` while reading what the server sends, until its close frame comes.

        ``outgoing`` yields bytes to write, or None for nothing yet (it is asked
        again after the next read). Returns "close" or, if the server ended TCP
        without a close frame, "eof" or "reset". Reading all along, the client
        never blocks the server; it stops writing when the server stops reading
        for good (it closed the connection).
        """
        outgoing = outgoing or iter(())
        pending, writing = memoryview(b""), True
        while close_frame(self.frames) is None:
            if writing and not pending:
                chunk = next(outgoing, b"")
                writing = chunk != b""
                pending = memoryview(chunk or b"")
            wanted = [self.sock] if pending else []
            readable, writable, _ = select.select([self.sock], wanted, [], TIMEOUT)
            if not readable and not writable:
                raise TimeoutError(f"the server neither read nor wrote for {TIMEOUT} s")
            if writable:
                try:
                    pending = pending[self.sock.send(pending) :]
                except (BrokenPipeError, ConnectionResetError):  # what it had sent can still be read
                    pending, writing = memoryview(b""), False
            if readable and (ended := self.read_once()):
                return ended
        return "close"

    def texts(self) -> list[str]:
        """The text frames received so far."""
        return [frame.data.decode() for frame in self.frames if frame.opcode is Opcode.TEXT]

    def read_once(self) -> str | None:
        """Read what has arrived into ``frames``; "eof" or "reset" if the server ended TCP, else None."""
        try:
            data = self.sock.recv(64 * KiB)
        except ConnectionResetError:
            return "reset"
        self.feed(data)
        return None if data else "eof"

    def read_until_closed(self) -> str:
        """Read, answering nothing, until the server ends the TCP connection: "eof" or "reset"."""
        while not (ended := self.read_once()):
            pass
        return ended

    def fill(self, message: bytes, limit: int) -> int:
        """Send ``message`` as text frames, never reading, until the socket blocks or ``limit`` bytes went.

        Returns the bytes sent; fewer than ``limit`` means the server stopped reading.
        """
        self.sock.settimeout(0.5)
        sent = 0
        try:
            while sent < limit:
                self.send_text(message)
                sent += len(message)
        except TimeoutError:  # the server reads no more: its handler waits for us to read
            pass
        return sent

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> RawClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def close_frame(frames: list[Frame]) -> tuple[int, str] | None:
    """(code, reason) of the close frame among ``frames``, or None if none came."""
    for frame in frames:
        if frame.opcode is Opcode.CLOSE:
            code, reason = int.from_bytes(frame.data[:2], "big"), frame.data[2:].decode()
            return code, reason
    return None


class SpawnedServer:
    """A lesson server in a process of its own: ``python -m <module> --port N --log-level warning``."""

    def __init__(self, arguments: list[str], ws_impl: str, log: Path) -> None:
        self.arguments, self.ws_impl, self.log = arguments, ws_impl, log
        self.url = ""
        self.output = ""

    def __enter__(self) -> SpawnedServer:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        command = [sys.executable, "-m", *self.arguments, "--port", str(self.port), "--log-level", "warning"]
        command += ["--ws", self.ws_impl]
        self._stderr = open(self.log, "w")
        self.popen = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=self._stderr)
        deadline = time.monotonic() + 30
        while True:  # until it listens; the first import takes a moment
            assert self.popen.poll() is None, self.log.read_text()
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, f"{self.arguments[0]} not listening after 30 s"
                time.sleep(0.05)
        self.process = psutil.Process(self.popen.pid)
        return self

    def __exit__(self, *exc: object) -> None:
        self.popen.terminate()
        self.popen.wait(timeout=30)
        self._stderr.close()
        self.output = self.log.read_text()


# -- one message, one documented answer --------------------------------------------------


def changed(**fields: Any) -> str:
    """VALID with some fields changed (None: removed), as JSON text."""
    message = {**VALID, **fields}
    return json.dumps({k: v for k, v in message.items() if v is not None})


def with_raw(field_name: str, raw: str) -> str:
    """VALID with one field's value written as raw JSON text, such as ``1e400`` or ``NaN``."""
    return changed(**{field_name: "@@"}).replace('"@@"', raw)


def upload(**fields: Any) -> str:
    return json.dumps({**UPLOAD, **fields})


MISSING = "missing"

CASES = [
    # /ws/chat takes text frames only (server/text.py).
    (CHAT, b"\x89PNG", Close(1003, "text frames only")),
    (CHAT, b"", Close(1003, "text frames only")),
    (CHAT, "", chat("")),
    (CHAT, "\x00\x1b[2J\u202e", chat("\x00\x1b[2J\u202e")),
    # /ws/json-demo: an error reply for each kind of bad message; the connection stays open.
    (JSON, json.dumps(VALID).encode(), error("binary_frame")),
    (JSON, "not json", error("invalid_json")),
    (JSON, "", error("invalid_json")),
    (JSON, '{"user": "ada",', error("invalid_json")),
    (JSON, "\ufeff" + json.dumps(VALID), error("invalid_json")),
    (JSON, "[1, 2]", error("validation_error", ([], "model_type"))),
    (JSON, '"str"', error("validation_error", ([], "model_type"))),
    (JSON, "null", error("validation_error", ([], "model_type"))),
    (JSON, "42", error("validation_error", ([], "model_type"))),
    (JSON, changed(timestamp="123"), error("validation_error", (["timestamp"], "float_type"))),
    (JSON, changed(timestamp=True), error("validation_error", (["timestamp"], "float_type"))),
    (JSON, changed(user=7), error("validation_error", (["user"], "string_type"))),
    (JSON, changed(content=["a"]), error("validation_error", (["content"], "string_type"))),
    (JSON, changed(timestamp=None), error("validation_error", (["timestamp"], MISSING))),
    (JSON, changed(extra="field"), error("validation_error", (["extra"], "extra_forbidden"))),
    (JSON, "{}", error("validation_error", (["user"], MISSING), (["content"], MISSING), (["timestamp"], MISSING))),
    (JSON, "[" * 60_000, error("invalid_json")),  # nested deeper than the parser allows, within 64 KiB
    (JSON, '{"a":' * 12_000, error("invalid_json")),
    (JSON, with_raw("user", "[" * 150 + "]" * 150), error("validation_error", (["user"], "string_type"))),
    (JSON, with_raw("timestamp", "1e400"), error("validation_error", (["timestamp"], "finite_number"))),
    (JSON, with_raw("timestamp", "-1e400"), error("validation_error", (["timestamp"], "finite_number"))),
    (JSON, with_raw("timestamp", "9" * 400), error("validation_error", (["timestamp"], "finite_number"))),
    (JSON, with_raw("timestamp", "9" * 5000), error("invalid_json")),
    (JSON, with_raw("timestamp", "NaN"), error("validation_error", (["timestamp"], "finite_number"))),
    (JSON, with_raw("timestamp", "Infinity"), error("validation_error", (["timestamp"], "finite_number"))),
    (JSON, with_raw("timestamp", "-Infinity"), error("validation_error", (["timestamp"], "finite_number"))),
    (JSON, with_raw("user", '"\\ud800"'), error("invalid_json")),  # a lone surrogate is no character
    # /ws/with-timeout echoes text (parsed when it is JSON); binary gets an error reply.
    (HEARTBEAT, b"\x00", error("binary_frame")),
    (HEARTBEAT, "not json", echo("not json")),
    (HEARTBEAT, "NaN", echo("NaN")),  # not JSON: echoed as text
    (HEARTBEAT, "[" * 60_000, echo("[" * 60_000)),  # too deep for json.loads: echoed as text
    (HEARTBEAT, "9" * 5000, echo("9" * 5000)),  # over Python's 4300-digit limit: echoed as text
    (HEARTBEAT, '{"type": "heartbeat_ack", "seq": 7}', error("unknown_seq")),
    (HEARTBEAT, '{"type": "heartbeat_ack"}', error("unknown_seq")),
    (HEARTBEAT, '{"type": "heartbeat_ack", "seq": "\\ud800"}', error("unknown_seq")),
    # JSON that could not go back out as JSON (infinity, a lone surrogate) is echoed as its text.
    pytest.param(HEARTBEAT, "1e400", echo("1e400"), id="with-timeout-1e400"),
    pytest.param(HEARTBEAT, '"\\ud800"', echo('"\\ud800"'), id="with-timeout-lone-surrogate"),
    # /ws/mixed answers each kind with its own kind, whatever it holds.
    (MIXED, "", same_kind("")),
    (MIXED, b"", same_kind(b"")),
    (MIXED, b"\x00\xff\xfe", same_kind(b"\x00\xff\xfe")),
    (MIXED, '{"type": "websocket.disconnect"}', same_kind('{"type": "websocket.disconnect"}')),
    # /ws/file-transfer: control messages in text, data in binary, only during an upload.
    (FILES, b"\x00\x01", error("unexpected_binary")),
    (FILES, "garbage", error("invalid_message")),
    (FILES, "[1, 2]", error("invalid_message")),
    (FILES, "null", error("invalid_message")),
    (FILES, "9" * 4000, error("invalid_message")),
    (FILES, upload(size=10**3900), error("too_large")),
    (FILES, '{"type": "cancel"}', error("invalid_message")),
    (FILES, '{"type": "delete", "name": "x"}', error("invalid_message")),
    (FILES, upload(size=-1), error("invalid_message")),
    (FILES, upload(size=True), error("invalid_message")),
    (FILES, upload(size="10"), error("invalid_message")),
    (FILES, upload(size=1.5), error("invalid_message")),
    (FILES, upload(sha256="not hex"), error("invalid_message")),
    (FILES, upload(size=2**40), error("too_large")),
    (FILES, upload(name="../escape.bin"), error("invalid_name")),
    (FILES, upload(name=".partial"), error("invalid_name")),
    (FILES, upload(name=["a"]), error("invalid_name")),
    (FILES, '{"type": "download", "name": "\\ud800"}', error("invalid_name")),
    (FILES, '{"type": "download", "name": "missing.bin"}', error("not_found")),
    (FILES, '{"type": "download", "name": "missing.bin", "offset": 1e400}', error("invalid_message")),
    pytest.param(FILES, "[" * 3000, error("invalid_message"), id="file-transfer-nested-3000-deep"),
    (UPLOADING, "hello", error("unexpected_text")),
    (UPLOADING, '{"type": "list"}', error("unexpected_text")),
    (UPLOADING, b"\x00" * (4 * KiB + 1), Close(1009)),  # uvicorn's limit: reason differs by implementation
    (SMALL_CHUNKS, b"\x00" * (2 * KiB), Close(1009, "a chunk holds at most 1024 bytes")),
    pytest.param(UPLOADING, "[" * 3000, error("unexpected_text"), id="file-transfer-mid-upload-nested-3000-deep"),
    # /ws/room (lesson 09): JSON validated by type; every bad message gets an error reply.
    (ROOM, b"\x00", error("binary_frame")),
    (ROOM, "", error("invalid_json")),
    (ROOM, "\ufeff{}", error("invalid_json")),
    (ROOM, "[" * 10_000, error("invalid_json")),
    (ROOM, "null", error("validation_error", ([], "dict_type"))),
    (ROOM, '{"type": "nope"}', error("validation_error", ([], "union_tag_invalid"))),
    (ROOM, '{"type": "say", "text": "hi"}', error("not_joined")),
    (ROOM, '{"type": "join", "name": ""}', error("validation_error", (["join", "name"], "string_too_short"))),
    (ROOM, json.dumps({"type": "join", "name": "x" * 33}), error("validation_error", (["join", "name"], "string_too_long"))),
    (ROOM, '{"type": "join", "name": "\\ud800"}', error("invalid_json")),
    (ROOM, '{"type": "join", "name": "eve", "admin": true}', error("validation_error", (["join", "admin"], "extra_forbidden"))),
    (ROOM_JOINED, '{"type": "join", "name": "bob"}', error("already_joined")),
    (ROOM_JOINED, '{"type": "say", "text": ""}', error("validation_error", (["say", "text"], "string_too_short"))),
    (
        ROOM_JOINED,
        json.dumps({"type": "say", "text": "x" * 2001}),
        error("validation_error", (["say", "text"], "string_too_long")),
    ),
    (ROOM_JOINED, '{"type": "say", "text": 5}', error("validation_error", (["say", "text"], "string_type"))),
    (ROOM_JOINED, b"\x89PNG", error("binary_frame")),
    (ROOM_JOINED, "x" * (16 * KiB + 1), Close(1009)),
]


def case_id(value: Any) -> str:
    """Lesson, message (long ones cut, with their length) and answer, as a test id."""
    if isinstance(value, Lesson):
        return value.name.replace(", ", "-").replace(" ", "-")
    if isinstance(value, (str, bytes)) and len(value) > 24:
        return f"{value[:20]!r}...({len(value)})"
    return repr(value) if isinstance(value, (str, bytes)) else str(value)


@pytest.mark.parametrize(("lesson", "message", "answer"), CASES, ids=case_id)
def test_each_hostile_message_gets_its_documented_answer(hostile, lesson, message, answer):
    """A bad message gets its documented error reply (and the connection goes on) or close code."""
    with hostile(lesson) as url, connect(url, open_timeout=TIMEOUT) as websocket:
        if lesson.begin is not None:
            lesson.begin(websocket)
        websocket.send(message)
        answer.check(websocket, lesson)


# -- message size: exactly the limit passes, one byte more closes with 1009 ----------------

LIMIT = 256  # bytes; small, to keep the cases fast


def sized(size: int, unit: str = "x") -> str:
    """Text of exactly ``size`` UTF-8 bytes made of ``unit`` (padded with "x")."""
    count = size // len(unit.encode())
    result = unit * count + "x" * (size - count * len(unit.encode()))
    assert len(result.encode()) == size
    return result


def json_of_size(size: int) -> dict:
    """VALID with its content padded so that its JSON text is exactly ``size`` bytes."""
    padding = size - len(json.dumps(VALID | {"content": ""}).encode())
    message = VALID | {"content": "x" * padding}
    assert len(json.dumps(message).encode()) == size
    return message


SIZE_CASES = [
    (CHAT, sized(LIMIT), chat(sized(LIMIT))),
    (CHAT, sized(LIMIT + 1), Close(1009)),
    (CHAT, sized(LIMIT, "é"), chat(sized(LIMIT, "é"))),  # 128 characters, 256 bytes
    (CHAT, sized(LIMIT + 1, "é"), Close(1009)),
    (CHAT, "é" * (LIMIT // 2 + 1), Close(1009)),  # 129 characters: under the limit counted in characters, not in bytes
    (CHAT, sized(LIMIT, "€"), chat(sized(LIMIT, "€"))),
    (CHAT, sized(LIMIT, "😀"), chat(sized(LIMIT, "😀"))),
    (CHAT, sized(LIMIT + 1, "😀"), Close(1009)),
    (JSON, json.dumps(json_of_size(LIMIT)), processed(json_of_size(LIMIT))),
    (JSON, json.dumps(json_of_size(LIMIT + 1)), Close(1009)),
    (HEARTBEAT, sized(LIMIT), echo(sized(LIMIT))),
    (HEARTBEAT, sized(LIMIT + 1, "é"), Close(1009)),
    (MIXED, sized(LIMIT), same_kind(sized(LIMIT))),
    (MIXED, sized(LIMIT + 1), Close(1009)),
    (MIXED, b"\xff" * LIMIT, same_kind(b"\xff" * LIMIT)),
    (MIXED, b"\xff" * (LIMIT + 1), Close(1009)),
]

FILE_LIMIT = 4 * KiB  # FILES' chunk_size, which is its message limit


def list_of_size(size: int) -> str:
    """A list request padded with a field the endpoint ignores to exactly ``size`` bytes."""
    request = '{"type": "list", "pad": "%s"}'
    padded = request % ("x" * (size - len(request % "")))
    assert len(padded.encode()) == size
    return padded


FILE_SIZE_CASES = [
    (FILES, list_of_size(FILE_LIMIT), files_listed()),
    (FILES, list_of_size(FILE_LIMIT + 1), Close(1009)),
    (FILES, b"\x00" * FILE_LIMIT, error("unexpected_binary")),
    (FILES, b"\x00" * (FILE_LIMIT + 1), Close(1009)),
]


@pytest.mark.parametrize(("lesson", "message", "answer"), SIZE_CASES + FILE_SIZE_CASES, ids=case_id)
def test_a_message_of_exactly_the_limit_passes_and_one_byte_more_closes_with_1009(hostile, lesson, message, answer):
    """max_message_size counts UTF-8 bytes and is inclusive; one byte over closes with 1009."""
    limits = {} if lesson is FILES else {"max_message_size": LIMIT}  # FILES' limit is its chunk_size
    with hostile(lesson, **limits) as url, connect(url, open_timeout=TIMEOUT) as websocket:
        websocket.send(message)
        answer.check(websocket, lesson)


# -- invalid UTF-8: 1007 ------------------------------------------------------------------

INVALID_UTF8 = {
    "invalid-start-byte": [b"\xff\xfe"],
    "overlong-slash": [b"\xc0\xaf"],
    "encoded-surrogate": [b"\xed\xa0\x80"],
    "truncated": [b"caf\xc3"],
    "split-across-fragments": [b"caf\xc3", b"("],
}


@pytest.mark.parametrize("fragments", INVALID_UTF8.values(), ids=INVALID_UTF8.keys())
@on_each_implementation(
    wsproto=(
        "uvicorn's wsproto implementation sends no close frame: wsproto reports the bad payload as a "
        "CloseConnection(1007) event as if the client had closed, its state stays OPEN, and uvicorn "
        "answers a close only in REMOTE_CLOSING, so it drops TCP (the client sees 1006)"
    ),
)
def test_invalid_utf8_in_a_text_frame_closes_with_1007(hostile, fragments):
    """A text frame that is not UTF-8 closes the connection with 1007, with a close frame."""
    with hostile(CHAT) as url, RawClient(url) as client:
        for i, fragment in enumerate(fragments):
            last = i == len(fragments) - 1
            if i == 0:
                client.send_text(fragment, fin=last)
            else:
                client.send_continuation(fragment, fin=last)
        assert client.pump() == "close", "the server dropped the connection without a close frame"
        assert close_frame(client.frames)[0] == 1007


# -- deep nesting: every depth gets a reply --------------------------------------------------


@pytest.mark.parametrize(
    "lesson",
    [
        JSON,
        HEARTBEAT,
        FILES,
    ],
    ids=str,
)
def test_every_nesting_depth_gets_a_reply(hostile, lesson):
    """Arrays nested 1 to sys.getrecursionlimit() deep each get a reply on one connection."""
    with hostile(lesson) as url, connect(url, open_timeout=TIMEOUT) as websocket:
        for depth in range(1, sys.getrecursionlimit() + 1):
            websocket.send("[" * depth + "]" * depth)
            # Not parsed: an echo this deep could overflow the test's own stack, which is deeper.
            reply = websocket.recv(timeout=TIMEOUT)
            assert isinstance(reply, str) and reply.startswith('{"'), reply[:80]


# -- look-alike origins: HTTP 403 at the handshake --------------------------------------------

HTTP_ONLY = ("http://localhost:*", "http://127.0.0.1:*")
ORIGINS = [
    # (allowed origins, or None for the default (local pages), Origin sent, HTTP status or None if served)
    (None, "http://localhost:8888", None),
    (None, "http://127.0.0.1:8000", None),
    (None, "http://[::1]:8888", None),
    (None, None, None),  # no Origin: a program, not a browser
    (None, "http://localhost.evil.example", 403),
    (None, "http://localhost.evil.example:8888", 403),
    (None, "http://evil.example", 403),
    (None, "https://evil.example", 403),
    (None, "null", 403),
    (None, "http://localhost@evil.example", 403),
    (None, "http://evil.example@localhost", 403),
    (None, "http://127.0.0.1.evil.example", 403),
    (None, "http://127.0.0.2:8888", 403),
    (None, "http://localhost:8888/", 403),
    (None, "http://evil.example/http://localhost", 403),
    (None, "ws://localhost:8888", 403),
    (None, "http://localhost:99999", 403),
    (None, "", 403),
    (HTTP_ONLY, "https://localhost:8888", 403),
    (HTTP_ONLY, "http://localhost:8888", None),
    (("http://localhost:8888",), "http://localhost:8889", 403),
    (("http://localhost:8888",), "http://localhost:8888", None),
    (None, "http://localhost:*", 403),  # a wildcard port belongs in a pattern, never in an Origin
]


@pytest.mark.parametrize(("allowed", "origin", "status"), ORIGINS)
def test_look_alike_origins_are_refused_at_the_handshake(hostile, allowed, origin, status):
    """An Origin that only looks like an allowed one gets HTTP 403; an allowed one is served."""
    limits = {} if allowed is None else {"allowed_origins": allowed}
    with hostile(CHAT, **limits) as url:
        if status is None:
            with connect(url, origin=origin, open_timeout=TIMEOUT) as websocket:
                CHAT.still_answers(websocket)
        else:
            with pytest.raises(InvalidStatus) as refused, connect(url, origin=origin, open_timeout=TIMEOUT):
                pass
            assert refused.value.response.status_code == status


# -- many bad messages, then a good one --------------------------------------------------------

BAD_JSON = ["not json", "[1, 2]", changed(timestamp="123"), changed(extra="field"), b"\x00"]


def test_a_hundred_invalid_messages_then_a_valid_one(hostile):
    """100 invalid messages get 100 error replies; the valid one after them is processed."""
    # rate_limit=None: the lesson's 100 messages/s (burst 100) would answer the 101st with
    # rate_limited, as test_a_flood_is_rate_limited_then_closed_with_1008 shows.
    with hostile(JSON, rate_limit=None) as url, connect(url, open_timeout=TIMEOUT) as websocket:
        for i in range(100):
            websocket.send(BAD_JSON[i % len(BAD_JSON)])
        websocket.send(json.dumps(VALID))
        replies = [strict_json(websocket.recv(timeout=TIMEOUT)) for _ in range(101)]
        JSON.still_answers(websocket)
    codes = ["invalid_json", "validation_error", "validation_error", "validation_error", "binary_frame"]
    assert [r.get("code") for r in replies[:100]] == [codes[i % len(codes)] for i in range(100)]
    assert replies[100] == VALID | {"status": "PROCESSED"}


# -- a flood -------------------------------------------------------------------------------------


IN_FLIGHT = 16  # messages a flooding client leaves unanswered: fewer than uvicorn's ws_max_queue (32)


def test_a_flood_is_rate_limited_then_closed_with_1008(hostile):
    """Messages sent as fast as they are answered get rate_limited replies with retry_after, then close 1008."""
    with hostile(CHAT, rate_limit=20, burst=5, grace=0.5) as url, RawClient(url) as client:

        def flood() -> Iterator[bytes | None]:
            for i in range(200_000):  # stops by itself; the server closes long before
                while i - len(client.texts()) >= IN_FLIGHT:  # every message gets one reply
                    yield None
                client.protocol.send_text(f"flood {i}".encode())
                yield b"".join(client.protocol.data_to_send())

        # The raw client reads all along: a websockets client thread blocked in send()
        # can stop that client from reading, and then the server from writing.
        assert client.pump(flood()) == "close"
    assert close_frame(client.frames) == (1008, "rate limit exceeded")
    replies = client.texts()
    assert all(re.fullmatch(r"\[.+\] Server received: flood \d+", r) for r in replies[:5])  # the burst
    refusals = [strict_json(r) for r in replies if r.startswith("{")]
    assert refusals, "no rate_limited reply came before the close"
    assert len(refusals) + sum(1 for r in replies if "] Server received: flood " in r) == len(replies)
    for refusal in refusals:
        assert refusal["type"] == "error" and refusal["code"] == "rate_limited"
        # retry_after is rounded to the millisecond: 0.0 when a token is under half a millisecond away.
        assert refusal["retry_after"] >= 0 and refusal["detail"]


@on_each_implementation(
    websockets=(
        "with more than ws_max_queue (32) messages unread when the guard closes with 1008, the "
        "legacy websockets protocol's reader waits for queue space that never comes, and its close() "
        "waits close_timeout (10 s, sometimes twice) for that reader, even after the client has closed "
        "TCP: the handler and its max_connections slot stay 10-20 s"
    )
)
def test_a_flooder_closed_with_1008_frees_its_slot_at_once(hostile):
    """A client that sent 100 messages at once is closed with 1008, and its only slot is free right after."""
    # grace=0: the third message closes the connection; 97 are still waiting behind it.
    with hostile(CHAT, rate_limit=1, burst=1, grace=0, max_connections=1) as url, RawClient(url) as client:
        for i in range(100):
            client.protocol.send_text(f"flood {i}".encode())
        assert client.pump(iter([b"".join(client.protocol.data_to_send())])) == "close"
        assert close_frame(client.frames) == (1008, "rate limit exceeded")


# -- clients that vanish ------------------------------------------------------------------------


@pytest.mark.parametrize("lesson", [CHAT, JSON, HEARTBEAT, MIXED, FILES, ROOM], ids=str)
def test_a_client_that_vanishes_mid_message_frees_its_slot(hostile, lesson):
    """Half a fragmented message, then TCP dropped: the handler ends quietly and frees the only slot."""
    # max_connections=1: the new client after the case gets in only once this handler has ended.
    with hostile(lesson, max_connections=1) as url, RawClient(url) as client:
        client.send_text(b'{"user": "ad', fin=False)


def test_a_client_that_vanishes_mid_transfer_leaves_nothing_under_the_name(hostile, tmp_path):
    """Upload declared, half the bytes sent, TCP dropped: no file under the name; a resume completes it."""
    data = os.urandom(64 * KiB)
    request = {"type": "upload", "name": "cut.bin", "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    store = tmp_path / "files"
    with hostile(FILES, max_connections=1) as url:
        with connect(url, compression=None, open_timeout=TIMEOUT) as websocket:
            websocket.send(json.dumps(request))
            assert strict_json(websocket.recv(timeout=TIMEOUT))["offset"] == 0
            for start in range(0, len(data) // 2, 4 * KiB):
                websocket.send(data[start : start + 4 * KiB])
            websocket.socket.shutdown(socket.SHUT_RDWR)  # drop TCP, no close frame
        assert not (store / "cut.bin").exists()
        serves_a_new_client(FILES, url)  # the handler has ended: the only slot is free again
        assert not (store / "cut.bin").exists()
        with connect(url, compression=None, open_timeout=TIMEOUT) as websocket:
            for _ in range(100):  # "busy" while the server flushes what it had
                websocket.send(json.dumps(request))
                ready = strict_json(websocket.recv(timeout=TIMEOUT))
                if ready.get("code") != "busy":
                    break
            assert ready == {"type": "ready", "offset": len(data) // 2, "chunk_size": 4 * KiB}
            for start in range(len(data) // 2, len(data), 4 * KiB):
                websocket.send(data[start : start + 4 * KiB])
            assert strict_json(websocket.recv(timeout=TIMEOUT))["type"] == "done"
    assert (store / "cut.bin").read_bytes() == data


# Sub-second keepalive: a Ping every 0.2 s, closed when no Pong comes within 0.2 s.
KEEPALIVE = {"ping_interval": 0.2, "ping_timeout": 0.2}
# After the close, websockets-sansio and wsproto free the slot at once; the "websockets"
# implementation first waits close_timeout (10 s) for the client to close TCP.
FREED_WITHIN = 15


def test_a_half_open_client_is_closed_by_keepalive_and_frees_its_slot(hostile, ws_impl):
    """A client that never answers a Ping gets close 1011 "keepalive ping timeout"; its slot is freed."""
    with hostile(CHAT, max_connections=1, **KEEPALIVE) as url, RawClient(url) as silent:
        # From now on it reads but answers nothing, and keeps its socket open.
        end = silent.read_until_closed()
        # Every implementation sends one Ping, then a close frame, then ends TCP (FIN).
        assert [frame.opcode for frame in silent.frames] == [Opcode.PING, Opcode.CLOSE] and end == "eof"
        assert close_frame(silent.frames) == (1011, "keepalive ping timeout")
        serves_a_new_client(CHAT, url, within=FREED_WITHIN)


@on_each_implementation(
    websockets=(
        "websockets' legacy keepalive task dies in ping() with an AssertionError from _drain_helper "
        '(the handler is draining too), logged as "keepalive ping failed" at ERROR with its traceback '
        "(the guard's send timeout still frees the slot)"
    ),
)
def test_a_client_that_never_reads_is_closed_and_frees_its_slot(hostile):
    """A client that sends but never reads holds up only its own handler, which the send timeout ends."""
    # rate_limit=None: the slow reader is the subject here, not the flood (which would get 1008).
    # The keepalive closes the stuck client, but uvicorn's transport.close() waits for a write buffer
    # the client never drains; the guard's send_timeout is what ends the handler and frees the slot.
    limits = {"max_connections": 2, "rate_limit": None, "send_timeout": 0.5, **KEEPALIVE}
    with hostile(CHAT, **limits) as url, RawClient(url) as stuck:
        sent = stuck.fill(b"x" * (16 * KiB), limit=64 * MiB)
        assert sent < 64 * MiB, "the server read 64 MiB it could not answer"
        with connect(url, open_timeout=TIMEOUT) as other:
            CHAT.exchange(other)  # served meanwhile
            # A third connection needs the stuck client's slot (max_connections=2).
            serves_a_new_client(CHAT, url)


def test_a_client_that_never_reads_cannot_make_the_server_buffer(hostile, peak_rss):
    """A client that sends 64 MiB it never reads the answers to grows the server by less than 32 MiB."""
    # A rate limit out of reach: rate_limited replies are short, and the socket buffers
    # would take all 64 MiB of their answers; long chat replies fill them at once.
    with hostile.process(CHAT, "server.text", "--rate-limit", "1e9") as server, RawClient(server.url) as stuck:
        with peak_rss(server.process) as rss:
            sent = stuck.fill(b"x" * (16 * KiB), limit=64 * MiB)
        assert sent < 64 * MiB, "the server read 64 MiB it could not answer"
        assert rss.growth < 32 * MiB, f"the server grew by {rss.growth / MiB:.1f} MiB"


# -- a deflate bomb ---------------------------------------------------------------------------


def test_a_deflate_bomb_closes_with_1009_and_memory_stays_flat(hostile, ws_impl, peak_rss):
    """32 MiB of one character, compressed under the 64 KiB limit, closes with 1009; the server grows < 32 MiB."""
    bomb = b"a" * (32 * MiB)
    with hostile.process(CHAT, "server.text") as server, RawClient(server.url, compression=True) as client:
        client.protocol.send_text(bomb)
        frame = b"".join(client.protocol.data_to_send())
        if ws_impl == "wsproto":
            # serving_options turns compression off on wsproto: the bomb goes as 32 MiB plain.
            assert client.protocol.extensions == [] and len(frame) > 32 * MiB
        else:
            assert [e.name for e in client.protocol.extensions] == ["permessage-deflate"]
            assert len(frame) < 64 * KiB  # under the limit on the wire
        with peak_rss(server.process) as rss:
            # Written while reading: the close frame is read even if the server stops reading mid-message.
            assert client.pump(iter([frame])) == "close", "the server dropped the connection without a close frame"
        assert close_frame(client.frames)[0] == 1009
        assert rss.growth < 32 * MiB, f"the server grew by {rss.growth / MiB:.1f} MiB"
