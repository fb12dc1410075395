"""Run a lesson server from a terminal: ``python -m server.<lesson>``.

Every lesson takes the same options: where to listen (``--host``,
``--port``), uvicorn's WebSocket implementation (``--ws``) and the limits
of :mod:`server.hardening` (``--max-message-size``, ``--rate-limit``...),
each defaulting to the lesson's own.

A server bound to anything but loopback (``--host 0.0.0.0``, a LAN
address) is reachable by others, so it requires a token: ``--token``, or
one generated at start. It prints the join URL with the token in it, and
for a lesson with a browser page (``app.state.page``, the chat room) the
page's URL, which carries the token on to its WebSocket.
"""

from __future__ import annotations

import argparse
import ipaddress
import secrets
import socket
import sys
from collections.abc import Callable, Sequence
from typing import Any

import uvicorn

from server.hardening import serving_options

#: The options of every lesson server that go to ``create_app`` (server.hardening.Limits).
LIMIT_OPTIONS = (
    "max_message_size",
    "max_connections",
    "rate_limit",
    "ping_interval",
    "ping_timeout",
    "allowed_origins",
    "token",
)


def parser(description: str | None, *, default_port: int = 8000) -> argparse.ArgumentParser:
    """An argument parser with the options every lesson server takes."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s)")
    parser.add_argument("--port", type=int, default=default_port, help="port to bind (default: %(default)s)")
    parser.add_argument(
        "--ws",
        default="auto",
        choices=["auto", "websockets-sansio", "websockets", "wsproto"],
        help="uvicorn's WebSocket implementation (default: %(default)s)",
    )
    parser.add_argument("--log-level", default="info", help="uvicorn log level (default: %(default)s)")
    limits = parser.add_argument_group("limits (default: the lesson's own; see server/hardening.py)")
    limits.add_argument("--max-message-size", type=int, metavar="BYTES", help="larger messages close with 1009")
    limits.add_argument("--max-connections", type=int, metavar="N", help="more get HTTP 503")
    limits.add_argument("--rate-limit", type=float, metavar="PER_SECOND", help="messages per second per connection")
    limits.add_argument("--ping-interval", type=float, metavar="SECONDS", help="protocol Ping every SECONDS")
    limits.add_argument("--ping-timeout", type=float, metavar="SECONDS", help="close 1011 without a Pong")
    limits.add_argument(
        "--allow-origin",
        dest="allowed_origins",
        action="append",
        metavar="ORIGIN",
        help="a page origin allowed to connect, e.g. http://192.168.1.20:8000 (repeat; default: local pages)",
    )
    limits.add_argument("--token", help="required at the handshake (default: none on loopback, else generated)")
    return parser


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def limits_from(args: argparse.Namespace) -> dict[str, Any]:
    """The limits given on the command line; a token is generated when others can connect."""
    if not args.token and not is_loopback(args.host):
        args.token = secrets.token_urlsafe(16)
    return {name: getattr(args, name) for name in LIMIT_OPTIONS if getattr(args, name) is not None}


def _address(args: argparse.Namespace) -> str:
    """``host:port`` as someone else would type it."""
    host = args.host
    if host in ("0.0.0.0", "::"):
        # Any address of this machine; show the one its name resolves to.
        try:
            host = socket.gethostbyname(socket.gethostname())
        except OSError:  # a name that does not resolve: say what to put there
            host = "<this machine's address>"
    if ":" in host:
        host = f"[{host}]"
    return f"{host}:{args.port}"


def join_urls(app: Any, args: argparse.Namespace) -> list[str]:
    """The URLs of the app's WebSocket endpoints, as someone else would type them."""
    query = f"?token={args.token}" if args.token else ""
    paths = [route.path for route in getattr(app, "routes", []) if type(route).__name__ == "APIWebSocketRoute"]
    return [f"ws://{_address(args)}{path}{query}" for path in paths]


def page_url(app: Any, args: argparse.Namespace) -> str | None:
    """The URL of the app's browser page (``app.state.page``) with the token, or None if it has none."""
    path = getattr(getattr(app, "state", None), "page", None)
    if path is None:
        return None
    query = f"?token={args.token}" if args.token else ""
    return f"http://{_address(args)}{path}{query}"


def serve(app: Any, args: argparse.Namespace, **uvicorn_options: Any) -> None:
    """Serve ``app`` in the foreground until Ctrl+C, with the settings it asks for."""
    for url in join_urls(app, args):
        print(f"join: {url}", file=sys.stderr, flush=True)
    page = page_url(app, args)
    if page is not None:
        print(f"open: {page}", file=sys.stderr, flush=True)
    options = serving_options(app, ws=args.ws, **uvicorn_options)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, **options)


def main(
    doc: str | None,
    make_app: Callable[..., Any],
    argv: Sequence[str] | None = None,
    *,
    knobs: Callable[[argparse.ArgumentParser], None] | None = None,
) -> None:
    """Parse the command line, build the lesson's app and serve it."""
    summary = doc.strip().splitlines()[0] if doc else None
    cli = parser(summary)
    if knobs is not None:
        knobs(cli)
    args = cli.parse_args(argv)
    common = {"host", "port", "ws", "log_level", *LIMIT_OPTIONS}
    app = make_app(**limits_from(args), **{k: v for k, v in vars(args).items() if k not in common})
    serve(app, args)
