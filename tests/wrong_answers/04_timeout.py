"""Plausible wrong answers to lesson 04's exercises (solutions/04_timeout.ipynb).

See __init__.py for what the test requires.
"""

from wrong_answers import Wrong


def _quiet(on_timeout: str, on_binary: str, on_text: str, receive: str = "await websocket.receive()") -> str:
    """The quiet endpoint's loop with one part changed."""
    return f"""
while True:
    try:
        async with asyncio.timeout(IDLE_LIMIT):
            message = {receive}
    except TimeoutError:
{on_timeout}
        return
    if message["type"] == "websocket.disconnect":
        return
    if message.get("text") is None:
{on_binary}
        continue
{on_text}
"""


_CLOSE = '        await websocket.close(4001, "idle timeout")'
_BINARY = '        await websocket.send_json({"type": "error", "code": "binary_frame", "detail": "text frames only"})'
_ECHO = '    await websocket.send_text(message["text"])'

WRONG_ANSWERS: dict[str, list[Wrong]] = {
    "answer_heartbeats": [
        # Counts its own acks from 0 instead of echoing the heartbeat's seq. It
        # skips the unknown_seq replies, so nothing raises and the connection
        # stays open: only the acks themselves are wrong.
        Wrong(
            """
seqs = []
while len(seqs) < n:
    message = json.loads(websocket.recv(timeout=5))
    if message["type"] != "heartbeat":
        continue
    websocket.send(json.dumps({"type": "heartbeat_ack", "seq": len(seqs)}))
    seqs.append(message["seq"])
return seqs
""",
            says=["ack each heartbeat with its own seq", "after the heartbeats [1]"],
        ),
        # Acks right, but returns the heartbeats themselves, not their seqs.
        Wrong(
            """
heartbeats = []
while len(heartbeats) < n:
    message = json.loads(websocket.recv(timeout=5))
    if message["type"] != "heartbeat":
        continue
    heartbeats.append(message)
    websocket.send(json.dumps({"type": "heartbeat_ack", "seq": message["seq"]}))
return heartbeats
""",
            says=["the server sent heartbeats with seq 1, 2 and 3", "returned [{"],
        ),
        # Returns as soon as it has seen n heartbeats: the last one is never acked.
        Wrong(
            """
seqs = []
while True:
    message = json.loads(websocket.recv(timeout=5))
    if message["type"] != "heartbeat":
        continue
    seqs.append(message["seq"])
    if len(seqs) == n:
        return seqs
    websocket.send(json.dumps({"type": "heartbeat_ack", "seq": message["seq"]}))
""",
            says=["you acked the heartbeats [1, 2], not the last one (seq 3)"],
        ),
    ],
    "wait_for_close": [
        # Iterating ends quietly only on a clean close (1000, 1001 or 1005 both
        # ways): the 4000 close raises.
        Wrong(
            """
heartbeats = 0
for message in websocket:
    heartbeats += 1
return heartbeats, websocket.close_code, websocket.close_reason
""",
            says=["let ConnectionClosed escape", "catch it"],
        ),
        # Catches the close, but forgets the count.
        Wrong(
            """
try:
    while True:
        websocket.recv(timeout=5)
except ConnectionClosed as closed:
    return closed.rcvd.code, closed.rcvd.reason
""",
            says=["should return (heartbeats, code, reason)", "got (4000, 'no reply to 2 heartbeats')"],
        ),
        # Counts the recv() calls, the last of which raised: one too many.
        Wrong(
            """
heartbeats = 0
try:
    while True:
        heartbeats += 1
        websocket.recv(timeout=5)
except ConnectionClosed as closed:
    return heartbeats, closed.rcvd.code, closed.rcvd.reason
""",
            says=["expected (2, 4000, 'no reply to 2 heartbeats')", "got (3, 4000"],
        ),
    ],
    "next_event": [
        # Treats a closed connection like a quiet one.
        Wrong(
            """
try:
    return "message", websocket.recv(timeout=timeout)
except (TimeoutError, ConnectionClosed):
    return "timeout", None
""",
            says=["call 5", "should give ('closed', 4000)", "got ('timeout', None)"],
        ),
        # Handles the close but not the timeout: TimeoutError escapes.
        Wrong(
            """
try:
    return "message", websocket.recv(timeout=timeout)
except ConnectionClosed as closed:
    return "closed", closed.rcvd.code if closed.rcvd is not None else 1006
""",
            says=["call 2", "raised TimeoutError", "it should return ('timeout', None)"],
        ),
        # Handles the timeout but not the close: ConnectionClosed escapes.
        Wrong(
            """
try:
    return "message", websocket.recv(timeout=timeout)
except TimeoutError:
    return "timeout", None
""",
            says=["call 5", "raised ConnectionClosedError", "it should return ('closed', 4000)"],
        ),
        # Parses the message as JSON: the text is asked for.
        Wrong(
            """
try:
    return "message", json.loads(websocket.recv(timeout=timeout))
except TimeoutError:
    return "timeout", None
except ConnectionClosed as closed:
    return "closed", closed.rcvd.code if closed.rcvd is not None else 1006
""",
            says=["call 1", "should give the echo of 'hello'", "got ('message', {"],
        ),
    ],
    "quiet_endpoint": [
        # Closes on time, but with the default code 1000: nothing tells the
        # client why.
        Wrong(
            _quiet('        await websocket.close(reason="idle timeout")', _BINARY, _ECHO),
            says=["expected the close (4001, 'idle timeout')", "got (1000, 'idle timeout')"],
        ),
        # The solution as it was: receive_text() fails on a binary frame with
        # KeyError.
        Wrong(
            """
while True:
    try:
        async with asyncio.timeout(IDLE_LIMIT):
            text = await websocket.receive_text()
    except TimeoutError:
        await websocket.close(4001, "idle timeout")
        return
    await websocket.send_text(text)
""",
            says=["raised KeyError: 'text' on the binary frame", "receive_text()"],
        ),
        # Says goodbye in a message of its own before closing.
        Wrong(
            _quiet('        await websocket.send_json({"type": "timeout"})\n' + _CLOSE, _BINARY, _ECHO),
            says=["while the client was silent", "nothing before its close"],
        ),
        # Echoes a binary frame back instead of answering with an error.
        Wrong(
            _quiet(_CLOSE, '        await websocket.send_bytes(message["bytes"])', _ECHO),
            says=["a binary frame should get an error reply with code binary_frame"],
        ),
        # Answers as the lesson's server does, {"type": "echo", ...}: not an echo.
        Wrong(
            _quiet(_CLOSE, _BINARY, '    await websocket.send_json({"type": "echo", "data": message["text"]})'),
            says=["the endpoint should echo 'one'"],
        ),
    ],
}
