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


def _beat(on_timeout: str = "", on_message: str = "    missed = 0", disconnect: str = "        return") -> str:
    """The heartbeat endpoint's loop with one part changed (on_timeout: what comes before sending a heartbeat)."""
    on_timeout = on_timeout or (
        "        if missed == MAX_MISSED:\n"
        '            await websocket.close(timeout.HEARTBEAT_TIMEOUT, f"no reply to {MAX_MISSED} heartbeats")\n'
        "            return"
    )
    return f"""
seq = 0
missed = 0
while True:
    try:
        async with asyncio.timeout(BEAT):
            message = await websocket.receive()
    except TimeoutError:
{on_timeout}
        seq += 1
        missed += 1
        await websocket.send_json({{"type": "heartbeat", "seq": seq}})
        continue
    if message["type"] == "websocket.disconnect":
{disconnect}
{on_message}
"""


def _closing(close: str, test: str = "missed == MAX_MISSED") -> str:
    return f"        if {test}:\n            {close}\n            return"


_ACK_ONLY = '    if json.loads(message.get("text") or "{}").get("type") == "heartbeat_ack":\n        missed = 0'
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
        # Sends each ack as bytes "to be safe": the server answers a binary
        # frame with a binary_frame error, which the loop skips as "not a
        # heartbeat", so the client never notices.
        Wrong(
            """
seqs = []
while len(seqs) < n:
    message = json.loads(websocket.recv(timeout=5))
    if message["type"] != "heartbeat":
        continue
    seqs.append(message["seq"])
    websocket.send(json.dumps({"type": "heartbeat_ack", "seq": message["seq"]}).encode())
return seqs
""",
            says=["the server received a binary frame where it expected text", "with no .encode()"],
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
    "heartbeat_endpoint": [
        # Counts the misses but never sets the count back: a client that acks
        # every heartbeat is closed all the same.
        Wrong(
            _beat(on_message="    pass"),
            says=["closed the client after the heartbeats [1, 2] although the client acked them"],
        ),
        # Forgives only a heartbeat_ack: a client that answers with other
        # messages is closed.
        Wrong(
            _beat(on_message=_ACK_ONLY),
            says=["closed a client that answered the heartbeats", "with chat messages", "not only a heartbeat_ack"],
        ),
        # Closes with the default code 1000: the client cannot tell a heartbeat
        # timeout from a normal goodbye.
        Wrong(
            _beat(on_timeout=_closing('await websocket.close(reason=f"no reply to {MAX_MISSED} heartbeats")')),
            says=["expected the close code 4000", "got (1000, 'no reply to 2 heartbeats')"],
        ),
        # Leaves the loop instead of closing: no close frame, the client sees 1006.
        Wrong(_beat(on_timeout="        if missed == MAX_MISSED:\n            return"), says=["without a close frame (1006)"]),
        # Off by one: waits for one heartbeat more than MAX_MISSED.
        Wrong(
            _beat(on_timeout=_closing('await websocket.close(timeout.HEARTBEAT_TIMEOUT, "no reply")', "missed > MAX_MISSED")),
            says=["the endpoint sent the heartbeats [3, 4, 5]", "after MAX_MISSED (2) unanswered ones"],
        ),
        # The article's heartbeat: a bare text, not a typed message with a seq.
        Wrong(
            """
missed = 0
while True:
    try:
        async with asyncio.timeout(BEAT):
            message = await websocket.receive()
    except TimeoutError:
        if missed == MAX_MISSED:
            await websocket.close(timeout.HEARTBEAT_TIMEOUT, "no reply")
            return
        missed += 1
        await websocket.send_text("HEARTBEAT")
        continue
    if message["type"] == "websocket.disconnect":
        return
    missed = 0
""",
            says=["should send each heartbeat as JSON text", "got 'HEARTBEAT'"],
        ),
        # Numbers each heartbeat by the count of misses: seqs repeat.
        Wrong(
            _beat().replace("seq += 1\n", "seq = missed + 1\n"),
            says=["the heartbeats' seqs should count 1, 2, 3", "got [1, 1, 1, 2]"],
        ),
        # Goes on after the client left: the next receive() raises RuntimeError.
        Wrong(
            _beat(disconnect="        continue"),
            says=["raised RuntimeError", "after the client left", "websocket.disconnect"],
        ),
        # Forgets the deadline: a silent client is never noticed.
        Wrong(
            _beat().replace("async with asyncio.timeout(BEAT):", "if True:"),
            says=["the endpoint sent nothing for 2 s after the heartbeats []"],
        ),
        # Sends numbered heartbeats but counts nothing: the article's heartbeat with a seq.
        Wrong(
            _beat(on_timeout="        pass"),
            says=["never closed the silent client", "[1, 2, 3, 4, 5, 6, 7, 8]"],
        ),
    ],
    "ping_settings": [
        # The defaults: a first Ping only after 20 s.
        Wrong('return {"ws_ping_interval": 20, "ws_ping_timeout": 20}', says=["no Ping reached the client in 1.5 s"]),
        # Milliseconds, where uvicorn counts seconds.
        Wrong(
            'return {"ws_ping_interval": 250, "ws_ping_timeout": 500}',
            says=["no Ping reached the client", "well within a second"],
        ),
        # Pings often, but leaves the wait for the Pong at its default, 20 s.
        Wrong('return {"ws_ping_interval": 0.25}', says=["Ping(s), but did not close a client that answered none"]),
        # The keywords of harden(), which uvicorn.Config does not take.
        Wrong(
            'return {"ping_interval": 0.25, "ping_timeout": 0.5}',
            says=["uvicorn refused the settings", "unexpected keyword argument 'ping_interval'", "start with ws_"],
        ),
        # uvicorn's command-line options, as one string.
        Wrong('return "--ws-ping-interval 0.25 --ws-ping-timeout 0.5"', says=["should return a dict of uvicorn settings"]),
        # No time at all for a Pong: every client is closed, even one that answers.
        Wrong(
            'return {"ws_ping_interval": 0.25, "ws_ping_timeout": 0}',
            says=["also closed the client that answered every Ping", "1011", "give a Pong time to come back"],
        ),
    ],
}
