"""The background-server helper: start, stop, restart, failures."""

import socket
import subprocess
import sys
import textwrap
import threading
from contextlib import asynccontextmanager

import pytest
from fastapi import FastAPI, WebSocket
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from server import text
from server.background import BackgroundServer, StartupError, running_servers


def make_echo_app(prefix: str) -> FastAPI:
    app = FastAPI()

    @app.websocket("/ws")
    async def echo(websocket: WebSocket):
        await websocket.accept()
        async for message in websocket.iter_text():
            await websocket.send_text(prefix + message)

    return app


def ask(server: BackgroundServer, message: str = "ping") -> str:
    with connect(server.ws_url("/ws")) as websocket:
        websocket.send(message)
        return websocket.recv(timeout=5)


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        # Like any server: a port whose old connections linger in TIME_WAIT is free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def uvicorn_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("uvicorn ")]


def test_start_reports_the_real_port_and_urls():
    """Port 0 picks a free port; port, url and ws_url report it."""
    with BackgroundServer(make_echo_app(""), name="urls") as server:
        assert server.port > 0
        assert server.url == f"http://127.0.0.1:{server.port}"
        assert server.ws_url("/ws") == f"ws://127.0.0.1:{server.port}/ws"
        assert server.ws_url("ws") == server.ws_url("/ws")
        assert ask(server) == "ping"


def test_port_before_start_is_an_error():
    """Asking for the port of a server never started raises RuntimeError."""
    with pytest.raises(RuntimeError):
        _ = BackgroundServer(make_echo_app("")).port


def test_start_and_stop_twenty_times_in_a_row():
    """Twenty start/stop cycles each answer, free the port and leak no thread."""
    app = make_echo_app("")
    threads_before = len(uvicorn_threads())
    for i in range(20):
        server = BackgroundServer(app, name="cycle").start()
        assert ask(server, str(i)) == str(i)
        port = server.port
        server.stop()
        assert port_is_free(port)
        assert not server.running
    assert len(uvicorn_threads()) == threads_before


def test_two_servers_at_once():
    """Two servers run side by side on different ports, each with its own app."""
    with BackgroundServer(make_echo_app("a:"), name="a") as a, BackgroundServer(make_echo_app("b:"), name="b") as b:
        assert a.port != b.port
        assert ask(a) == "a:ping"
        assert ask(b) == "b:ping"


def test_same_app_twice_needs_two_names():
    """The same app object runs twice at once when each server has its own name."""
    app = make_echo_app("")
    with BackgroundServer(app, name="one") as one, BackgroundServer(app, name="two") as two:
        assert one.running and two.running


def test_changed_app_restarted_on_the_same_port_replaces_the_old_one():
    """Starting a changed app on a port the helper holds stops the old server first."""
    old = BackgroundServer(make_echo_app("old:"), name="old").start()
    port = old.port
    try:
        new = BackgroundServer(make_echo_app("new:"), port=port, name="new").start()
        try:
            assert not old.running
            assert new.port == port
            assert ask(new) == "new:ping"
        finally:
            new.stop()
    finally:
        old.stop()


def test_rerunning_a_notebook_cell_replaces_the_server():
    """Running a cell that defines and starts an app twice leaves only the new server."""
    cell = textwrap.dedent(
        """
        from server.background import BackgroundServer
        app = make_echo_app(PREFIX)
        server = BackgroundServer(app).start()
        """
    )
    namespace = {"__name__": "notebook_cell_test", "PREFIX": "first:", "make_echo_app": make_echo_app}
    exec(cell, namespace)
    first = namespace["server"]
    assert first.name == "notebook_cell_test:app"
    namespace["PREFIX"] = "second:"
    exec(cell, namespace)  # the learner changed the cell and ran it again
    second = namespace["server"]
    try:
        assert not first.running
        assert ask(second) == "second:ping"
        assert [s for s in running_servers() if s.name == "notebook_cell_test:app"] == [second]
    finally:
        second.stop()


