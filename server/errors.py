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

from pydantic import TypeAdapter, ValidationError


def error_message(code: str, detail: str, **fields: Any) -> dict[str, Any]:
    """Build an error reply: ``{"type": "error", "code", "detail", ...}``."""
    return {"type": "error", "code": code, "detail": detail, **fields}


def parse_frame(adapter: TypeAdapter, frame: str | bytes) -> Any:
    """The message a JSON text frame holds, validated by ``adapter``; or the error reply to send instead.

    A binary frame gets ``binary_frame``, text that is not JSON
    ``invalid_json``, and JSON the model refuses ``validation_error`` with
    the list of ``errors`` (where, what, which kind), as lesson 03 teaches.
    """
    if isinstance(frame, bytes):
        return error_message("binary_frame", "send JSON as a text frame")
    try:
        return adapter.validate_json(frame)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_context=False, include_input=False)
        if errors[0]["type"] == "json_invalid":
            return error_message("invalid_json", errors[0]["msg"])
        return error_message(
            "validation_error",
            f"{len(errors)} validation error(s); see errors",
            errors=[{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in errors],
        )
