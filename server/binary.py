"""Lesson 02: binary messages — a chunked, verified, resumable file transfer.

Endpoint ``/ws/file-transfer``. Text frames carry JSON control messages,
binary frames carry file data::

    upload    C: {"type": "upload", "name", "size", "sha256"}
              S: {"type": "ready", "offset", "chunk_size"}
              C: binary frames from ``offset`` on, each <= chunk_size bytes
              S: {"type": "progress", "received"}   (see below)
              S: {"type": "done", "name", "size", "sha256"}
    cancel    C: {"type": "cancel"}  (mid-upload)   S: {"type": "cancelled"}
    download  C: {"type": "download", "name", "offset"?}
              S: {"type": "file", "name", "size", "sha256", "chunk_size", "offset"}
              S: binary frames, then {"type": "done", "name", "size", "sha256"}
    list      C: {"type": "list"}
              S: {"type": "files", "files": [{"name", "size", "sha256"}, ...]}
    error     S: {"type": "error", "code", "detail"}; the connection stays usable.

Error codes: ``invalid_message``, ``invalid_name``, ``too_large``,
``size_mismatch``, ``checksum_mismatch``, ``unexpected_binary``,
``unexpected_text``, ``busy``, ``not_found``. Two things close the
connection instead, because the upload's state is then unknown:

* 1009 (message too big): a binary frame larger than ``chunk_size``.
  uvicorn refuses it itself, with the settings the app asks for (see
  "Serving" below): the websockets implementations from the frame header,
  before the payload is read; wsproto once the data it has collected passes
  the limit. The endpoint checks again, for a server started without them.
* 1008 (policy violation), reason "upload idle for N s": no frame for
  ``idle_timeout`` seconds (30 by default) during an upload. A client that
  stalls must not hold its name for ever. 1008 rather than 1001 (going away,
  which clients take as "try again") because the client broke the rule that
  an upload keeps sending; trying the same again would not help.

Either way the data the endpoint has received is kept for a resume (the
offset in ``ready`` says how much); when the endpoint closes itself, it
releases the name before it sends the close frame.

``progress`` comes after each chunk that takes the bytes received past a
multiple of 1 MiB: once per MiB with chunks of 1 MiB or smaller, after every
chunk with larger ones (``create_app(chunk_size=...)``), never for an upload
of less than 1 MiB.

What the server promises:

* A file appears under its name only once all ``size`` bytes are in and their
  SHA-256 matches: the data goes to a partial file that is renamed at the end
  (``os.replace``, atomic). A cut connection leaves nothing under the name.
  Before ``done`` the data is fsynced and so is the folder after the rename
  (POSIX), so a file reported done survives a power cut.
* Partial data lives in ``<storage>/.partial/<hash of name>/<sha256>``. An
  upload of the same name and sha256 resumes at the ``offset`` in ``ready``;
  an upload of new content for the name drops the old partial. A checksum
  mismatch, a size mismatch or a cancel removes the partial.
* One upload per name at a time: ``busy`` means the name is being uploaded
  on another live connection. A connection that drops releases its name as
  soon as its data is on disk; a new upload of the name waits up to 0.25 s
  for that. A drop the server has not noticed yet still gets ``busy``, so
  the client (:func:`server.binary_client.upload`) asks again a few times
  over about 3 s.
* Uploading a name that exists replaces the file atomically when the new
  upload completes. Readers see the old or the new file, never a mix; a
  download under way keeps reading the old file through its open handle
  (POSIX; on Windows the replace fails while that download runs).
* Names are plain file names: 1 to 255 bytes of UTF-8, no path separators,
  no ``: * ? " < > |``, no control or invisible characters, not starting with
  "." (hidden names are the server's own, like ``.partial``), not ending with
  a space or "." and not a Windows device name such as ``CON``.
* SHA-256 of completed files is kept in memory, keyed by the file's identity
  (device, inode, size, times), so ``list`` and ``download`` do not rehash; a
  file the server has not seen (after a restart) is hashed once, on demand.
* Data is hashed and written by a worker thread while the event loop goes on
  receiving, with at most a few chunks in flight, so memory does not grow
  with the file size and other connections keep being served.

Storage. ``create_app(storage_dir=...)`` keeps the files in that folder
(made if missing) for good. Without it, as for the module-level ``app``,
they go to a temporary folder of their own, made when the app first needs
it (nothing is created at import) and removed, with every file uploaded to
it, when the server running the app stops (the last one, if several run
it); whatever is still there when Python exits is removed then. Use
``storage_dir`` for files that must outlive the server.

Serving. ``create_app`` hardens the app (lesson 06, :mod:`server.hardening`:
foreign pages and the 101st connection are refused at the handshake, Pings
find vanished clients) with messages of at most ``chunk_size`` bytes (or
4 KiB, if that is more, so that control messages fit), and records the
uvicorn settings it needs in ``app.uvicorn_options``: ``ws_max_size`` (that
same limit), ``ws_per_message_deflate=False`` and ``ws_max_queue=4`` (the
"websockets" implementation queues at most 4 messages).
``BackgroundServer(binary.app)`` and ``python -m server.binary`` apply
them; options passed explicitly win.

Compression is off. permessage-deflate runs zlib over every byte and gains
nothing on files that are already compressed or random, such as images,
archives and video: they come out no smaller (a 1 MiB chunk of random bytes
came out 2.5 KiB larger). Measured with ``python -m benchmarks.bench_binary
--compression`` (64 MiB of random bytes, 2-core VM), transfers with deflate
ran at about 35 MiB/s instead of 530 to 570 MiB/s, 16 times slower, and the
sending server spent 27 ms of CPU per MiB instead of 0.5.

The client and the command line (``python -m server.binary
[serve|upload|download|list]``) live in :mod:`server.binary_client`; it
connects with ``compression=None`` as well.
"""

