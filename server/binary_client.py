"""Lesson 02's client: upload, download and list the files of ``/ws/file-transfer``.

The protocol is in :mod:`server.binary`'s docstring; this module speaks it
with the ``websockets`` sync client::

    from server import binary_client

    url = "ws://127.0.0.1:8000/ws/file-transfer"
    binary_client.upload(url, "picture.png")          # the server's "done" message
    binary_client.list_files(url)                     # [{"name", "size", "sha256"}, ...]
    binary_client.download(url, "picture.png", "copies/")

What happens in each outcome:

* An error reply raises :class:`TransferError` with the server's ``code``
  and ``detail``; it is not retried.
* A dropped or refused connection (close codes 1001, 1006, 1011, 1012,
  1013, a reset, a timeout) is retried up to ``retries`` times, resuming
  from the bytes already across; then :class:`TransferError` with code
  ``connection_lost``. Any other close raises ``closed``, a refused
  handshake ``handshake_failed``.
* ``busy`` (the server still holds the name for a connection that dropped)
  is asked again for about 3 s before it is raised.
* A local file error (a missing file or folder) is raised as the
  ``OSError`` it is, never retried.

Importing this module starts nothing and creates nothing. Connections use
no compression (see :mod:`server.binary`) and a receive queue of 4 frames,
so memory stays small whatever the file size. Progress bars (tqdm) go to
stderr, or to a widget in a notebook.

The command line::

    python -m server.binary_client serve --port 8000 --storage-dir /tmp/uploads
    python -m server.binary_client upload picture.png --url ws://127.0.0.1:8000/ws/file-transfer
    python -m server.binary_client download picture.png copies/
    python -m server.binary_client list

``python -m server.binary`` runs the same command line.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import itertools
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm
from websockets.exceptions import ConnectionClosed, InvalidMessage, InvalidStatus
from websockets.sync.client import connect

from server import binary, cli
from server.binary import TransferError, fsync_folder

__all__ = [
    "BUSY_RETRY_DELAYS",
    "RECV_TIMEOUT",
    "TransferError",
    "download",
    "list_files",
    "main",
    "upload",
]

#: Seconds the client waits for any reply before it gives up.
RECV_TIMEOUT = 10.0
#: Pauses before :func:`upload` asks again for a ``busy`` name: a connection
#: that dropped moments ago may hold it until the server notices.
BUSY_RETRY_DELAYS = (0.2, 0.4, 0.8, 1.6)
#: Close codes after which trying again may help: going away, dropped,
#: server error, service restart, try again later.
_RETRY_CODES = {1001, 1006, 1011, 1012, 1013}

def upload(
    ws_url: str,
    path: str | os.PathLike[str],
    *,
    name: str | None = None,
    progress: bool = True,
    retries: int = 3,
) -> dict[str, Any]:
    """Upload a file and return the server's "done" message.

    A dropped connection is resumed from the offset the server reports, up to
    ``retries`` times. ``busy`` is asked again after each of
    ``BUSY_RETRY_DELAYS`` (about 3 s in all), since the server may not have
    noticed yet that our own dropped connection is gone. Raises
    :class:`TransferError` for any other error reply (not retried), for
    ``busy`` once those waits are used up, and with code ``connection_lost``
    once the retries are. Local file errors (``OSError``) are raised as they are.
    """
    path = Path(path)
    name = path.name if name is None else name
    size = path.stat().st_size
    with open(path, "rb") as file:
        sha256 = hashlib.file_digest(file, "sha256").hexdigest()

    def attempt(bar: Any) -> dict[str, Any]:
        with _connect(ws_url) as ws, open(path, "rb") as file:
            request = json.dumps({"type": "upload", "name": name, "size": size, "sha256": sha256})
            for delay in (*BUSY_RETRY_DELAYS, None):
                _send(ws, request)
                try:
                    ready = _expect(ws, "ready")
                    break
                except TransferError as exc:
                    if exc.code != "busy" or delay is None:
                        raise
                time.sleep(delay)
            sent = ready["offset"]
            bar.reset(total=size)
            bar.update(sent)
            file.seek(sent)
            while sent < size:
                data = file.read(min(ready["chunk_size"], size - sent))
                if not data:
                    raise TransferError("file_changed", f"{path} got shorter during the upload")
                _send(ws, data)
                sent += len(data)
                bar.update(len(data))
                _drain(ws)  # an error reply stops us early
            return _expect(ws, "done")

    with _bar(progress, size, f"upload {name}") as bar:
        return _retry(lambda: attempt(bar), retries)


def download(
    ws_url: str,
    name: str,
    dest_path: str | os.PathLike[str],
    *,
    progress: bool = True,
    retries: int = 3,
) -> Path:
    """Download a file to ``dest_path`` and return its path.

    A folder as ``dest_path`` gets the file under ``name``. Data goes to
    ``<dest>.partial``, renamed once its SHA-256 checks out. A dropped
    connection, or a partial left by an earlier call, is resumed from the
    partial's size; a partial that turns out to hold other data is dropped
    and the download starts over, once. The file is fsynced before the
    rename and its folder after it. Raises :class:`TransferError` like
    :func:`upload`, and local file errors (a missing folder, say) as they are.
    """
    dest = Path(dest_path)
    if dest.is_dir():
        dest = dest / name
    partial = dest.with_name(dest.name + ".partial")
    known_sha256 = None

    def attempt(bar: Any) -> Path:
        nonlocal known_sha256
        offset = partial.stat().st_size if partial.exists() else 0
        with _connect(ws_url) as ws:
            _send(ws, json.dumps({"type": "download", "name": name, "offset": offset}))
            try:
                info = _expect(ws, "file")
            except TransferError as exc:
                if exc.code == "invalid_message" and offset:  # offset past the end
                    raise _StartOver from exc
                raise
            if known_sha256 not in (None, info["sha256"]):
                raise _StartOver  # the file changed on the server
            known_sha256, size = info["sha256"], info["size"]
            bar.reset(total=size)
            bar.update(offset)
            with open(partial, "a+b") as file:
                file.seek(0)  # the bytes already here count towards the hash
                hasher = hashlib.file_digest(file, "sha256")
                received = offset
                while received < size:
                    data = _recv(ws, RECV_TIMEOUT)
                    if isinstance(data, str):
                        _reply(data, None)  # an error reply stops us
                        continue
                    if received + len(data) > size:
                        raise TransferError("protocol_error", "the server sent more than the file's size")
                    file.write(data)
                    hasher.update(data)
                    received += len(data)
                    bar.update(len(data))
                file.flush()
                os.fsync(file.fileno())  # the data is on disk before the rename
            _expect(ws, "done")
        if hasher.hexdigest() != info["sha256"]:
            raise _StartOver
        os.replace(partial, dest)
        fsync_folder(dest.parent)  # and so is the rename
        return dest

    with _bar(progress, None, f"download {name}") as bar:
        for _ in range(2):
            known_sha256 = None
            try:
                return _retry(lambda: attempt(bar), retries)
            except _StartOver:
                partial.unlink(missing_ok=True)
    raise TransferError("checksum_mismatch", f"{name!r} did not arrive intact, twice")


def list_files(ws_url: str) -> list[dict[str, Any]]:
    """The server's completed files: ``[{"name", "size", "sha256"}, ...]``."""

    def attempt() -> list[dict[str, Any]]:
        with _connect(ws_url) as ws:
            _send(ws, json.dumps({"type": "list"}))
            return _expect(ws, "files")["files"]

    return _retry(attempt, 0)


