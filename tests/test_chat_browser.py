"""Capstone: the chat room's page (server/static/chat.html) end to end, in headless Chromium driven by Playwright.

The browser is the system's: Debian's ``chromium`` package (``.ci/run``
installs it), else a Chromium or Chrome found on PATH. Where none is, or
Playwright is missing, these tests skip, saying why, except under CI
(``CI`` set), where that is a failure.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from conftest import BROWSER_HOST, BROWSER_WAIT_MS
from websockets.sync.client import connect

from server import chat, cli
from server.background import BackgroundServer

HOST, WAIT_MS = BROWSER_HOST, BROWSER_WAIT_MS
TIMEOUT = 5


@pytest.fixture
def page(new_page: Callable[..., Any]) -> Any:
    return new_page()


@pytest.fixture
def other_page(new_page: Callable[..., Any]) -> Any:
    return new_page()


def printed_url(server: BackgroundServer, token: str) -> str:
    """The page URL ``python -m server.chat`` prints, as a student reaching the server by the name HOST would use it."""
    args = cli.parser(None).parse_args(["--host", HOST, "--port", str(server.port), "--token", token])
    return cli.page_url(server.app, args)


def join_in(page: Any, url: str, name: str) -> None:
    from playwright.sync_api import expect

    page.goto(url)
    page.get_by_test_id("name").fill(name)
    page.get_by_test_id("join").click()
    expect(page.get_by_test_id("text")).to_be_enabled()


def say_in(page: Any, text: str) -> None:
    page.get_by_test_id("text").fill(text)
    page.get_by_test_id("send").click()


def shown(page: Any, count: int) -> list[tuple[int, str]]:
    """The page's message list once it holds ``count`` messages: (id, "<from><text>") each."""
    from playwright.sync_api import expect

    items = page.get_by_test_id("messages").locator("li.message")
    expect(items).to_have_count(count)
    return [(int(i), text) for i, text in items.evaluate_all("items => items.map(i => [i.dataset.id, i.textContent])")]


def test_two_pages_and_a_program_see_every_message_in_one_order(serve, page, other_page):
    """Two browser pages and a Python client talk; all three see all messages, in the same order."""
    server = serve(chat.create_app(token="s3cret"))
    url = printed_url(server, "s3cret")
    assert url == f"http://{HOST}:{server.port}/?token=s3cret"
    join_in(page, url, "ada")
    join_in(other_page, url, "bob")
    with connect(server.ws_url("/ws/room?token=s3cret"), max_queue=None, proxy=None) as program:
        program.send(json.dumps({"type": "join", "name": "py"}))
        assert json.loads(program.recv(timeout=TIMEOUT))["members"] == ["ada", "bob", "py"]
        for round in range(3):
            say_in(page, f"ada {round}")
            say_in(other_page, f"bob {round}")
            program.send(json.dumps({"type": "say", "text": f"py {round}"}))
        heard: list[tuple[int, str]] = []
        while len(heard) < 9:
            event = json.loads(program.recv(timeout=TIMEOUT))
            if event["type"] == "message":
                heard.append((event["id"], event["from"] + event["text"]))
    assert [event_id for event_id, _ in heard] == list(range(1, 10))
    for sender in ("ada", "bob", "py"):
        assert [text for _, text in heard if text.startswith(sender)] == [f"{sender}{sender} {n}" for n in range(3)]
    assert shown(page, 9) == heard
    assert shown(other_page, 9) == heard


def test_the_page_shows_markup_as_text(serve, page):
    """A message with HTML in it is shown as the characters sent; no element is made from it."""
    server = serve(chat.create_app())
    join_in(page, f"http://{HOST}:{server.port}/", "ada")
    markup = '<img src="x" onerror="document.title=\'hacked\'"><b>bold</b>'
    say_in(page, markup)
    assert shown(page, 1) == [(1, "ada" + markup)]
    messages = page.get_by_test_id("messages")
    assert messages.locator("img, b").count() == 0
    assert page.title() == "Chat room"


def test_a_page_without_the_token_is_refused(serve, page):
    """Without ?token= the page's WebSocket is refused at the handshake and the page says it is disconnected."""
    from playwright.sync_api import expect

    server = serve(chat.create_app(token="s3cret"))
    page.goto(f"http://{HOST}:{server.port}/")
    page.get_by_test_id("name").fill("ada")
    page.get_by_test_id("join").click()
    expect(page.get_by_test_id("status")).to_contain_text("Disconnected")
    expect(page.get_by_test_id("text")).to_be_disabled()


#: Open a WebSocket from the page; "open", or "closed <code>" if it never opened.
TRY_SOCKET = """url => new Promise(done => {
    const socket = new WebSocket(url);
    socket.onopen = () => { socket.close(); done("open"); };
    socket.onclose = event => done("closed " + event.code);
})"""


def test_a_page_from_another_server_cannot_connect(serve, page):
    """A page served elsewhere (another port) is a foreign origin: its WebSocket to the room is refused."""
    room = serve(chat.create_app())
    elsewhere = serve(chat.create_app())
    room_url = f"ws://{HOST}:{room.port}/ws/room"
    page.goto(f"http://{HOST}:{elsewhere.port}/")
    assert page.evaluate(TRY_SOCKET, room_url) == "closed 1006"  # what a browser reports for a refused handshake
    page.goto(f"http://{HOST}:{room.port}/")
    assert page.evaluate(TRY_SOCKET, room_url) == "open"