from __future__ import annotations

import asyncio
import atexit
import collections
import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import stat
import tempfile
import threading
import unicodedata
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from fastapi import FastAPI, WebSocket, WebSocketDisconnect

from server.errors import error_message
from server.hardening import harden

__all__ = [
    "CHUNK_SIZE",
    "IDLE_TIMEOUT",
    "MAX_FILE_SIZE",
    "Sink",
    "Storage",
    "TransferError",
    "app",
    "create_app",
    "fsync_folder",
]

MiB = 2**20
#: Largest binary frame accepted or sent: the websockets client's default
#: ``max_size`` (a payload of exactly max_size bytes is allowed).
CHUNK_SIZE = 1 * MiB
MAX_FILE_SIZE = 1024 * MiB
#: The smallest message limit, whatever the chunk size: a control message
#: (an upload request with the longest name is under 1 KiB) always fits.
MIN_MESSAGE_SIZE = 4096
#: Chunks handed to the worker thread but not yet written.
QUEUE_DEPTH = 4
#: Seconds the server waits for the next frame of an upload (create_app's default).
IDLE_TIMEOUT = 30.0

logger = logging.getLogger(__name__)


class TransferError(Exception):
    """A transfer failed: ``code`` is stable, ``detail`` is for a person."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


# -- names ---------------------------------------------------------------

_FORBIDDEN = set('/\\:*?"<>|')
_DEVICE = re.compile(r"(CON|PRN|AUX|NUL|COM[0-9]|LPT[0-9])(\..*)?", re.IGNORECASE)


def name_problem(name: object) -> str | None:
    """Say why ``name`` cannot be a stored file's name; None if it can."""
    if not isinstance(name, str) or not name:
        return "the name must be a non-empty string"
    try:
        length = len(name.encode("utf-8"))
    except UnicodeEncodeError:
        return "the name is not valid Unicode"
    if length > 255:
        return f"the name is {length} bytes of UTF-8; at most 255 are allowed"
    if name.startswith("."):
        return 'names starting with "." are reserved (no hidden files, no "..")'
    if name[-1] in " .":
        return 'the name must not end with a space or "."'
    if any(c in _FORBIDDEN or unicodedata.category(c) in ("Cc", "Cf", "Cs") for c in name):
        return 'the name must not contain / \\ : * ? " < > | or control characters'
    if _DEVICE.fullmatch(name):
        return "the name is a reserved device name on Windows"
    return None


# -- storage ---------------------------------------------------------------


def _identity(st: os.stat_result) -> tuple[int, ...]:
    """What changes when a file is replaced or written to."""
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