def test_rerunning_a_cell_that_builds_the_app_inline_replaces_the_server():
    """BackgroundServer(make_app(...)) run twice from the same line leaves only the new server."""
    cell = compile(
        "server = BackgroundServer(make_echo_app(PREFIX)).start()\n",
        "<notebook cell 7>",
        "exec",
    )
    namespace = {"BackgroundServer": BackgroundServer, "make_echo_app": make_echo_app, "PREFIX": "first:"}
    exec(cell, namespace)
    first = namespace["server"]
    assert first.name == "<<notebook cell 7>:1>"
    namespace["PREFIX"] = "second:"
    exec(cell, namespace)
    second = namespace["server"]
    try:
        assert not first.running
        assert ask(second) == "second:ping"
    finally:
        second.stop()


def test_two_inline_apps_started_on_different_lines_run_side_by_side():
    """Inline apps started from different lines of one cell do not replace each other."""
    cell = compile(
        "a = BackgroundServer(make_echo_app('a:')).start()\nb = BackgroundServer(make_echo_app('b:')).start()\n",
        "<notebook cell 8>",
        "exec",
    )
    namespace = {"BackgroundServer": BackgroundServer, "make_echo_app": make_echo_app}
    exec(cell, namespace)
    a, b = namespace["a"], namespace["b"]
    try:
        assert a.running and b.running
        assert (ask(a), ask(b)) == ("a:ping", "b:ping")
    finally:
        a.stop()
        b.stop()


def test_starting_the_same_server_object_again_restarts_it():
    """start() on a running server stops it and starts it again."""
    server = BackgroundServer(make_echo_app(""), name="again").start()
    try:
        server.start()
        assert ask(server) == "ping"
        assert len([t for t in uvicorn_threads() if t.name == "uvicorn again"]) == 1
    finally:
        server.stop()


def test_module_app_is_named_after_its_module():
    """A lesson module's app is named "server.text:app" by default."""
    assert BackgroundServer(text.app).name == "server.text:app"


def test_stop_is_idempotent_and_frees_the_port():
    """stop() frees the port at once and does nothing the second time."""
    server = BackgroundServer(make_echo_app(""), name="idem").start()
    port = server.port
    server.stop()
    server.stop()
    assert port_is_free(port)


def test_stop_closes_open_connections_with_1012():
    """A client still connected when the server stops sees close code 1012."""
    server = BackgroundServer(make_echo_app(""), name="open").start()
    with connect(server.ws_url("/ws")) as websocket:
        websocket.send("x")
        websocket.recv(timeout=5)
        server.stop()
        with pytest.raises(ConnectionClosed) as closed:
            websocket.recv(timeout=5)
    assert closed.value.rcvd.code == 1012


def test_port_taken_by_another_program_raises_oserror():
    """A port held by something else makes start() raise OSError at once."""
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        with pytest.raises(OSError):
            BackgroundServer(make_echo_app(""), port=port, name="taken").start()
    assert not uvicorn_threads() or all(t.name != "uvicorn taken" for t in uvicorn_threads())


def test_bad_import_string_raises_startup_error():
    """An app import string that does not load raises StartupError with uvicorn's message."""
    with pytest.raises(StartupError, match="could not load the app"):
        BackgroundServer("server.no_such_module:app").start()


def test_failing_lifespan_raises_startup_error():
    """An app whose start-up fails raises StartupError and leaves no thread running."""

    @asynccontextmanager
    async def lifespan(app):
        raise RuntimeError("database unreachable")
        yield

    with pytest.raises(StartupError, match="start-up failed"):
        BackgroundServer(FastAPI(lifespan=lifespan), name="lifespan").start()
    assert all(t.name != "uvicorn lifespan" for t in uvicorn_threads())


def test_import_string_app_starts():
    """An import string such as "server.text:app" starts like an app object."""
    with BackgroundServer("server.text:app") as server:
        with connect(server.ws_url("/ws/chat")) as websocket:
            websocket.send("hi")
            assert websocket.recv(timeout=5).endswith("Server received: hi")


def test_uvicorn_stays_quiet(capfd):
    """Starting and stopping prints nothing (notebook outputs stay stable)."""
    with BackgroundServer(make_echo_app(""), name="quiet") as server:
        ask(server)
    out, err = capfd.readouterr()
    assert out == ""
    assert err == ""


