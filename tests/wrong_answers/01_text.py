"""Plausible wrong answers to lesson 01's exercises, one per exercise.

See __init__.py for what the test requires.
"""

WRONG_ANSWERS: dict[str, str] = {
    # Encodes the text "to be safe": bytes go out as a binary frame, and the
    # chat server closes with 1003 instead of answering.
    "send_and_receive": '''
with connect(url) as websocket:
    websocket.send(text.encode())
    return websocket.recv(timeout=5)
''',
    # Reuses the idea of exercise 1 in a loop: right replies, but one
    # connection (and one handshake) per message.
    "chat": '''
replies = []
for message in messages:
    with connect(url) as websocket:
        websocket.send(message)
        replies.append(websocket.recv(timeout=5))
return replies
''',
    # Parses the date and time but drops the offset: a naive datetime.
    "reply_time": '''
return datetime.strptime(reply[1:20], "%Y-%m-%dT%H:%M:%S")
''',
    # Decodes the bytes first: a text frame, which the server answers, so
    # the connection ends with the client's own close (1000, no reason).
    "send_binary": '''
with connect(url) as websocket:
    websocket.send(data.decode("latin-1"))
    try:
        websocket.recv(timeout=5)
    except ConnectionClosed as closed:
        return closed.rcvd.code, closed.rcvd.reason
return websocket.close_code, websocket.close_reason
''',
    # The article's loop: receive_text() fails on a binary frame with
    # KeyError, and a client's close escapes as WebSocketDisconnect.
    "upper": '''
await websocket.accept()
while True:
    message = await websocket.receive_text()
    await websocket.send_text(message.upper())
''',
}