class _Claim:
    """An upload's hold on a name."""

    closing = False  # its connection is gone; it is flushing to disk


#: Temporary storage folders not removed yet; whatever is left goes at exit.
_temporary_folders: set[Path] = set()


@atexit.register
def _remove_temporary_folders() -> None:
    for folder in list(_temporary_folders):
        shutil.rmtree(folder, ignore_errors=True)


class Storage:
    """Completed files, partial uploads, the SHA-256 index and name claims.

    Shared by every connection; a lock guards it because one app may run on
    several servers, each with an event loop of its own.

    The folder is made on first use. ``root=None`` makes it a temporary
    folder, removed with its files when the last server running the app
    stops (:meth:`stopped`), or at exit; the next use makes a new, empty one.
    """

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        self._given = None if root is None else Path(root).resolve()
        self._root: Path | None = None
        self._servers = 0
        self._lock = threading.Lock()
        self._claims: dict[str, _Claim] = {}
        self._digests: dict[tuple[int, ...], str] = {}

    @property
    def root(self) -> Path:
        """The storage folder, made if it is not there yet."""
        with self._lock:
            if self._root is None:
                if self._given is None:
                    folder = Path(tempfile.mkdtemp(prefix="file-transfer-")).resolve()
                    _temporary_folders.add(folder)
                else:
                    folder = self._given
                (folder / ".partial").mkdir(parents=True, exist_ok=True)
                self._root = folder
            return self._root

    @property
    def partials(self) -> Path:
        return self.root / ".partial"

    def started(self) -> None:
        """A server has started running the app."""
        with self._lock:
            self._servers += 1

    def stopped(self) -> None:
        """A server has stopped; after the last, a temporary folder goes, with its files."""
        with self._lock:
            self._servers -= 1
            if self._servers > 0 or self._given is not None or self._root is None:
                return
            folder, self._root = self._root, None
            self._digests.clear()
        shutil.rmtree(folder, ignore_errors=True)
        _temporary_folders.discard(folder)

    def path(self, name: object) -> Path:
        """The final path of a valid name; never outside the storage folder."""
        problem = name_problem(name)
        if problem is not None:
            raise TransferError("invalid_name", problem)
        path = self.root / str(name)
        if path.parent != self.root or path.name != name:  # belt and braces
            raise TransferError("invalid_name", "the name is not a plain file name")
        return path

    def partial(self, name: str, sha256: str) -> Path:
        """Where the data of an unfinished upload of (name, sha256) lives."""
        return self.partials / hashlib.sha256(name.encode()).hexdigest() / sha256

    async def claim(self, name: str, grace: float = 0.25, flush_timeout: float = 10.0) -> _Claim:
        """Hold ``name`` for an upload, or raise ``busy``.

        A holder whose connection just dropped is waited for, so that a client
        reconnecting at once gets its resume offset rather than ``busy``.
        """
        loop = asyncio.get_running_loop()
        start = loop.time()
        while True:
            with self._lock:
                holder = self._claims.get(name)
                if holder is None:
                    claim = self._claims[name] = _Claim()
                    return claim
            waited = loop.time() - start
            if waited > (flush_timeout if holder.closing else grace):
                raise TransferError("busy", f"{name!r} is being uploaded on another connection")
            await asyncio.sleep(0.01)

    def release(self, name: str, claim: _Claim) -> None:
        with self._lock:
            if self._claims.get(name) is claim:
                del self._claims[name]

    def sha256(self, file: Any) -> tuple[os.stat_result, str]:
        """Stat an open file and give its SHA-256, from the index or hashed once."""
        st = os.fstat(file.fileno())
        with self._lock:
            digest = self._digests.get(_identity(st))
        if digest is None:
            digest = hashlib.file_digest(file, "sha256").hexdigest()
            with self._lock:
                self._digests[_identity(st)] = digest
        return st, digest

    def prepare(self, name: str, sha256: str, size: int) -> tuple[Path, int]:
        """The partial file for (name, sha256) and the bytes it holds already.

        Partial data of other content for the same name is dropped.
        """
        partial = self.partial(name, sha256)
        partial.parent.mkdir(exist_ok=True)
        for old in partial.parent.iterdir():
            if old != partial or old.stat().st_size > size:
                old.unlink()
        return partial, partial.stat().st_size if partial.exists() else 0

    def discard(self, partial: Path) -> None:
        """Remove an upload's partial data."""
        partial.unlink(missing_ok=True)
        with contextlib.suppress(OSError):  # not empty, or gone already
            partial.parent.rmdir()

    def publish(self, partial: Path, path: Path, digest: str) -> None:
        """Move a verified (and fsynced) partial file to its name, atomically and durably."""
        os.replace(partial, path)
        fsync_folder(self.root)
        with contextlib.suppress(OSError):
            partial.parent.rmdir()
        with self._lock:
            self._digests[_identity(os.stat(path))] = digest

    def list(self) -> list[dict[str, Any]]:
        """Completed files, sorted by name."""
        files = []
        for entry in sorted(os.scandir(self.root), key=lambda e: e.name):
            if entry.name.startswith(".") or not entry.is_file(follow_symlinks=False):
                continue
            try:
                with open(entry.path, "rb") as file:
                    st, digest = self.sha256(file)
            except FileNotFoundError:  # replaced or removed meanwhile
                continue
            files.append({"name": entry.name, "size": st.st_size, "sha256": digest})
        return files


