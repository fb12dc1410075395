"""Lesson 02's server: the file-transfer protocol, spoken frame by frame."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed, ConnectionClosedError
from websockets.sync.client import connect

from server import binary, binary_client
from server.background import BackgroundServer

MiB = 2**20
KiB = 2**10
TIMEOUT = 10
PATH = "/ws/file-transfer"


# -- helpers -------------------------------------------------------------------


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def ws_connect(server: Any, **options: Any) -> Any:
    return connect(server.ws_url(PATH), compression=None, open_timeout=TIMEOUT, **options)


def send(ws: Any, **message: Any) -> None:
    ws.send(json.dumps(message))


def recv(ws: Any) -> dict[str, Any]:
    """The next message, which must be a JSON text frame."""
    message = ws.recv(timeout=TIMEOUT)
    assert isinstance(message, str), f"expected text, got {len(message)} bytes"
    return json.loads(message)


def recv_reply(ws: Any) -> dict[str, Any]:
    """The next message that is not a progress report."""
    while (message := recv(ws))["type"] == "progress":
        pass
    return message


def start_upload(ws: Any, name: str, data: bytes, **fields: Any) -> dict[str, Any]:
    send(ws, **{"type": "upload", "name": name, "size": len(data), "sha256": sha(data), **fields})
    return recv(ws)


def upload_all(ws: Any, name: str, data: bytes, chunk: int = 256 * KiB) -> dict[str, Any]:
    ready = start_upload(ws, name, data)
    assert ready["type"] == "ready", ready
    for start in range(ready["offset"], len(data), chunk):
        ws.send(data[start : start + chunk])
    return recv_reply(ws)


def wait_for_progress(ws: Any, received: int) -> None:
    while (message := recv(ws))["type"] == "progress" and message["received"] < received:
        pass
    assert message == {"type": "progress", "received": received}


def start_upload_when_free(ws: Any, name: str, data: bytes, timeout: float = TIMEOUT) -> dict[str, Any]:
    """Start an upload, asking again while the name is busy.

    After a cut, the server holds the name until it notices the cut; how long
    that takes depends on the machine's load, so wait for it, with a deadline.
    """
    deadline = time.monotonic() + timeout
    while (reply := start_upload(ws, name, data)).get("code") == "busy" and time.monotonic() < deadline:
        pass  # the server waits a moment itself before it answers busy
    return reply


def drop(ws: Any) -> None:
    """Cut the connection without a close frame, as a lost network would."""
    ws.socket.shutdown(socket.SHUT_RDWR)


def assert_usable(ws: Any) -> None:
    """The connection still answers requests."""
    send(ws, type="list")
    assert recv(ws)["type"] == "files"


def assert_serving(server: Any) -> None:
    """A new client is served."""
    with ws_connect(server) as ws:
        assert_usable(ws)


def partials(store: Path) -> list[Path]:
    return [p for p in (store / ".partial").rglob("*") if p.is_file()]


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return tmp_path / "store"


@pytest.fixture
def server(serve: Any, store: Path) -> Any:
    return serve(binary.create_app(storage_dir=store))


@pytest.fixture
def server_impl(serve: Any, store: Path, ws_impl: str) -> Any:
    """The lesson's app on each of uvicorn's WebSocket implementations."""
    return serve(binary.create_app(storage_dir=store), ws=ws_impl)


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackgroundServer]:
    """One server for the many small tests that leave nothing behind."""
    store = tmp_path_factory.mktemp("shared") / "store"
    app = binary.create_app(storage_dir=store)
    with BackgroundServer(app, name=f"shared-{id(app):x}") as server:
        yield server


# -- the article's defects, corrected -------------------------------------------


def test_file_sent_in_three_chunks_keeps_every_chunk(server: Any, store: Path) -> None:
    """A file sent in three chunks arrives whole, not only the last chunk."""
    data = os.urandom(3 * 100 * KiB)
    with ws_connect(server) as ws:
        done = upload_all(ws, "three.bin", data, chunk=100 * KiB)
    assert done == {"type": "done", "name": "three.bin", "size": len(data), "sha256": sha(data)}
    assert (store / "three.bin").read_bytes() == data


def test_two_uploads_at_once_both_arrive_intact(server: Any, store: Path) -> None:
    """Two uploads of different files at once do not overwrite each other."""
    first, second = os.urandom(3 * MiB), os.urandom(3 * MiB)
    with ws_connect(server) as a, ws_connect(server) as b:
        ready_a, ready_b = start_upload(a, "a.bin", first), start_upload(b, "b.bin", second)
        assert ready_a["type"] == ready_b["type"] == "ready"
        for start in range(0, 3 * MiB, MiB):  # interleave the chunks
            a.send(first[start : start + MiB])
            b.send(second[start : start + MiB])
        assert recv_reply(a)["type"] == recv_reply(b)["type"] == "done"
    assert (store / "a.bin").read_bytes() == first
    assert (store / "b.bin").read_bytes() == second


def test_cut_upload_leaves_nothing_under_its_name(server_impl: Any, store: Path) -> None:
    """A connection cut mid-upload leaves no file that looks complete."""
    data = os.urandom(3 * MiB)
    with ws_connect(server_impl) as ws:
        start_upload(ws, "cut.bin", data)
        ws.send(data[:MiB])
        wait_for_progress(ws, MiB)
        drop(ws)
    with ws_connect(server_impl) as ws:
        send(ws, type="list")
        assert recv(ws) == {"type": "files", "files": []}
    assert not (store / "cut.bin").exists()


def test_upload_resumes_from_the_offset_after_a_cut(server_impl: Any, store: Path) -> None:
    """Reconnecting at once after a cut resumes at the bytes the server holds."""
    data = os.urandom(3 * MiB + 1000)
    with ws_connect(server_impl) as ws:
        start_upload(ws, "resume.bin", data)
        ws.send(data[:MiB])
        ws.send(data[MiB : 2 * MiB])
        wait_for_progress(ws, 2 * MiB)
        drop(ws)
    with ws_connect(server_impl) as ws:
        ready = start_upload_when_free(ws, "resume.bin", data)
        assert ready == {"type": "ready", "offset": 2 * MiB, "chunk_size": binary.CHUNK_SIZE}
        ws.send(data[2 * MiB : 3 * MiB])
        ws.send(data[3 * MiB :])
        assert recv_reply(ws)["type"] == "done"
    assert (store / "resume.bin").read_bytes() == data
    assert partials(store) == []


def test_text_frame_during_upload_gets_unexpected_text(server: Any, store: Path) -> None:
    """A text frame mid-upload is answered with an error; the upload goes on."""
    data = os.urandom(200 * KiB)
    with ws_connect(server) as ws:
        start_upload(ws, "text.bin", data)
        ws.send(data[: 100 * KiB])
        ws.send("hello")
        reply = recv(ws)
        assert reply["type"] == "error" and reply["code"] == "unexpected_text"
        send(ws, type="list")
        assert recv(ws)["code"] == "unexpected_text"
        ws.send(data[100 * KiB :])
        assert recv_reply(ws)["type"] == "done"
    assert (store / "text.bin").read_bytes() == data


def test_declared_size_over_the_limit_gets_too_large(serve: Any, store: Path) -> None:
    """An upload declaring more than max_file_size bytes is refused up front."""
    server = serve(binary.create_app(storage_dir=store, max_file_size=1000))
    with ws_connect(server) as ws:
        reply = start_upload(ws, "big.bin", bytes(1001))
        assert reply["type"] == "error" and reply["code"] == "too_large"
        assert_usable(ws)
        assert upload_all(ws, "limit.bin", bytes(1000))["type"] == "done"


def test_more_bytes_than_declared_get_size_mismatch(server: Any, store: Path) -> None:
    """Bytes past the declared size end the upload and drop its partial data."""
    with ws_connect(server) as ws:
        start_upload(ws, "over.bin", bytes(10))
        ws.send(bytes(6))
        ws.send(bytes(6))
        reply = recv(ws)
        assert reply["type"] == "error" and reply["code"] == "size_mismatch"
        assert_usable(ws)
    assert not (store / "over.bin").exists()
    assert partials(store) == []
    assert_serving(server)


def test_other_clients_are_served_while_a_write_is_stalled(
    server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Disk writes run off the event loop: a stalled write blocks no one else."""
    entered, go_on = threading.Event(), threading.Event()
    write_chunk = binary.write_chunk

    def stalled_disk(file: Any, hasher: Any, data: bytes) -> None:
        entered.set()
        go_on.wait(TIMEOUT)
        write_chunk(file, hasher, data)

    monkeypatch.setattr(binary, "write_chunk", stalled_disk)
    data = os.urandom(8 * MiB)
    with ws_connect(server) as uploader:
        start_upload(uploader, "big.bin", data)
        uploader.send(data[:MiB])
        assert entered.wait(TIMEOUT)
        # The first write hangs in the worker; others still get answers.
        with ws_connect(server) as other:
            assert_usable(other)
            reply = start_upload(other, "small.bin", b"small")
            assert reply["type"] == "ready"
            other.send(b"small")
        go_on.set()
        for start in range(MiB, len(data), MiB):
            uploader.send(data[start : start + MiB])
        assert recv_reply(uploader)["type"] == "done"


