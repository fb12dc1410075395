"""Lesson 06: the guard every lesson server stands behind (server/hardening.py)."""

from __future__ import annotations

import argparse
import logging
import socket
import subprocess
import sys
import time

import pytest
from fastapi import FastAPI, WebSocket
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from server import cli, json_messages, mixed, text, timeout
from server.background import BackgroundServer
from server.hardening import LOCAL_ORIGINS, RateLimit, harden, origin_allowed, same_origin, serving_options, token_matches

# -- Origin ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "origin",
    ["http://localhost:8888", "http://127.0.0.1:8000", "http://localhost", "https://localhost:443", "http://[::1]:8888"],
)
def test_local_pages_are_allowed_by_default(origin):
    """Pages on this machine, on any port, may connect by default."""
    assert origin_allowed(origin, LOCAL_ORIGINS)


@pytest.mark.parametrize(
    "origin",
    [
        "http://localhost.evil.example",
        "http://localhost.evil.example:8888",
        "http://127.0.0.1.evil.example",
        "http://localhost@evil.example",
        "http://evil.example/http://localhost",
        "http://evil.example?http://localhost",
        "http://evil.example#http://localhost",
        "http://localhost./",
        "http://localhost:8888/path",
        "null",
        "",
        "localhost",
        "ws://localhost:8888",
        "file://",
        "http://localhost:99999",
    ],
)
def test_look_alike_origins_are_foreign(origin):
    """An origin is matched whole, never by prefix or substring; null is foreign."""
    assert not origin_allowed(origin, LOCAL_ORIGINS)


def test_origin_is_matched_on_scheme_host_and_port():
    """An allowed origin without a wildcard port matches that scheme, host and port only."""
    allowed = ["https://course.example"]
    assert origin_allowed("https://course.example", allowed)
    assert origin_allowed("https://course.example:443", allowed)
    assert origin_allowed("https://COURSE.example", allowed)  # host names are case-insensitive
    assert not origin_allowed("http://course.example", allowed)
    assert not origin_allowed("https://course.example:8443", allowed)
    assert not origin_allowed("https://sub.course.example", allowed)


# -- token -------------------------------------------------------------------------


def scope(query: str = "", authorization: str | None = None) -> dict:
    headers = [(b"host", b"127.0.0.1")]
    if authorization is not None:
        headers.append((b"authorization", authorization.encode()))
    return {"type": "websocket", "query_string": query.encode(), "headers": headers}


@pytest.mark.parametrize(
    ("query", "authorization", "ok"),
    [
        ("token=s3cret", None, True),
        ("", "Bearer s3cret", True),
        ("", "bearer s3cret", True),
        ("", None, False),
        ("token=", None, False),
        ("token=s3cre", None, False),
        ("token=s3cret2", None, False),
        ("token=S3CRET", None, False),
        ("token=s3cret&token=s3cret", None, False),
        ("", "Basic s3cret", False),
        ("", "Bearer ", False),
        ("token=s3cret", "Bearer wrong", False),
    ],
)
def test_token_must_match_exactly(query, authorization, ok):
    """Only the exact token passes, from the query string or a Bearer header; the header wins."""
    assert token_matches(scope(query, authorization), "s3cret") is ok


# -- rate limit --------------------------------------------------------------------


def test_rate_limit_lets_a_burst_through_then_asks_to_wait():
    """A full bucket passes `burst` messages at once, then says how long to wait."""
    limit = RateLimit(rate=10, burst=3, grace=3)
    now = limit.updated
    assert [limit.check(now) for _ in range(3)] == [None, None, None]
    wait = limit.check(now)
    assert wait == pytest.approx(0.1)
    assert limit.check(now + wait) is None  # waited as told: passes


def test_client_that_waits_as_told_is_never_closed():
    """A client that resends after retry_after keeps going for as long as it likes."""
    limit = RateLimit(rate=10, burst=2, grace=1)
    now = limit.updated
    passed = 0
    for _ in range(200):  # 20 simulated seconds
        wait = limit.check(now)
        if wait is None:
            passed += 1
        else:
            assert wait != float("inf")
            now += wait
    assert passed > 100


def test_waiting_exactly_retry_after_always_gets_through():
    """retry_after is rounded up, so a message sent exactly that much later passes."""
    limit = RateLimit(rate=10, burst=1, grace=0.3)
    now = limit.updated
    for _ in range(500):
        wait = limit.check(now)
        if wait is None:
            now += 0.00051  # the next message, at once
            continue
        assert wait >= 0.001 and wait == round(wait, 3)  # whole milliseconds, as the reply says it
        now += wait
        assert limit.check(now) is None
        now += 0.00051