class Sink:
    """Append chunks to a file and hash them in a worker thread, in order.

    ``write`` returns at once while at most ``depth`` chunks wait, so the
    event loop receives the next frame while the worker hashes and writes
    this one (hashlib and file writes release the GIL). With more waiting it
    awaits the oldest: backpressure instead of a growing queue.
    """

    def __init__(self, path: Path, depth: int = QUEUE_DEPTH) -> None:
        self.depth = depth
        self._hash: Any = None
        self._file: Any = None
        self._closed = False
        self._pending: collections.deque[asyncio.Future[Any]] = collections.deque()
        self._worker = ThreadPoolExecutor(1, thread_name_prefix="file-transfer")
        self._submit(self._open, path)

    def _submit(self, fn: Any, *args: Any) -> None:
        future = asyncio.wrap_future(self._worker.submit(fn, *args))
        # A cancelled handler must not cancel a queued write: that would leave a hole.
        self._pending.append(asyncio.shield(future))

    def _open(self, path: Path) -> None:
        self._file = open(path, "ab")
        # Resuming: the bytes already on disk are part of the hash.
        with open(path, "rb") as done_so_far:
            self._hash = hashlib.file_digest(done_so_far, "sha256")

    def _append(self, data: bytes) -> None:
        write_chunk(self._file, self._hash, data)

    def _sync(self) -> None:
        self._file.flush()
        os.fsync(self._file.fileno())

    async def write(self, data: bytes) -> None:
        self._submit(self._append, data)
        while len(self._pending) > self.depth:
            await self._pending.popleft()

    async def finish(self) -> str:
        """Wait until every chunk is on disk, fsynced; return the data's SHA-256."""
        self._submit(self._sync)
        while self._pending:
            await self._pending.popleft()
        await self.close()
        return self._hash.hexdigest()

    async def close(self) -> None:
        """Let the worker finish, then close the file; its data stays.

        If the caller is cancelled meanwhile, the worker still writes what it
        has, closes the file and ends: nothing leaks.
        """
        if self._closed:
            return
        self._closed = True
        self._submit(lambda: self._file and self._file.close())
        try:
            while self._pending:
                with contextlib.suppress(Exception):  # reported already, or moot
                    await self._pending.popleft()
        finally:
            self._worker.shutdown(wait=False)  # queued work still runs, then the thread ends


def write_chunk(file: Any, hasher: Any, data: bytes) -> None:
    """Hash and write one chunk (tests replace it to stand in for a slow disk)."""
    hasher.update(data)
    file.write(data)


def fsync_folder(folder: str | os.PathLike[str]) -> None:
    """Make a rename in ``folder`` durable; skipped where folders cannot be fsynced (Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):  # some file systems refuse; nothing more to do
            os.fsync(fd)
    finally:
        os.close(fd)


# -- the endpoint ------------------------------------------------------------


class _Closed(Exception):
    """The endpoint closed the connection itself."""


class _Cancelled(Exception):
    """The client cancelled its upload."""


class _CloseUpload(Exception):
    """End the connection mid-upload with a close code; the partial data stays."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(code, reason)
        self.code, self.reason = code, reason


