"""Plausible wrong answers to lesson 05's exercises (solutions/05_quiz_and_errors.ipynb).

See __init__.py for what the test requires.
"""

from wrong_answers import Wrong


def _kinds(on_text: str, on_bytes: str, leave: str = "break", test: str = 'message.get("text") is not None') -> str:
    """The kinds endpoint's loop with one part changed."""
    return f"""
while True:
    message = await websocket.receive()
    if message["type"] == "websocket.disconnect":
        {leave}
    if {test}:
        {on_text}
    else:
        {on_bytes}
"""


_TEXT = "await websocket.send_text(f\"text: {len(message['text'])}\")"
_BYTES = "await websocket.send_bytes(f\"bytes: {len(message['bytes'])}\".encode())"

_RIGHT = {
    "lax_conversion_is_wanted": False,
    "constraints_are_checked": True,
    "model_keeps_connection_open": False,
    "docs_list_websocket_routes": False,
    "errors_are_structured": True,
    "missing_field_gives_422": False,
}


def _verdicts(**changes: object) -> str:
    """q2_verdicts() returning the right verdicts with some changed."""
    return f"\nreturn {_RIGHT | changes!r}\n"


def _keys_but(*wrong: str) -> list[str]:
    """The keys whose verdicts are right: a ✗ line must not name them."""
    return [key for key in _RIGHT if key not in wrong]


def _picks(*letters: str) -> str:
    """A quiz answer returning these letters."""
    return "\nreturn {" + ", ".join(map(repr, letters)) + "}\n" if letters else "\nreturn set()\n"


def _never(*right: str) -> list[str]:
    """A quiz's ✗ line must not name its true statements."""
    return [f"'{letter}'" for letter in right]


_SHOUT = """
while True:
    message = await websocket.receive()
    if message["type"] == "websocket.disconnect":
        return
    if message.get("text") is None:
{on_binary}
        return
    try:
        reply = shout(message["text"])
    except Exception as exc:
{on_error}
    await websocket.send_text(reply)
"""
_CLOSE_1003 = '        await websocket.close(status.WS_1003_UNSUPPORTED_DATA, "text frames only")'
_CLOSE_1011 = '        await websocket.close(status.WS_1011_INTERNAL_ERROR, "internal error")\n        return'

