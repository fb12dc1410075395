"""Receive the next data frame, text or binary, from a Starlette WebSocket.

Starlette's ``receive_text()`` assumes a text frame and fails with
``KeyError: 'text'`` on a binary one (``receive_bytes()`` likewise). The
lesson servers want to answer the wrong kind of frame instead of crashing,
so they read frames through :func:`receive_frame`, which has the same
check-then-receive shape as Starlette's methods.
"""

from fastapi import WebSocket, WebSocketDisconnect


async def receive_frame(websocket: WebSocket) -> str | bytes:
    """Return the next frame's content: ``str`` for text, ``bytes`` for binary.

    Raises ``WebSocketDisconnect`` (with the client's close code) when the
    client has gone, like Starlette's ``receive_text()``. An empty text
    frame is ``""``, still text.
    """
    message = await websocket.receive()
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000), message.get("reason"))
    if message.get("text") is not None:
        return message["text"]
    return message["bytes"]
