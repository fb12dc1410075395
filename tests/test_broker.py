"""Lesson 10: one chat room across processes through Redis (server/broker.py), with real processes and a real redis-server."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack

import pytest
from test_chat import join, receive, send, until
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from server import chat
from server.broker import ChatProcess, RedisRoom, RedisServer, free_port, redis_server_path
from server.chat import Member

#: Seconds any one receive may take before the test fails.
TIMEOUT = 5
#: How long a dead process's members stay listed in these tests.
MEMBER_TTL = 1.5


# -- helpers ------------------------------------------------------------------------


def client(url: str) -> ClientConnection:
    return connect(url, max_queue=None, proxy=None, open_timeout=TIMEOUT)


def texts(events: list[dict]) -> list[str]:
    return [event["text"] for event in events if event["type"] == "message"]


def ids(events: list[dict]) -> list[int]:
    return [event["id"] for event in events if event["type"] == "message"]


# -- fixtures -----------------------------------------------------------------------


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    """A private redis-server on a free port; skipped where it is not installed, unless under CI."""
    if redis_server_path() is None:
        if os.environ.get("CI"):
            pytest.fail("redis-server is not installed (apt-get install redis-server); CI must run these tests")
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    server = RedisServer().start()
    yield server
    server.stop()


@pytest.fixture
def processes() -> Iterator[Callable[..., ChatProcess]]:
    """Start ``python -m server.chat`` processes with the given options; all stopped after the test."""
    with ExitStack() as stack:
        yield lambda *options: stack.enter_context(ChatProcess(*options))


@pytest.fixture
def two(redis_server, processes) -> tuple[ChatProcess, ChatProcess]:
    """Two chat processes sharing one room through the test's Redis."""
    # A high rate limit: these tests send bursts on purpose.
    options = ("--redis-url", redis_server.url, "--member-ttl", str(MEMBER_TTL), "--rate-limit", "10000")
    return processes(*options), processes(*options)


# -- the problem ----------------------------------------------------------------------


def test_without_redis_two_processes_are_two_rooms(processes):
    """Without --redis-url each process has its own room: the first message in each gets id 1."""
    a, b = processes(), processes()
    with client(a.ws_url) as ada, client(b.ws_url) as bob:
        join(ada, "ada")
        assert join(bob, "bob")["members"] == ["bob"]
        send(ada, type="say", text="hello")
        assert receive(ada)["id"] == 1
        send(bob, type="say", text="anyone?")
        assert receive(bob) | {"time": None} == {"type": "message", "from": "bob", "text": "anyone?", "id": 1, "time": None}


def test_create_app_keeps_the_room_in_memory_unless_given_a_redis_url():
    """create_app() builds the in-memory Room; create_app(redis_url=...) a RedisRoom."""
    assert type(chat.create_app().state.room) is chat.Room
    room = chat.create_app(redis_url="redis://127.0.0.1:1/0").state.room
    assert isinstance(room, RedisRoom) and room.url == "redis://127.0.0.1:1/0"


def test_a_process_that_cannot_reach_redis_does_not_start(processes):
    """A Redis URL nobody answers on stops the server at start-up, saying so."""
    with pytest.raises(RuntimeError, match="cannot reach Redis"):
        processes("--redis-url", f"redis://127.0.0.1:{free_port()}/0")


# -- one room across processes --------------------------------------------------------


def test_a_message_sent_through_one_process_reaches_a_member_of_the_other_once(two):
    """ada on A and bob on B both get ada's messages, in id order, once each."""
    a, b = two
    with client(a.ws_url) as ada, client(b.ws_url) as bob:
        join(ada, "ada")
        join(bob, "bob")
        assert receive(ada) == {"type": "joined", "name": "bob"}
        for number in range(20):
            send(ada, type="say", text=str(number))
        for member in (ada, bob):
            events = until(member, lambda event: event.get("text") == "19")
            assert texts(events) == [*map(str, range(20))]
            assert ids(events) == list(range(1, 21))
        # Nothing comes twice: the next event after them is the next message.
        send(bob, type="say", text="end")
        for member in (ada, bob):
            assert receive(member)["id"] == 21


def test_senders_on_both_processes_are_seen_by_all_in_one_order(two):
    """Two senders on two processes at once: four members, two on each, get the same sequence."""
    a, b = two
    with client(a.ws_url) as ada, client(b.ws_url) as bob, client(a.ws_url) as cy, client(b.ws_url) as dee:
        for member, name in [(ada, "ada"), (bob, "bob"), (cy, "cy"), (dee, "dee")]:
            join(member, name)
        for member, name in [(ada, "dee"), (bob, "dee"), (cy, "dee")]:
            until(member, lambda event, name=name: event == {"type": "joined", "name": name})

        def talk(member: ClientConnection, name: str) -> None:
            for number in range(50):
                send(member, type="say", text=f"{name} {number}")

        senders = [threading.Thread(target=talk, args=pair) for pair in [(ada, "ada"), (bob, "bob")]]
        for sender in senders:
            sender.start()
        for sender in senders:
            sender.join()
        seen = []
        for member in (ada, bob, cy, dee):
            events = [receive(member) for _ in range(100)]
            assert {event["type"] for event in events} == {"message"}
            seen.append([(event["id"], event["text"]) for event in events])
    assert seen[0] == seen[1] == seen[2] == seen[3]
    assert [number for number, _ in seen[0]] == list(range(1, 101))
    for name in ("ada", "bob"):
        assert [text for _, text in seen[0] if text.startswith(name)] == [f"{name} {n}" for n in range(50)]


