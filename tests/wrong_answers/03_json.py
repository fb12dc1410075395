"""Plausible wrong answers to lesson 03's exercises (solutions/03_json.ipynb).

See __init__.py for what the test requires.
"""

from wrong_answers import Wrong

# The error reply of the readings endpoint, as the solution sends it.
_VALIDATION_ERROR = """
    errors = exc.errors(include_url=False, include_context=False, include_input=False)
    await websocket.send_json({
        "type": "error",
        "code": "validation_error",
        "errors": [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in errors],
    })
"""

WRONG_ANSWERS: dict[str, list[Wrong]] = {
    "send_chat": [
        # The timestamp goes out as a string: the strict model refuses it.
        Wrong(
            """
message = {"user": user, "content": content, "timestamp": str(timestamp)}
with connect(url) as websocket:
    websocket.send(json.dumps(message))
    return json.loads(websocket.recv(timeout=5))
""",
            says=["refused your message with 'validation_error'", "'timestamp'"],
        ),
        # Returns the reply as it came: JSON text, not a dict.
        Wrong(
            """
with connect(url) as websocket:
    websocket.send(json.dumps({"user": user, "content": content, "timestamp": timestamp}))
    return websocket.recv(timeout=5)
""",
            says=["parsed with json.loads() (a dict)", "got str"],
        ),
        # Reads the reply, but returns the message it sent.
        Wrong(
            """
message = {"user": user, "content": content, "timestamp": timestamp}
with connect(url) as websocket:
    websocket.send(json.dumps(message))
    websocket.recv(timeout=5)
return message
""",
            says=["expected the reply", "'status': 'PROCESSED'"],
        ),
        # Parses the reply after the with block: the client has closed before
        # reading it, and the server saw the close before its reply went out.
        Wrong(
            """
with connect(url) as websocket:
    websocket.send(json.dumps({"user": user, "content": content, "timestamp": timestamp}))
return json.loads(websocket.recv(timeout=5))
""",
            says=["your client closed before reading the reply"],
        ),
        # Waits for a greeting first: the JSON server speaks only when spoken to.
        Wrong(
            """
with connect(url) as websocket:
    greeting = websocket.recv(timeout=1)
    websocket.send(json.dumps({"user": user, "content": content, "timestamp": timestamp}))
    return json.loads(greeting)
""",
            says=["the server received none", "did you send before receiving?"],
        ),
    ],
    "error_report": [
        # Assumes every error reply has an "errors" list; invalid_json has none.
        Wrong(
            """
websocket.send(text)
reply = json.loads(websocket.recv(timeout=5))
return reply["code"], [error["loc"] for error in reply["errors"]]
""",
            says=["raised KeyError: 'errors'"],
        ),
        # A list where a tuple (code, locs) is asked for.
        Wrong(
            """
websocket.send(text)
reply = json.loads(websocket.recv(timeout=5))
return [reply["code"], [error["loc"] for error in reply.get("errors", [])]]
""",
            says=["should return a tuple (code, locs)"],
        ),
        # Keeps the first item of each loc instead of the whole loc.
        Wrong(
            """
websocket.send(text)
reply = json.loads(websocket.recv(timeout=5))
return reply["code"], [error["loc"][0] for error in reply.get("errors", [])]
""",
            says=["expected ('validation_error', [['timestamp']])"],
        ),
    ],
    "make_message": [
        # Milliseconds, as JavaScript's Date.now() gives: valid, but not seconds.
        Wrong(
            """
return {"user": user, "content": content, "timestamp": int(time.time() * 1000)}
""",
            says=["seconds since the epoch"],
        ),
        # A readable date as the timestamp: the strict model takes no string.
        Wrong(
            """
return {"user": user, "content": content, "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S")}
""",
            says=["the server would refuse", "'timestamp'"],
        ),
        # A field of its own: the model forbids unknown fields.
        Wrong(
            """
return {"type": "chat", "user": user, "content": content, "timestamp": time.time()}
""",
            says=["the server would refuse", "extra_forbidden"],
        ),
        # Returns the JSON text instead of the dict.
        Wrong(
            """
return json.dumps({"user": user, "content": content, "timestamp": time.time()})
""",
            says=["should return a dict, got str"],
        ),
        # User and content swapped.
        Wrong(
            """
return {"user": content, "content": user, "timestamp": time.time()}
""",
            says=["user and content should be the arguments"],
        ),
    ],
    "order_model": [
        # Pydantic's default (lax) policy: "2" and true become quantities,
        # unknown fields are dropped silently.
        Wrong(
            """
class Order(BaseModel):
    item: str
    quantity: int = Field(ge=1)
    note: str | None = None

return Order
""",
            says=["should refuse a quantity sent as the string '2'"],
        ),
        # Strict types, but unknown fields are still dropped silently.
        Wrong(
            """
class Order(BaseModel):
    model_config = ConfigDict(strict=True)

    item: str
    quantity: int = Field(ge=1)
    note: str | None = None

return Order
""",
            says=["should refuse the unknown field price"],
        ),
        # Strict, but no minimum: a quantity of 0 passes.
        Wrong(
            """
class Order(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    item: str
    quantity: int
    note: str | None = None

return Order
""",
            says=["should refuse a quantity of 0"],
        ),
        # An empty string for a missing note, instead of None.
        Wrong(
            """
class Order(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    item: str
    quantity: int = Field(ge=1)
    note: str = ""

return Order
""",
            says=["an order without a note should give", "'note': None"],
        ),
        # Returns an order, not the class.
        Wrong(
            """
class Order(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    item: str
    quantity: int = Field(ge=1)
    note: str | None = None

return Order(item="tea", quantity=1)
""",
            says=["should return the class Order"],
        ),
    ],
    "readings_endpoint": [
        # The article's shape: one try around the whole loop, so the first bad
        # message ends the connection.
        Wrong(
            """
try:
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        if message.get("text") is None:
            await websocket.send_json({"type": "error", "code": "binary_frame", "detail": "send JSON in a text frame"})
            continue
        reading = Reading.model_validate_json(message["text"])
        await websocket.send_json(reading.model_dump() | {"status": "STORED"})
except ValidationError as exc:
"""
            + _VALIDATION_ERROR,
            says=["the connection ended after a bad message", "the try/except belongs inside the loop"],
        ),
        # The solution as it was: receive_text() (here through iter_text())
        # fails on a binary frame with KeyError.
        Wrong(
            """
async for text in websocket.iter_text():
    try:
        reading = Reading.model_validate_json(text)
    except ValidationError as exc:
"""
            + _VALIDATION_ERROR.replace("\n    ", "\n        ")
            + """
        continue
    await websocket.send_json(reading.model_dump() | {"status": "STORED"})
""",
            says=["raised KeyError: 'text' on the binary frame", "receive_text()"],
        ),
        # Sends Pydantic's errors whole: they hold the input the client sent.
        Wrong(
            """
while True:
    message = await websocket.receive()
    if message["type"] == "websocket.disconnect":
        return
    if message.get("text") is None:
        await websocket.send_json({"type": "error", "code": "binary_frame", "detail": "send JSON in a text frame"})
        continue
    try:
        reading = Reading.model_validate_json(message["text"])
    except ValidationError as exc:
        await websocket.send_json({"type": "error", "code": "validation_error", "errors": exc.errors(include_url=False)})
        continue
    await websocket.send_json(reading.model_dump() | {"status": "STORED"})
""",
            says=["exactly the keys loc, msg and type"],
        ),
        # Sends Pydantic's own JSON text as "errors": a str, not a list.
        Wrong(
            """
while True:
    message = await websocket.receive()
    if message["type"] == "websocket.disconnect":
        return
    if message.get("text") is None:
        await websocket.send_json({"type": "error", "code": "binary_frame", "detail": "send JSON in a text frame"})
        continue
    try:
        reading = Reading.model_validate_json(message["text"])
    except ValidationError as exc:
        await websocket.send_json({"type": "error", "code": "validation_error", "errors": exc.json(include_input=False)})
        continue
    await websocket.send_json(reading.model_dump() | {"status": "STORED"})
""",
            says=["should hold a list errors"],
        ),
        # The article's str(e) as the whole error reply: no code, no errors list.
        Wrong(
            """
while True:
    message = await websocket.receive()
    if message["type"] == "websocket.disconnect":
        return
    if message.get("text") is None:
        await websocket.send_json({"type": "error", "code": "binary_frame", "detail": "send JSON in a text frame"})
        continue
    try:
        reading = Reading.model_validate_json(message["text"])
    except ValidationError as exc:
        await websocket.send_json({"type": "error", "detail": str(exc)})
        continue
    await websocket.send_json(reading.model_dump() | {"status": "STORED"})
""",
            says=["should get an error reply with code validation_error"],
        ),
        # Validates whatever arrives, text or bytes: a binary frame holding
        # JSON is stored instead of refused.
        Wrong(
            """
while True:
    message = await websocket.receive()
    if message["type"] == "websocket.disconnect":
        return
    try:
        reading = Reading.model_validate_json(message.get("text") or message.get("bytes"))
    except ValidationError as exc:
"""
            + _VALIDATION_ERROR.replace("\n    ", "\n        ")
            + """
        continue
    await websocket.send_json(reading.model_dump() | {"status": "STORED"})
""",
            says=["a binary frame should get an error reply with code binary_frame"],
        ),
        # Replies with the reading alone, without "status": "STORED".
        Wrong(
            """
while True:
    message = await websocket.receive()
    if message["type"] == "websocket.disconnect":
        return
    if message.get("text") is None:
        await websocket.send_json({"type": "error", "code": "binary_frame", "detail": "send JSON in a text frame"})
        continue
    try:
        reading = Reading.model_validate_json(message["text"])
    except ValidationError as exc:
"""
            + _VALIDATION_ERROR.replace("\n    ", "\n        ")
            + """
        continue
    await websocket.send_json(reading.model_dump())
""",
            says=["a valid reading should get", "'status': 'STORED'"],
        ),
    ],
}
