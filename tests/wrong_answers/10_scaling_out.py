"""Plausible wrong answers to lesson 10's exercises (solutions/10_scaling_out.ipynb).

See __init__.py for what the test requires.
"""

from wrong_answers import Wrong

WRONG_ANSWERS: dict[str, list[Wrong]] = {
    "entry_key": [
        # Compares the ids as text: "999-0" sorts after "1000-0".
        Wrong(
            """
return entry_id
""",
            says=["999-0 after 1000-0", "as numbers"],
        ),
        # Reads "1000-9" as the number 1000.9, which is more than 1000.10.
        Wrong(
            """
return float(entry_id.replace("-", "."))
""",
            says=["1000-10 before 1000-9", "sequence number"],
        ),
        # Numbers, but the sequence first: 1000-5 comes after 1001-0.
        Wrong(
            """
milliseconds, sequence = entry_id.split("-")
return int(sequence), int(milliseconds)
""",
            says=["1001-0 before 1000-5", "milliseconds first"],
        ),
    ],
    "join_with_retry": [
        # Joins once and returns whatever comes back, broker_unavailable too.
        Wrong(
            """
websocket.send(json.dumps({"type": "join", "name": name}))
return json.loads(websocket.recv(timeout=5))
""",
            says=["broker_unavailable", "without calling wait()"],
        ),
        # Pauses with time.sleep instead of the wait it is given: a check cannot tell when it tries again.
        Wrong(
            """
for _ in range(attempts):
    websocket.send(json.dumps({"type": "join", "name": name}))
    reply = json.loads(websocket.recv(timeout=5))
    if reply.get("code") != "broker_unavailable":
        return reply
    time.sleep(0.05)
return reply
""",
            says=["broker_unavailable", "without calling wait()", "wait(0.05)"],
        ),
        # Waits once, then gives up: the room needs a moment to reconnect after Redis is back.
        Wrong(
            """
websocket.send(json.dumps({"type": "join", "name": name}))
reply = json.loads(websocket.recv(timeout=5))
if reply.get("code") == "broker_unavailable":
    wait(0.05)
return reply
""",
            says=["after 1 wait(s)", "send the join again"],
        ),
        # Tries again after every error, so a taken name is asked for again and again.
        Wrong(
            """
for _ in range(attempts):
    websocket.send(json.dumps({"type": "join", "name": name}))
    reply = json.loads(websocket.recv(timeout=5))
    if reply["type"] == "welcome":
        return reply
    wait(0.05)
return reply
""",
            says=["taken name", "name_taken does not go away"],
        ),
    ],
    "is_one_room": [
        # Joins both members through url_a: one process always shares a room with itself.
        Wrong(
            """
with connect(url_a, proxy=None) as first, connect(url_a, proxy=None) as second:
    first.send(json.dumps({"type": "join", "name": "probe a"}))
    first.recv(timeout=5)
    second.send(json.dumps({"type": "join", "name": "probe b"}))
    return "probe a" in json.loads(second.recv(timeout=5)).get("members", [])
""",
            says=["True for two processes without a broker", "through url_b"],
        ),
        # Lets the first member leave before the second joins: it is no longer listed anywhere.
        Wrong(
            """
with connect(url_a, proxy=None) as first:
    first.send(json.dumps({"type": "join", "name": "probe a"}))
    first.recv(timeout=5)
with connect(url_b, proxy=None) as second:
    second.send(json.dumps({"type": "join", "name": "probe b"}))
    return "probe a" in json.loads(second.recv(timeout=5)).get("members", [])
""",
            says=["False for two processes sharing Redis", "keep the first member connected"],
        ),
    ],
    "heard_across": [
        # Listens on the speaker's connection: the speaker gets its own message back in any room.
        Wrong(
            """
with connect(url_a, proxy=None) as speaker, connect(url_b, proxy=None) as listener:
    speaker.send(json.dumps({"type": "join", "name": "speaker"}))
    speaker.recv(timeout=5)
    listener.send(json.dumps({"type": "join", "name": "listener"}))
    listener.recv(timeout=5)
    speaker.send(json.dumps({"type": "say", "text": text}))
    try:
        while True:
            event = json.loads(speaker.recv(timeout=2))
            if event["type"] == "message" and event["text"] == text:
                return True
    except TimeoutError:
        return False
""",
            says=["said True for two processes without a broker", "url_b"],
        ),
        # Says the text, sees it go out, and only then lets the listener join: it gets it as history, not as an event.
        Wrong(
            """
with connect(url_a, proxy=None) as speaker, connect(url_b, proxy=None) as listener:
    speaker.send(json.dumps({"type": "join", "name": "speaker"}))
    speaker.recv(timeout=5)
    speaker.send(json.dumps({"type": "say", "text": text}))
    while json.loads(speaker.recv(timeout=5)).get("text") != text:
        pass
    listener.send(json.dumps({"type": "join", "name": "listener"}))
    listener.recv(timeout=5)
    try:
        while True:
            event = json.loads(listener.recv(timeout=2))
            if event["type"] == "message" and event["text"] == text:
                return True
    except TimeoutError:
        return False
""",
            says=["said False for two processes sharing Redis", "history"],
        ),
    ],
}
