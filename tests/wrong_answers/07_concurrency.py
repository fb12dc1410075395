"""Plausible wrong answers to lesson 07's exercises (solutions/07_concurrency.ipynb).

See __init__.py for what the test requires.
"""

from wrong_answers import Wrong

_FORWARD = """
async def forward():
    while True:
        await websocket.send_text(await inbox.get())
"""

_LISTEN = """
async def listen():
    while True:
        await websocket.receive_text()
"""

WRONG_ANSWERS: dict[str, list[Wrong]] = {
    "news_endpoint": [
        # Only forwards the queue: it never receives, so it never sees the
        # client leave and waits on the queue for ever.
        Wrong(
            """
while True:
    await websocket.send_text(await inbox.get())
""",
            says=["still running 5 s after the client left", "only a receive hands over"],
        ),
        # Listens with iter_text(), which ends quietly at the close: the group never
        # cancels forward(), which waits on the queue for ever.
        Wrong(
            _FORWARD
            + """
async def listen():
    async for _ in websocket.iter_text():
        pass

try:
    async with asyncio.TaskGroup() as group:
        group.create_task(forward())
        group.create_task(listen())
except* WebSocketDisconnect:
    pass
""",
            says=["still running 5 s after the client left", "ends without raising", "cancel the other"],
        ),
        # Runs both loops in a TaskGroup but lets the group's ExceptionGroup
        # (holding WebSocketDisconnect) escape the handler.
        Wrong(
            _FORWARD
            + _LISTEN
            + """
async with asyncio.TaskGroup() as group:
    group.create_task(forward())
    group.create_task(listen())
""",
            says=["ExceptionGroup", "except*"],
        ),
        # gather() runs both, and returns at the first exception, but does
        # not cancel the other: forward() waits on the queue for ever.
        Wrong(
            _FORWARD
            + _LISTEN
            + """
try:
    await asyncio.gather(forward(), listen())
except WebSocketDisconnect:
    pass
""",
            says=["still running after the client left", "forward", "cancel the other"],
        ),
        # Receives first and forwards afterwards: one at a time, so the news
        # waits until the client has gone.
        Wrong(
            _FORWARD
            + _LISTEN
            + """
try:
    await listen()
    await forward()
except WebSocketDisconnect:
    pass
""",
            says=["the client got []", "while the handler waits for the client too"],
        ),
        # Right structure, but sends each item as JSON: the client gets '"first news"', quotes and all.
        Wrong(
            _FORWARD.replace("send_text", "send_json")
            + _LISTEN
            + """
try:
    async with asyncio.TaskGroup() as group:
        group.create_task(forward())
        group.create_task(listen())
except* WebSocketDisconnect:
    pass
""",
            says=["the client should get ['first news', 'second news'], in order", "got ['\"first news\"'"],
        ),
    ],
    "send_from_thread": [
        # Hands the coroutine function to the loop with call_soon_threadsafe:
        # the loop calls it, which only makes a coroutine that nobody awaits.
        Wrong(
            """
loop.call_soon_threadsafe(websocket.send_text, text)
""",
            says=["no message arrived", "hand it to the server's loop"],
        ),
        # Runs the send on a new event loop in the worker thread. It may even
        # seem to work, writing to the server's transport from the wrong thread.
        Wrong(
            """
asyncio.run(websocket.send_text(text))
""",
            says=["not the server's", "not thread-safe"],
        ),
        # Hands the send to the server's loop but does not wait for it: the
        # error of a failed send never reaches the caller.
        Wrong(
            """
asyncio.run_coroutine_threadsafe(websocket.send_text(text), loop)
""",
            says=["returned normally after the client had left", "wait for the send's result"],
        ),
        # Runs the send on the server's loop with run_until_complete: that loop is already running.
        Wrong(
            """
loop.run_until_complete(websocket.send_text(text))
""",
            says=["RuntimeError", "already running"],
        ),
        # Waits for the send, but sends the text as JSON: the client gets it in quotes.
        Wrong(
            """
asyncio.run_coroutine_threadsafe(websocket.send_json(text), loop).result(timeout=5)
""",
            says=["the client should get", "'\"message 1 from a worker thread\"'"],
        ),
    ],
    "shout_fixed": [
        # The broken version: catches the disconnect inside the loop and
        # carries on, so the next receive_text() raises RuntimeError.
        Wrong(
            """
while True:
    try:
        text = await websocket.receive_text()
    except WebSocketDisconnect:
        print("client left")
        continue
    await websocket.send_text(text.upper())
""",
            says=["called receive again", "Cannot call", "Leave the loop"],
        ),
        # Catches nothing: the client's close escapes the handler as an error.
        Wrong(
            """
while True:
    text = await websocket.receive_text()
    await websocket.send_text(text.upper())
""",
            says=["let WebSocketDisconnect escape"],
        ),
        # Ends quietly, but answers with JSON: the client gets '"HELLO"', quotes and all.
        Wrong(
            """
try:
    while True:
        await websocket.send_json((await websocket.receive_text()).upper())
except WebSocketDisconnect:
    pass
""",
            says=["should answer 'hello' with 'HELLO'", "got '\"HELLO\"'"],
        ),
    ],
    "deliver_or_refuse": [
        # The feed's policy instead: drops the oldest message to make room.
        Wrong(
            """
if queue.full():
    queue.get_nowait()
    queue.put_nowait(message)
    return False
queue.put_nowait(message)
return True
""",
            says=["the client got the messages [1, 2, 3, 4]", "dropped older messages"],
        ),
        # Puts without looking: a full queue raises QueueFull in the handler.
        Wrong(
            """
queue.put_nowait(message)
return True
""",
            says=["raised QueueFull", "return False instead"],
        ),
        # Leaves a full queue alone, but says yes all the same.
        Wrong(
            """
if not queue.full():
    queue.put_nowait(message)
return True
""",
            says=["said yes to every message", "return False when a message is not queued"],
        ),
        # Answers whether there is room, but never puts the message in.
        Wrong(
            """
return not queue.full()
""",
            says=["the client got no message", "queued none of the messages"],
        ),
        # Off by one: counts the new message twice and refuses while one place is free.
        Wrong(
            """
if queue.qsize() + 1 >= queue.maxsize:
    return False
queue.put_nowait(message)
return True
""",
            says=["the client got [0, 1, 2], then the close 1013", "refused a message while the queue of 4 still had room"],
        ),
        # Refuses at a size of its own, the one the task mentions, instead of the queue's.
        Wrong(
            """
if queue.qsize() >= 4:
    return False
queue.put_nowait(message)
return True
""",
            says=["the client got [0, 1, 2, 3], then the close 1013", "refused a message while the queue of 6 still had room"],
        ),
    ],
}