def test_joined_left_and_members_are_room_wide(two):
    """A joiner on B is announced on A, its name is taken on A too, members lists both, and its leaving is announced."""
    a, b = two
    with client(a.ws_url) as ada, client(a.ws_url) as other:
        join(ada, "ada")
        with client(b.ws_url) as bob:
            assert join(bob, "bob")["members"] == ["ada", "bob"]
            assert receive(ada) == {"type": "joined", "name": "bob"}
            send(other, type="join", name="bob")
            assert receive(other)["code"] == "name_taken"
            send(ada, type="members")
            assert receive(ada) == {"type": "members", "members": ["ada", "bob"]}
        assert receive(ada) == {"type": "left", "name": "bob"}
        send(ada, type="members")
        assert receive(ada) == {"type": "members", "members": ["ada"]}


def test_a_joiner_on_the_other_process_gets_the_history(two):
    """The welcome's history comes from Redis, so a joiner anywhere gets the room's last messages."""
    a, b = two
    with client(a.ws_url) as ada:
        join(ada, "ada")
        for text in ("one", "two"):
            send(ada, type="say", text=text)
        until(ada, lambda event: event.get("text") == "two")
        with client(b.ws_url) as bob:
            assert texts(join(bob, "bob")["history"]) == ["one", "two"]


def test_a_member_joining_while_messages_flow_gets_each_message_once(two):
    """History plus what follows the welcome is every message from some id on, with no gap and no repeat."""
    a, b = two
    with client(a.ws_url) as ada, client(b.ws_url) as bob:
        join(ada, "ada")
        for number in range(200):
            send(ada, type="say", text=str(number))
        welcome = join(bob, "bob")
        events = welcome["history"] + until(bob, lambda event: event.get("text") == "199")
        received = ids(events)
        assert received and received == list(range(received[0], 201))


def test_the_members_of_a_process_that_dies_are_taken_out(two):
    """kill -9 on B: its members are announced as left on A once B's heartbeat expires."""
    a, b = two
    with client(a.ws_url) as ada, client(b.ws_url) as bob:
        join(ada, "ada")
        join(bob, "bob")
        assert receive(ada) == {"type": "joined", "name": "bob"}
        b.kill()
        assert receive(ada, timeout=TIMEOUT + 4 * MEMBER_TTL) == {"type": "left", "name": "bob"}
        send(ada, type="members")
        assert receive(ada) == {"type": "members", "members": ["ada"]}


def test_redis_going_away_closes_members_with_1013_and_the_room_comes_back(two, redis_server):
    """Redis stops: members are closed with 1013 and a reason, joins get broker_unavailable; after a restart they work."""
    a, b = two
    with client(a.ws_url) as ada, client(b.ws_url) as bob:
        join(ada, "ada")
        join(bob, "bob")
        send(ada, type="say", text="before")
        last_id = until(bob, lambda event: event.get("text") == "before")[-1]["id"]
        redis_server.stop(keep_folder=True)
        for member in (ada, bob):
            with pytest.raises(ConnectionClosed) as closed:
                until(member, lambda event: False)
            assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (1013, "chat broker unavailable; join again")
    with client(a.ws_url) as ada:
        send(ada, type="join", name="ada")
        assert receive(ada)["code"] == "broker_unavailable"
        redis_server.start()
        # The process reconnects within moments; until then a join gets the same error.
        for _ in range(200):
            send(ada, type="join", name="ada")
            if (reply := receive(ada))["type"] == "welcome":
                break
            assert reply["code"] == "broker_unavailable"
            time.sleep(0.05)
        assert reply["type"] == "welcome" and reply["members"] == ["ada"]
        with client(b.ws_url) as bob:
            for _ in range(200):
                send(bob, type="join", name="bob")
                if (welcome := receive(bob))["type"] == "welcome":
                    break
                time.sleep(0.05)
            assert welcome["members"] == ["ada", "bob"]
            send(bob, type="say", text="after")
            after = until(ada, lambda event: event.get("text") == "after")[-1]
            assert after["id"] > last_id, "ids go on after a restart that lost Redis's data"


class RecordingWebSocket:
    """Stands in for a member's connection: notes what is sent and how it is closed."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.closed: tuple[int, str] | None = None

    async def send_text(self, text: str) -> None:
        self.sent.append(text)

    async def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)


def test_a_process_that_missed_messages_closes_its_members_rather_than_skip_them():
    """A gap in message ids (the stream trimmed past what the process read) closes its members with 1013."""

    async def scenario() -> tuple[RecordingWebSocket, list[str]]:
        room = RedisRoom("redis://127.0.0.1:1/0", history=50, queue_size=10, stall_timeout=10.0)
        room.available = True
        left: list[str] = []

        async def leave_in_redis(name: str) -> None:  # no Redis here: note whom the room is told about
            left.append(name)

        room._leave = leave_in_redis
        websocket = RecordingWebSocket()
        member = Member(websocket, 10)
        member.name, room.members["ada"], room.since[member] = "ada", member, (1, 0)
        room.dispatch((2, 0), {"kind": "message", "id": "1", "data": '{"id":1}'})
        room.dispatch((3, 0), {"kind": "message", "id": "5", "data": '{"id":5}'})
        await asyncio.wait([member.closer, *room.tasks])
        await member.stop()
        return websocket, left

    websocket, left = asyncio.run(scenario())
    assert websocket.sent == ['{"id":1}']
    assert websocket.closed == (1013, "this server missed 3 message(s); join again")
    assert left == ["ada"], "the room is told that ada left"