class _StartOver(Exception):
    """The partial download holds other data: drop it and begin again."""


class _NetworkError(Exception):
    """An OSError from the connection, not from a local file: worth a retry."""


@contextlib.contextmanager
def _connect(ws_url: str) -> Iterator[Any]:
    # No compression: it slows file data down for nothing. A short receive
    # queue keeps the client's memory small (4 frames instead of 16).
    try:
        ws = connect(ws_url, compression=None, open_timeout=RECV_TIMEOUT, max_queue=4)
    except OSError as exc:  # refused, unreachable, timed out
        raise _NetworkError(str(exc)) from exc
    with ws:
        yield ws


def _send(ws: Any, data: str | bytes) -> None:
    try:
        ws.send(data)
    except OSError as exc:
        raise _NetworkError(str(exc)) from exc


def _recv(ws: Any, timeout: float) -> str | bytes:
    try:
        return ws.recv(timeout=timeout)
    except OSError as exc:  # TimeoutError included: the server went quiet
        raise _NetworkError(str(exc) or type(exc).__name__) from exc


def _reply(data: str | bytes, wanted: str | None) -> dict[str, Any] | None:
    """Read a server message: raise on an error, give it back if ``wanted``, skip progress."""
    try:
        message = json.loads(data) if isinstance(data, str) else None
        kind = message["type"]
    except (ValueError, TypeError, KeyError):
        raise TransferError("protocol_error", f"unexpected message {data[:80]!r}") from None
    if kind == "error":
        raise TransferError(message.get("code", "error"), message.get("detail", ""))
    if kind == wanted:
        return message
    if kind == "progress":
        return None
    raise TransferError("protocol_error", f"expected {wanted!r}, got {kind!r}")