def test_client_that_ignores_retry_after_is_closed_after_grace():
    """Sending on before retry_after, for `grace` seconds, asks for the connection to close."""
    limit = RateLimit(rate=10, burst=2, grace=1)
    now = limit.updated
    verdicts = []
    for step in range(3000):  # a message every millisecond, for up to 3 simulated seconds
        verdicts.append(limit.check(now + step / 1000))
        if verdicts[-1] == float("inf"):
            break
    assert verdicts[-1] == float("inf")
    assert 0.9 <= step / 1000 <= 1.1


# -- against real servers ------------------------------------------------------------


def test_rate_limited_reply_says_when_to_retry(serve):
    """Over the limit, a message gets a rate_limited error with retry_after; waiting helps."""
    server = serve(json_messages.create_app(rate_limit=5, burst=2))
    message = '{"user": "ada", "content": "hi", "timestamp": 1.0}'
    with connect(server.ws_url("/ws/json-demo")) as websocket:
        for _ in range(3):
            websocket.send(message)
        replies = [websocket.recv(timeout=5) for _ in range(3)]
        assert '"status":"PROCESSED"' in replies[0] and '"status":"PROCESSED"' in replies[1]
        assert '"code":"rate_limited"' in replies[2] and '"retry_after":' in replies[2]
        time.sleep(0.3)
        websocket.send(message)
        assert '"status":"PROCESSED"' in websocket.recv(timeout=5)


def test_a_client_over_the_connection_limit_gets_503_until_one_leaves(serve, ws_impl):
    """The connection past max_connections is refused with HTTP 503; once one leaves, the next gets in."""
    server = serve(text.create_app(max_connections=2), ws=ws_impl)
    url = server.ws_url("/ws/chat")
    with connect(url) as first, connect(url):
        with pytest.raises(InvalidStatus) as refused:
            connect(url).close()
        assert refused.value.response.status_code == 503
        assert refused.value.response.headers["Retry-After"] == "1"
        first.close()
        for _ in range(50):  # the server notices the close a moment later
            try:
                with connect(url) as again:
                    again.send("in")
                    assert again.recv(timeout=5).endswith("in")
                break
            except InvalidStatus:
                time.sleep(0.05)
        else:
            pytest.fail("the freed slot was never given to a new client")


@pytest.mark.parametrize(("given", "status"), [(None, 401), ("", 401), ("s3cre", 401), ("wrong", 401)])
def test_a_server_with_a_token_refuses_handshakes_without_it(serve, ws_impl, given, status):
    """A missing, empty, truncated or wrong token is refused at the handshake with HTTP 401."""
    server = serve(text.create_app(token="s3cret"), ws=ws_impl)
    url = server.ws_url("/ws/chat") + ("" if given is None else f"?token={given}")
    with pytest.raises(InvalidStatus) as refused:
        connect(url).close()
    assert refused.value.response.status_code == status
    assert refused.value.response.headers["WWW-Authenticate"] == "Bearer"


def test_the_right_token_gets_in_by_query_or_header(serve):
    """The token is accepted as ?token= and as an Authorization: Bearer header."""
    server = serve(text.create_app(token="s3cret"))
    with connect(server.ws_url("/ws/chat") + "?token=s3cret") as websocket:
        websocket.send("by query")
        assert websocket.recv(timeout=5).endswith("by query")
    headers = {"Authorization": "Bearer s3cret"}
    with connect(server.ws_url("/ws/chat"), additional_headers=headers) as websocket:
        websocket.send("by header")
        assert websocket.recv(timeout=5).endswith("by header")


def test_a_foreign_origin_is_refused_with_403_and_a_local_one_served(serve, ws_impl):
    """A browser page from elsewhere gets HTTP 403; a local page and a plain program get in."""
    server = serve(text.create_app(), ws=ws_impl)
    url = server.ws_url("/ws/chat")
    with pytest.raises(InvalidStatus) as refused:
        connect(url, origin="http://localhost.evil.example").close()
    assert refused.value.response.status_code == 403
    for origin in ("http://localhost:8888", None):
        with connect(url, origin=origin) as websocket:
            websocket.send("ok")
            assert websocket.recv(timeout=5).endswith("ok")