WRONG_ANSWERS: dict[str, list[Wrong]] = {
    "kinds": [
        # Tests the text by its truth: the empty text frame "" falls through to
        # the binary branch and message["bytes"] raises KeyError.
        Wrong(_kinds(_TEXT, _BYTES, test='message.get("text")'), says=["on the empty text frame ''", "falsy"]),
        # Never looks at the type: the disconnect message is read as a frame.
        Wrong(
            """
while True:
    message = await websocket.receive()
    if message.get("text") is not None:
        await websocket.send_text(f"text: {len(message['text'])}")
    else:
        await websocket.send_bytes(f"bytes: {len(message['bytes'])}".encode())
""",
            says=["when the client closed", "read the 'websocket.disconnect' message as a frame"],
        ),
        # receive_text() takes text frames only: KeyError on the first binary one.
        Wrong(
            """
while True:
    text = await websocket.receive_text()
    await websocket.send_text(f"text: {len(text)}")
""",
            says=["on the binary frame b''", "read frames with receive()"],
        ),
        # Goes on after the disconnect message: receive() then raises RuntimeError.
        Wrong(_kinds(_TEXT, _BYTES, leave="continue"), says=["after the client closed, your handler called receive() again"]),
        # Answers a binary frame with a text frame.
        Wrong(
            _kinds(_TEXT, "await websocket.send_text(f\"bytes: {len(message['bytes'])}\")"),
            says=["should be a binary frame (bytes), got str"],
        ),
        # Sends the text back instead of its length.
        Wrong(
            _kinds("await websocket.send_text(f\"text: {message['text']}\")", _BYTES),
            says=["the reply to '' should be 'text: 0', got 'text: '"],
        ),
        # Answers only frames that hold something: "" and b"" get no reply.
        Wrong(
            """
while True:
    message = await websocket.receive()
    if message["type"] == "websocket.disconnect":
        break
    if message.get("text"):
        await websocket.send_text(f"text: {len(message['text'])}")
    elif message.get("bytes"):
        await websocket.send_bytes(f"bytes: {len(message['bytes'])}".encode())
""",
            says=["no reply to '' within 2 s", "empty ones too"],
        ),
    ],
    "exchange": [
        # Decodes bytes before sending "to be safe": every frame goes out as
        # text, so the binary replies never come.
        Wrong(
            """
replies = []
with connect(url) as websocket:
    for frame in frames:
        websocket.send(frame.decode() if isinstance(frame, bytes) else frame)
        reply = websocket.recv(timeout=5)
        replies.append(("text" if isinstance(reply, str) else "binary", reply))
return replies
""",
            says=["send str as str and bytes as bytes"],
        ),
        # Names the kind after the Python type: "str" and "bytes".
        Wrong(
            """
replies = []
with connect(url) as websocket:
    for frame in frames:
        websocket.send(frame)
        reply = websocket.recv(timeout=5)
        replies.append((type(reply).__name__, reply))
return replies
""",
            says=["its kind is 'text', not 'str'"],
        ),
        # Returns the replies without their kinds.
        Wrong(
            """
replies = []
with connect(url) as websocket:
    for frame in frames:
        websocket.send(frame)
        replies.append(websocket.recv(timeout=5))
return replies
""",
            says=["each item should be a (kind, reply) tuple"],
        ),
        # Sends every frame, then reads the replies after the with block: the
        # client has closed by then, and the server saw its close come first.
        Wrong(
            """
with connect(url) as websocket:
    for frame in frames:
        websocket.send(frame)
replies = []
for frame in frames:
    reply = websocket.recv(timeout=5)
    replies.append(("text" if isinstance(reply, str) else "binary", reply))
return replies
""",
            says=["your client closed before reading the reply"],
        ),
        # Waits for the server to speak first: the quiz server only answers.
        Wrong(
            """
replies = []
with connect(url) as websocket:
    for frame in frames:
        reply = websocket.recv(timeout=1)
        websocket.send(frame)
        replies.append(("text" if isinstance(reply, str) else "binary", reply))
return replies
""",
            says=["the server received none", "did you send before receiving?"],
        ),
    ],
    "q2_verdicts": [
        # The article's answer: all four reasons hold, and 422 is what a client
        # gets. The ✗ line names the four wrong verdicts, and neither the right
        # verdicts nor the statements judged right.
        Wrong(
            "\nreturn {key: True for key in " + repr(list(_RIGHT)) + "}\n",
            says=[
                "4 of 6 to revisit",
                "lax_conversion_is_wanted",
                "model_keeps_connection_open",
                "docs_list_websocket_routes",
                "missing_field_gives_422",
            ],
            never=[
                "True",
                "False",
                *_keys_but(
                    "lax_conversion_is_wanted",
                    "model_keeps_connection_open",
                    "docs_list_websocket_routes",
                    "missing_field_gives_422",
                ),
            ],
        ),
        # One wrong verdict: FastAPI's /docs taken to list WebSocket routes.
        Wrong(
            _verdicts(docs_list_websocket_routes=True),
            says=["1 of 6 to revisit: docs_list_websocket_routes"],
            never=["True", "False", *_keys_but("docs_list_websocket_routes")],
        ),
        # Leaves out the statement it is unsure of.
        Wrong(
            "\nreturn " + repr({key: value for key, value in _RIGHT.items() if key != "missing_field_gives_422"}) + "\n",
            says=["no verdict for missing_field_gives_422"],
            never=["True", "False"],
        ),
        # Adds a verdict of its own.
        Wrong(_verdicts(pydantic_is_useful=True), says=["unknown key(s) 'pydantic_is_useful'"], never=["True", "False"]),
        # "yes" and "no" for True and False.
        Wrong(
            "\nreturn " + repr({key: "yes" if value else "no" for key, value in _RIGHT.items()}) + "\n",
            says=["each verdict should be True or False; not so for lax_conversion_is_wanted"],
        ),
        # The verdicts in the table's order, without their keys.
        Wrong("\nreturn " + repr(list(_RIGHT.values())) + "\n", says=["should return a dict, got list"]),
    ],
    "shout_guard": [
        # Handles binary frames and disconnects, but lets shout()'s exception
        # escape: the client sees the connection drop (1006), not 1011.
        Wrong(
            """
while True:
    message = await websocket.receive()
    if message["type"] == "websocket.disconnect":
        return
    if message.get("text") is None:
        await websocket.close(status.WS_1003_UNSUPPORTED_DATA, "text frames only")
        return
    await websocket.send_text(shout(message["text"]))
""",
            says=["raised UnicodeEncodeError and your handler let it escape", "close with 1011 yourself"],
        ),
        # Closes with 1011, but puts the exception's text in the reason.
        Wrong(
            _SHOUT.format(
                on_binary=_CLOSE_1003,
                on_error="        await websocket.close(status.WS_1011_INTERNAL_ERROR, str(exc))\n        return",
            ),
            says=["shows the exception's text", "say 'internal error' instead"],
        ),
        # Closes on a binary frame, but with the default code 1000.
        Wrong(
            _SHOUT.format(on_binary='        await websocket.close(reason="text frames only")', on_error=_CLOSE_1011),
            says=["a binary frame should close the connection with 1003", "got 1000"],
        ),
        # Reports the failure in a message and keeps the connection open.
        Wrong(
            _SHOUT.format(
                on_binary=_CLOSE_1003, on_error='        await websocket.send_text("internal error")\n        continue'
            ),
            says=["after 'café' the connection should close", "answered 'internal error'"],
        ),
        # Closes when shout() fails, but with the default code 1000.
        Wrong(
            _SHOUT.format(
                on_binary=_CLOSE_1003, on_error='        await websocket.close(reason="internal error")\n        return'
            ),
            says=["the close code should be 1011 (internal error), got 1000"],
        ),
    ],
    "ask": [
        # No timeout on recv(): against a server that never answers it waits forever.
        Wrong(
            """
async with async_connect(url) as websocket:
    await websocket.send(text)
    return await websocket.recv()
""",
            says=["still waiting after 2 s", "asyncio.timeout(timeout)"],
        ),
        # Gives up in time, but returns None instead of raising.
        Wrong(
            """
async with async_connect(url) as websocket:
    await websocket.send(text)
    try:
        async with asyncio.timeout(timeout):
            return await websocket.recv()
    except TimeoutError:
        return None
""",
            says=["yet ask() returned None", "it should raise TimeoutError"],
        ),
        # Forgets to await recv(): it returns a coroutine, not the reply.
        Wrong(
            """
async with async_connect(url) as websocket:
    await websocket.send(text)
    async with asyncio.timeout(timeout):
        return websocket.recv()
""",
            says=["should return the server's reply 'text:hi'", "got <coroutine object"],
        ),
    ],
    "q3_receive_message": [
        # The article's answer: a message type of its own for each kind of frame.
        Wrong(_picks("a"), says=["not true: 'a'", "no ASGI message has that type"], never=_never("b", "c")),
        # Takes receive() for receive_text(): the client's close raising WebSocketDisconnect.
        Wrong(_picks("b", "c", "d"), says=["not true: 'd'", "the client's leaving included"], never=_never("b", "c")),
        # Knows the type, but not that "" is falsy.
        Wrong(_picks("b"), says=["1 more statement is true as well"], never=_never("b", "c")),
        # Letters in a string, not a set.
        Wrong('\nreturn "bc"\n', says=["return a set of letters", "got 'bc'"], never=_never("b", "c")),
        # A letter that is not in the table.
        Wrong(_picks("b", "c", "f"), says=["no statement 'f' here", "from a to d"], never=_never("b", "c")),
        # Picks nothing, to be safe.
        Wrong(_picks(), says=["pick at least one statement"]),
    ],
    "q4_busy_handler": [
        # Believes the server cancels the handler when the client leaves.
        Wrong(_picks("a"), says=["not true: 'a'", "does not cancel a handler"], never=_never("b", "e")),
        # The send fails, but with the client library's exception (lesson 4's mix-up).
        Wrong(_picks("c", "e"), says=["not true: 'c'", "never reaches a FastAPI handler"], never=_never("b", "e")),
        # Believes sends to a gone client succeed silently.
        Wrong(_picks("d", "e"), says=["not true: 'd'", "does not return normally"], never=_never("b", "e")),
        # Right about the send, forgets the handler that waits for something else.
        Wrong(_picks("b"), says=["1 more statement is true as well"], never=_never("b", "e")),
    ],
    "q5_coroutine_in_a_cell": [
        # Writes notebook code as a script.
        Wrong(_picks("a"), says=["not true: 'a'", "already running in a Jupyter kernel"], never=_never("b", "c")),
        # A loop of its own to get round the running one.
        Wrong(_picks("b", "c", "d"), says=["not true: 'd'", "another one is running"], never=_never("b", "c")),
        # Reaches for nest_asyncio first.
        Wrong(_picks("b", "c", "e"), says=["not true: 'e'", "patches asyncio for the whole kernel"], never=_never("b", "c")),
        # Knows top-level await, not why asyncio.run fails.
        Wrong(_picks("c"), says=["1 more statement is true as well"], never=_never("b", "c")),
    ],
    "q6_send_from_a_thread": [
        # Calls the coroutine function in the thread: nothing is sent.
        Wrong(_picks("a"), says=["not true: 'a'", "only creates a coroutine object"], never=_never("c", "e")),
        # asyncio.run in the thread: a second loop that does not own the connection.
        Wrong(_picks("b", "c"), says=["not true: 'b'", "not thread-safe"], never=_never("c", "e")),
        # await in the thread's plain function.
        Wrong(_picks("c", "d", "e"), says=["not true: 'd'", "SyntaxError"], never=_never("c", "e")),
        # Knows run_coroutine_threadsafe, not AnyIO's way.
        Wrong(_picks("c"), says=["1 more statement is true as well"], never=_never("c", "e")),
        # Both wrong ways at once: names each.
        Wrong(_picks("a", "b"), says=["not true: 'a'", "'b'"], never=_never("c", "e")),
    ],
    "q7_invalid_query": [
        # The article's common error: a WebSocket endpoint answers invalid input with 422.
        Wrong(_picks("a"), says=["not true: 'a'", "422 is FastAPI's answer to an HTTP request"], never=_never("b", "c")),
        # Believes the handler runs with a default.
        Wrong(_picks("b", "d"), says=["not true: 'd'", "before it calls the handler"], never=_never("b", "c")),
        # Believes FastAPI sends an error message.
        Wrong(_picks("b", "c", "e"), says=["not true: 'e'", "sends no messages"], never=_never("b", "c")),
        # Knows the 1008, not what the client sees of it.
        Wrong(_picks("b"), says=["1 more statement is true as well"], never=_never("b", "c")),
    ],
}