# -- errors: each one answered, the connection and the server go on ----------------


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[1, 2]",
        '"upload"',
        "{}",
        '{"type": "delete", "name": "a"}',
        '{"type": "cancel"}',
        '{"type": "upload", "name": "a"}',
        '{"type": "upload", "name": "a", "size": -1, "sha256": "' + "0" * 64 + '"}',
        '{"type": "upload", "name": "a", "size": "10", "sha256": "' + "0" * 64 + '"}',
        '{"type": "upload", "name": "a", "size": true, "sha256": "' + "0" * 64 + '"}',
        '{"type": "upload", "name": "a", "size": 1.5, "sha256": "' + "0" * 64 + '"}',
        '{"type": "upload", "name": "a", "size": 1, "sha256": "xyz"}',
        '{"type": "download", "name": "a", "offset": -1}',
    ],
)
def test_text_that_is_no_known_message_gets_invalid_message(shared: Any, text: str) -> None:
    """Text that is not a known JSON control message gets invalid_message."""
    with ws_connect(shared) as ws:
        ws.send(text)
        reply = recv(ws)
        assert reply["type"] == "error" and reply["code"] == "invalid_message"
        assert reply["detail"]
        assert_usable(ws)
    assert_serving(shared)


def test_binary_frame_without_upload_gets_unexpected_binary(server: Any) -> None:
    """A binary frame with no upload under way gets unexpected_binary."""
    with ws_connect(server) as ws:
        ws.send(b"\x00\x01")
        reply = recv(ws)
        assert reply["type"] == "error" and reply["code"] == "unexpected_binary"
        assert_usable(ws)