def test_two_origin_headers_are_refused(serve, ws_impl):
    """A handshake with two Origin headers is ambiguous and refused (400 from websockets-sansio itself, else 403)."""
    server = serve(text.create_app(), ws=ws_impl)
    headers = [("Origin", "http://localhost:8888"), ("Origin", "http://evil.example")]
    with pytest.raises(InvalidStatus) as refused:
        connect(server.ws_url("/ws/chat"), additional_headers=headers).close()
    assert refused.value.response.status_code == (400 if ws_impl == "websockets-sansio" else 403)


def test_refusals_log_no_error(serve, caplog):
    """Refused handshakes are logged at info level only (no uvicorn error line)."""
    caplog.set_level(logging.INFO)
    server = serve(text.create_app(token="s3cret", max_connections=1))
    for url in (server.ws_url("/ws/chat"), server.ws_url("/ws/chat?token=no")):
        with pytest.raises(InvalidStatus):
            connect(url).close()
    server.stop()
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def crashing_app(**limits) -> FastAPI:
    app = FastAPI()

    @app.websocket("/ws/crash")
    async def crash(websocket: WebSocket):
        await websocket.accept()
        await websocket.receive_text()
        raise ValueError("a bug in the handler")

    @app.websocket("/ws/crash-before-accept")
    async def crash_early(websocket: WebSocket):
        raise ValueError("a bug before accept")

    @app.websocket("/ws/forget-to-close")
    async def forget(websocket: WebSocket):
        await websocket.accept()
        await websocket.send_text(await websocket.receive_text())

    @app.websocket("/ws/close-with")
    async def close_with(websocket: WebSocket):
        await websocket.accept()
        code, _, reason = (await websocket.receive_text()).partition(" ")
        await websocket.close(int(code), reason)

    return harden(app, **limits)


def test_a_crashing_handler_closes_with_1011_and_logs_once(serve, ws_impl, caplog):
    """An exception in a handler closes with 1011 "internal error", logged once with its traceback."""
    server = serve(crashing_app(), ws=ws_impl)
    with connect(server.ws_url("/ws/crash")) as websocket:
        websocket.send("boom")
        with pytest.raises(ConnectionClosed) as closed:
            websocket.recv(timeout=5)
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (1011, "internal error")
    server.stop()
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert errors[0].name == "server.hardening" and errors[0].exc_info[0] is ValueError


def test_a_handler_crashing_before_accept_gets_http_500(serve, ws_impl):
    """A handler that fails before accept() refuses the handshake with HTTP 500, not 403."""
    server = serve(crashing_app(), ws=ws_impl)
    with pytest.raises(InvalidStatus) as refused:
        connect(server.ws_url("/ws/crash-before-accept")).close()
    assert refused.value.response.status_code == 500


def test_a_handler_that_returns_without_closing_sends_1000(serve, ws_impl):
    """A handler that just returns still gives the client a normal close, not a dropped connection."""
    server = serve(crashing_app(), ws=ws_impl)
    with connect(server.ws_url("/ws/forget-to-close")) as websocket:
        websocket.send("echo")
        assert websocket.recv(timeout=5) == "echo"
        with pytest.raises(ConnectionClosed) as closed:
            websocket.recv(timeout=5)
    assert closed.value.rcvd.code == 1000


@pytest.mark.parametrize(("code", "sent"), [(1005, 1011), (1006, 1011), (1015, 1011), (2999, 1011), (4001, 4001)])
def test_reserved_close_codes_are_never_sent(serve, ws_impl, code, sent):
    """A close code reserved for reporting (1005, 1006, 1015) or unassigned goes out as 1011."""
    server = serve(crashing_app(), ws=ws_impl)
    with connect(server.ws_url("/ws/close-with")) as websocket:
        websocket.send(f"{code} why")
        with pytest.raises(ConnectionClosed) as closed:
            websocket.recv(timeout=5)
    assert closed.value.rcvd.code == sent


def test_a_long_close_reason_is_cut_to_fit_the_frame(serve):
    """A close reason over 123 bytes is cut, on a character boundary, instead of failing."""
    server = serve(crashing_app())
    with connect(server.ws_url("/ws/close-with")) as websocket:
        websocket.send("1008 " + "é" * 100)
        with pytest.raises(ConnectionClosed) as closed:
            websocket.recv(timeout=5)
    assert closed.value.rcvd.code == 1008
    assert closed.value.rcvd.reason == "é" * 61


