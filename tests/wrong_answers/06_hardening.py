"""Plausible wrong answers to lesson 06's exercises (solutions/06_hardening.ipynb).

See __init__.py for what the test requires.
"""

from wrong_answers import Wrong

_ECHO = """
await websocket.accept()
async for message in websocket.iter_text():
    await websocket.send_text(message)
"""

_SEND_WHOLE = """
try:
    with connect(url) as websocket:
        websocket.send(text)
        return [websocket.recv(timeout=5)]
except ConnectionClosed as closed:
    if closed.rcvd is None or closed.rcvd.code != 1009:
        raise
"""

WRONG_ANSWERS: dict[str, list[Wrong]] = {
    "origin_ok": [
        # A prefix test: every allowed origin lets in each host that merely
        # starts like it, such as https://course.example.evil.example.
        Wrong(
            """
return any(origin.startswith(entry) for entry in allowed)
""",
            says=["origin_ok('https://course.example.evil.example', ALLOWED) should be False"],
        ),
        # Compares whole strings: exact, but blind to case.
        Wrong(
            """
return origin in allowed
""",
            says=["origin_ok('HTTPS://COURSE.EXAMPLE', ALLOWED) should be True", "ignore case"],
        ),
        # Compares host and port, but not the scheme.
        Wrong(
            """
try:
    url = urlsplit(origin)
    mine = (url.hostname, url.port)
except ValueError:
    return False
return url.hostname is not None and any((urlsplit(e).hostname, urlsplit(e).port) == mine for e in allowed)
""",
            says=["origin_ok('https://localhost:8888', ALLOWED) should be False", "https is not http"],
        ),
        # Compares scheme, host and port, but lets urlsplit()'s ValueError
        # escape for a port that is not a number.
        Wrong(
            """
url = urlsplit(origin)
return any((url.scheme, url.hostname, url.port) == (urlsplit(e).scheme, urlsplit(e).hostname, urlsplit(e).port) for e in allowed)
""",
            says=["origin_ok() raised ValueError", "'8888.evil.example'"],
        ),
    ],
    "private": [
        # Refuses wrong tokens before accept() as it should, but then forgets
        # accept() for the right one and reads straight away.
        Wrong(
            """
given = websocket.query_params.get("token", "")
if not hmac.compare_digest(given.encode(), TOKEN.encode()):
    await websocket.close(status.WS_1008_POLICY_VIOLATION)
    return
async for message in websocket.iter_text():
    await websocket.send_text(message)
""",
            says=["your handler never called accept()"],
        ),
        # Accepts first and checks afterwards, with ==: a client without the
        # token gets a connection (then a 1008 close), and the comparison's time
        # says how much of a guess was right.
        Wrong(
            """
await websocket.accept()
if websocket.query_params.get("token") != TOKEN:
    await websocket.close(status.WS_1008_POLICY_VIOLATION, "wrong token")
    return
async for message in websocket.iter_text():
    await websocket.send_text(message)
""",
            says=["with no token the handshake succeeded", "refuse it before accept()"],
        ),
        # Refuses before accept(), but compares with ==.
        Wrong(
            """
if websocket.query_params.get("token") != TOKEN:
    await websocket.close(status.WS_1008_POLICY_VIOLATION)
    return
"""
            + _ECHO,
            says=["compare the token with hmac.compare_digest, not =="],
        ),
        # compare_digest() on str: it raises TypeError for a token that is not ASCII.
        Wrong(
            """
if not hmac.compare_digest(websocket.query_params.get("token", ""), TOKEN):
    await websocket.close(status.WS_1008_POLICY_VIOLATION)
    return
"""
            + _ECHO,
            says=["raised TypeError", "non-ASCII characters"],
        ),
    ],
    "send_all": [
        # Sends the message again at once after rate_limited, ignoring
        # retry_after: it gets every reply in the end, by hammering the server.
        Wrong(
            """
replies = []
for message in messages:
    while True:
        websocket.send(json.dumps(message))
        reply = json.loads(websocket.recv(timeout=5))
        if reply.get("code") != "rate_limited":
            break
    replies.append(reply)
return replies
""",
            says=["after a rate_limited reply that said retry_after", "wait that long"],
        ),
        # Waits as told, but keeps the rate_limited reply as the message's answer.
        Wrong(
            """
replies = []
for message in messages:
    websocket.send(json.dumps(message))
    reply = json.loads(websocket.recv(timeout=5))
    if reply.get("code") == "rate_limited":
        time.sleep(reply["retry_after"])
    replies.append(reply)
return replies
""",
            says=["is the rate_limited error, not an answer"],
        ),
        # Waits as told, then goes on with the next message: the refused ones are lost.
        Wrong(
            """
replies = []
for message in messages:
    websocket.send(json.dumps(message))
    reply = json.loads(websocket.recv(timeout=5))
    if reply.get("code") == "rate_limited":
        time.sleep(reply["retry_after"])
        continue
    replies.append(reply)
return replies
""",
            says=["should return 8 replies, one per message"],
        ),
        # Waits and sends again as told, but keeps each reply as JSON text.
        Wrong(
            """
replies = []
for message in messages:
    while True:
        websocket.send(json.dumps(message))
        reply = websocket.recv(timeout=5)
        if json.loads(reply).get("code") != "rate_limited":
            break
        time.sleep(json.loads(reply)["retry_after"])
    replies.append(reply)
return replies
""",
            says=["reply 0 should be {'user': 'ada'", "got '{"],
        ),
        # Sends each message as bytes "to be safe": the server takes JSON in
        # text frames only and answers binary_frame, which this loop keeps.
        Wrong(
            """
replies = []
for message in messages:
    while True:
        websocket.send(json.dumps(message).encode())
        reply = json.loads(websocket.recv(timeout=5))
        if reply.get("code") != "rate_limited":
            break
        time.sleep(reply["retry_after"])
    replies.append(reply)
return replies
""",
            says=["the server received a binary frame where it expected text", "with no .encode()"],
        ),
    ],
    "send_in_pieces": [
        # Handles the 1009, but cuts the text every `limit` characters: with
        # "é", "☕" or "🎉" in it, a piece is over `limit` bytes, and the
        # server closes with 1009 again.
        Wrong(
            _SEND_WHOLE
            + """
replies = []
with connect(url) as websocket:
    for start in range(0, len(text), limit):
        websocket.send(text[start : start + limit])
        replies.append(websocket.recv(timeout=5))
return replies
""",
            says=["a 1009 close escaped your code", "len(piece.encode())"],
        ),
        # Cuts the UTF-8 bytes every `limit` bytes and decodes each piece,
        # dropping the characters cut in two.
        Wrong(
            _SEND_WHOLE
            + """
data = text.encode()
replies = []
with connect(url) as websocket:
    for start in range(0, len(data), limit):
        websocket.send(data[start : start + limit].decode(errors="ignore"))
        replies.append(websocket.recv(timeout=5))
return replies
""",
            says=["the pieces the server received should join into the text", "cut between characters, never inside one"],
        ),
        # Returns the reply to a short text bare, not in a list.
        Wrong(
            """
try:
    with connect(url) as websocket:
        websocket.send(text)
        return websocket.recv(timeout=5)
except ConnectionClosed as closed:
    if closed.rcvd is None or closed.rcvd.code != 1009:
        raise
pieces, piece = [], ""
for character in text:
    if len((piece + character).encode()) > limit:
        pieces.append(piece)
        piece = ""
    piece += character
pieces.append(piece)
with connect(url) as websocket:
    for piece in pieces:
        websocket.send(piece)
        websocket.recv(timeout=5)
return pieces
""",
            says=["'hello' is under the limit: it should go as one message and get one reply"],
        ),
        # Returns the pieces it sent instead of the server's replies.
        Wrong(
            _SEND_WHOLE
            + """
pieces, piece = [], ""
for character in text:
    if len((piece + character).encode()) > limit:
        pieces.append(piece)
        piece = ""
    piece += character
pieces.append(piece)
with connect(url) as websocket:
    for piece in pieces:
        websocket.send(piece)
        websocket.recv(timeout=5)
return pieces
""",
            says=["should return the chat server's replies, one for each piece"],
        ),
        # Counts the limit in bytes by cutting the encoded text, and sends the
        # byte pieces as they are: binary frames, which the chat server
        # refuses with 1003.
        Wrong(
            _SEND_WHOLE
            + """
data = text.encode()
replies = []
with connect(url) as websocket:
    for start in range(0, len(data), limit):
        websocket.send(data[start : start + limit])
        replies.append(websocket.recv(timeout=5))
return replies
""",
            says=["the server received a binary frame where it expected text", "code 1003"],
        ),
    ],
}
