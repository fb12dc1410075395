"""Lesson 08: the /ws/sum endpoint, its broken copies, and try_test().

The tests of the endpoint are also the lesson's yardstick for its broken
copies: each must fail against the copies whose bug it is meant to catch
(``test_each_bug_is_caught_by_its_test``). One server per app, started once
per module on port 0, so parallel runs (pytest-xdist) never share a port.
"""

import json
import warnings

import pytest
from starlette.websockets import WebSocketDisconnect
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from server import testing
from server.background import BackgroundServer
from server.cli import parser

with warnings.catch_warnings():
    # Starlette 1.2 and later prefer httpx2 and warn when they find only httpx.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

BEAT = 0.2  # seconds of silence before a heartbeat, on the heartbeat server
MISSED = 2  # unanswered heartbeats before it closes


@pytest.fixture(scope="module")
def url():
    """The endpoint, with heartbeats too far apart to come during a test."""
    with BackgroundServer(testing.create_app(idle_timeout=60), name="test_testing") as server:
        yield server.ws_url("/ws/sum")


@pytest.fixture(scope="module")
def beat_url():
    """The endpoint with sub-second heartbeats."""
    app = testing.create_app(idle_timeout=BEAT, max_missed=MISSED)
    with BackgroundServer(app, name="test_testing beat") as server:
        yield server.ws_url("/ws/sum")


def receive(websocket):
    return json.loads(websocket.recv(timeout=5))


def test_a_sum_request_gets_its_result(url):
    """A sum request gets its result, with the request's id."""
    with connect(url) as websocket:
        websocket.send(json.dumps({"type": "sum", "id": 7, "numbers": [1, 2, 3.5]}))
        assert receive(websocket) == {"type": "result", "id": 7, "sum": 6.5}


def test_replies_come_in_the_order_of_the_requests(url):
    """Requests sent at once, a long one first, are answered in the order they came."""
    with connect(url) as websocket:
        websocket.send(json.dumps({"type": "sum", "id": 1, "numbers": list(range(10))}))
        websocket.send(json.dumps({"type": "sum", "id": 2, "numbers": [1]}))
        assert [receive(websocket)["id"], receive(websocket)["id"]] == [1, 2]


def test_text_that_is_not_json_gets_an_error_reply_and_the_connection_stays_open(url):
    """Text that is not JSON gets invalid_json; the next request is answered."""
    with connect(url) as websocket:
        websocket.send("one plus two")
        reply = receive(websocket)
        assert (reply["type"], reply["code"]) == ("error", "invalid_json")
        websocket.send(json.dumps({"type": "sum", "id": 2, "numbers": [1, 2]}))
        assert receive(websocket) == {"type": "result", "id": 2, "sum": 3}


@pytest.mark.parametrize(
    "request_",
    [
        [1, 2],
        {"type": "product", "numbers": [1, 2]},
        {"type": "sum"},
        {"type": "sum", "numbers": [1, "2"]},
        {"type": "sum", "numbers": [True]},
        {"type": "sum", "numbers": [1e300, 1e300]},
    ],
)
def test_json_that_is_not_a_sum_request_gets_invalid_request(url, request_):
    """An array, another type, missing or non-numeric numbers, or a sum too large get invalid_request."""
    with connect(url) as websocket:
        websocket.send(json.dumps(request_))
        reply = receive(websocket)
        assert (reply["type"], reply["code"]) == ("error", "invalid_request")


def test_nan_is_not_json(url):
    """NaN, which Python's json reads by default, gets invalid_json."""
    with connect(url) as websocket:
        websocket.send('{"type": "sum", "numbers": [NaN]}')
        assert receive(websocket)["code"] == "invalid_json"


def test_a_binary_frame_closes_with_1003_and_a_reason(url):
    """A binary frame closes the connection with 1003 and the reason TEXT_ONLY."""
    with connect(url) as websocket:
        websocket.send(b"\x01\x02")
        with pytest.raises(ConnectionClosed) as closed:
            websocket.recv(timeout=5)
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (1003, testing.TEXT_ONLY)


def test_a_silent_client_gets_heartbeats_then_the_close_4000(beat_url):
    """A silent client gets heartbeats 1 and 2, then the close 4000 with its reason."""
    seqs = []
    with connect(beat_url) as websocket:
        with pytest.raises(ConnectionClosed) as closed:
            while len(seqs) < 10:  # bounded: a server that never closes fails the test
                message = receive(websocket)
                assert message["type"] == "heartbeat"
                seqs.append(message["seq"])
    assert seqs == [1, 2]
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (testing.HEARTBEAT_TIMEOUT, f"no reply to {MISSED} heartbeats")


def test_acked_heartbeats_keep_the_connection_open():
    """A client that acks every heartbeat is never closed; seqs count up."""
    app = testing.create_app(idle_timeout=0.2, max_missed=20)  # a client may stall 4 s before it is closed
    with BackgroundServer(app, name="test_testing patient") as server, connect(server.ws_url("/ws/sum")) as websocket:
        seqs = []
        while len(seqs) < 5:
            message = receive(websocket)
            seqs.append(message["seq"])
            websocket.send(json.dumps({"type": "heartbeat_ack", "seq": message["seq"]}))
    assert seqs == [1, 2, 3, 4, 5]


