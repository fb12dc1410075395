"""Capstone: the chat room (server/chat.py), on real uvicorn servers with the websockets client."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import threading
import time
import tomllib
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from websockets.client import ClientProtocol
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.frames import Opcode
from websockets.http11 import Response
from websockets.protocol import State
from websockets.sync.client import ClientConnection, connect
from websockets.uri import parse_uri

from server import chat, cli
from server.background import BackgroundServer

ROOT = Path(__file__).resolve().parent.parent

#: Seconds any one receive may take before the test fails.
TIMEOUT = 5


# -- helpers ------------------------------------------------------------------------


def client(url: str, **options: Any) -> ClientConnection:
    """A client that keeps reading whatever arrives (no high-water mark), as a member who keeps up does."""
    return connect(url, max_queue=None, proxy=None, **options)


def receive(websocket: ClientConnection, timeout: float = TIMEOUT) -> dict[str, Any]:
    return json.loads(websocket.recv(timeout=timeout))


def send(websocket: ClientConnection, **message: Any) -> None:
    websocket.send(json.dumps(message))


def join(websocket: ClientConnection, name: str) -> dict[str, Any]:
    """Join as ``name``; return the welcome."""
    send(websocket, type="join", name=name)
    welcome = receive(websocket)
    assert welcome["type"] == "welcome", welcome
    return welcome


def until(websocket: ClientConnection, wanted: Callable[[dict], bool], limit: int = 100_000) -> list[dict]:
    """Receive events up to and including the first one ``wanted``; return them all."""
    events = []
    for _ in range(limit):
        events.append(receive(websocket))
        if wanted(events[-1]):
            return events
    raise AssertionError(f"not among {limit} events")


def messages(events: list[dict]) -> list[dict]:
    return [event for event in events if event["type"] == "message"]


@contextmanager
def members(url: str, *names: str) -> Iterator[list[ClientConnection]]:
    """Clients joined under ``names``, in order; each has read what came before the last one joined."""
    with ExitStack() as stack:
        websockets = []
        for name in names:
            websockets.append(stack.enter_context(client(url)))
            join(websockets[-1], name)
        for index, websocket in enumerate(websockets):
            for name in names[index + 1 :]:
                assert receive(websocket) == {"type": "joined", "name": name}
        yield websockets


def running_member_tasks(server: BackgroundServer) -> list[str]:
    """The names of the room's per-member tasks still running on the server's loop."""

    async def listing() -> list[str]:
        return [
            task.get_coro().__qualname__ for task in asyncio.all_tasks() if task.get_coro().__qualname__.startswith("Member.")
        ]

    loop = server._server.loop
    return asyncio.run_coroutine_threadsafe(listing(), loop).result(TIMEOUT)


def settled(check: Callable[[], Any], attempts: int = 200) -> Any:
    """``check()`` once it is true: the server finishes a connection just after the client sees it end."""
    for _ in range(attempts):
        if result := check():
            return result
        time.sleep(0.02)
    return check()


@pytest.fixture
def room(serve) -> Callable[..., BackgroundServer]:
    """Start a chat app built with the given knobs; stopped after the test."""

    def start(ws: str = "auto", **knobs: Any) -> BackgroundServer:
        return serve(chat.create_app(**knobs), ws=ws)

    return start


# -- joining --------------------------------------------------------------------------


def test_a_joiner_is_welcomed_with_every_member_and_the_others_told(room):
    """welcome lists every member, the joiner too; the others get joined."""
    url = room().ws_url("/ws/room")
    with client(url) as ada, client(url) as bob:
        assert join(ada, "ada") == {"type": "welcome", "name": "ada", "members": ["ada"], "history": []}
        assert join(bob, "bob") == {"type": "welcome", "name": "bob", "members": ["ada", "bob"], "history": []}
        assert receive(ada) == {"type": "joined", "name": "bob"}


def test_a_taken_name_is_refused_and_the_client_may_try_another(room):
    """Joining under a name in the room gets name_taken; the connection stays open for another try."""
    url = room().ws_url("/ws/room")
    with members(url, "ada") as [ada], client(url) as other:
        send(other, type="join", name="ada")
        assert receive(other)["code"] == "name_taken"
        assert join(other, "ada2")["members"] == ["ada", "ada2"]
        assert receive(ada) == {"type": "joined", "name": "ada2"}


def test_a_name_is_free_again_once_its_member_left(room):
    """A member who left frees the name."""
    url = room().ws_url("/ws/room")
    with members(url, "ada", "bob") as [ada, bob]:
        bob.close()
        assert receive(ada) == {"type": "left", "name": "bob"}
        with client(url) as again:
            assert join(again, "bob")["members"] == ["ada", "bob"]


@pytest.mark.parametrize("message", [{"type": "say", "text": "hi"}, {"type": "members"}])
def test_anything_but_join_before_joining_is_not_joined(room, message):
    """say or members before join gets not_joined; the client can still join."""
    url = room().ws_url("/ws/room")
    with client(url) as websocket:
        send(websocket, **message)
        assert receive(websocket)["code"] == "not_joined"
        join(websocket, "ada")


def test_joining_twice_is_an_error(room):
    """A second join gets already_joined and changes nothing."""
    url = room().ws_url("/ws/room")
    with members(url, "ada") as [ada]:
        send(ada, type="join", name="eve")
        assert receive(ada)["code"] == "already_joined"
        send(ada, type="members")
        assert receive(ada) == {"type": "members", "members": ["ada"]}


# -- messages -------------------------------------------------------------------------


def test_a_message_reaches_every_member_once_the_sender_too(room):
    """say becomes one message event for every member, with an id and a time zone-aware ISO time."""
    url = room().ws_url("/ws/room")
    with members(url, "ada", "bob", "cy") as everyone:
        send(everyone[1], type="say", text="hello <b>&amp;</b>")
        send(everyone[1], type="members")
        for websocket in everyone:
            event = receive(websocket)
            assert {key: event[key] for key in ("type", "from", "text", "id")} == {
                "type": "message",
                "from": "bob",
                "text": "hello <b>&amp;</b>",
                "id": 1,
            }
            assert datetime.fromisoformat(event["time"]).utcoffset() is not None
        # The next thing bob gets is the members reply: no second copy came before it.
        assert receive(everyone[1]) == {"type": "members", "members": ["ada", "bob", "cy"]}


def test_members_lists_the_room_in_the_order_of_joining(room):
    """members answers with every name in the room."""
    url = room().ws_url("/ws/room")
    with members(url, "cy", "ada", "bob") as [cy, *_]:
        send(cy, type="members")
        assert receive(cy) == {"type": "members", "members": ["cy", "ada", "bob"]}


def test_a_member_who_leaves_is_announced_to_the_others(room):
    """The others get left; the one who left is no longer listed."""
    url = room().ws_url("/ws/room")
    with members(url, "ada", "bob", "cy") as [ada, bob, cy]:
        bob.close()
        assert receive(ada) == {"type": "left", "name": "bob"}
        assert receive(cy) == {"type": "left", "name": "bob"}
        send(ada, type="members")
        assert receive(ada) == {"type": "members", "members": ["ada", "cy"]}


def test_concurrent_senders_are_seen_by_all_in_one_order(room, ws_impl):
    """Four members talking at once: all see every message once, in the same id order, each sender's in its own order."""
    url = room(ws_impl, rate_limit=None).ws_url("/ws/room")
    names, each = ["ada", "bob", "cy", "dee"], 100
    seen: dict[str, list[dict]] = {}
    failures: list[BaseException] = []

    def talk(websocket: ClientConnection, name: str) -> None:
        try:
            for number in range(each):
                send(websocket, type="say", text=f"{name} {number}")
            got: list[dict] = []
            while len(got) < each * len(names):
                got += messages([receive(websocket)])
            seen[name] = got
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)

    with members(url, *names) as everyone:
        threads = [threading.Thread(target=talk, args=pair) for pair in zip(everyone, names)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    assert not failures, failures
    orders = [[(event["id"], event["from"], event["text"]) for event in seen[name]] for name in names]
    assert all(order == orders[0] for order in orders)
    assert [event_id for event_id, _, _ in orders[0]] == list(range(1, each * len(names) + 1))
    for name in names:
        assert [text for _, sender, text in orders[0] if sender == name] == [f"{name} {n}" for n in range(each)]


def test_a_joiner_gets_the_last_messages_oldest_first(room):
    """welcome's history holds the last N message events, oldest first."""
    url = room(history=3).ws_url("/ws/room")
    with members(url, "ada") as [ada]:
        for number in range(5):
            send(ada, type="say", text=f"m{number}")
        sent = messages(until(ada, lambda event: event.get("text") == "m4"))
        with client(url) as late:
            history = join(late, "late")["history"]
    assert history == sent[2:]
    assert [event["text"] for event in history] == ["m2", "m3", "m4"]


def test_history_is_50_messages_by_default(room):
    """Without history=, a joiner gets the last 50 messages."""
    url = room(rate_limit=None).ws_url("/ws/room")
    with members(url, "ada") as [ada]:
        for number in range(60):
            send(ada, type="say", text=f"m{number}")
        until(ada, lambda event: event.get("text") == "m59")
        with client(url) as late:
            history = join(late, "late")["history"]
    assert [event["text"] for event in history] == [f"m{n}" for n in range(10, 60)]


# -- bad input ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        (b'{"type": "join", "name": "ada"}', "binary_frame"),
        ("not json", "invalid_json"),
        ("[1, 2]", "validation_error"),
        ('{"type": "shout", "text": "hi"}', "validation_error"),
        ('{"name": "ada"}', "validation_error"),
        ('{"type": "join", "name": ""}', "validation_error"),
        ('{"type": "join", "name": "' + "x" * 33 + '"}', "validation_error"),
        ('{"type": "join", "name": 7}', "validation_error"),
        ('{"type": "join", "name": "ada", "admin": true}', "validation_error"),
        ('{"type": "join", "name": "\\ud800"}', "invalid_json"),  # a lone surrogate: no UTF-8 could carry it on
    ],
    ids=[
        "binary",
        "not-json",
        "not-object",
        "unknown-type",
        "no-type",
        "empty-name",
        "long-name",
        "number-name",
        "extra-field",
        "lone-surrogate",
    ],
)
def test_a_bad_frame_before_joining_gets_an_error_and_the_connection_stays_open(room, frame, code):
    """Binary frames and invalid messages get an error reply; joining still works after."""
    url = room().ws_url("/ws/room")
    with client(url) as websocket:
        websocket.send(frame)
        reply = receive(websocket)
        assert reply["type"] == "error" and reply["code"] == code and reply["detail"]
        join(websocket, "ada")


