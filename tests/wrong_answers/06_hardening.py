"""Plausible wrong answers to lesson 06's exercises (solutions/06_hardening.ipynb).

See __init__.py for what the test requires.
"""

WRONG_ANSWERS: dict[str, str] = {
    # A prefix test: every allowed origin lets in each host that merely
    # starts like it, such as https://course.example.evil.example.
    "origin_ok": '''
return any(origin.startswith(entry) for entry in allowed)
''',
    # Accepts first and checks afterwards, with ==: a client without the
    # token gets a connection (then a 1008 close), and the comparison's time
    # says how much of a guess was right.
    "private": '''
await websocket.accept()
if websocket.query_params.get("token") != TOKEN:
    await websocket.close(status.WS_1008_POLICY_VIOLATION, "wrong token")
    return
async for message in websocket.iter_text():
    await websocket.send_text(message)
''',
    # Sends the message again at once after rate_limited, ignoring
    # retry_after: it gets every reply in the end, by hammering the server.
    "send_all": '''
replies = []
for message in messages:
    while True:
        websocket.send(json.dumps(message))
        reply = json.loads(websocket.recv(timeout=5))
        if reply.get("code") != "rate_limited":
            break
    replies.append(reply)
return replies
''',
    # Handles the 1009, but cuts the text every `limit` characters: with
    # "é", "☕" or "🎉" in it, a piece is over `limit` bytes, and the
    # server closes with 1009 again.
    "send_in_pieces": '''
try:
    with connect(url) as websocket:
        websocket.send(text)
        return [websocket.recv(timeout=5)]
except ConnectionClosed as closed:
    if closed.rcvd is None or closed.rcvd.code != 1009:
        raise
replies = []
with connect(url) as websocket:
    for start in range(0, len(text), limit):
        websocket.send(text[start : start + limit])
        replies.append(websocket.recv(timeout=5))
return replies
''',
}