# -- how an app is served ------------------------------------------------------------


@pytest.mark.parametrize(
    ("module", "size"),
    [(text, 64 * 1024), (json_messages, 64 * 1024), (timeout, 64 * 1024), (mixed, 2**20)],
)
def test_each_lesson_says_how_it_must_be_served(module, size):
    """A lesson app carries its message size cap and Ping/Pong settings; BackgroundServer applies them."""
    server = BackgroundServer(module.create_app(), name=f"settings {module.__name__}")
    assert server.uvicorn_options["ws_max_size"] == size
    assert server.uvicorn_options["ws_ping_interval"] == 20
    assert server.uvicorn_options["ws_ping_timeout"] == 20


def test_explicit_options_win_over_the_apps_own():
    """Options passed to BackgroundServer override what the app asks for."""
    server = BackgroundServer(text.create_app(), name="explicit", ws_max_size=10)
    assert server.uvicorn_options["ws_max_size"] == 10


def test_wsproto_serves_without_compression_unless_asked():
    """On wsproto, which inflates without a cap, compression is off unless asked for explicitly."""
    app = text.create_app()
    assert serving_options(app, ws="wsproto")["ws_per_message_deflate"] is False
    assert serving_options(app, ws="wsproto", ws_per_message_deflate=True)["ws_per_message_deflate"] is True
    assert "ws_per_message_deflate" not in serving_options(app, ws="websockets-sansio")


def test_a_limit_given_to_create_app_reaches_the_guard(serve):
    """create_app's keywords set the limits; app.state.limits shows them."""
    app = text.create_app(max_message_size=10, rate_limit=None)
    assert app.state.limits.max_message_size == 10 and app.state.limits.rate_limit is None
    server = serve(app)
    with connect(server.ws_url("/ws/chat")) as websocket:
        websocket.send("x" * 11)
        with pytest.raises(ConnectionClosed) as closed:
            websocket.recv(timeout=5)
    assert closed.value.rcvd.code == 1009


# -- the command line ------------------------------------------------------------------


def args(*argv: str) -> argparse.Namespace:
    return cli.parser(None).parse_args(list(argv))


def test_loopback_needs_no_token():
    """On 127.0.0.1 (the default) no token is made up."""
    assert "token" not in cli.limits_from(args())


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "::"])
def test_a_server_others_can_reach_gets_a_generated_token(host):
    """Bound beyond loopback without --token, a server requires a fresh random token."""
    first, second = cli.limits_from(args("--host", host)), cli.limits_from(args("--host", host))
    assert len(first["token"]) >= 20 and first["token"] != second["token"]


def test_join_url_carries_the_token():
    """The printed join URL has the endpoint's path and the token."""
    given = args("--host", "192.168.1.20", "--port", "8123", "--token", "s3cret")
    assert cli.join_urls(text.create_app(), given) == ["ws://192.168.1.20:8123/ws/chat?token=s3cret"]


def test_join_url_on_every_address_names_this_machine(monkeypatch):
    """Bound to 0.0.0.0, the join URL shows an address others can type, or says to put one there."""
    given = args("--host", "0.0.0.0", "--port", "8123", "--token", "t")
    monkeypatch.setattr(cli.socket, "gethostbyname", lambda name: "192.168.1.20")
    assert cli.join_urls(text.create_app(), given) == ["ws://192.168.1.20:8123/ws/chat?token=t"]

    def unresolvable(name):
        raise OSError("no such name")

    monkeypatch.setattr(cli.socket, "gethostbyname", unresolvable)
    assert cli.join_urls(text.create_app(), given) == ["ws://<this machine's address>:8123/ws/chat?token=t"]