@pytest.mark.parametrize(
    "message",
    [{"type": "say", "text": ""}, {"type": "say", "text": "x" * 2001}, {"type": "say"}, {"type": "say", "text": ["hi"]}],
    ids=["empty", "too-long", "missing", "not-text"],
)
def test_a_bad_say_gets_an_error_and_reaches_no_one(room, message):
    """An invalid say is answered with validation_error; nobody gets a message; the member stays."""
    url = room().ws_url("/ws/room")
    with members(url, "ada", "bob") as [ada, bob]:
        send(ada, **message)
        assert receive(ada)["code"] == "validation_error"
        send(ada, type="say", text="x" * 2000)
        assert receive(bob)["text"] == "x" * 2000  # the first message bob gets: the bad one never came
        assert receive(ada)["id"] == 1


def test_a_binary_frame_from_a_member_gets_an_error(room):
    """A member's binary frame gets binary_frame and the member stays in the room."""
    url = room().ws_url("/ws/room")
    with members(url, "ada") as [ada]:
        ada.send(b"\x00\x01")
        assert receive(ada)["code"] == "binary_frame"
        send(ada, type="say", text="still here")
        assert receive(ada)["text"] == "still here"


def test_the_room_survives_a_handler_error(room, ws_impl):
    """A handler that fails closes its connection with 1011; the others get left and go on."""
    server = room(ws_impl)
    url = server.ws_url("/ws/room")
    state = server.app.state.room
    say = state.say

    def failing(member, text):
        if text == "boom":
            raise RuntimeError("a bug in the room")
        say(member, text)

    state.say = failing
    with members(url, "ada", "bob") as [ada, bob]:
        send(bob, type="say", text="boom")
        with pytest.raises(ConnectionClosed) as closed:
            receive(bob)
        assert closed.value.rcvd.code == 1011
        assert receive(ada) == {"type": "left", "name": "bob"}
        with client(url) as cy:
            join(cy, "cy")
            send(cy, type="say", text="after")
            assert receive(ada)["type"] == "joined"
            assert receive(ada)["text"] == "after"
    assert settled(lambda: not running_member_tasks(server))


