"""Plausible wrong answers to lesson 09's exercises (solutions/09_chat_room.ipynb).

See __init__.py for what the test requires.
"""

from wrong_answers import Wrong

WRONG_ANSWERS: dict[str, list[Wrong]] = {
    "join_room": [
        # Returns the whole welcome instead of its list of members.
        Wrong(
            """
with connect(url) as websocket:
    websocket.send(json.dumps({"type": "join", "name": name}))
    return json.loads(websocket.recv(timeout=3))
""",
            says=["returned a dict", "not the whole event"],
        ),
        # Calls the field "user": the room answers validation_error, which has no members.
        Wrong(
            """
with connect(url) as websocket:
    websocket.send(json.dumps({"type": "join", "user": name}))
    return json.loads(websocket.recv(timeout=3))["members"]
""",
            says=["KeyError", "was not a welcome", "type of the reply"],
        ),
        # Returns the history, the other list in the welcome.
        Wrong(
            """
with connect(url) as websocket:
    websocket.send(json.dumps({"type": "join", "name": name}))
    return json.loads(websocket.recv(timeout=3))["history"]
""",
            says=["should return ['ada', 'bob', 'cy']", "got []"],
        ),
        # Waits for the room to speak first: it never does.
        Wrong(
            """
with connect(url) as websocket:
    return json.loads(websocket.recv(timeout=1))["members"]
""",
            says=["server received none from your client", "did you send before receiving"],
        ),
    ],
    "say_and_wait": [
        # Takes the first event as the answer: bob's joined, which has no id.
        Wrong(
            """
websocket.send(json.dumps({"type": "say", "text": text}))
return json.loads(websocket.recv(timeout=3))["id"]
""",
            says=["KeyError", "not every event is a message", "type"],
        ),
        # Takes the first message with the same text: bob's.
        Wrong(
            """
websocket.send(json.dumps({"type": "say", "text": text}))
while True:
    event = json.loads(websocket.recv(timeout=3))
    if event["type"] == "message" and event["text"] == text:
        return event["id"]
""",
            says=["returned 1", "bob's message", "from your name"],
        ),
        # Returns the whole event.
        Wrong(
            """
websocket.send(json.dumps({"type": "say", "text": text}))
while True:
    event = json.loads(websocket.recv(timeout=3))
    if event["type"] == "message" and event["from"] == name:
        return event
""",
            says=["returned the whole event", "return its id"],
        ),
        # Sends inside the loop: the text goes out once for every event received.
        Wrong(
            """
while True:
    websocket.send(json.dumps({"type": "say", "text": text}))
    event = json.loads(websocket.recv(timeout=3))
    if event["type"] == "message" and event["from"] == name:
        return event["id"]
""",
            says=["another message of yours", "say the text once"],
        ),
    ],
    "join_as": [
        # Sends the join and takes it for granted.
        Wrong(
            """
websocket.send(json.dumps({"type": "join", "name": name}))
websocket.recv(timeout=3)
return name
""",
            says=["returned 'ada'", "name_taken", "try the next name"],
        ),
        # Tries one other name only.
        Wrong(
            """
websocket.send(json.dumps({"type": "join", "name": name}))
if json.loads(websocket.recv(timeout=3))["type"] == "welcome":
    return name
websocket.send(json.dumps({"type": "join", "name": name + "2"}))
websocket.recv(timeout=3)
return name + "2"
""",
            says=["returned 'ada2'", "taken too", "keep trying"],
        ),
        # Numbers from 1: joins as ada1, not the name the task asks for.
        Wrong(
            """
attempt, number = name, 0
while True:
    websocket.send(json.dumps({"type": "join", "name": attempt}))
    if json.loads(websocket.recv(timeout=3))["type"] == "welcome":
        return attempt
    number += 1
    attempt = f"{name}{number}"
""",
            says=["should have joined as ada3", "ada1"],
        ),
        # Counts up before it looks at the reply: joins as ada3, returns ada4.
        Wrong(
            """
attempt, number = name, 1
while True:
    websocket.send(json.dumps({"type": "join", "name": attempt}))
    reply = json.loads(websocket.recv(timeout=3))
    number += 1
    if reply["type"] == "welcome":
        return f"{name}{number}"
    attempt = f"{name}{number}"
""",
            says=["you joined as ada3", "returned 'ada4'"],
        ),
    ],
    "echo_bot": [
        # Reads every event's text: joined events have none.
        Wrong(
            """
for frame in websocket:
    event = json.loads(frame)
    if event["text"].startswith("!echo ") and event["from"] != name:
        websocket.send(json.dumps({"type": "say", "text": event["text"][6:]}))
""",
            says=["KeyError", "not a message", "type"],
        ),
        # Answers every message from others, prefix or not.
        Wrong(
            """
for frame in websocket:
    event = json.loads(frame)
    if event["type"] == "message" and event["from"] != name:
        websocket.send(json.dumps({"type": "say", "text": event["text"].removeprefix("!echo ")}))
""",
            says=["answered 'hi'", "does not start with !echo"],
        ),
        # Says the whole text back, prefix included.
        Wrong(
            """
for frame in websocket:
    event = json.loads(frame)
    if event["type"] == "message" and event["from"] != name and event["text"].startswith("!echo "):
        websocket.send(json.dumps({"type": "say", "text": event["text"]}))
""",
            says=["'!echo hello'", "whole text", "after the prefix"],
        ),
        # Forgets that its own messages come back too: it answers itself.
        Wrong(
            """
for frame in websocket:
    event = json.loads(frame)
    if event["type"] == "message" and event["text"].startswith("!echo "):
        websocket.send(json.dumps({"type": "say", "text": event["text"][6:]}))
""",
            says=["answered its own message", "sender is your name"],
        ),
        # Answers "!echo" without its space: "!echo !echo loop" becomes " !echo loop".
        Wrong(
            """
for frame in websocket:
    event = json.loads(frame)
    if event["type"] == "message" and event["from"] != name and event["text"].startswith("!echo"):
        websocket.send(json.dumps({"type": "say", "text": event["text"][5:]}))
""",
            says=["should say hello, !echo loop, done"],
        ),
        # Waits for "say", the type a client sends: the room sends others' words as "message" events.
        Wrong(
            """
for frame in websocket:
    event = json.loads(frame)
    if event["type"] == "say" and event["from"] != name and event["text"].startswith("!echo "):
        websocket.send(json.dumps({"type": "say", "text": event["text"][6:]}))
""",
            says=["said nothing", "events it receives"],
        ),
        # Receives with recv() in a loop of its own: the close escapes as ConnectionClosedOK.
        Wrong(
            """
while True:
    event = json.loads(websocket.recv())
    if event["type"] == "message" and event["from"] != name and event["text"].startswith("!echo "):
        websocket.send(json.dumps({"type": "say", "text": event["text"][6:]}))
""",
            says=["when its connection closed", "ConnectionClosedOK", "end the loop quietly"],
        ),
    ],
    "messages_until_left": [
        # Stops at the first left event, whoever left.
        Wrong(
            """
texts = []
while True:
    event = json.loads(websocket.recv(timeout=3))
    if event["type"] == "left":
        return texts
    if event["type"] == "message":
        texts.append(event["text"])
""",
            says=["stopped when cy left", "names bob"],
        ),
        # Takes every event for a message.
        Wrong(
            """
texts = []
while True:
    event = json.loads(websocket.recv(timeout=3))
    if event["type"] == "left" and event["name"] == name:
        return texts
    texts.append(event["text"])
""",
            says=["KeyError", "no text", "message events only"],
        ),
        # Expects its own connection to close when bob leaves.
        Wrong(
            """
texts = []
try:
    while True:
        texts.append(json.loads(websocket.recv(timeout=1)).get("text"))
except ConnectionClosed:
    return texts
""",
            says=["waited in vain", "does not close your connection", "sends you an event"],
        ),
        # Keeps a "text" for every event: None for those that have none.
        Wrong(
            """
texts = []
while True:
    event = json.loads(websocket.recv(timeout=3))
    if event["type"] == "left" and event["name"] == name:
        return texts
    texts.append(event.get("text"))
""",
            says=["should return ['one', 'two', 'three']", "None"],
        ),
    ],
}
