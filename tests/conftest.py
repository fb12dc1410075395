"""Shared fixtures: lesson apps served on real uvicorn servers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from server.background import BackgroundServer

#: uvicorn's WebSocket implementations the course supports.
WS_IMPLEMENTATIONS = ["websockets-sansio", "websockets", "wsproto"]


@pytest.fixture(params=WS_IMPLEMENTATIONS)
def ws_impl(request: pytest.FixtureRequest) -> str:
    """Each of uvicorn's WebSocket implementations in turn."""
    return request.param


@pytest.fixture
def serve() -> Iterator[Callable[..., BackgroundServer]]:
    """Start apps on background uvicorn servers; stop them after the test.

    ``serve(app, **uvicorn_options)`` returns the started server. Each call
    gets a name of its own, so one test can run the same app twice.
    """
    servers: list[BackgroundServer] = []

    def start(app: Any, **options: Any) -> BackgroundServer:
        options.setdefault("name", f"test-{len(servers)}-{id(app):x}")
        server = BackgroundServer(app, **options).start()
        servers.append(server)
        return server

    yield start
    for server in reversed(servers):
        server.stop()
