"""Lesson 03: JSON messages validated with Pydantic on /ws/json-demo."""

import json
import logging
import warnings

import pytest
from websockets.sync.client import connect

from server import json_messages

VALID = {"user": "ada", "content": "hello", "timestamp": 1764000000.5}


@pytest.fixture
def websocket(serve, ws_impl):
    server = serve(json_messages.create_app(), ws=ws_impl)
    with connect(server.ws_url("/ws/json-demo")) as websocket:
        yield websocket


def exchange(websocket, message):
    """Send one frame (dicts as JSON text) and return the parsed JSON reply."""
    websocket.send(json.dumps(message) if isinstance(message, dict) else message)
    return json.loads(websocket.recv(timeout=5))


def test_valid_message_comes_back_processed(websocket):
    """A valid message comes back as its fields plus status PROCESSED."""
    assert exchange(websocket, VALID) == VALID | {"status": "PROCESSED"}


def test_integer_timestamp_is_accepted_as_a_float(websocket):
    """An integer timestamp is a number: it is accepted and returned as a float."""
    reply = exchange(websocket, VALID | {"timestamp": 1764000000})
    assert reply["timestamp"] == 1764000000.0
    assert reply["status"] == "PROCESSED"


def test_invalid_json_gets_invalid_json_error(websocket):
    """Text that is not JSON gets an invalid_json error reply."""
    reply = exchange(websocket, '{"user": "ada",')
    assert reply["type"] == "error"
    assert reply["code"] == "invalid_json"
    assert reply["detail"].startswith("Invalid JSON")


@pytest.mark.parametrize("payload", ["[1, 2, 3]", '"just a string"', "42", "null"])
def test_json_that_is_not_an_object_is_a_validation_error(websocket, payload):
    """JSON that is not an object (the article's ** needed a mapping) gets validation_error."""
    reply = exchange(websocket, payload)
    assert reply["code"] == "validation_error"
    assert reply["errors"] == [{"loc": [], "msg": "Input should be an object", "type": "model_type"}]


@pytest.mark.parametrize(
    ("change", "loc", "error_type"),
    [
        ({"timestamp": "123"}, ["timestamp"], "float_type"),
        ({"timestamp": True}, ["timestamp"], "float_type"),
        ({"timestamp": None}, ["timestamp"], "float_type"),
        ({"user": 7}, ["user"], "string_type"),
        ({"extra": "field"}, ["extra"], "extra_forbidden"),
    ],
)
def test_strict_policy_refuses_coercion_and_unknown_fields(websocket, change, loc, error_type):
    """Strings or booleans for numbers, and unknown fields, are errors, not coerced or dropped."""
    reply = exchange(websocket, VALID | change)
    assert reply["code"] == "validation_error"
    assert [(e["loc"], e["type"]) for e in reply["errors"]] == [(loc, error_type)]


def test_missing_field_is_reported_by_its_location(websocket):
    """A missing field is a validation error located at that field."""
    message = {k: v for k, v in VALID.items() if k != "timestamp"}
    reply = exchange(websocket, message)
    assert reply["errors"] == [{"loc": ["timestamp"], "msg": "Field required", "type": "missing"}]


def test_every_problem_is_listed(websocket):
    """All the problems of one message are listed, each with loc, msg and type only."""
    reply = exchange(websocket, {"user": 1, "content": None})
    assert sorted(tuple(e["loc"]) for e in reply["errors"]) == [("content",), ("timestamp",), ("user",)]
    assert all(set(e) == {"loc", "msg", "type"} for e in reply["errors"])
    assert reply["detail"] == "3 validation error(s) for ChatMessage; see errors"


def test_nan_and_infinity_are_refused(websocket):
    """NaN and infinity are not timestamps (and could not be sent back as JSON)."""
    for number in ("NaN", "Infinity", "1e400"):
        reply = exchange(websocket, '{"user": "a", "content": "b", "timestamp": %s}' % number)
        assert reply["code"] in {"validation_error", "invalid_json"}, number


def test_error_reply_echoes_neither_input_nor_urls(websocket):
    """The error reply does not echo what the client sent, nor documentation URLs."""
    secret = "s3cr3t-value-that-must-not-come-back"
    raw = json.dumps({"user": "ada", "content": "x", "timestamp": secret})
    websocket.send(raw)
    reply_text = websocket.recv(timeout=5)
    assert secret not in reply_text
    assert "http" not in reply_text
    assert json.loads(reply_text)["code"] == "validation_error"


def test_binary_frame_gets_an_error_reply(websocket):
    """JSON sent in a binary frame gets a binary_frame error, not a crash."""
    reply = exchange(websocket, json.dumps(VALID).encode())
    assert reply["code"] == "binary_frame"


def test_connection_stays_open_after_every_kind_of_error(websocket):
    """After each bad message the same connection still processes a valid one."""
    bad_messages = ["not json", "[1]", VALID | {"timestamp": "soon"}, b"\x00\x01"]
    for bad in bad_messages:
        assert exchange(websocket, bad)["type"] == "error"
        assert exchange(websocket, VALID)["status"] == "PROCESSED"


def test_client_close_is_not_an_error(serve, caplog):
    """A normal client close logs no "Exception in ASGI application"."""
    caplog.set_level(logging.INFO)
    server = serve(json_messages.create_app())
    with connect(server.ws_url("/ws/json-demo")) as websocket:
        exchange(websocket, VALID)
    server.stop()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert any(r.name == "server.json_messages" and "left" in r.getMessage() for r in caplog.records)


def test_process_uses_no_deprecated_pydantic_api():
    """process() validates and dumps without a Pydantic 1 call such as .dict() (it would warn)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        reply = json_messages.process(json.dumps(VALID))
        json_messages.process('{"user": 1}')
    assert reply == VALID | {"status": "PROCESSED"}
    assert [str(w.message) for w in caught] == []