def test_nothing_runs_on_after_members_go(room):
    """Once every client has gone, no per-member task is left on the server."""
    server = room()
    url = server.ws_url("/ws/room")
    with members(url, "ada", "bob") as [ada, _]:
        send(ada, type="say", text="hi")
        receive(ada)
        assert running_member_tasks(server)
    with client(url) as never_joined:
        send(never_joined, type="members")
        receive(never_joined)
    assert settled(lambda: not running_member_tasks(server))
    assert server.app.state.room.members == {}


# -- members who do not keep up -----------------------------------------------------


class Sleepy:
    """A member on a plain socket that joins, then reads nothing until told to."""

    def __init__(self, url: str, name: str) -> None:
        uri = parse_uri(url)
        self.sock = socket.socket()
        # A small receive buffer, so the server's side fills sooner.
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.settimeout(TIMEOUT)
        self.sock.connect((uri.host, uri.port))
        self.protocol = ClientProtocol(uri)
        self.protocol.send_request(self.protocol.connect())
        self.flush()
        while self.protocol.state is State.CONNECTING:
            self.protocol.receive_data(self.sock.recv(65536))
        assert self.protocol.state is State.OPEN
        self.protocol.send_text(json.dumps({"type": "join", "name": name}).encode())
        self.flush()

    def flush(self) -> None:
        for data in self.protocol.data_to_send():
            if data:
                self.sock.sendall(data)

    def read_until_close(self) -> tuple[int, str]:
        """Read all that was held back, answering the close; the close code and reason."""
        while self.protocol.close_rcvd is None:
            data = self.sock.recv(1 << 20)
            if not data:
                raise AssertionError("the server ended TCP without a close frame")
            self.protocol.receive_data(data)
            for event in self.protocol.events_received():
                assert isinstance(event, Response) or event.opcode in (Opcode.TEXT, Opcode.CLOSE, Opcode.PING), event
            self.flush()
        return self.protocol.close_rcvd.code, self.protocol.close_rcvd.reason

    def close(self) -> None:
        self.sock.close()


