"""A pure echo endpoint for conformance testing, ``/ws/echo``.

The Autobahn WebSocket testsuite (``python3 course.py conformance``, see
``docs/conformance.md``) sends this endpoint every kind of frame a client
may send, and some it must not, and checks what comes back. The app does no
more than echo, so whatever the suite reports is about the WebSocket layer
underneath: uvicorn and its WebSocket implementation.

What happens in each outcome:

* A text message is sent back as one text message, a binary message as one
  binary message, with the same content; empty messages too. Fragmented
  messages arrive reassembled and go back unfragmented.
* ``"websocket.disconnect"`` (the client closed, or the connection failed)
  ends the loop quietly.
* A client that sends and closes at once may be gone before its echo is
  sent: the send raises ``WebSocketDisconnect``, which ends the handler
  quietly too.
* Pings, pongs, close handshakes and protocol errors (a bad frame, invalid
  UTF-8 in a text message) never reach the app: uvicorn's WebSocket
  implementation answers them, and closes with the close code the protocol
  asks for.
* Limits (lesson 06, :mod:`server.hardening`), as every lesson server has
  them, with room for the suite's largest message: messages over 16 MiB
  close with 1009; foreign pages and the 101st connection are refused at
  the handshake. On wsproto, compression is off (see ``serving_options``).
"""

from typing import Any

from fastapi import FastAPI, WebSocket, WebSocketDisconnect

from server.hardening import MiB, harden


def create_app(**limits: Any) -> FastAPI:
    """Build the echo app; ``limits`` override its defaults (see :func:`server.hardening.harden`)."""
    app = FastAPI(title="Echo: every message sent back as it came")

    @app.websocket("/ws/echo")
    async def echo(websocket: WebSocket):
        await websocket.accept()
        try:
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    break
                # An empty text frame is "", still text: test for None.
                if message.get("text") is not None:
                    await websocket.send_text(message["text"])
                else:
                    await websocket.send_bytes(message["bytes"])
        except WebSocketDisconnect:
            # A send to a client that has just closed raises this.
            pass

    # Autobahn's largest messages (cases 9.1.6 and 9.2.6) are 16 MiB.
    return harden(app, **{"max_message_size": 16 * MiB, **limits})


app = create_app()


if __name__ == "__main__":
    from server.cli import main

    main(__doc__, create_app)
