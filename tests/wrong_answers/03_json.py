"""Plausible wrong answers for the lesson 03 exercises (solutions/03_json.ipynb).

See __init__.py for what the test requires.
"""

WRONG_ANSWERS: dict[str, str] = {
    # The timestamp goes out as a string: the strict model refuses it.
    "send_chat": '''
message = {"user": user, "content": content, "timestamp": str(timestamp)}
with connect(url) as websocket:
    websocket.send(json.dumps(message))
    return json.loads(websocket.recv(timeout=5))
''',
    # Assumes every error reply has an "errors" list; invalid_json has none.
    "error_report": '''
websocket.send(text)
reply = json.loads(websocket.recv(timeout=5))
return reply["code"], [error["loc"] for error in reply["errors"]]
''',
    # Milliseconds, as JavaScript's Date.now() gives: valid, but not seconds.
    "make_message": '''
return {"user": user, "content": content, "timestamp": int(time.time() * 1000)}
''',
    # Pydantic's default (lax) policy: "2" and true become quantities,
    # unknown fields are dropped silently.
    "order_model": '''
class Order(BaseModel):
    item: str
    quantity: int = Field(ge=1)
    note: str | None = None

return Order
''',
    # The article's shape: one try around the whole loop, so the first bad
    # message ends the connection.
    "readings_endpoint": '''
try:
    while True:
        reading = Reading.model_validate_json(await websocket.receive_text())
        await websocket.send_json(reading.model_dump() | {"status": "STORED"})
except ValidationError as exc:
    errors = exc.errors(include_url=False, include_context=False, include_input=False)
    await websocket.send_json({
        "type": "error",
        "code": "validation_error",
        "errors": [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in errors],
    })
''',
}
