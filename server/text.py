"""Lesson 01: text messages on ``/ws/chat``.

The client sends text frames; the server answers each one with a text
frame holding the message and the time it arrived::

    [2026-11-25T16:04:05.123456+00:00] Server received: hello

What happens in each outcome:

* A text frame gets one text reply, with a timezone-aware ISO-8601 UTC
  timestamp (the article's ``datetime.now()`` is naive local time).
* A binary frame closes the connection with 1003 (unsupported data) and a
  short reason: this endpoint takes text only. The article's
  ``receive_text()`` fails with ``KeyError: 'text'`` here instead and drops
  the connection without a close frame.
* A client's close ends the loop quietly: one info line in the log.
* Limits (lesson 06, :mod:`server.hardening`): messages over 64 KiB close
  with 1009, more than 100 messages a second get a ``rate_limited`` error
  reply, foreign pages and the 101st connection are refused at the handshake.
"""

import logging
from datetime import datetime, timezone
from typing import Any

from fastapi import FastAPI, WebSocket, WebSocketDisconnect, status

from server.frames import receive_frame
from server.hardening import harden

logger = logging.getLogger(__name__)


def create_app(**limits: Any) -> FastAPI:
    """Build the lesson's app; ``limits`` override its defaults (see :func:`server.hardening.harden`)."""
    app = FastAPI(title="Lesson 01: text messages")

    @app.websocket("/ws/chat")
    async def chat(websocket: WebSocket):
        await websocket.accept()
        try:
            while True:
                frame = await receive_frame(websocket)
                if isinstance(frame, bytes):
                    # Say which frames this endpoint takes, then close.
                    await websocket.close(status.WS_1003_UNSUPPORTED_DATA, "text frames only")
                    return
                now = datetime.now(timezone.utc).isoformat()
                await websocket.send_text(f"[{now}] Server received: {frame}")
        except WebSocketDisconnect as disconnect:
            # The client closed (or vanished): not an error, one log line.
            logger.info("chat client left (close code %s)", disconnect.code)

    return harden(app, **{"rate_limit": 100, **limits})


app = create_app()


if __name__ == "__main__":
    from server.cli import main

    main(__doc__, create_app)