@pytest.mark.parametrize(
    ("knobs", "reason"),
    [
        ({"stall_timeout": 0.3}, "too slow: read nothing for 0.3 s"),
        ({"queue_size": 8, "stall_timeout": 600}, "too slow: 8 messages behind"),
    ],
    ids=["stalled", "queue-full"],
)
def test_a_member_that_stops_reading_is_dropped_and_the_room_goes_on(room, ws_impl, knobs, reason, peak_rss):
    """A member that reads nothing is closed with 1008; the others get left for it and keep receiving; memory stays bounded."""
    server = room(ws_impl, rate_limit=None, **knobs)
    url = server.ws_url("/ws/room")
    with members(url, "ada", "bob") as [ada, bob], peak_rss() as rss:
        sleepy = Sleepy(url, "sleepy")
        try:
            assert receive(ada) == {"type": "joined", "name": "sleepy"}
            assert receive(bob) == {"type": "joined", "name": "sleepy"}
            # ada talks, one message at a time, until bob hears that sleepy is gone:
            # sleepy's buffers fill, its send waits, and it is dropped.
            before: list[dict] = []
            for number in range(50_000):
                text = f"{number:05} " + "x" * 1990
                send(ada, type="say", text=text)
                before += until(bob, lambda event, text=text: event["type"] == "left" or event.get("text") == text)
                until(ada, lambda event, text=text: event.get("text") == text)
                if before[-1]["type"] == "left":
                    break
            assert before[-1] == {"type": "left", "name": "sleepy"}
            assert all(event["type"] == "message" for event in before[:-1])
            # The room goes on: bob hears the next message, and sleepy is not listed.
            send(ada, type="say", text="after")
            until(bob, lambda event: event.get("text") == "after")
            send(bob, type="members")
            until(bob, lambda event: event == {"type": "members", "members": ["ada", "bob"]})
            # Reading again, sleepy gets what was queued for it, then the close frame.
            assert sleepy.read_until_close() == (1008, reason)
        finally:
            sleepy.close()
    # What was held for sleepy (queued events share one encoded text) is bounded: a generous ceiling,
    # where an unbounded queue would grow with every message ada sends until the test's 50,000.
    assert rss.growth < 48 * 2**20, f"the server grew by {rss.growth / 2**20:.0f} MiB while a member did not read"
    assert settled(lambda: not running_member_tasks(server))


def test_a_burst_of_1000_messages_closes_no_member_who_keeps_reading(room, ws_impl):
    """1,000 messages at once, with the default queue and stall policy: everyone gets all of them."""
    url = room(ws_impl, rate_limit=None).ws_url("/ws/room")
    with members(url, "ada", "bob", "cy") as everyone:
        for number in range(1000):
            send(everyone[0], type="say", text=f"burst {number}")
        for websocket in everyone:
            got = messages(until(websocket, lambda event: event.get("text") == "burst 999"))
            assert [event["text"] for event in got] == [f"burst {n}" for n in range(1000)]
        send(everyone[2], type="members")
        until(everyone[2], lambda event: event == {"type": "members", "members": ["ada", "bob", "cy"]})