def test_wrong_checksum_gets_checksum_mismatch_and_drops_the_data(server: Any, store: Path) -> None:
    """Data that does not match its sha256 is rejected and its partial removed."""
    data = os.urandom(MiB + 5)
    with ws_connect(server) as ws:
        ready = start_upload(ws, "bad.bin", data, sha256=sha(b"other"))
        assert ready["type"] == "ready"
        ws.send(data[:MiB])
        ws.send(data[MiB:])
        reply = recv_reply(ws)
        assert reply["type"] == "error" and reply["code"] == "checksum_mismatch"
        assert_usable(ws)
        # Nothing is kept: the same upload starts again from 0.
        assert start_upload(ws, "bad.bin", data, sha256=sha(b"other"))["offset"] == 0
    assert not (store / "bad.bin").exists()
    assert_serving(server)


def test_name_being_uploaded_elsewhere_gets_busy(server: Any, store: Path) -> None:
    """Only one connection at a time may upload a given name."""
    data = os.urandom(2 * MiB)
    with ws_connect(server) as first:
        start_upload(first, "busy.bin", data)
        first.send(data[:MiB])
        wait_for_progress(first, MiB)
        with ws_connect(server) as second:
            reply = start_upload(second, "busy.bin", b"other content")
            assert reply["type"] == "error" and reply["code"] == "busy"
            assert_usable(second)
        first.send(data[MiB:])
        assert recv_reply(first)["type"] == "done"
    assert (store / "busy.bin").read_bytes() == data


