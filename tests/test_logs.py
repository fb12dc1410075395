"""server.logs.ServerLog: a crashing handler's log as one line."""

import logging

from fastapi import FastAPI, WebSocket
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from server.logs import ServerLog


def crashing_app() -> FastAPI:
    app = FastAPI()

    @app.websocket("/ws")
    async def crash(websocket: WebSocket):
        await websocket.accept()
        try:
            await websocket.receive_text()
            raise KeyError("text")
        except KeyError:
            raise ValueError("while handling")  # noqa: B904 - the implicit chain is what is tested

    return app


def test_a_handler_crash_becomes_one_line_with_its_exceptions(serve, capsys):
    """uvicorn's traceback is collected as one line: message, then the exception chain."""
    server = serve(crashing_app())
    with ServerLog() as server_log:
        with connect(server.ws_url("/ws")) as websocket:
            websocket.send("boom")
            try:
                websocket.recv(timeout=5)
            except ConnectionClosed:
                pass
        server_log.show()
    out = capsys.readouterr().out
    assert out == "server log: Exception in ASGI application → KeyError: 'text' → ValueError: while handling\n"


def test_suppressed_context_is_left_out(serve, capsys):
    """An exception raised "from None" shows without the one it replaced, as in a traceback."""
    app = FastAPI()

    @app.websocket("/ws")
    async def crash(websocket: WebSocket):
        await websocket.accept()
        try:
            {}["missing"]
        except KeyError:
            raise LookupError("no such thing") from None

    server = serve(app)
    with ServerLog() as server_log:
        with connect(server.ws_url("/ws")) as websocket:
            try:
                websocket.recv(timeout=5)
            except ConnectionClosed:
                pass
        server_log.show()
    assert capsys.readouterr().out == "server log: Exception in ASGI application → LookupError: no such thing\n"


def test_nothing_logged_says_so(capsys):
    """show() with no records prints "(nothing)" after its short wait."""
    with ServerLog() as server_log:
        server_log.show(timeout=0.01)
    assert capsys.readouterr().out == "server log: (nothing)\n"


def test_detach_restores_propagation():
    """After the block the watched loggers propagate as before."""
    logger = logging.getLogger("uvicorn.error")
    before = logger.propagate
    with ServerLog("uvicorn.error"):
        assert logger.propagate is False
    assert logger.propagate is before
    assert all(not isinstance(h, ServerLog) for h in logger.handlers)