def _expect(ws: Any, wanted: str) -> dict[str, Any]:
    """Wait for the ``wanted`` message, skipping progress reports."""
    while (message := _reply(_recv(ws, RECV_TIMEOUT), wanted)) is None:
        pass
    return message


def _drain(ws: Any) -> None:
    """Read the messages that have arrived, without waiting."""
    while True:
        try:
            data = ws.recv(timeout=0)
        except TimeoutError:
            return
        except OSError as exc:
            raise _NetworkError(str(exc)) from exc
        _reply(data, None)


def _retry(attempt: Any, retries: int) -> Any:
    """Run ``attempt()``; after connection trouble, again, up to ``retries`` times.

    Only the connection's errors are retried; an OSError from a local file
    (a missing folder, an unreadable file) goes through as it is.
    """
    for tries in itertools.count():
        try:
            return attempt()
        except ConnectionClosed as exc:
            if exc.rcvd is not None and exc.rcvd.code not in _RETRY_CODES:
                raise TransferError("closed", f"the server closed the connection: {exc}") from exc
            trouble: Exception = exc
        except InvalidStatus as exc:
            raise TransferError("handshake_failed", str(exc)) from exc
        except (_NetworkError, InvalidMessage) as exc:  # refused, reset, timed out
            trouble = exc
        if tries >= retries:
            detail = f"gave up after {tries + 1} attempts: {trouble}"
            raise TransferError("connection_lost", detail) from trouble
        time.sleep(0.1 * 2**tries)


def _bar(progress: bool, total: int | None, desc: str) -> Any:
    return tqdm(total=total, desc=desc, unit="B", unit_scale=True, unit_divisor=1024, disable=not progress)




# -- the command line ------------------------------------------------------------

DEFAULT_URL = "ws://127.0.0.1:8000/ws/file-transfer"


def main(argv: list[str] | None = None, *, prog: str = "python -m server.binary_client") -> None:
    """``python -m server.binary_client [serve|upload|download|list] ...``; no command means serve."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help")):
        argv = ["serve", *argv]
    summary = binary.__doc__.strip().splitlines()[0]
    parser = argparse.ArgumentParser(prog=prog, description=summary)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", parents=[cli.parser(None)], add_help=False, help="run the server")
    serve.add_argument(
        "--storage-dir", help="folder for the files (default: a temporary folder, removed when the server stops)"
    )
    serve.add_argument("--max-file-size", type=int, default=binary.MAX_FILE_SIZE, help="bytes (default: %(default)s)")
    serve.add_argument(
        "--chunk-size",
        type=int,
        default=binary.CHUNK_SIZE,
        help="bytes; also the largest message (default: %(default)s)",
    )
    serve.add_argument(
        "--idle-timeout",
        type=float,
        default=binary.IDLE_TIMEOUT,
        help="seconds an upload may send nothing before the server closes with 1008 (default: %(default)s)",
    )

    def client(command: str, help: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(command, help=help)
        sub.add_argument("--url", default=DEFAULT_URL, help="endpoint URL (default: %(default)s)")
        return sub

    up = client("upload", "upload a file")
    up.add_argument("file")
    up.add_argument("--name", help="name on the server (default: the file's name)")
    down = client("download", "download a file")
    down.add_argument("name")
    down.add_argument("dest", help="file or folder to save to")
    client("list", "list the server's files")
    for sub in (up, down):
        sub.add_argument("--no-progress", dest="progress", action="store_false")
        sub.add_argument("--retries", type=int, default=3, help="reconnections (default: %(default)s)")

    args = parser.parse_args(argv)
    if args.command == "serve":
        limits = cli.limits_from(args)
        if "max_message_size" in limits:
            # The largest message is one chunk; two knobs for it could disagree.
            serve.error("--max-message-size: this server's largest message is --chunk-size")
        application = binary.create_app(
            storage_dir=args.storage_dir,
            max_file_size=args.max_file_size,
            chunk_size=args.chunk_size,
            idle_timeout=args.idle_timeout,
            **limits,
        )
        removed = " (removed when the server stops)" if args.storage_dir is None else ""
        print(f"storing files in {application.state.storage.root}{removed}", file=sys.stderr)
        cli.serve(application, args)
        return
    try:
        if args.command == "upload":
            done = upload(args.url, args.file, name=args.name, progress=args.progress, retries=args.retries)
            print(json.dumps(done))
        elif args.command == "download":
            print(download(args.url, args.name, args.dest, progress=args.progress, retries=args.retries))
        else:
            for entry in list_files(args.url):
                print(f"{entry['size']:>14,}  {entry['sha256'][:16]}  {entry['name']}")
    except TransferError as exc:
        raise SystemExit(f"error: {exc}") from None


if __name__ == "__main__":
    main()