def test_download_of_a_missing_file_gets_not_found(server: Any) -> None:
    """Downloading a name that is not stored gets not_found."""
    with ws_connect(server) as ws:
        send(ws, type="download", name="missing.bin")
        reply = recv(ws)
        assert reply["type"] == "error" and reply["code"] == "not_found"
        assert_usable(ws)


def test_download_offset_past_the_end_gets_invalid_message(server: Any) -> None:
    """A download offset past the end of the file gets invalid_message."""
    with ws_connect(server) as ws:
        upload_all(ws, "short.bin", b"12345")
        send(ws, type="download", name="short.bin", offset=6)
        assert recv(ws)["code"] == "invalid_message"
        assert_usable(ws)


def test_error_reply_has_a_stable_code_and_a_detail(server: Any) -> None:
    """An error reply holds exactly type, code and detail."""
    with ws_connect(server) as ws:
        ws.send("{")
        reply = recv(ws)
    assert set(reply) == {"type", "code", "detail"}
    assert isinstance(reply["detail"], str) and reply["detail"]


# -- names ----------------------------------------------------------------------------

UNSAFE_NAMES = [
    "",
    ".",
    "..",
    "../escape.txt",
    "../../etc/passwd",
    "/etc/passwd",
    "/tmp/x",
    "a/b",
    "a\\b",
    "..\\escape.txt",
    "C:\\Windows\\x",
    "C:x",
    "nul\x00byte",
    "\x00",
    "line\nbreak",
    "tab\there",
    "bell\x07",
    "del\x7f",
    "right\u202eleft",
    ".hidden",
    ".partial",
    "trailing.",
    "trailing ",
    "CON",
    "nul.txt",
    "a" * 256,
    "é" * 128,
    'quote"',
    "star*",
    "ask?",
    "pipe|",
    "<angle>",
    "\ud800",
]


@pytest.mark.parametrize("name", UNSAFE_NAMES, ids=repr)
def test_unsafe_name_gets_invalid_name(shared: Any, name: str) -> None:
    """Path tricks and awkward names get invalid_name; nothing lands outside storage."""
    with ws_connect(shared) as ws:
        reply = start_upload(ws, name, b"payload")
        assert reply["type"] == "error" and reply["code"] == "invalid_name", reply
        send(ws, type="download", name=name)
        assert recv(ws)["code"] == "invalid_name"
        assert_usable(ws)
    store = shared.app.state.storage.root
    assert [p.name for p in store.parent.iterdir()] == ["store"]
    assert {p.name for p in store.iterdir()} <= {".partial", *PLAIN_NAMES}
    assert partials(store) == []


@pytest.mark.parametrize("name", [None, 42, ["a"], {"a": 1}])
def test_name_that_is_not_a_string_gets_invalid_name(shared: Any, name: Any) -> None:
    """A name that is not a string gets invalid_name."""
    with ws_connect(shared) as ws:
        send(ws, type="upload", name=name, size=1, sha256=sha(b"x"))
        assert recv(ws)["code"] == "invalid_name"


PLAIN_NAMES = ["a" * 255, "é" * 127, "report 2024.pdf", "ünïcødé.bin", "a..b", "x.tar.gz", "CONTRACT.txt"]


@pytest.mark.parametrize("name", PLAIN_NAMES)
def test_plain_file_name_is_accepted(shared: Any, name: str) -> None:
    """Ordinary names up to 255 bytes of UTF-8 are stored as given."""
    with ws_connect(shared) as ws:
        assert upload_all(ws, name, b"content")["type"] == "done"
    assert (shared.app.state.storage.root / name).read_bytes() == b"content"


# -- frames too big --------------------------------------------------------------------


