"""Plausible wrong answers to lesson 08's exercises (solutions/08_testing.ipynb).

Each exercise is a test; each wrong answer is a test that passes a broken
server, fails the correct one, or hangs. See __init__.py for what the test
requires.
"""

from wrong_answers import Wrong

_SEND_SUM = """
with connect(url) as websocket:
    websocket.send(json.dumps({"type": "sum", "id": 1, "numbers": [1, 2, 3]}))
"""

_SEND_NOT_JSON = """
with connect(url) as websocket:
    websocket.send("not json")
    reply = json.loads(websocket.recv(timeout=2))
"""

_SEND_BINARY = """
with connect(url) as websocket:
    websocket.send(b"\\x00")
"""

WRONG_ANSWERS: dict[str, list[Wrong]] = {
    "sum_reply": [
        # Talks to the server but asserts nothing: it passes whatever comes back.
        Wrong(
            _SEND_SUM + "    websocket.recv(timeout=2)\n",
            says=["did not catch a server that leaves the last number out of the sum", "it passed against it"],
        ),
        # Right assertion, but recv() without a timeout: waits for ever on a server that never replies.
        Wrong(
            _SEND_SUM
            + """    reply = json.loads(websocket.recv())
assert reply == {"type": "result", "id": 1, "sum": 6}
""",
            says=["hung against a server that never answers a sum request", "stopped after 5 s", "recv(timeout=2)"],
        ),
        # Expects a reply shape the endpoint never sends.
        Wrong(
            _SEND_SUM
            + """    reply = json.loads(websocket.recv(timeout=2))
assert reply == {"sum": 6}
""",
            says=["failed against the correct server", "AssertionError at 'assert reply == {\"sum\": 6}'"],
        ),
        # Checks that a result came, not what it says.
        Wrong(
            _SEND_SUM
            + """    reply = json.loads(websocket.recv(timeout=2))
assert reply["type"] == "result" and reply["id"] == 1
""",
            says=["did not catch a server that leaves the last number out of the sum"],
        ),
        # Checks the sum, not the id a client needs to match the reply with its request.
        Wrong(
            _SEND_SUM
            + """    reply = json.loads(websocket.recv(timeout=2))
assert reply["type"] == "result" and reply["sum"] == 6
""",
            says=["did not catch a server that answers a sum request without its id"],
        ),
    ],
    "error_reply": [
        # Checks that an error came, not which one.
        Wrong(
            _SEND_NOT_JSON + '    assert reply["type"] == "error"\n',
            says=["did not catch a server that sends error replies without their code"],
        ),
        # Checks the code, but not that the connection goes on.
        Wrong(
            _SEND_NOT_JSON + '    assert reply.get("code") == "invalid_json"\n',
            says=["did not catch a server that closes the connection after an error reply"],
        ),
        # Tests the wording of detail, which is for people and is not what the test guessed.
        Wrong(
            _SEND_NOT_JSON + '    assert reply["detail"] == "invalid JSON"\n',
            says=["failed against the correct server", "AssertionError at", "detail"],
        ),
    ],
    "binary_close": [
        # Checks the code and forgets the reason.
        Wrong(
            _SEND_BINARY
            + """    with pytest.raises(ConnectionClosed) as closed:
        websocket.recv(timeout=2)
assert closed.value.rcvd.code == 1003
""",
            says=["did not catch a server that closes with 1003 on a binary frame, but without a reason"],
        ),
        # Any close will do: a normal 1000 too.
        Wrong(
            _SEND_BINARY
            + """    with pytest.raises(ConnectionClosed):
        websocket.recv(timeout=2)
""",
            says=["did not catch a server that closes with 1000 instead of 1003 on a binary frame"],
        ),
        # Expects a reply: the close escapes as an exception and fails the test against the correct server.
        Wrong(
            _SEND_BINARY
            + """    reply = websocket.recv(timeout=2)
assert "error" in reply
""",
            says=["failed against the correct server", "ConnectionClosedError", "closed the connection with code 1003"],
        ),
    ],
    "replies_in_order": [
        # One request at a time: no reply can ever overtake another.
        Wrong(
            """
with connect(url) as websocket:
    ids = []
    for id_, numbers in [(1, list(range(10))), (2, [1])]:
        websocket.send(json.dumps({"type": "sum", "id": id_, "numbers": numbers}))
        ids.append(json.loads(websocket.recv(timeout=2))["id"])
assert ids == [1, 2]
""",
            says=["did not catch a server that works on requests side by side"],
        ),
        # Two at once, but the quick one first: it is answered first even when they are worked on side by side.
        Wrong(
            """
with connect(url) as websocket:
    websocket.send(json.dumps({"type": "sum", "id": 1, "numbers": [1]}))
    websocket.send(json.dumps({"type": "sum", "id": 2, "numbers": list(range(10))}))
    ids = [json.loads(websocket.recv(timeout=2))["id"] for _ in range(2)]
assert ids == [1, 2]
""",
            says=["did not catch a server that works on requests side by side, so a quick reply overtakes a slow one"],
        ),
    ],
    "heartbeat_close": [
        # Iterates over the connection: the 4000 close is not a clean one, so the loop raises.
        Wrong(
            """
seqs = []
with connect(url) as websocket:
    for message in websocket:
        seqs.append(json.loads(message)["seq"])
assert seqs == [1, 2]
""",
            says=["failed against the correct server", "ConnectionClosedError", "code 4000 (no reply to 2 heartbeats)"],
        ),
        # Each receive has a timeout, but the loop has no end: heartbeats that never stop keep it going.
        Wrong(
            """
seqs = []
with connect(url) as websocket:
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            seqs.append(json.loads(websocket.recv(timeout=2))["seq"])
assert seqs == [1, 2]
assert closed.value.rcvd.code == testing.HEARTBEAT_TIMEOUT
""",
            says=["hung against a server that sends heartbeats to a silent client for ever", "every loop an end"],
        ),
        # Checks the first heartbeat only: nothing about the close.
        Wrong(
            """
with connect(url) as websocket:
    assert json.loads(websocket.recv(timeout=2)) == {"type": "heartbeat", "seq": 1}
""",
            says=["did not catch a server that sends heartbeats to a silent client for ever and never closes it"],
        ),
        # Counts the heartbeats and expects a close, but not which one: a close with 1000 passes too.
        Wrong(
            """
seqs = []
with connect(url) as websocket:
    with pytest.raises(ConnectionClosed):
        while len(seqs) <= MAX_MISSED:
            seqs.append(json.loads(websocket.recv(timeout=2))["seq"])
assert seqs == [1, 2]
""",
            says=["did not catch a server that closes a silent client with 1000 and no reason, instead of 4000"],
        ),
    ],
}