# -- in process, with Starlette's TestClient --------------------------------------


@pytest.mark.timeout(5)  # TestClient's receive_*() take no timeout
def test_testclient_runs_the_endpoint_in_process():
    """TestClient talks to the app without a server: a result, then the 1003 close as WebSocketDisconnect."""
    client = TestClient(testing.create_app())
    with client.websocket_connect("/ws/sum") as websocket:
        websocket.send_json({"type": "sum", "id": 1, "numbers": [2, 2]})
        assert websocket.receive_json() == {"type": "result", "id": 1, "sum": 4}
        websocket.send_bytes(b"\x00")
        with pytest.raises(WebSocketDisconnect) as closed:
            websocket.receive_json()
    assert (closed.value.code, closed.value.reason) == (1003, testing.TEXT_ONLY)


# -- the broken copies --------------------------------------------------------------


def test_sum(url):
    """The lesson's first test: a sum request's reply, received with a timeout."""
    with connect(url) as websocket:
        websocket.send(json.dumps({"type": "sum", "id": 1, "numbers": [1, 2, 3]}))
        assert json.loads(websocket.recv(timeout=2)) == {"type": "result", "id": 1, "sum": 6}


def test_error_then_open(url):
    """The lesson's second test: a stable error code, and the connection still serves."""
    with connect(url) as websocket:
        websocket.send("not json")
        reply = json.loads(websocket.recv(timeout=2))
        assert reply.get("type") == "error" and reply.get("code") == "invalid_json"
        websocket.send(json.dumps({"type": "sum", "id": 2, "numbers": [2]}))
        assert json.loads(websocket.recv(timeout=2))["sum"] == 2


def test_close(url):
    """The lesson's third test: code and reason of the close."""
    with connect(url) as websocket:
        websocket.send(b"\x00")
        with pytest.raises(ConnectionClosed) as closed:
            websocket.recv(timeout=2)
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (1003, "text frames only")


CATCHES = {
    "off_by_one": test_sum,
    "never_replies": test_sum,
    "no_id": test_sum,
    "error_without_code": test_error_then_open,
    "closes_after_error": test_error_then_open,
    "wrong_close_code": test_close,
    "no_close_reason": test_close,
    "out_of_order": test_replies_come_in_the_order_of_the_requests,
}
# Caught by the heartbeat test, against a server with sub-second heartbeats.
HEARTBEAT_BUGS = ["no_heartbeat_close", "heartbeat_close_1000"]


def test_every_bug_has_a_test_that_catches_it():
    """Each documented bug is in CATCHES, or is one of the heartbeat's."""
    assert set(testing.BUGS) == {*CATCHES, *HEARTBEAT_BUGS}


@pytest.mark.parametrize("bug", sorted(CATCHES))
def test_each_bug_is_caught_by_its_test(bug):
    """A test passes against the correct server and fails, in time, against the bug it targets."""
    test = CATCHES[bug]
    assert testing.try_test(test, testing.create_app(idle_timeout=60)).passed
    outcome = testing.try_test(test, testing.create_app(idle_timeout=60, bug=bug))
    assert not outcome.hung and outcome.error is not None


@pytest.mark.parametrize("bug", HEARTBEAT_BUGS)
def test_a_server_that_mishandles_a_silent_client_fails_the_heartbeat_test(bug):
    """The bounded heartbeat test fails, in time, against a server that never closes a silent client or closes it with 1000."""
    app = testing.create_app(idle_timeout=0.05, max_missed=MISSED, bug=bug)
    outcome = testing.try_test(test_a_silent_client_gets_heartbeats_then_the_close_4000, app)
    assert not outcome.hung and outcome.error is not None


def test_an_unknown_bug_is_refused():
    """create_app() names the bugs there are when given another."""
    with pytest.raises(ValueError, match="off_by_one"):
        testing.create_app(bug="typo")


# -- try_test ---------------------------------------------------------------------


def test_try_test_stops_a_test_that_waits_without_a_timeout():
    """A receive with no timeout on a server that never replies is stopped after the deadline and reported as hung."""

    def waits_for_ever(url):
        with connect(url) as websocket:
            websocket.send(json.dumps({"type": "sum", "id": 1, "numbers": [1]}))
            websocket.recv()

    outcome = testing.try_test(waits_for_ever, testing.create_app(bug="never_replies"), deadline=0.5)
    assert outcome.hung and not outcome.passed


def test_try_test_reports_what_the_test_raised():
    """An exception in the test is the outcome's error; a test that returns passed."""

    def fails(url):
        raise AssertionError("caught")

    outcome = testing.try_test(fails, testing.create_app())
    assert isinstance(outcome.error, AssertionError) and not outcome.hung
    assert testing.try_test(lambda url: None, testing.create_app()).passed


def test_the_command_line_takes_the_lessons_knobs():
    """python -m server.testing takes --idle-timeout, --max-missed and --bug."""
    cli = parser("lesson 08")
    testing._knobs(cli)
    args = cli.parse_args(["--idle-timeout", "0.5", "--max-missed", "1", "--bug", "off_by_one"])
    assert (args.idle_timeout, args.max_missed, args.bug) == (0.5, 1, "off_by_one")
