"""Quiz Q1: text and binary frames on one socket, ``/ws/mixed``.

``websocket.receive()`` returns the raw ASGI message. Its ``"type"`` is
``"websocket.receive"`` for text and binary frames alike; the frame is under
the key ``"text"`` or ``"bytes"``. (The article tests for a type
``"websocket.receive.text"``, which does not exist, so its answer handles
nothing.) Test ``message.get("text") is not None``: an empty text frame is
``""``, which is falsy but still text.

What happens in each outcome:

* A text frame gets a text reply: ``"text:"`` followed by the text.
* A binary frame gets a binary reply: ``b"bytes:"`` followed by the bytes.
* ``"websocket.disconnect"`` ends the loop. Calling ``receive()`` after it
  would raise a ``RuntimeError``.
* A client that sends and closes at once may be gone before its reply is
  sent: the send raises ``WebSocketDisconnect``, which ends the handler
  quietly too.
* Limits (lesson 06, :mod:`server.hardening`): messages over 1 MiB close
  with 1009; foreign pages and the 101st connection are refused at the
  handshake.
"""

from typing import Any

from fastapi import FastAPI, WebSocket, WebSocketDisconnect

from server.hardening import MiB, harden


def create_app(**limits: Any) -> FastAPI:
    """Build the quiz's app; ``limits`` override its defaults (see :func:`server.hardening.harden`)."""
    app = FastAPI(title="Quiz Q1: text and binary on one socket")

    @app.websocket("/ws/mixed")
    async def mixed(websocket: WebSocket):
        await websocket.accept()
        try:
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    break
                if message.get("text") is not None:
                    await websocket.send_text("text:" + message["text"])
                else:
                    await websocket.send_bytes(b"bytes:" + message["bytes"])
        except WebSocketDisconnect:
            # A send to a client that has just closed raises this.
            pass

    return harden(app, **{"max_message_size": MiB, **limits})


app = create_app()


if __name__ == "__main__":
    from server.cli import main

    main(__doc__, create_app)