def test_frame_larger_than_chunk_size_closes_with_1009(serve: Any, store: Path, ws_impl: str) -> None:
    """A binary frame over chunk_size closes the connection with 1009."""
    app = binary.create_app(storage_dir=store, chunk_size=64 * KiB)
    server = serve(app, ws=ws_impl)
    data = os.urandom(200 * KiB)
    with ws_connect(server) as ws:
        assert start_upload(ws, "big.bin", data)["chunk_size"] == 64 * KiB
        ws.send(data[: 64 * KiB])
        ws.send(data[64 * KiB : 128 * KiB + 1])
        with pytest.raises(ConnectionClosedError) as closed:
            recv(ws)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
    assert not (store / "big.bin").exists()
    # The server goes on and keeps what reached the endpoint (uvicorn may drop
    # a frame read together with the big one): a resume from there completes the file.
    # uvicorn's deprecated "websockets" implementation stops reading at the big
    # frame, so it sees this connection end only after its 10 s close timeout.
    with ws_connect(server) as ws:
        ready = start_upload_when_free(ws, "big.bin", data, timeout=3 * TIMEOUT)
        assert ready["offset"] in (0, 64 * KiB)
        for start in range(ready["offset"], len(data), 64 * KiB):
            ws.send(data[start : start + 64 * KiB])
        assert recv_reply(ws)["type"] == "done"
    assert (store / "big.bin").read_bytes() == data


def test_frame_over_a_small_chunk_size_closes_with_1009_from_the_endpoint(serve: Any, store: Path) -> None:
    """Under uvicorn's smallest limit, the endpoint itself closes a frame over chunk_size with 1009."""
    server = serve(binary.create_app(storage_dir=store, chunk_size=KiB))
    data = os.urandom(3 * KiB)
    with ws_connect(server) as ws:
        assert start_upload(ws, "small.bin", data)["chunk_size"] == KiB
        ws.send(data[:KiB])
        ws.send(data[KiB:])  # 2 KiB: over chunk_size, under MIN_MESSAGE_SIZE
        with pytest.raises(ConnectionClosedError) as closed:
            recv(ws)
    assert closed.value.rcvd is not None
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (1009, f"a chunk holds at most {KiB} bytes")
    with ws_connect(server) as ws:
        assert start_upload_when_free(ws, "small.bin", data)["offset"] == KiB


def test_frame_over_uvicorn_max_size_closes_with_1009(server_impl: Any) -> None:
    """uvicorn itself refuses a frame over CHUNK_SIZE with 1009: the app asks it to."""
    data = os.urandom(binary.CHUNK_SIZE + 1)
    with ws_connect(server_impl) as ws:
        start_upload(ws, "big.bin", data)
        ws.send(data)
        with pytest.raises(ConnectionClosedError) as closed:
            recv(ws)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
    assert_serving(server_impl)


def test_chunk_of_exactly_chunk_size_is_accepted(server_impl: Any, store: Path) -> None:
    """A frame of exactly CHUNK_SIZE bytes fits: the limit is inclusive."""
    data = os.urandom(binary.CHUNK_SIZE)
    with ws_connect(server_impl) as ws:
        start_upload(ws, "exact.bin", data)
        ws.send(data)
        assert recv_reply(ws)["type"] == "done"
    assert (store / "exact.bin").read_bytes() == data


# -- cancel, list, progress, download ----------------------------------------------------


def test_cancel_discards_the_partial_upload(server: Any, store: Path) -> None:
    """Cancel mid-upload drops the data received so far and says cancelled."""
    data = os.urandom(2 * MiB)
    with ws_connect(server) as ws:
        start_upload(ws, "cancel.bin", data)
        ws.send(data[:MiB])
        wait_for_progress(ws, MiB)
        send(ws, type="cancel")
        assert recv(ws) == {"type": "cancelled", "name": "cancel.bin"}
        assert partials(store) == []
        assert start_upload(ws, "cancel.bin", data)["offset"] == 0
    assert not (store / "cancel.bin").exists()


def test_list_shows_completed_files_only(server: Any, store: Path) -> None:
    """list gives name, size and sha256 of completed files, sorted by name."""
    with ws_connect(server) as ws:
        upload_all(ws, "b.txt", b"bee")
        upload_all(ws, "a.txt", b"ay")
        start_upload(ws, "unfinished.bin", bytes(2 * MiB))
        ws.send(bytes(MiB))
        wait_for_progress(ws, MiB)
    (store / "folder").mkdir()
    with ws_connect(server) as ws:
        send(ws, type="list")
        assert recv(ws) == {
            "type": "files",
            "files": [
                {"name": "a.txt", "size": 2, "sha256": sha(b"ay")},
                {"name": "b.txt", "size": 3, "sha256": sha(b"bee")},
            ],
        }


