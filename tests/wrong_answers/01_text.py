"""Plausible wrong answers to lesson 01's exercises (solutions/01_text.ipynb).

See __init__.py for what the test requires.
"""

from wrong_answers import Wrong

WRONG_ANSWERS: dict[str, list[Wrong]] = {
    "send_and_receive": [
        # Encodes the text "to be safe": bytes go out as a binary frame, and the
        # chat server closes with 1003 instead of answering.
        Wrong(
            """
with connect(url) as websocket:
    websocket.send(text.encode())
    return websocket.recv(timeout=5)
""",
            says=["binary frame where it expected text", "closed the connection with code 1003", "text frames only"],
        ),
        # Reads the reply after the with block: the client has closed by then,
        # and the server saw the close arrive before its reply went out.
        Wrong(
            """
with connect(url) as websocket:
    websocket.send(text)
return websocket.recv(timeout=5)
""",
            says=["your client closed before reading the reply", "your code closed the connection with code 1000"],
        ),
        # Waits for the server to speak first: the chat server waits for a
        # message, so nothing arrives, and the server saw no frame at all.
        Wrong(
            """
with connect(url) as websocket:
    reply = websocket.recv(timeout=1)
    websocket.send(text)
    return reply
""",
            says=["no message arrived in time", "the server received none", "did you send before receiving?"],
        ),
        # Reads the reply but forgets to return it: the function returns None.
        Wrong(
            """
with connect(url) as websocket:
    websocket.send(text)
    websocket.recv(timeout=5)
""",
            says=["should return the reply, a str", "NoneType"],
        ),
        # Tidies the reply by cutting off the timestamp: not the reply any more.
        Wrong(
            """
with connect(url) as websocket:
    websocket.send(text)
    return websocket.recv(timeout=5).split("] ", 1)[1]
""",
            says=["should end with '] Server received: hello'", "got 'Server received: hello'"],
        ),
    ],
    "chat": [
        # Reuses the idea of exercise 1 in a loop: right replies, but one
        # connection (and one handshake) per message.
        Wrong(
            """
replies = []
for message in messages:
    with connect(url) as websocket:
        websocket.send(message)
        replies.append(websocket.recv(timeout=5))
return replies
""",
            says=["over one connection", "opened 3"],
        ),
        # Sends every message first, then reads a single reply.
        Wrong(
            """
with connect(url) as websocket:
    for message in messages:
        websocket.send(message)
    return [websocket.recv(timeout=5)]
""",
            says=["3 messages should get 3 replies, got 1"],
        ),
        # Joins the replies into one text instead of returning the list.
        Wrong(
            """
with connect(url) as websocket:
    replies = []
    for message in messages:
        websocket.send(message)
        replies.append(websocket.recv(timeout=5))
return "\\n".join(replies)
""",
            says=["should return a list of replies", "got str"],
        ),
        # Reads each reply but keeps the message it sent instead.
        Wrong(
            """
replies = []
with connect(url) as websocket:
    for message in messages:
        websocket.send(message)
        websocket.recv(timeout=5)
        replies.append(message)
return replies
""",
            says=["the reply to 'one' should end with 'Server received: one'", "got 'one'"],
        ),
    ],
    "reply_time": [
        # Parses the date and time but drops the offset: a naive datetime.
        Wrong(
            """
return datetime.strptime(reply[1:20], "%Y-%m-%dT%H:%M:%S")
""",
            says=["should be timezone-aware", "naive"],
        ),
        # Returns the text of the timestamp, not a datetime.
        Wrong(
            """
return reply[1 : reply.index("]")]
""",
            says=["should return a datetime", "got str"],
        ),
        # Adds UTC by hand to a parse that stops at the seconds: the
        # microseconds are lost.
        Wrong(
            """
return datetime.strptime(reply[1:20], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)
""",
            says=[
                "expected datetime.datetime(2026, 1, 31, 23, 59, 58, 123456",
                "got datetime.datetime(2026, 1, 31, 23, 59, 58, tzinfo",
            ],
        ),
        # Cuts at the last "]" instead of the first: the message's own
        # brackets end up in the timestamp.
        Wrong(
            """
return datetime.fromisoformat(reply[1 : reply.rindex("]")])
""",
            says=["raised ValueError", "Invalid isoformat string"],
        ),
    ],
    "send_binary": [
        # Decodes the bytes first: a text frame, which the server answers, so
        # the connection ends with the client's own close (1000, no reason).
        Wrong(
            """
with connect(url) as websocket:
    websocket.send(data.decode("latin-1"))
    try:
        websocket.recv(timeout=5)
    except ConnectionClosed as closed:
        return closed.rcvd.code, closed.rcvd.reason
return websocket.close_code, websocket.close_reason
""",
            says=["expected (1003, 'text frames only')", "got (1000, '')", "did the frame go out as bytes?"],
        ),
        # Waits for a reply as if there were one: the server's close escapes
        # as ConnectionClosed.
        Wrong(
            """
with connect(url) as websocket:
    websocket.send(data)
    return websocket.recv(timeout=5)
""",
            says=["send_binary(): the server closed the connection with code 1003 (text frames only)"],
        ),
    ],
    "upper": [
        # Forgets accept(): receive() before it returns the handshake's
        # "websocket.connect" message, which is neither text nor bytes.
        Wrong(
            """
try:
    while True:
        frame = await receive_frame(websocket)
        if isinstance(frame, bytes):
            await websocket.close(status.WS_1003_UNSUPPORTED_DATA, "text frames only")
            return
        await websocket.send_text(frame.upper())
except WebSocketDisconnect:
    pass
""",
            says=["your handler never called accept()"],
        ),
        # The article's loop: receive_text() fails on a binary frame with
        # KeyError, and a client's close escapes as WebSocketDisconnect.
        Wrong(
            """
await websocket.accept()
while True:
    message = await websocket.receive_text()
    await websocket.send_text(message.upper())
""",
            says=["let WebSocketDisconnect escape", "catch it"],
        ),
        # Catches the client's close, but reads with receive_text(), which
        # fails on a binary frame with KeyError.
        Wrong(
            """
await websocket.accept()
try:
    while True:
        await websocket.send_text((await websocket.receive_text()).upper())
except WebSocketDisconnect:
    pass
""",
            says=["raised KeyError: 'text'"],
        ),
        # Closes with the right code but no reason: the client cannot tell why.
        Wrong(
            """
await websocket.accept()
try:
    while True:
        frame = await receive_frame(websocket)
        if isinstance(frame, bytes):
            await websocket.close(status.WS_1003_UNSUPPORTED_DATA)
            return
        await websocket.send_text(frame.upper())
except WebSocketDisconnect:
    pass
""",
            says=["should close with 1003 'text frames only'", "got 1003 ''"],
        ),
        # Answers a binary frame with an error text and keeps the connection open.
        Wrong(
            """
await websocket.accept()
try:
    while True:
        frame = await receive_frame(websocket)
        if isinstance(frame, bytes):
            await websocket.send_text("text frames only")
            continue
        await websocket.send_text(frame.upper())
except WebSocketDisconnect:
    pass
""",
            says=["a binary frame should close the connection", "answered 'text frames only'"],
        ),
        # capitalize() for upper(): only the first letter changes.
        Wrong(
            """
await websocket.accept()
try:
    while True:
        frame = await receive_frame(websocket)
        if isinstance(frame, bytes):
            await websocket.close(status.WS_1003_UNSUPPORTED_DATA, "text frames only")
            return
        await websocket.send_text(frame.capitalize())
except WebSocketDisconnect:
    pass
""",
            says=["expected 'HELLO', got 'Hello'"],
        ),
    ],
}
