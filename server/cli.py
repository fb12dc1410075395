"""Run a lesson server from a terminal: ``python -m server.<lesson>``."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import Any

import uvicorn


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
    return parser


def serve(app: Any, args: argparse.Namespace, **uvicorn_options: Any) -> None:
    """Serve ``app`` in the foreground until Ctrl+C."""
    uvicorn.run(app, host=args.host, port=args.port, ws=args.ws, log_level=args.log_level, **uvicorn_options)


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
    common = {"host", "port", "ws", "log_level"}
    app = make_app(**{k: v for k, v in vars(args).items() if k not in common})
    serve(app, args)