def parse_request(text: str) -> dict[str, Any]:
    """A control message with a known "type", or raise ``invalid_message``."""
    try:
        request = json.loads(text)
    except (ValueError, RecursionError):  # not JSON, or nested too deep to parse
        raise TransferError("invalid_message", "a text frame must hold a JSON object") from None
    kind = request.get("type") if isinstance(request, dict) else None
    if kind == "cancel":
        raise TransferError("invalid_message", "there is no upload to cancel")
    if kind not in ("upload", "download", "list"):
        raise TransferError("invalid_message", 'expected {"type": "upload" | "download" | "list", ...}')
    return request


def is_cancel(text: str) -> bool:
    """True for the text frame ``{"type": "cancel"}``."""
    with contextlib.suppress(ValueError, RecursionError):
        value = json.loads(text)
        return isinstance(value, dict) and value.get("type") == "cancel"
    return False


def byte_count(value: object, what: str) -> int:
    """A byte count from a message, or raise ``invalid_message``."""
    if type(value) is not int or value < 0:
        raise TransferError("invalid_message", f"{what} must be a whole number of bytes, >= 0")
    return value


def upload_request(request: dict[str, Any], max_file_size: int) -> tuple[Any, int, str]:
    """The name, size and sha256 of an upload request, checked."""
    size = byte_count(request.get("size"), "size")
    sha256 = request.get("sha256")
    if not isinstance(sha256, str) or not re.fullmatch(r"[0-9a-fA-F]{64}", sha256):
        raise TransferError("invalid_message", "sha256 must be 64 hex digits")
    if size > max_file_size:
        raise TransferError("too_large", f"{size} bytes is over the limit of {max_file_size}")
    return request.get("name"), size, sha256.lower()