def test_start_works_after_nest_asyncio_apply():
    """After nest_asyncio.apply() a server starts, answers and stops (in a fresh process)."""
    script = textwrap.dedent(
        """
        import asyncio
        import nest_asyncio
        nest_asyncio.apply()
        from websockets.sync.client import connect
        from server.background import BackgroundServer
        from server import text

        async def main():
            # As in a notebook: a loop is running while the server starts.
            server = BackgroundServer(text.app).start()
            with connect(server.ws_url("/ws/chat")) as websocket:
                websocket.send("nested")
                print(websocket.recv(timeout=5).split("] ")[1])
            server.stop()
            server.start()
            server.stop()

        asyncio.run(main())
        asyncio.run(main())  # asyncio.run() inside nested loops is what nest_asyncio allows
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["Server received: nested"] * 2


def test_edited_jupyterlab_cell_replaces_its_inline_server():
    """In a kernel, an edited cell re-run from JupyterLab (same cellId) replaces its inline server."""
    from jupyter_client.manager import start_new_kernel

    manager, client = start_new_kernel(kernel_name="python3")
    try:

        def run_cell(code: str) -> str:
            # Send the request as JupyterLab does, with the cell's id in the metadata.
            content = {"code": code, "silent": False, "store_history": True, "user_expressions": {}, "allow_stdin": False}
            message = client.session.msg("execute_request", content, metadata={"cellId": "cell-42"})
            client.shell_channel.send(message)
            reply = client.get_shell_msg(timeout=30)
            assert reply["content"]["status"] == "ok", reply["content"]

        run_cell("from server.background import BackgroundServer, running_servers\nfrom server import timeout")
        run_cell("server = BackgroundServer(timeout.create_app(idle_timeout=5)).start()")
        run_cell("first = server\n\nserver = BackgroundServer(timeout.create_app(idle_timeout=9)).start()")
        client.execute(
            "assert not first.running, first\n"
            "assert [s.name for s in running_servers()] == ['<cell cell-42, server 1>'], running_servers()\n"
            "assert server.running\n"
            "server.stop()"
        )
        reply = client.get_shell_msg(timeout=30)
        assert reply["content"]["status"] == "ok", reply["content"].get("evalue")
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def start_from_one_line(app) -> BackgroundServer:
    """A helper function: every server it starts comes from the same line of code."""
    return BackgroundServer(app).start()


@pytest.fixture
def all_lessons():
    """Every lesson server at once, each started by the same line of code."""
    from server import binary, json_messages, mixed, timeout

    modules = [text, binary, json_messages, timeout, mixed]
    servers = [start_from_one_line(module.create_app()) for module in modules]
    yield dict(zip([m.__name__ for m in modules], servers))
    for server in servers:
        server.stop()


def test_five_lessons_started_from_one_line_all_keep_running(all_lessons):
    """Different apps started by the same line of a file run side by side, each under its own name."""
    assert all(server.running for server in all_lessons.values())
    assert len({server.name for server in all_lessons.values()}) == 5
    assert len({server.port for server in all_lessons.values()}) == 5
    with connect(all_lessons["server.text"].ws_url("/ws/chat")) as websocket:
        websocket.send("still here")
        assert websocket.recv(timeout=5).endswith("still here")
    with connect(all_lessons["server.mixed"].ws_url("/ws/mixed")) as websocket:
        websocket.send("me too")
        assert websocket.recv(timeout=5) == "text:me too"


def test_the_same_app_started_again_from_a_file_replaces_the_old_server():
    """From a file, starting the very same app object again replaces its running server."""
    app = make_echo_app("same:")
    first = start_from_one_line(app)
    second = start_from_one_line(app)
    try:
        assert not first.running and second.running
        assert second.name == first.name
    finally:
        second.stop()


def test_accepted_connections_send_small_frames_at_once():
    """The listening socket is TCP by name, so asyncio sets TCP_NODELAY on every accepted connection."""
    server = BackgroundServer(make_echo_app(""), name="nodelay")
    sock = server._bind()
    try:
        assert sock.proto == socket.IPPROTO_TCP
    finally:
        sock.close()


def test_wrapped_serves_new_connections_through_the_wrapper_for_the_block():
    """server.wrapped(wrapper) routes connections opened in the block through wrapper(app), then stops."""
    seen = []

    def noting(app):
        async def noted(scope, receive, send):
            seen.append(scope.get("path"))
            await app(scope, receive, send)

        return noted

    with BackgroundServer(make_echo_app(""), name="wrapped") as server:
        with server.wrapped(noting):
            assert ask(server, "inside") == "inside"
        assert ask(server, "after") == "after"
    assert seen == ["/ws"]