def test_list_and_download_do_not_rehash_known_files(
    serve: Any, store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sha256 of a completed file is kept; a restarted server hashes it once."""
    server = serve(binary.create_app(storage_dir=store))
    with ws_connect(server) as ws:
        upload_all(ws, "kept.bin", b"kept")
    calls = []
    file_digest = hashlib.file_digest
    monkeypatch.setattr(binary.hashlib, "file_digest", lambda *a: calls.append(a) or file_digest(*a))
    with ws_connect(server) as ws:
        send(ws, type="list")
        assert recv(ws)["files"][0]["sha256"] == sha(b"kept")
        send(ws, type="download", name="kept.bin")
        assert recv(ws)["sha256"] == sha(b"kept")
    assert calls == []
    restarted = serve(binary.create_app(storage_dir=store))
    with ws_connect(restarted) as ws:
        for _ in range(3):
            send(ws, type="list")
            assert recv(ws)["files"][0]["sha256"] == sha(b"kept")
    assert len(calls) == 1


def test_progress_is_reported_for_every_mib(server: Any) -> None:
    """The server reports the bytes received at least once per MiB."""
    data = os.urandom(3 * MiB)
    with ws_connect(server) as ws:
        start_upload(ws, "progress.bin", data)
        for start in range(0, len(data), 256 * KiB):
            ws.send(data[start : start + 256 * KiB])
        messages = [recv(ws) for _ in range(4)]
    assert messages[:3] == [{"type": "progress", "received": n * MiB} for n in (1, 2, 3)]
    assert messages[3]["type"] == "done"


def test_progress_follows_every_chunk_larger_than_a_mib(serve: Any, store: Path) -> None:
    """With chunks over 1 MiB, the server reports progress after every chunk."""
    app = binary.create_app(storage_dir=store, chunk_size=3 * MiB // 2)
    server = serve(app)  # the app asks uvicorn for messages of up to 1.5 MiB
    data = os.urandom(3 * MiB)
    with ws_connect(server) as ws:
        assert start_upload(ws, "big-chunks.bin", data)["chunk_size"] == 3 * MiB // 2
        ws.send(data[: 3 * MiB // 2])
        ws.send(data[3 * MiB // 2 :])
        messages = [recv(ws) for _ in range(3)]
    assert messages[:2] == [{"type": "progress", "received": n * 3 * MiB // 2} for n in (1, 2)]
    assert messages[2]["type"] == "done"


def test_empty_file_is_done_right_after_ready(server: Any, store: Path) -> None:
    """A zero-byte upload completes without any binary frame."""
    with ws_connect(server) as ws:
        assert start_upload(ws, "empty.txt", b"")["type"] == "ready"
        assert recv(ws)["type"] == "done"
    assert (store / "empty.txt").read_bytes() == b""


def test_download_sends_file_info_chunks_and_done(server: Any) -> None:
    """download answers file, then chunks of at most chunk_size, then done."""
    data = os.urandom(2 * MiB + 17)
    with ws_connect(server) as ws:
        upload_all(ws, "down.bin", data)
        send(ws, type="download", name="down.bin")
        info = recv(ws)
        assert info == {
            "type": "file",
            "name": "down.bin",
            "size": len(data),
            "sha256": sha(data),
            "chunk_size": binary.CHUNK_SIZE,
            "offset": 0,
        }
        chunks = []
        while sum(map(len, chunks)) < len(data):
            chunks.append(ws.recv(timeout=TIMEOUT))
        assert recv(ws) == {"type": "done", "name": "down.bin", "size": len(data), "sha256": sha(data)}
    assert all(len(c) <= binary.CHUNK_SIZE for c in chunks)
    assert b"".join(chunks) == data


def test_download_from_an_offset_sends_the_rest(server: Any) -> None:
    """A download with an offset sends the bytes from there on."""
    data = os.urandom(MiB + 300)
    with ws_connect(server) as ws:
        upload_all(ws, "rest.bin", data)
        send(ws, type="download", name="rest.bin", offset=MiB)
        assert recv(ws)["offset"] == MiB
        assert ws.recv(timeout=TIMEOUT) == data[MiB:]
        assert recv(ws)["type"] == "done"


# -- overwriting ------------------------------------------------------------------------------


def test_existing_file_is_replaced_only_when_the_new_upload_completes(server: Any, store: Path) -> None:
    """While a new version uploads, readers get the old one; then the new one."""
    old, new = os.urandom(MiB // 2), os.urandom(2 * MiB)
    with ws_connect(server) as ws:
        upload_all(ws, "doc.bin", old)
    with ws_connect(server) as uploader, ws_connect(server) as reader:
        start_upload(uploader, "doc.bin", new)
        uploader.send(new[:MiB])
        wait_for_progress(uploader, MiB)
        send(reader, type="download", name="doc.bin")
        assert recv(reader)["sha256"] == sha(old)
        assert reader.recv(timeout=TIMEOUT) == old
        assert recv(reader)["type"] == "done"
        uploader.send(new[MiB:])
        assert recv_reply(uploader)["type"] == "done"
        send(reader, type="download", name="doc.bin")
        assert recv(reader)["sha256"] == sha(new)
    assert (store / "doc.bin").read_bytes() == new


def test_download_under_way_keeps_reading_the_old_file(server: Any) -> None:
    """A file replaced during a download is still sent whole, as it was."""
    old, new = os.urandom(32 * MiB), os.urandom(MiB)
    with ws_connect(server) as ws:
        upload_all(ws, "big.bin", old, chunk=MiB)
    # A small receive buffer keeps the server from sending everything at once.
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * KiB)
    with connect(server.ws_url(PATH), sock=sock, compression=None, max_queue=1) as reader:
        send(reader, type="download", name="big.bin")
        assert recv(reader)["sha256"] == sha(old)
        received = [reader.recv(timeout=TIMEOUT)]
        with ws_connect(server) as uploader:
            assert upload_all(uploader, "big.bin", new)["type"] == "done"
        while sum(map(len, received)) < len(old):
            received.append(reader.recv(timeout=TIMEOUT))
        assert recv(reader)["sha256"] == sha(old)
    assert b"".join(received) == old


# -- idle uploads, cancelled handlers, durability ------------------------------------------


def test_idle_upload_closes_with_1008_and_keeps_the_data(serve: Any, store: Path, ws_impl: str) -> None:
    """An upload that sends nothing for idle_timeout is closed with 1008; it can resume."""
    app = binary.create_app(storage_dir=store, idle_timeout=0.3)
    server = serve(app, ws=ws_impl)
    data = os.urandom(2 * MiB)
    with ws_connect(server) as ws:
        start_upload(ws, "idle.bin", data)
        ws.send(data[:MiB])
        wait_for_progress(ws, MiB)
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=TIMEOUT)  # the client goes quiet
    assert closed.value.rcvd is not None
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (1008, "upload idle for 0.3 s")
    # The name is free at once, and the data received is kept.
    with ws_connect(server) as ws:
        ready = start_upload(ws, "idle.bin", data)
        assert ready == {"type": "ready", "offset": MiB, "chunk_size": binary.CHUNK_SIZE}
        ws.send(data[MiB:])
        assert recv_reply(ws)["type"] == "done"
    assert (store / "idle.bin").read_bytes() == data


def test_cancelled_sink_close_still_closes_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A handler cancelled while its sink closes leaks no thread and no open file."""
    entered, go_on = threading.Event(), threading.Event()
    write_chunk = binary.write_chunk

    def stalled_disk(file: Any, hasher: Any, data: bytes) -> None:
        entered.set()
        go_on.wait(TIMEOUT)
        write_chunk(file, hasher, data)

    monkeypatch.setattr(binary, "write_chunk", stalled_disk)

    async def cancel_during_close() -> binary.Sink:
        sink = binary.Sink(tmp_path / "partial")
        await sink.write(b"first")
        await sink.write(b"second")
        assert await asyncio.to_thread(entered.wait, TIMEOUT)
        closing = asyncio.create_task(sink.close())
        await asyncio.sleep(0)  # close() is now waiting for the stalled write
        closing.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await closing
        return sink

    sink = asyncio.run(cancel_during_close())
    go_on.set()
    for thread in list(sink._worker._threads):
        thread.join(TIMEOUT)
        assert not thread.is_alive()
    assert sink._file.closed
    # The queued write was not cancelled: no hole in the data.
    assert (tmp_path / "partial").read_bytes() == b"firstsecond"


def test_upload_is_fsynced_before_and_after_the_rename(server: Any, disk_calls: list[str]) -> None:
    """The server fsyncs the data, renames it, then fsyncs the folder, before done."""
    with ws_connect(server) as ws:
        assert upload_all(ws, "durable.bin", b"data")["type"] == "done"
    assert disk_calls == ["fsync file", "replace", "fsync folder"]


# -- compression ------------------------------------------------------


def test_no_compression_is_negotiated(server: Any) -> None:
    """Neither the course's client nor a client offering deflate gets compression."""
    with binary_client._connect(server.ws_url(PATH)) as ws:
        assert ws.protocol.extensions == []
    with connect(server.ws_url(PATH)) as ws:  # offers permessage-deflate
        assert ws.protocol.extensions == []
        assert "Sec-WebSocket-Extensions" not in ws.response.headers


def test_module_app_served_alone_negotiates_no_compression() -> None:
    """BackgroundServer(binary.app).start() alone turns deflate off: the app says how to serve it."""
    server = BackgroundServer(binary.app).start()
    try:
        with connect(server.ws_url(PATH)) as ws:  # the default client offers permessage-deflate
            assert "permessage-deflate" in ws.request.headers["Sec-WebSocket-Extensions"]
            assert "Sec-WebSocket-Extensions" not in ws.response.headers
            assert ws.protocol.extensions == []
    finally:
        server.stop()


# -- where the files go ----------------------------------------------------------------------


def run_python(code: str, tmpdir: Path) -> str:
    """Run ``code`` in a new Python with TMPDIR set to ``tmpdir``; return what it printed."""
    env = dict(os.environ, TMPDIR=str(tmpdir))
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_importing_the_modules_creates_and_starts_nothing(tmp_path: Path) -> None:
    """Importing server.binary and server.binary_client makes no folder and starts no thread."""
    code = "import threading, server.binary, server.binary_client; print(threading.active_count())"
    assert run_python(code, tmp_path) == "1"
    assert list(tmp_path.iterdir()) == []


def test_module_app_keeps_files_in_a_temporary_folder_until_its_last_server_stops() -> None:
    """The lesson's app stores files outside the repository, in a folder that goes when its last server stops."""
    first = BackgroundServer(binary.app, name="module-app-1").start()
    second = BackgroundServer(binary.app, name="module-app-2").start()
    try:
        with ws_connect(first) as ws:
            assert upload_all(ws, "kept.bin", b"kept")["type"] == "done"
        root = binary.app.state.storage.root
        assert root.is_relative_to(Path(tempfile.gettempdir()).resolve())
        assert not root.is_relative_to(Path(__file__).resolve().parents[1])
        first.stop()
        with ws_connect(second) as ws:  # one server stopped, the other still has the file
            send(ws, type="list")
            assert [entry["name"] for entry in recv(ws)["files"]] == ["kept.bin"]
    finally:
        first.stop()
        second.stop()
    assert not root.exists()


def test_temporary_folder_still_there_at_exit_is_removed(tmp_path: Path) -> None:
    """A temporary folder made without a server to stop is removed when Python exits."""
    folder = Path(run_python("from server import binary; print(binary.app.state.storage.root)", tmp_path))
    assert folder.parent == tmp_path.resolve()
    assert not folder.exists()


def test_storage_dir_given_is_kept_when_the_server_stops(serve: Any, store: Path) -> None:
    """Files in a storage_dir of your own stay after the server stops."""
    server = serve(binary.create_app(storage_dir=store))
    with ws_connect(server) as ws:
        upload_all(ws, "kept.bin", b"kept")
    server.stop()
    assert (store / "kept.bin").read_bytes() == b"kept"