def create_app(
    *,
    storage_dir: str | os.PathLike[str] | None = None,
    max_file_size: int = MAX_FILE_SIZE,
    chunk_size: int = CHUNK_SIZE,
    idle_timeout: float | None = IDLE_TIMEOUT,
    **limits: Any,
) -> FastAPI:
    """The lesson's app.

    ``storage_dir=None`` keeps the files in a temporary folder that goes
    when the server stops (see "Storage" above). ``idle_timeout``: seconds
    an upload may go without a frame before the server closes the
    connection with 1008, keeping the data for a resume; None waits for
    ever. ``limits`` override the defaults of :func:`server.hardening.harden`,
    but for the message size: that is ``chunk_size`` (at least
    ``MIN_MESSAGE_SIZE``, so control messages fit).
    """
    storage = Storage(storage_dir)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # The last server to stop removes a temporary folder and its files.
        storage.started()
        try:
            yield
        finally:
            await asyncio.to_thread(storage.stopped)

    app = FastAPI(title="Lesson 02: file transfer", lifespan=lifespan)
    app.state.storage = storage

    @app.websocket("/ws/file-transfer")
    async def file_transfer(websocket: WebSocket) -> None:
        await websocket.accept()
        try:
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    return
                try:
                    # A frame is text or binary: look before you take.
                    if message.get("text") is None:
                        raise TransferError("unexpected_binary", "binary data needs an upload first")
                    request = parse_request(message["text"])
                    if request["type"] == "upload":
                        await receive_upload(websocket, request)
                    elif request["type"] == "download":
                        await send_download(websocket, request)
                    else:
                        files = await asyncio.to_thread(storage.list)
                        await websocket.send_json({"type": "files", "files": files})
                except TransferError as exc:
                    await websocket.send_json(error_message(exc.code, exc.detail))
        except (WebSocketDisconnect, _Closed):
            pass
        except Exception:
            logger.exception("file transfer failed")
            with contextlib.suppress(Exception):  # the connection may be gone
                await websocket.close(1011, "internal error")

    async def receive_upload(websocket: WebSocket, request: dict[str, Any]) -> None:
        name, size, sha256 = upload_request(request, max_file_size)
        path = storage.path(name)
        claim = await storage.claim(name)
        try:
            partial, received = await asyncio.to_thread(storage.prepare, name, sha256, size)
            await websocket.send_json({"type": "ready", "offset": received, "chunk_size": chunk_size})
            try:
                digest = await receive_chunks(websocket, Sink(partial), received, size, claim)
            except (_Cancelled, TransferError):  # cancel, size_mismatch
                await asyncio.to_thread(storage.discard, partial)
                raise
            except _CloseUpload as close:
                # The data is on disk: free the name first, so a client reconnecting resumes.
                storage.release(name, claim)
                await websocket.close(close.code, close.reason)
                raise _Closed from None
            if digest != sha256:
                await asyncio.to_thread(storage.discard, partial)
                raise TransferError("checksum_mismatch", f"the data received has sha256 {digest}")
            # Only now does the file appear under its name, all at once.
            await asyncio.to_thread(storage.publish, partial, path, digest)
        except _Cancelled:
            await websocket.send_json({"type": "cancelled", "name": name})
            return
        finally:
            storage.release(name, claim)
        await websocket.send_json({"type": "done", "name": name, "size": size, "sha256": digest})

    async def receive_chunks(
        websocket: WebSocket, sink: Sink, received: int, size: int, claim: _Claim
    ) -> str:
        """Pass binary frames to the sink until ``size`` bytes are in; return their SHA-256."""
        try:
            while received < size:
                try:
                    message = await asyncio.wait_for(websocket.receive(), idle_timeout)
                except TimeoutError:
                    raise _CloseUpload(1008, f"upload idle for {idle_timeout:g} s") from None
                if message["type"] == "websocket.disconnect":
                    raise WebSocketDisconnect(message.get("code", 1005))
                data = message.get("bytes")
                if data is None:
                    if is_cancel(message["text"]):
                        raise _Cancelled
                    detail = 'only {"type": "cancel"} is accepted during an upload'
                    await websocket.send_json(error_message("unexpected_text", detail))
                    continue
                if len(data) > chunk_size:
                    raise _CloseUpload(1009, f"a chunk holds at most {chunk_size} bytes")
                if received + len(data) > size:
                    raise TransferError("size_mismatch", f"more than the {size} bytes declared")
                # The worker thread hashes and writes; the loop goes on receiving.
                await sink.write(data)
                if (received + len(data)) // MiB > received // MiB:
                    await websocket.send_json({"type": "progress", "received": received + len(data)})
                received += len(data)
            return await sink.finish()
        finally:
            claim.closing = True  # a client reconnecting now waits for the flush
            await sink.close()

    async def send_download(websocket: WebSocket, request: dict[str, Any]) -> None:
        name, path = request.get("name"), storage.path(request.get("name"))
        offset = byte_count(request.get("offset", 0), "offset")
        try:
            # The open handle goes on reading this file even if it is replaced.
            file = await asyncio.to_thread(open, path, "rb", buffering=0)
        except (FileNotFoundError, IsADirectoryError, PermissionError):
            raise TransferError("not_found", f"there is no file named {name!r}") from None
        try:
            st, digest = await asyncio.to_thread(storage.sha256, file)
            if not stat.S_ISREG(st.st_mode):
                raise TransferError("not_found", f"there is no file named {name!r}")
            if offset > st.st_size:
                raise TransferError("invalid_message", f"offset {offset} is past the end ({st.st_size})")
            info = {"name": name, "size": st.st_size, "sha256": digest}
            await websocket.send_json({"type": "file", **info, "chunk_size": chunk_size, "offset": offset})
            file.seek(offset)
            sent = offset
            while sent < st.st_size:
                # Read in a thread: the loop stays free for other connections.
                data = await asyncio.to_thread(file.read, chunk_size)
                if not data:
                    raise RuntimeError(f"{path} shrank while being sent")
                await websocket.send_bytes(data)
                sent += len(data)
        finally:
            file.close()
        await websocket.send_json({"type": "done", **info})

    harden(app, max_message_size=max(chunk_size, MIN_MESSAGE_SIZE), **limits)
    # File data does not compress: no permessage-deflate. And a short queue
    # in uvicorn's "websockets" implementation keeps memory small.
    app.uvicorn_options.update(ws_per_message_deflate=False, ws_max_queue=4)
    return app


#: The lesson's app; its files go to a temporary folder, removed when its server stops.
app = create_app()


if __name__ == "__main__":
    # The command line (serve, upload, download, list) lives with the client.
    from server.binary_client import main

    main(prog="python -m server.binary")