# -- limits, origin and token ------------------------------------------------------------


def test_a_foreign_page_is_refused_and_the_rooms_own_page_served(room):
    """Origin: a page from elsewhere gets 403; the room's page, by whatever address it was reached, gets in."""
    server = room()
    port = server.port
    with pytest.raises(InvalidStatus) as refused:
        client(server.ws_url("/ws/room"), origin="http://evil.example").close()
    assert refused.value.response.status_code == 403
    # The page as served to a student who typed this machine's LAN name: Origin and Host agree.
    sock = socket.create_connection(("127.0.0.1", port))
    with client(f"ws://chat.example:{port}/ws/room", sock=sock, origin=f"http://chat.example:{port}") as websocket:
        join(websocket, "ada")
    # A foreign page sends its own origin with this server's host.
    sock = socket.create_connection(("127.0.0.1", port))
    with pytest.raises(InvalidStatus) as refused:
        client(f"ws://chat.example:{port}/ws/room", sock=sock, origin="http://evil.example").close()
    assert refused.value.response.status_code == 403


def test_a_room_with_a_token_refuses_handshakes_without_it(room):
    """With a token, the handshake needs it; the page's ?token= reaches the WebSocket as is."""
    server = room(token="s3cret")
    with pytest.raises(InvalidStatus) as refused:
        client(server.ws_url("/ws/room")).close()
    assert refused.value.response.status_code == 401
    with client(server.ws_url("/ws/room?token=s3cret")) as websocket:
        join(websocket, "ada")


def test_a_message_over_the_size_limit_closes_with_1009(room):
    """A frame over 16 KiB closes the connection with 1009; 2,000 escaped characters fit."""
    url = room().ws_url("/ws/room")
    with members(url, "ada") as [ada]:
        ada.send(json.dumps({"type": "say", "text": "\x00" * 2000}))  # 12,000 bytes as \u0000
        assert receive(ada)["text"] == "\x00" * 2000
        ada.send(json.dumps({"type": "say", "text": "x" * (17 * 1024)}))
        with pytest.raises(ConnectionClosed) as closed:
            receive(ada)
        assert closed.value.rcvd.code == 1009


def test_a_member_who_talks_too_fast_is_told_to_wait(room):
    """Past 20 messages a second (the room's default) a member gets rate_limited and stays."""
    url = room().ws_url("/ws/room")
    with members(url, "ada") as [ada]:
        for number in range(25):
            send(ada, type="say", text=str(number))
        # The guard answers at once; messages come through the room's queue, so the two may interleave.
        events = [receive(ada) for _ in range(25)]
        assert len(messages(events)) >= 19  # a burst of 20, less the join
        assert {event["code"] for event in events if event["type"] == "error"} == {"rate_limited"}


# -- the page and the command line ------------------------------------------------------


def test_the_page_is_served_at_the_root_with_its_controls(room):
    """GET / answers with the page; it carries the test ids, escapes with textContent and loads nothing from elsewhere."""
    server = room()
    with urllib.request.urlopen(server.url + "/", timeout=TIMEOUT) as response:
        assert response.headers["content-type"].startswith("text/html")
        page = response.read().decode()
    for test_id in ("name", "join", "text", "send", "messages"):
        assert f'data-testid="{test_id}"' in page
    assert "innerHTML" not in page and "textContent" in page
    assert "src=" not in page and "href=" not in page and "@import" not in page


def test_the_page_ships_in_the_package():
    """pyproject.toml's package data takes server/static/chat.html along."""
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert "static/*.html" in setuptools["package-data"]["server"]
    assert chat.PAGE.is_file() and chat.PAGE.relative_to(ROOT / "server").as_posix() == "static/chat.html"


def test_the_command_line_prints_the_page_with_the_token():
    """page_url names the page with its token; a lesson without a page has none."""
    given = cli.parser(None).parse_args(["--host", "192.168.1.20", "--port", "8123", "--token", "s3cret"])
    assert cli.page_url(chat.create_app(), given) == "http://192.168.1.20:8123/?token=s3cret"
    assert cli.join_urls(chat.create_app(), given) == ["ws://192.168.1.20:8123/ws/room?token=s3cret"]
    from server import text

    assert cli.page_url(text.create_app(), given) is None


