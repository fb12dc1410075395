"""Lesson 02's client functions and command line, against the real server."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.sync.client import connect

from server import binary, binary_client
from server.hardening import serving_options

MiB = 2**20
PATH = "/ws/file-transfer"


def recording(app: Any, log: list[dict[str, Any]]) -> Any:
    """Wrap an ASGI app to note every JSON text frame it receives."""

    async def asgi(scope: Any, receive: Any, send: Any) -> None:
        async def receive_and_note() -> Any:
            message = await receive()
            if message.get("text") is not None:
                log.append(json.loads(message["text"]))
            return message

        await app(scope, receive_and_note, send)

    asgi.uvicorn_options = app.uvicorn_options  # served as the app it wraps would be
    return asgi


class CuttingProxy:
    """A TCP proxy that cuts its first connection after ``limit`` bytes.

    The cut is what a lost network looks like: the receiving side gets the
    bytes sent so far and then the end of the stream, the sending side sees
    its connection end; neither gets a close frame. ``forwarded`` counts
    the bytes forwarded upstream (client to server) or downstream, per
    connection.
    """

    def __init__(self, port: int, limit: int, *, upstream: bool) -> None:
        self.target, self.limit, self.upstream = port, limit, upstream
        self.forwarded: list[int] = []
        self.sockets: list[socket.socket] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"ws://127.0.0.1:{self.listener.getsockname()[1]}{PATH}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.target))
            self.sockets += [client, server]
            index = len(self.forwarded)
            self.forwarded.append(0)
            watched = (client, server) if self.upstream else (server, client)
            for src, dst in ((client, server), (server, client)):
                counted = (src, dst) == watched
                limit = self.limit if counted and index == 0 else None
                args = (src, dst, index if counted else None, limit)
                threading.Thread(target=self._pump, args=args, daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, index: int | None, limit: int | None) -> None:
        forward = True
        while True:
            try:
                data = src.recv(65536)
            except OSError:
                break
            if not data:
                break
            if index is not None:
                if limit is not None and self.forwarded[index] + len(data) >= limit:
                    with contextlib.suppress(OSError):
                        dst.sendall(data[: limit - self.forwarded[index]])
                    self.forwarded[index] = limit
                    with contextlib.suppress(OSError):
                        dst.shutdown(socket.SHUT_WR)  # the receiver reads it all, then the end
                        src.shutdown(socket.SHUT_RDWR)  # the sender's connection ends
                    return
                self.forwarded[index] += len(data)
            if forward:
                try:
                    dst.sendall(data)
                except OSError:  # that side is cut: go on reading, so no reset is sent back
                    forward = False
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        self.listener.close()
        for sock in self.sockets:
            sock.close()


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return tmp_path / "store"


@pytest.fixture
def log() -> list[dict[str, Any]]:
    return []


@pytest.fixture
def server(serve: Any, store: Path, log: list[dict[str, Any]]) -> Any:
    app = recording(binary.create_app(storage_dir=store), log)
    return serve(app)


@pytest.fixture
def url(server: Any) -> str:
    return server.ws_url(PATH)


@pytest.fixture
def proxies() -> Iterator[list[CuttingProxy]]:
    made: list[CuttingProxy] = []
    yield made
    for proxy in made:
        proxy.close()


def make_file(path: Path, size: int) -> bytes:
    data = os.urandom(size)
    path.write_bytes(data)
    return data


def requests(log: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [message for message in log if message.get("type") == kind]


def wait_until(condition: Any, what: str) -> None:
    """Poll ``condition()`` until it holds, with a deadline."""
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.01)


@contextlib.contextmanager
def hold_name(url: str, name: str) -> Iterator[Any]:
    """A live connection that has started uploading ``name`` and then says nothing."""
    with connect(url, compression=None) as ws:
        ws.send(json.dumps({"type": "upload", "name": name, "size": 10, "sha256": "0" * 64}))
        assert json.loads(ws.recv(timeout=10))["type"] == "ready"
        yield ws


# -- upload and download -------------------------------------------------------------


def test_upload_returns_done_and_stores_the_file(url: str, store: Path, tmp_path: Path) -> None:
    """upload() sends a file and returns the server's done message."""
    data = make_file(tmp_path / "photo.jpg", 3 * MiB + 7)
    done = binary_client.upload(url, tmp_path / "photo.jpg", progress=False)
    assert done == {
        "type": "done",
        "name": "photo.jpg",
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    assert (store / "photo.jpg").read_bytes() == data


def test_upload_under_another_name(url: str, store: Path, tmp_path: Path) -> None:
    """upload(name=...) stores the file under that name."""
    data = make_file(tmp_path / "local.txt", 10)
    assert binary_client.upload(url, tmp_path / "local.txt", name="remote.txt", progress=False)["name"] == "remote.txt"
    assert (store / "remote.txt").read_bytes() == data


def test_download_writes_the_file_atomically(url: str, tmp_path: Path) -> None:
    """download() saves the verified file and leaves no partial behind."""
    data = make_file(tmp_path / "a.bin", 2 * MiB + 3)
    binary_client.upload(url, tmp_path / "a.bin", progress=False)
    dest = binary_client.download(url, "a.bin", tmp_path / "copy.bin", progress=False)
    assert dest == tmp_path / "copy.bin"
    assert dest.read_bytes() == data
    assert not (tmp_path / "copy.bin.partial").exists()


def test_download_into_a_folder_uses_the_name(url: str, tmp_path: Path) -> None:
    """download() into a folder saves the file under its name there."""
    make_file(tmp_path / "a.bin", 100)
    binary_client.upload(url, tmp_path / "a.bin", progress=False)
    (tmp_path / "downloads").mkdir()
    dest = binary_client.download(url, "a.bin", tmp_path / "downloads", progress=False)
    assert dest == tmp_path / "downloads" / "a.bin"


def test_download_resumes_from_a_partial_file(url: str, tmp_path: Path, log: list[dict[str, Any]]) -> None:
    """download() asks only for the bytes its partial file lacks."""
    data = make_file(tmp_path / "a.bin", 3 * MiB)
    binary_client.upload(url, tmp_path / "a.bin", progress=False)
    (tmp_path / "copy.bin.partial").write_bytes(data[:MiB])
    dest = binary_client.download(url, "a.bin", tmp_path / "copy.bin", progress=False)
    assert dest.read_bytes() == data
    assert [r["offset"] for r in requests(log, "download")] == [MiB]


@pytest.mark.parametrize("stale", [b"x" * 1000, b"x" * (5 * MiB)], ids=["other-data", "too-long"])
def test_download_starts_over_when_the_partial_holds_other_data(
    url: str, tmp_path: Path, log: list[dict[str, Any]], stale: bytes
) -> None:
    """A partial file that does not belong to the file is dropped; the download starts over."""
    data = make_file(tmp_path / "a.bin", MiB)
    binary_client.upload(url, tmp_path / "a.bin", progress=False)
    (tmp_path / "copy.bin.partial").write_bytes(stale)
    assert binary_client.download(url, "a.bin", tmp_path / "copy.bin", progress=False).read_bytes() == data
    assert [r["offset"] for r in requests(log, "download")] == [len(stale), 0]


def test_list_files_gives_the_stored_files(url: str, tmp_path: Path) -> None:
    """list_files() returns name, size and sha256 of each stored file."""
    data = make_file(tmp_path / "a.bin", 5)
    binary_client.upload(url, tmp_path / "a.bin", progress=False)
    assert binary_client.list_files(url) == [{"name": "a.bin", "size": 5, "sha256": hashlib.sha256(data).hexdigest()}]


# -- resuming after a dropped connection -----------------------------------------------


def test_upload_resumes_after_a_dropped_connection(
    server: Any, store: Path, tmp_path: Path, log: list[dict[str, Any]], proxies: list[CuttingProxy]
) -> None:
    """upload() reconnects after a cut and sends only what the server lacks."""
    data = make_file(tmp_path / "a.bin", 4 * MiB)
    proxy = CuttingProxy(server.port, 2 * MiB + MiB // 2, upstream=True)
    proxies.append(proxy)
    done = binary_client.upload(proxy.url, tmp_path / "a.bin", progress=False)
    assert done["sha256"] == hashlib.sha256(data).hexdigest()
    assert (store / "a.bin").read_bytes() == data
    # A reconnection may first get busy, until the server notices the cut; it
    # then resumes: all the later connections together carry less than the rest.
    assert len(requests(log, "upload")) >= 2 and len(proxy.forwarded) >= 2
    assert sum(proxy.forwarded[1:]) < len(data) - MiB


def test_upload_asks_again_while_the_name_is_busy(
    url: str, store: Path, tmp_path: Path, log: list[dict[str, Any]]
) -> None:
    """upload() retries busy for a while, so a name freed meanwhile is uploaded."""
    data = make_file(tmp_path / "a.bin", 1000)
    result: list[Any] = []

    def run_upload() -> None:
        result.append(binary_client.upload(url, tmp_path / "a.bin", progress=False))

    uploader = threading.Thread(target=run_upload)
    with hold_name(url, "a.bin"):
        uploader.start()
        # Free the name once upload() has been told busy at least once.
        wait_until(lambda: len(requests(log, "upload")) >= 3, "upload() asked twice")
    uploader.join(30)
    assert result and result[0]["type"] == "done"
    assert (store / "a.bin").read_bytes() == data


def test_upload_gives_up_on_a_name_that_stays_busy(
    url: str, tmp_path: Path, log: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A name busy through every wait raises TransferError busy."""
    monkeypatch.setattr(binary_client, "BUSY_RETRY_DELAYS", (0.01, 0.01))
    make_file(tmp_path / "a.bin", 1000)
    with hold_name(url, "a.bin"):
        with pytest.raises(binary_client.TransferError) as error:
            binary_client.upload(url, tmp_path / "a.bin", progress=False)
    assert error.value.code == "busy"
    assert len(requests(log, "upload")) == 1 + 3  # the holder's, then upload()'s three


def test_download_resumes_after_a_dropped_connection(
    server: Any, tmp_path: Path, log: list[dict[str, Any]], proxies: list[CuttingProxy]
) -> None:
    """download() reconnects after a cut and asks for the rest only."""
    data = make_file(tmp_path / "a.bin", 4 * MiB)
    binary_client.upload(server.ws_url(PATH), tmp_path / "a.bin", progress=False)
    proxy = CuttingProxy(server.port, 2 * MiB + MiB // 2, upstream=False)
    proxies.append(proxy)
    dest = binary_client.download(proxy.url, "a.bin", tmp_path / "copy.bin", progress=False)
    assert dest.read_bytes() == data
    offsets = [r["offset"] for r in requests(log, "download")]
    assert offsets[0] == 0 and offsets[1] > 0 and len(offsets) == 2


# -- errors ----------------------------------------------------------------------------------


def test_error_reply_raises_transfer_error_without_retrying(
    serve: Any, store: Path, tmp_path: Path, log: list[dict[str, Any]]
) -> None:
    """An error reply raises TransferError with its code, and is not retried."""
    server = serve(recording(binary.create_app(storage_dir=store, max_file_size=10), log))
    make_file(tmp_path / "a.bin", 11)
    with pytest.raises(binary_client.TransferError) as error:
        binary_client.upload(server.ws_url(PATH), tmp_path / "a.bin", progress=False)
    assert error.value.code == "too_large" and error.value.detail
    assert len(requests(log, "upload")) == 1


def test_missing_file_download_raises_not_found(url: str, tmp_path: Path) -> None:
    """download() of a name the server lacks raises TransferError not_found."""
    with pytest.raises(binary_client.TransferError) as error:
        binary_client.download(url, "missing.bin", tmp_path / "x", progress=False)
    assert error.value.code == "not_found"
    assert not (tmp_path / "x").exists() and not (tmp_path / "x.partial").exists()


def test_download_into_a_missing_folder_raises_file_not_found(
    url: str, tmp_path: Path, log: list[dict[str, Any]]
) -> None:
    """A local file error is raised as it is: not retried, not called connection_lost."""
    make_file(tmp_path / "a.bin", 100)
    binary_client.upload(url, tmp_path / "a.bin", progress=False)
    with pytest.raises(FileNotFoundError):
        binary_client.download(url, "a.bin", tmp_path / "missing" / "copy.bin", progress=False)
    assert len(requests(log, "download")) == 1


def test_upload_of_a_source_gone_after_hashing_raises_file_not_found(
    url: str, tmp_path: Path, log: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A source file that cannot be read is an OSError of its own, not connection_lost."""
    source = tmp_path / "a.bin"
    make_file(source, 100)
    file_digest = hashlib.file_digest

    def digest_then_delete(file: Any, name: str) -> Any:
        digest = file_digest(file, name)
        if getattr(file, "name", None) == str(source):
            source.unlink()  # the file goes away between hashing and sending
        return digest

    monkeypatch.setattr(hashlib, "file_digest", digest_then_delete)
    with pytest.raises(FileNotFoundError):
        binary_client.upload(url, source, progress=False)
    assert requests(log, "upload") == []


def test_download_is_fsynced_before_and_after_the_rename(
    url: str, tmp_path: Path, disk_calls: list[str]
) -> None:
    """download() fsyncs the data, renames it, then fsyncs the folder."""
    make_file(tmp_path / "a.bin", 100)
    binary_client.upload(url, tmp_path / "a.bin", progress=False)
    disk_calls.clear()  # the server's own fsyncs for the upload
    binary_client.download(url, "a.bin", tmp_path / "copy.bin", progress=False)
    assert disk_calls == ["fsync file", "replace", "fsync folder"]


def test_unreachable_server_raises_after_the_retries(tmp_path: Path) -> None:
    """With no server, upload() tries 1 + retries times, then raises connection_lost."""
    with socket.create_server(("127.0.0.1", 0)) as sock:
        port = sock.getsockname()[1]  # a port nobody listens on once closed
    make_file(tmp_path / "a.bin", 1)
    with pytest.raises(binary_client.TransferError) as error:
        binary_client.upload(f"ws://127.0.0.1:{port}{PATH}", tmp_path / "a.bin", progress=False, retries=1)
    assert error.value.code == "connection_lost"
    assert "2 attempts" in error.value.detail


# -- command line --------------------------------------------------------------------------


def test_command_line_uploads_lists_and_downloads(url: str, tmp_path: Path, capsys: Any) -> None:
    """python -m server.binary upload / list / download work end to end."""
    data = make_file(tmp_path / "notes.txt", 1234)
    binary_client.main(["upload", str(tmp_path / "notes.txt"), "--url", url, "--no-progress"])
    assert json.loads(capsys.readouterr().out)["type"] == "done"
    binary_client.main(["list", "--url", url])
    assert "notes.txt" in capsys.readouterr().out
    binary_client.main(["download", "notes.txt", str(tmp_path / "copy.txt"), "--url", url, "--no-progress"])
    assert (tmp_path / "copy.txt").read_bytes() == data


def test_command_line_reports_errors_as_exit_messages(url: str, tmp_path: Path) -> None:
    """A failed transfer exits with the error code, not a traceback."""
    with pytest.raises(SystemExit) as exit:
        binary_client.main(["download", "missing.bin", str(tmp_path / "x"), "--url", url, "--no-progress"])
    assert "not_found" in str(exit.value.code)


@pytest.mark.parametrize("argv", [[], ["serve"], ["--port", "9001"], ["serve", "--port", "9001"]])
def test_command_line_serves_without_compression(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, argv: list[str]
) -> None:
    """serve (also the default) serves the app with its settings (no compression) and the common flags."""
    calls: list[Any] = []
    monkeypatch.setattr(binary_client.cli, "serve", lambda app, args, **options: calls.append((app, args, options)))
    binary_client.main([*argv, "--storage-dir", str(tmp_path / "files")])
    (app, args, options), = calls
    uvicorn_options = serving_options(app, ws=args.ws, **options)
    assert uvicorn_options["ws_per_message_deflate"] is False
    assert uvicorn_options["ws_max_size"] == binary.CHUNK_SIZE
    assert args.host == "127.0.0.1" and args.port == (9001 if "--port" in argv else 8000)
    assert app.state.storage.root == (tmp_path / "files").resolve()


def test_command_line_refuses_a_message_size_of_its_own(capsys: Any) -> None:
    """serve --max-message-size exits with a message: here the largest message is the chunk size."""
    with pytest.raises(SystemExit):
        binary_client.main(["serve", "--max-message-size", "100"])
    assert "--chunk-size" in capsys.readouterr().err


def test_python_m_server_binary_serves_and_removes_its_temporary_folder(tmp_path: Path) -> None:
    """python -m server.binary serves from a temporary folder, removed when the server is stopped."""
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    with socket.create_server(("127.0.0.1", 0)) as sock:
        port = sock.getsockname()[1]
    command = [sys.executable, "-m", "server.binary", "--port", str(port), "--log-level", "warning"]
    process = subprocess.Popen(command, env=dict(os.environ, TMPDIR=str(tmpdir)), stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: process.poll() is not None or answers(port), "the server listens")
        url = f"ws://127.0.0.1:{port}{PATH}"
        make_file(tmp_path / "a.bin", 10)
        binary_client.upload(url, tmp_path / "a.bin", progress=False)
        assert [entry["name"] for entry in binary_client.list_files(url)] == ["a.bin"]
        (folder,) = tmpdir.iterdir()
        assert (folder / "a.bin").exists()
    finally:
        process.terminate()  # uvicorn shuts down as on Ctrl+C
        _, stderr = process.communicate(timeout=30)
    assert f"storing files in {folder}" in stderr
    assert list(tmpdir.iterdir()) == []


def answers(port: int) -> bool:
    """Something accepts connections on the port."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def test_command_line_sets_the_idle_timeout(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """serve --idle-timeout passes the seconds to create_app."""
    made: list[dict[str, Any]] = []
    create_app = binary.create_app
    monkeypatch.setattr(binary, "create_app", lambda **kw: made.append(kw) or create_app(**kw))
    monkeypatch.setattr(binary_client.cli, "serve", lambda app, args, **options: None)
    binary_client.main(["serve", "--idle-timeout", "5", "--storage-dir", str(tmp_path / "files")])
    binary_client.main(["serve", "--storage-dir", str(tmp_path / "files")])
    assert [kw["idle_timeout"] for kw in made] == [5.0, binary.IDLE_TIMEOUT]


# -- a large transfer ---------------------------------------------------------------------------


@pytest.mark.slow
def test_256_mib_round_trip_keeps_memory_flat(url: str, store: Path, tmp_path: Path, peak_rss) -> None:
    """A 256 MiB upload and download stream: memory grows by less than 32 MiB."""
    source, hasher, block = tmp_path / "big.bin", hashlib.sha256(), os.urandom(MiB)
    with open(source, "wb") as file:
        for i in range(256):
            chunk = i.to_bytes(8, "little") + block[8:]
            hasher.update(chunk)
            file.write(chunk)
    try:
        with peak_rss() as rss:
            done = binary_client.upload(url, source, progress=False)
            copy = binary_client.download(url, "big.bin", tmp_path / "copy.bin", progress=False)
        assert done["size"] == 256 * MiB and done["sha256"] == hasher.hexdigest()
        with open(copy, "rb") as file:
            assert hashlib.file_digest(file, "sha256").hexdigest() == hasher.hexdigest()
        assert rss.growth < 32 * MiB, f"RSS grew by {rss.growth / MiB:.1f} MiB"
    finally:  # pytest keeps temporary folders: do not leave 768 MiB behind
        for path in (source, store / "big.bin", tmp_path / "copy.bin"):
            path.unlink(missing_ok=True)


def test_progress_bars_show_on_stderr(url: str, tmp_path: Path, capsys: Any) -> None:
    """With progress=True, upload and download draw tqdm bars."""
    make_file(tmp_path / "a.bin", 2 * MiB)
    binary_client.upload(url, tmp_path / "a.bin")
    binary_client.download(url, "a.bin", tmp_path / "copy.bin")
    err = capsys.readouterr().err
    assert "upload a.bin" in err and "download a.bin" in err and "2.00M/2.00M" in err