def test_command_line_limits_and_token_reach_the_server():
    """python -m server.text --token T --max-message-size N serves with both."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "server.text", "--port", str(port), "--log-level", "warning"]
    process = subprocess.Popen([*command, "--token", "s3cret", "--max-message-size", "100"], stderr=subprocess.PIPE, text=True)
    try:
        url = f"ws://127.0.0.1:{port}/ws/chat"
        for _ in range(200):  # until it listens (the first import takes a moment)
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert process.poll() is None, process.stderr.read()
                time.sleep(0.05)
        with pytest.raises(InvalidStatus) as refused:
            connect(url).close()
        assert refused.value.response.status_code == 401
        with connect(url + "?token=s3cret") as websocket:
            websocket.send("x" * 100)
            assert websocket.recv(timeout=5).endswith("x" * 100)
            websocket.send("x" * 101)
            with pytest.raises(ConnectionClosed) as closed:
                websocket.recv(timeout=5)
        assert closed.value.rcvd.code == 1009
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=30)
    assert f"join: ws://127.0.0.1:{port}/ws/chat?token=s3cret" in stderr


def test_help_lists_the_limits():
    """--help names every limit option."""
    shown = subprocess.run([sys.executable, "-m", "server.text", "--help"], capture_output=True, text=True).stdout
    for option in ("--max-message-size", "--max-connections", "--rate-limit", "--ping-interval", "--token"):
        assert option in shown


# -- same origin ---------------------------------------------------------------------


def handshake(host: str | None, scheme: str = "ws") -> dict:
    """The parts of a WebSocket handshake scope that same_origin reads."""
    return {"type": "websocket", "scheme": scheme, "headers": [(b"host", host.encode())] if host is not None else []}


@pytest.mark.parametrize(
    ("origin", "host", "scheme"),
    [
        ("http://192.168.1.20:8000", "192.168.1.20:8000", "ws"),
        ("http://course.example", "course.example", "ws"),
        ("http://course.example:80", "COURSE.example", "ws"),
        ("https://course.example", "course.example:443", "wss"),
        ("http://[::1]:8000", "[::1]:8000", "ws"),
    ],
)
def test_a_page_from_the_host_the_handshake_names_is_same_origin(origin, host, scheme):
    """Same origin: the Host header's host and port, http for ws and https for wss, default ports filled in."""
    assert same_origin(handshake(host, scheme), origin)


@pytest.mark.parametrize(
    ("origin", "host", "scheme"),
    [
        ("http://evil.example", "192.168.1.20:8000", "ws"),
        ("http://192.168.1.20:8001", "192.168.1.20:8000", "ws"),
        ("https://192.168.1.20:8000", "192.168.1.20:8000", "ws"),
        ("http://course.example", "course.example", "wss"),
        ("http://course.example.evil.example", "course.example", "ws"),
        ("http://evil.example", "evil.example@course.example", "ws"),
        ("null", "course.example", "ws"),
        ("http://course.example", None, "ws"),
        ("http://course.example/", "course.example/", "ws"),
    ],
)
def test_anything_else_is_not_same_origin(origin, host, scheme):
    """Another host, port or scheme, a look-alike, null, or no usable Host header is not same origin."""
    assert not same_origin(handshake(host, scheme), origin)


def connect_as(server: BackgroundServer, host: str, origin: str):
    """Connect to ``server`` with the given Host (the URL's) and Origin headers, as a browser on that page would."""
    sock = socket.create_connection(("127.0.0.1", server.port))
    return connect(f"ws://{host}/ws/chat", sock=sock, origin=origin, proxy=None)


def test_allow_same_origin_admits_the_servers_own_page_and_still_refuses_foreign_ones(serve, ws_impl):
    """With allow_same_origin, this server's own page gets in by any address; a foreign page gets 403."""
    # Here the client forges Host and Origin alike, so the pair is "same origin" by
    # construction. That is fine: only a program can send such a pair, and a program
    # may leave Origin out altogether. A browser sets both headers itself, so a
    # foreign page always sends its own origin next to this server's host.
    server = serve(text.create_app(allow_same_origin=True), ws=ws_impl)
    address = f"chat.example:{server.port}"
    with connect_as(server, address, f"http://{address}") as websocket:
        websocket.send("same origin")
        assert websocket.recv(timeout=5).endswith("same origin")
    for origin in ("http://evil.example", f"http://chat.example:{server.port + 1}", f"https://{address}", "null"):
        with pytest.raises(InvalidStatus) as refused:
            connect_as(server, address, origin).close()
        assert refused.value.response.status_code == 403, origin
    with connect(server.ws_url("/ws/chat"), origin="http://localhost:8888") as websocket:  # the local pages still
        websocket.send("local")
        assert websocket.recv(timeout=5).endswith("local")


def test_without_allow_same_origin_a_page_on_another_address_is_refused(serve):
    """By default the guard does not look at Host: a page on a LAN address needs --allow-origin."""
    server = serve(text.create_app())
    assert server.app.state.limits.allow_same_origin is False
    address = f"chat.example:{server.port}"
    with pytest.raises(InvalidStatus) as refused:
        connect_as(server, address, f"http://{address}").close()
    assert refused.value.response.status_code == 403
