"""The error reply every lesson server sends for a message it cannot use.

A WebSocket has no status codes once the handshake is done, so a server
answers bad input in one of two ways:

* a JSON text frame ``{"type": "error", "code": ..., "detail": ...}`` when
  the connection can go on: ``code`` is stable, for programs to test;
  ``detail`` is for a person to read;
* a close frame with a code from RFC 6455 when it cannot. Starlette names
  them in ``starlette.status`` (also ``fastapi.status``): 1003 unsupported
  data, 1007 invalid payload, 1008 policy violation, 1009 message too big,
  1011 internal error, 1013 try again later.
"""

from typing import Any


def error_message(code: str, detail: str, **fields: Any) -> dict[str, Any]:
    """Build an error reply: ``{"type": "error", "code", "detail", ...}``."""
    return {"type": "error", "code": code, "detail": detail, **fields}
