"""Plausible wrong answers to lesson 05's exercises, one per exercise.

See __init__.py for what the test requires.
"""

WRONG_ANSWERS: dict[str, str] = {
    # Tests the text by its truth: the empty text frame "" falls through to
    # the binary branch and message["bytes"] raises KeyError.
    "kinds": '''
while True:
    message = await websocket.receive()
    if message["type"] == "websocket.disconnect":
        break
    if message.get("text"):
        await websocket.send_text(f"text: {len(message['text'])}")
    else:
        await websocket.send_bytes(f"bytes: {len(message['bytes'])}".encode())
''',
    # Decodes bytes before sending "to be safe": every frame goes out as
    # text, so the binary replies never come.
    "exchange": '''
replies = []
with connect(url) as websocket:
    for frame in frames:
        websocket.send(frame.decode() if isinstance(frame, bytes) else frame)
        reply = websocket.recv(timeout=5)
        replies.append(("text" if isinstance(reply, str) else "binary", reply))
return replies
''',
    # The article's answer: all four reasons hold, and 422 is what a client gets.
    "q2_verdicts": '''
return {
    "lax_conversion_is_wanted": True,
    "constraints_are_checked": True,
    "model_keeps_connection_open": True,
    "docs_list_websocket_routes": True,
    "errors_are_structured": True,
    "missing_field_gives_422": True,
}
''',
    # Handles binary frames and disconnects, but lets shout()'s exception
    # escape: the client sees the connection drop (1006), not 1011.
    "shout_guard": '''
while True:
    message = await websocket.receive()
    if message["type"] == "websocket.disconnect":
        return
    if message.get("text") is None:
        await websocket.close(status.WS_1003_UNSUPPORTED_DATA, "text frames only")
        return
    await websocket.send_text(shout(message["text"]))
''',
    # No timeout on recv(): against a server that never answers it waits forever.
    "ask": '''
async with async_connect(url) as websocket:
    await websocket.send(text)
    return await websocket.recv()
''',
}
