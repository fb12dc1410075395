"""Lesson 03: JSON messages validated with Pydantic on ``/ws/json-demo``.

Each text frame must hold one JSON object that fits :class:`ChatMessage`.
A valid one comes back as the model's fields plus ``"status": "PROCESSED"``.
Anything else gets an error reply and **the connection stays open** for
the next message (the article wrapped the whole loop in ``try``, so its
first invalid message ended the connection).

What happens in each outcome:

* Not JSON at all: ``{"type": "error", "code": "invalid_json", "detail": ...}``.
* JSON that is not an object, or an object that fails validation:
  ``{"type": "error", "code": "validation_error", "detail": ...,
  "errors": [{"loc": [...], "msg": ..., "type": ...}]}``. The errors come
  from ``ValidationError.errors()`` without the input, the context or
  documentation URLs, so nothing the client sent is echoed back.
* A binary frame: ``{"type": "error", "code": "binary_frame", ...}``; JSON
  travels in text frames.
* The client closes: the loop ends quietly.
* Limits (lesson 06, :mod:`server.hardening`): messages over 64 KiB close
  with 1009, more than 100 messages a second get a ``rate_limited`` error
  reply, foreign pages and the 101st connection are refused at the handshake.

Validation policy: **strict, no unknown fields.** ``"123"`` or ``true`` for
``timestamp`` is an error (lax mode would turn them into floats), an integer
timestamp is fine, ``NaN`` and infinities are refused, and a field the model
does not declare is an error rather than being dropped silently.
"""

import logging
from typing import Any

from fastapi import FastAPI, WebSocket, WebSocketDisconnect
from pydantic import BaseModel, ConfigDict, ValidationError

from server.errors import error_message
from server.frames import receive_frame
from server.hardening import harden

logger = logging.getLogger(__name__)


class ChatMessage(BaseModel):
    """One chat message as the client sends it."""

    model_config = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False)

    user: str
    content: str
    timestamp: float  # seconds since the epoch, as time.time() gives


def process(text: str) -> dict[str, Any]:
    """Validate one text frame and return the reply to send."""
    try:
        message = ChatMessage.model_validate_json(text)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_context=False, include_input=False)
        if errors[0]["type"] == "json_invalid":
            return error_message("invalid_json", errors[0]["msg"])
        return error_message(
            "validation_error",
            f"{len(errors)} validation error(s) for ChatMessage; see errors",
            errors=[{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in errors],
        )
    return message.model_dump() | {"status": "PROCESSED"}


def create_app(**limits: Any) -> FastAPI:
    """Build the lesson's app; ``limits`` override its defaults (see :func:`server.hardening.harden`)."""
    app = FastAPI(title="Lesson 03: JSON messages validated with Pydantic")

    @app.websocket("/ws/json-demo")
    async def json_demo(websocket: WebSocket):
        await websocket.accept()
        try:
            while True:
                frame = await receive_frame(websocket)
                if isinstance(frame, bytes):
                    reply = error_message("binary_frame", "send JSON as a text frame")
                else:
                    # Validate each message on its own: one bad message
                    # gets an error reply, not the end of the connection.
                    reply = process(frame)
                await websocket.send_json(reply)
        except WebSocketDisconnect as disconnect:
            logger.info("json client left (close code %s)", disconnect.code)

    return harden(app, **{"rate_limit": 100, **limits})


app = create_app()


if __name__ == "__main__":
    from server.cli import main

    main(__doc__, create_app)