def test_python_m_server_chat_serves_the_room_and_prints_its_page():
    """python -m server.chat --token T serves the room, the page and prints the page URL with T."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "server.chat", "--port", str(port), "--log-level", "warning", "--token", "s3cret"]
    process = subprocess.Popen([*command, "--history", "1"], stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(600):  # until it listens (the first import takes a moment)
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert process.poll() is None, process.stderr.read()
                time.sleep(0.05)
        url = f"ws://127.0.0.1:{port}/ws/room?token=s3cret"
        with client(url) as ada:
            join(ada, "ada")
            send(ada, type="say", text="one")
            send(ada, type="say", text="two")
            until(ada, lambda event: event.get("text") == "two")
            with client(url) as bob:
                assert [event["text"] for event in join(bob, "bob")["history"]] == ["two"]
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=30)
    assert f"open: http://127.0.0.1:{port}/?token=s3cret" in stderr
    assert f"join: ws://127.0.0.1:{port}/ws/room?token=s3cret" in stderr


# -- many members at once ------------------------------------------------------------------

#: Members in the crowded room, and the messages each sends.
CROWD, EACH = 200, 3
#: Seconds a member of the crowd may wait for its next event: 120,000 deliveries share this
#: process's one core with the server, and a loaded machine may pause a member for seconds.
CROWD_TIMEOUT = 60


@pytest.fixture
def files_for_the_crowd(open_files):
    """Room for both ends of every member's connection."""
    open_files(2 * CROWD + 200)


async def crowd_talks(url: str) -> dict[int, list[dict]]:
    """CROWD members join, then each says EACH numbered messages at once; every member's message events, in order."""
    from websockets.asyncio.client import connect as connect_async

    async def receive_async(websocket) -> dict[str, Any]:
        async with asyncio.timeout(CROWD_TIMEOUT):
            return json.loads(await websocket.recv())

    async def joined(number: int):
        websocket = await connect_async(url, max_queue=None, proxy=None, open_timeout=30)
        await websocket.send(json.dumps({"type": "join", "name": f"m{number:03}"}))
        welcome = await receive_async(websocket)
        assert welcome["type"] == "welcome", welcome
        return websocket

    async def talk(number: int, websocket) -> list[dict]:
        for count in range(EACH):
            await websocket.send(json.dumps({"type": "say", "text": f"m{number:03} {count}"}))
        got: list[dict] = []
        while len(got) < CROWD * EACH:
            event = await receive_async(websocket)
            assert event["type"] in ("joined", "message"), event  # joined: for members who came later
            if event["type"] == "message":
                got.append(event)
        return got

    async def nothing_more(websocket) -> str | None:
        """None if no event comes within a tenth of a second; else the event."""
        try:
            async with asyncio.timeout(0.1):
                return await websocket.recv()
        except TimeoutError:
            return None

    # Everyone is in the room before anyone talks, so everyone hears every message.
    websockets = await asyncio.gather(*(joined(number) for number in range(CROWD)))
    try:
        seen = await asyncio.gather(*(talk(number, websocket) for number, websocket in enumerate(websockets)))
        # Nothing more comes: no second copy of any message.
        late = await asyncio.gather(*(nothing_more(websocket) for websocket in websockets))
        assert late == [None] * CROWD, [event for event in late if event is not None]
    finally:
        await asyncio.gather(*(websocket.close() for websocket in websockets))
    return dict(enumerate(seen))


@pytest.mark.timeout(180)  # about 7 s here; a loaded machine may need several times that
def test_200_members_talking_at_once_all_get_every_message_once_in_one_order(room, files_for_the_crowd):
    """200 members each say 3 messages at once: every member gets all 600 once, all in the same id order."""
    server = room(max_connections=CROWD + 10, rate_limit=None, stall_timeout=120)
    seen = asyncio.run(crowd_talks(server.ws_url("/ws/room")))
    assert len(seen) == CROWD
    orders = {number: [(event["id"], event["from"], event["text"]) for event in got] for number, got in seen.items()}
    first = orders[0]
    assert len(first) == CROWD * EACH
    assert [event_id for event_id, _, _ in first] == list(range(1, CROWD * EACH + 1))
    assert all(order == first for order in orders.values())
    # Each sender's messages, once each and in the order it sent them.
    for number in range(CROWD):
        name = f"m{number:03}"
        assert [text for _, sender, text in first if sender == name] == [f"{name} {count}" for count in range(EACH)]
    assert settled(lambda: not running_member_tasks(server))
