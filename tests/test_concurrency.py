"""Lesson 07: a receive loop and a send loop at once, on /ws/clock and /ws/feed.

The clock ticks every fraction of a second so the tests run fast; they
check what arrives and in which order, and that no loop is left running
once the client has gone, never how long anything took.
"""

import asyncio
import json
import os
import threading
import time

import pytest
from websockets.sync.client import connect

from server import concurrency

TICK = 0.05


@pytest.fixture
def app():
    return concurrency.create_app(tick=TICK, queue_size=4)


@pytest.fixture
def server(serve, ws_impl, app):
    return serve(app, ws=ws_impl)


def receive(websocket):
    return json.loads(websocket.recv(timeout=5))


def wait_until(condition, timeout=5.0):
    """Poll ``condition`` until it holds or ``timeout`` seconds pass; return its last value."""
    deadline = time.monotonic() + timeout
    while not (result := condition()) and time.monotonic() < deadline:
        time.sleep(0.01)
    return result


def wait_for_clients(app, count):
    assert wait_until(lambda: len(app.state.feed.queues) == count), f"expected {count} feed clients"


def test_clock_ticks_in_order(server):
    """The clock sends numbered ticks without being asked."""
    with connect(server.ws_url("/ws/clock")) as websocket:
        seqs = [receive(websocket)["seq"] for _ in range(3)]
    assert seqs == [1, 2, 3]


def test_clock_echoes_while_it_ticks(server):
    """A text message is echoed between the ticks; the ticks go on after it."""
    with connect(server.ws_url("/ws/clock")) as websocket:
        websocket.send("hello")
        messages = []
        while {"type": "echo", "data": "hello"} not in messages and len(messages) < 100:
            messages.append(receive(websocket))
        messages += [receive(websocket) for _ in range(2)]
    assert {"type": "echo", "data": "hello"} in messages[:-2]
    ticks = [m["seq"] for m in messages if m["type"] == "tick"]
    assert ticks == list(range(1, len(ticks) + 1)) and len(ticks) >= 2


def test_clock_answers_a_binary_frame_with_an_error(server):
    """A binary frame gets an error reply binary_frame; the connection stays open."""
    with connect(server.ws_url("/ws/clock")) as websocket:
        websocket.send(b"\x00")
        while (message := receive(websocket))["type"] == "tick":
            pass
        assert message["code"] == "binary_frame"
        assert receive(websocket)["type"] == "tick"


@pytest.mark.parametrize("path", ["/ws/clock", "/ws/feed"])
def test_no_loop_is_left_running_after_the_client_leaves(server, app, path):
    """Both loops run while a client is connected; none is left once it has closed."""
    with connect(server.ws_url(path)):
        assert wait_until(lambda: sum(app.state.running.values()) == 2)
    assert wait_until(lambda: not +app.state.running), dict(app.state.running)
    assert app.state.feed.queues == {}


def test_feed_sends_what_another_thread_publishes(server, app):
    """publish_threadsafe() from a plain thread reaches every connected client, in order."""
    with connect(server.ws_url("/ws/feed")) as first, connect(server.ws_url("/ws/feed")) as second:
        wait_for_clients(app, 2)
        counts = []
        worker = threading.Thread(target=lambda: counts.extend(app.state.feed.publish_threadsafe({"n": n}) for n in range(3)))
        worker.start()
        worker.join(10)
        assert counts == [2, 2, 2]
        for websocket in (first, second):
            assert [receive(websocket) for _ in range(3)] == [{"n": 0}, {"n": 1}, {"n": 2}]


def test_feed_drops_the_oldest_and_says_how_many(server, app):
    """A burst larger than the queue keeps the newest messages and announces the dropped ones first."""
    feed = app.state.feed
    with connect(server.ws_url("/ws/feed")) as websocket:
        wait_for_clients(app, 1)

        async def burst():
            for n in range(10):  # no await between: the send loop cannot take any meanwhile
                feed.publish({"n": n})

        asyncio.run_coroutine_threadsafe(burst(), feed.loop).result(5)
        messages = [receive(websocket) for _ in range(5)]
    assert messages == [{"type": "dropped", "count": 6}, {"n": 6}, {"n": 7}, {"n": 8}, {"n": 9}]


def test_feed_ignores_what_the_client_sends(server, app):
    """Messages from a feed client get no reply; published ones still arrive."""
    with connect(server.ws_url("/ws/feed")) as websocket:
        wait_for_clients(app, 1)
        websocket.send("anyone?")
        websocket.send(b"\x01")
        app.state.feed.publish_threadsafe({"n": 1})
        assert receive(websocket) == {"n": 1}


def test_publish_threadsafe_before_start_up_is_refused():
    """A feed whose server has not started says so instead of hanging."""
    with pytest.raises(RuntimeError, match="not started"):
        concurrency.create_app().state.feed.publish_threadsafe({"n": 1})


def test_offer_drops_the_oldest_when_full():
    """offer() never waits: on a full queue it drops the oldest message and returns False."""
    queue = asyncio.Queue(maxsize=2)
    assert [concurrency.offer(queue, n) for n in range(4)] == [True, True, False, False]
    assert [queue.get_nowait() for _ in range(2)] == [2, 3]


def test_a_client_that_reads_nothing_is_ended_by_the_send_timeout(serve):
    """With the guard's send_timeout, a handler stuck sending to a client that reads nothing ends, and its loops with it."""
    app = concurrency.create_app(tick=60, queue_size=50, send_timeout=0.2)
    server = serve(app)
    # close_timeout: the server reads nothing more, so the client's close gets no answer.
    with connect(server.ws_url("/ws/feed"), max_queue=1, close_timeout=0.5):
        wait_for_clients(app, 1)
        big = os.urandom(30_000).hex()  # 60 kB that compression cannot shrink
        # Publish until the feed's send loop is stuck: the client's buffers are full, its queue fills.
        for _ in range(1000):
            app.state.feed.publish_threadsafe({"data": big})
            if not app.state.feed.queues or next(iter(app.state.feed.queues)).full():
                break
        assert wait_until(lambda: not +app.state.running, timeout=10), dict(app.state.running)
        assert app.state.feed.queues == {}
