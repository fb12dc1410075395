"""Plausible wrong answers to lesson 02's exercises (solutions/02_binary.ipynb).

See __init__.py for what the test requires.
"""

from wrong_answers import Wrong

WRONG_ANSWERS: dict[str, list[Wrong]] = {
    "sha256_of": [
        # The right digest, but the whole file is read into memory at once.
        Wrong(
            """
return hashlib.sha256(file.read()).hexdigest()
""",
            says=["sha256_of() called file.read()", "more than chunk_size bytes at once"],
        ),
        # Reads in pieces, but returns digest(), the raw bytes.
        Wrong(
            """
digest = hashlib.sha256()
while data := file.read(chunk_size):
    digest.update(data)
return digest.digest()
""",
            says=["should return hexdigest()", "got bytes"],
        ),
        # Hashes the first piece only.
        Wrong(
            """
return hashlib.sha256(file.read(chunk_size)).hexdigest()
""",
            says=["for 10000 bytes read in pieces of 4096, expected"],
        ),
    ],
    "upload_file": [
        # The whole file in one binary frame: over chunk_size, so the server
        # closes the connection with 1009.
        Wrong(
            """
with connect(url, compression=None) as websocket:
    websocket.send(json.dumps({"type": "upload", "name": name, "size": len(data), "sha256": sha256}))
    json.loads(websocket.recv(timeout=5))
    websocket.send(data)
    return json.loads(websocket.recv(timeout=5))
""",
            says=["closed the connection with code 1009"],
        ),
        # Returns the first reply after the data: for a file over 1 MiB, that
        # is a progress report.
        Wrong(
            """
with connect(url, compression=None) as websocket:
    websocket.send(json.dumps({"type": "upload", "name": name, "size": len(data), "sha256": sha256}))
    ready = json.loads(websocket.recv(timeout=5))
    for start in range(ready["offset"], len(data), ready["chunk_size"]):
        websocket.send(data[start : start + ready["chunk_size"]])
    return json.loads(websocket.recv(timeout=5))
""",
            says=["bigger.bin", "skip progress reports and return the 'done' message"],
        ),
        # Parses each reply to look at its type, but returns the last one as text.
        Wrong(
            """
with connect(url, compression=None) as websocket:
    websocket.send(json.dumps({"type": "upload", "name": name, "size": len(data), "sha256": sha256}))
    ready = json.loads(websocket.recv(timeout=5))
    for start in range(ready["offset"], len(data), ready["chunk_size"]):
        websocket.send(data[start : start + ready["chunk_size"]])
    while json.loads(reply := websocket.recv(timeout=5))["type"] == "progress":
        pass
    return reply
""",
            says=["parsed with json.loads() (a dict)", "got str"],
        ),
    ],
    "try_upload": [
        # Assumes the first reply is always "ready": an invalid_name error
        # has no "offset", so this raises KeyError.
        Wrong(
            """
websocket.send(json.dumps({"type": "upload", "name": name, "size": len(data), "sha256": sha256}))
ready = json.loads(websocket.recv(timeout=5))
for start in range(ready["offset"], len(data), ready["chunk_size"]):
    websocket.send(data[start : start + ready["chunk_size"]])
while (reply := json.loads(websocket.recv(timeout=5)))["type"] == "progress":
    pass
return reply
""",
            says=["raised KeyError: 'offset'", "the first reply was an error reply, not ready", "Look at a reply's 'type' first"],
        ),
        # Sends the data right after the upload message, without waiting for
        # ready: after invalid_name the data gets unexpected_binary replies of
        # its own, which the next upload then reads as its answer.
        Wrong(
            """
websocket.send(json.dumps({"type": "upload", "name": name, "size": len(data), "sha256": sha256}))
for start in range(0, len(data), 4096):
    websocket.send(data[start : start + 4096])
while (reply := json.loads(websocket.recv(timeout=5)))["type"] in ("ready", "progress"):
    pass
return reply
""",
            says=["expected 'checksum_mismatch'", "unexpected_binary"],
        ),
        # Parses the first reply, but returns the last one as text.
        Wrong(
            """
websocket.send(json.dumps({"type": "upload", "name": name, "size": len(data), "sha256": sha256}))
reply = json.loads(websocket.recv(timeout=5))
if reply["type"] == "error":
    return reply
for start in range(reply["offset"], len(data), reply["chunk_size"]):
    websocket.send(data[start : start + reply["chunk_size"]])
while json.loads(text := websocket.recv(timeout=5))["type"] == "progress":
    pass
return text
""",
            says=["should return the reply parsed (a dict)", "got str"],
        ),
    ],
    "resume_upload": [
        # Reads the offset but sends the file from byte 0: the server gets
        # more than the declared size and answers size_mismatch.
        Wrong(
            """
with connect(url, compression=None) as websocket, open(path, "rb") as file:
    websocket.send(json.dumps({"type": "upload", "name": name, "size": size, "sha256": sha256}))
    ready = json.loads(websocket.recv(timeout=5))
    while data := file.read(ready["chunk_size"]):
        websocket.send(data)
    while (reply := json.loads(websocket.recv(timeout=5)))["type"] == "progress":
        pass
    return ready["offset"], reply
""",
            says=["more than the file's 40000 bytes", "file.seek(offset)"],
        ),
        # Resumes right, but returns the done message alone.
        Wrong(
            """
with connect(url, compression=None) as websocket, open(path, "rb") as file:
    websocket.send(json.dumps({"type": "upload", "name": name, "size": size, "sha256": sha256}))
    ready = json.loads(websocket.recv(timeout=5))
    file.seek(ready["offset"])
    while data := file.read(ready["chunk_size"]):
        websocket.send(data)
    while (reply := json.loads(websocket.recv(timeout=5)))["type"] == "progress":
        pass
    return reply
""",
            says=["should return a tuple (offset, done)", "got dict"],
        ),
        # Returns where the file ended instead of where the server stopped.
        Wrong(
            """
with connect(url, compression=None) as websocket, open(path, "rb") as file:
    websocket.send(json.dumps({"type": "upload", "name": name, "size": size, "sha256": sha256}))
    ready = json.loads(websocket.recv(timeout=5))
    file.seek(ready["offset"])
    while data := file.read(ready["chunk_size"]):
        websocket.send(data)
    while (reply := json.loads(websocket.recv(timeout=5)))["type"] == "progress":
        pass
    return file.tell(), reply
""",
            says=["the server held 20480 bytes", "returned 40000"],
        ),
    ],
    "download_file": [
        # Reads one binary frame, as if the file came in one: a file over
        # chunk_size comes in several.
        Wrong(
            """
websocket.send(json.dumps({"type": "download", "name": name}))
info = json.loads(websocket.recv(timeout=5))
with open(dest, "wb") as file:
    file.write(websocket.recv(timeout=5))
return info
""",
            says=["the copy holds 4,096 of the file's 10,000 bytes", "receive binary frames until size bytes are in"],
        ),
        # Stops once the bytes are in: the done message stays unread, and the
        # next request on the connection reads it as its answer.
        Wrong(
            """
websocket.send(json.dumps({"type": "download", "name": name}))
info = json.loads(websocket.recv(timeout=5))
received = 0
with open(dest, "wb") as file:
    while received < info["size"]:
        data = websocket.recv(timeout=5)
        file.write(data)
        received += len(data)
return info
""",
            says=["got {'type': 'done'", "read the 'done' message before you return"],
        ),
        # Sends the request as bytes "to be safe": the server answers a binary
        # frame with unexpected_binary, which has no "size".
        Wrong(
            """
websocket.send(json.dumps({"type": "download", "name": name}).encode())
info = json.loads(websocket.recv(timeout=5))
received = 0
with open(dest, "wb") as file:
    while received < info["size"]:
        data = websocket.recv(timeout=5)
        file.write(data)
        received += len(data)
json.loads(websocket.recv(timeout=5))
return info
""",
            says=["the server received a binary frame where it expected text", "KeyError: 'size'"],
        ),
        # Returns the last message, done, instead of the file message.
        Wrong(
            """
websocket.send(json.dumps({"type": "download", "name": name}))
info = json.loads(websocket.recv(timeout=5))
received = 0
with open(dest, "wb") as file:
    while received < info["size"]:
        data = websocket.recv(timeout=5)
        file.write(data)
        received += len(data)
return json.loads(websocket.recv(timeout=5))
""",
            says=["should return the server's 'file' message", "'type': 'done'"],
        ),
        # Keeps the bytes in memory and never writes the file.
        Wrong(
            """
websocket.send(json.dumps({"type": "download", "name": name}))
info = json.loads(websocket.recv(timeout=5))
data = b""
while len(data) < info["size"]:
    data += websocket.recv(timeout=5)
json.loads(websocket.recv(timeout=5))
return info
""",
            says=["download_file() wrote no file at dest"],
        ),
        # Counts frames instead of bytes: three frames, because the first
        # file came in three; a larger file comes in more.
        Wrong(
            """
websocket.send(json.dumps({"type": "download", "name": name}))
info = json.loads(websocket.recv(timeout=5))
with open(dest, "wb") as file:
    for _ in range(3):
        file.write(websocket.recv(timeout=5))
while isinstance(websocket.recv(timeout=5), bytes):
    pass
return info
""",
            says=["the copy holds 12,288 of the file's 20,000 bytes", "until size bytes are in"],
            never=["the copy holds 10,000"],
        ),
        # Puts each frame in front of the ones before, as on a stack: every
        # byte is there, in the wrong order.
        Wrong(
            """
websocket.send(json.dumps({"type": "download", "name": name}))
info = json.loads(websocket.recv(timeout=5))
frames = []
while sum(map(len, frames)) < info["size"]:
    frames.insert(0, websocket.recv(timeout=5))
json.loads(websocket.recv(timeout=5))
with open(dest, "wb") as file:
    file.write(b"".join(frames))
return info
""",
            says=["the copy has all 10,000 bytes, but not the file's", "write the frames in order"],
        ),
    ],
    "too_big": [
        # Waits for a reply as if the server answered every frame: the close
        # comes out of recv() as ConnectionClosed.
        Wrong(
            """
with connect(url, compression=None) as websocket:
    websocket.send(json.dumps({"type": "upload", "name": name, "size": len(data), "sha256": sha256}))
    json.loads(websocket.recv(timeout=5))
    websocket.send(data)
    return json.loads(websocket.recv(timeout=5))
""",
            says=["too_big() let ConnectionClosed escape", "code 1009", "catch it"],
        ),
        # Sends the data in chunks, out of habit: the server takes them all.
        Wrong(
            """
with connect(url, compression=None) as websocket:
    websocket.send(json.dumps({"type": "upload", "name": name, "size": len(data), "sha256": sha256}))
    ready = json.loads(websocket.recv(timeout=5))
    for start in range(0, len(data), ready["chunk_size"]):
        websocket.send(data[start : start + ready["chunk_size"]])
    return json.loads(websocket.recv(timeout=5))
""",
            says=["answered done", "in ONE frame, larger than chunk_size"],
        ),
        # Returns the close frame itself instead of its code and reason.
        Wrong(
            """
with connect(url, compression=None) as websocket:
    websocket.send(json.dumps({"type": "upload", "name": name, "size": len(data), "sha256": sha256}))
    json.loads(websocket.recv(timeout=5))
    websocket.send(data)
    try:
        websocket.recv(timeout=5)
    except ConnectionClosed as closed:
        return closed.rcvd
""",
            says=["should return a tuple (code, reason)", "got Close"],
        ),
        # Returns the code it expects and a reason of its own, not the close
        # frame's: the tuple has the right shape but not the server's words.
        Wrong(
            """
with connect(url, compression=None) as websocket:
    websocket.send(json.dumps({"type": "upload", "name": name, "size": len(data), "sha256": sha256}))
    json.loads(websocket.recv(timeout=5))
    websocket.send(data)
    try:
        websocket.recv(timeout=5)
    except ConnectionClosed:
        return 1009, "message too big"
""",
            says=["the second item should be the reason in the server's close frame", "got 'message too big'"],
        ),
    ],
    "collect": [
        # Fixes "wb" with append mode, but keeps the article's one fixed name:
        # two uploads at once end up interleaved in a single file.
        Wrong(
            """
await websocket.accept()
received = 0
try:
    while True:
        frame = await receive_frame(websocket)
        if isinstance(frame, str):
            await websocket.send_json({"type": "error", "code": "unexpected_text", "detail": "binary frames only"})
            continue
        with open(inbox / "received_file.bin", "ab") as file:
            file.write(frame)
        received += len(frame)
        await websocket.send_json({"received": received})
except WebSocketDisconnect:
    pass
""",
            says=["two connections should leave two files in inbox", "a file name of its own"],
        ),
        # Replies with the size of each frame, not the total so far.
        Wrong(
            """
await websocket.accept()
with open(inbox / f"{uuid.uuid4().hex}.bin", "ab") as file:
    try:
        while True:
            frame = await receive_frame(websocket)
            if isinstance(frame, str):
                await websocket.send_json({"type": "error", "code": "unexpected_text", "detail": "binary frames only"})
                continue
            file.write(frame)
            await websocket.send_json({"received": len(frame)})
    except WebSocketDisconnect:
        pass
""",
            says=["alice has sent 2000 bytes on this connection", "got {'received': 1000}"],
        ),
        # Forgets text frames: writing a str to a binary file raises TypeError.
        Wrong(
            """
await websocket.accept()
received = 0
with open(inbox / f"{uuid.uuid4().hex}.bin", "ab") as file:
    try:
        while True:
            frame = await receive_frame(websocket)
            file.write(frame)
            received += len(frame)
            await websocket.send_json({"received": received})
    except WebSocketDisconnect:
        pass
""",
            says=["raised TypeError", "not 'str'"],
        ),
        # An error reply of its own shape for a text frame: no type, no code.
        Wrong(
            """
await websocket.accept()
received = 0
with open(inbox / f"{uuid.uuid4().hex}.bin", "ab") as file:
    try:
        while True:
            frame = await receive_frame(websocket)
            if isinstance(frame, str):
                await websocket.send_json({"error": "send binary frames"})
                continue
            file.write(frame)
            received += len(frame)
            await websocket.send_json({"received": received})
    except WebSocketDisconnect:
        pass
""",
            says=["a text frame should get an error reply with code 'unexpected_text'", "got {'error': 'send binary frames'}"],
        ),
        # Answers binary with binary: the JSON goes out in a binary frame.
        Wrong(
            """
await websocket.accept()
received = 0
with open(inbox / f"{uuid.uuid4().hex}.bin", "ab") as file:
    try:
        while True:
            frame = await receive_frame(websocket)
            if isinstance(frame, str):
                await websocket.send_json({"type": "error", "code": "unexpected_text", "detail": "binary frames only"})
                continue
            file.write(frame)
            received += len(frame)
            await websocket.send_bytes(json.dumps({"received": received}).encode())
    except WebSocketDisconnect:
        pass
""",
            says=["expected a JSON text frame, got a binary frame"],
        ),
        # A file of its own for each connection, but opened with "wb" for
        # every frame, as the article did: each frame overwrites the last.
        Wrong(
            """
await websocket.accept()
name = f"{uuid.uuid4().hex}.bin"
received = 0
try:
    while True:
        frame = await receive_frame(websocket)
        if isinstance(frame, str):
            await websocket.send_json({"type": "error", "code": "unexpected_text", "detail": "binary frames only"})
            continue
        with open(inbox / name, "wb") as file:
            file.write(frame)
        received += len(frame)
        await websocket.send_json({"received": received})
except WebSocketDisconnect:
    pass
""",
            says=["no file in inbox holds exactly what alice sent (3001 bytes)"],
        ),
        # The right file and replies, but each write runs on the event loop's
        # thread (the lesson's old answer): every connection waits for it.
        Wrong(
            """
await websocket.accept()
received = 0
with open(inbox / f"{uuid.uuid4().hex}.bin", "ab") as file:
    try:
        while True:
            frame = await receive_frame(websocket)
            if isinstance(frame, str):
                await websocket.send_json({"type": "error", "code": "unexpected_text", "detail": "binary frames only"})
                continue
            file.write(frame)
            received += len(frame)
            await websocket.send_json({"received": received})
    except WebSocketDisconnect:
        pass
""",
            says=["writes to the file ran on the event loop's thread", "asyncio.to_thread(file.write, frame)"],
        ),
        # Calls write(frame) itself, on the loop, and hands its result (a
        # number) to to_thread, which cannot call it.
        Wrong(
            """
await websocket.accept()
received = 0
with open(inbox / f"{uuid.uuid4().hex}.bin", "ab") as file:
    try:
        while True:
            frame = await receive_frame(websocket)
            if isinstance(frame, str):
                await websocket.send_json({"type": "error", "code": "unexpected_text", "detail": "binary frames only"})
                continue
            await asyncio.to_thread(file.write(frame))
            received += len(frame)
            await websocket.send_json({"received": received})
    except WebSocketDisconnect:
        pass
""",
            says=["raised TypeError", "'int' object is not callable"],
        ),
        # Right in every reply, but nothing catches the client's close: the
        # handler ends with WebSocketDisconnect instead of quietly.
        Wrong(
            """
await websocket.accept()
received = 0
with open(inbox / f"{uuid.uuid4().hex}.bin", "ab") as file:
    while True:
        frame = await receive_frame(websocket)
        if isinstance(frame, str):
            await websocket.send_json({"type": "error", "code": "unexpected_text", "detail": "binary frames only"})
            continue
        await asyncio.to_thread(file.write, frame)
        received += len(frame)
        await websocket.send_json({"received": received})
""",
            says=["the handler let WebSocketDisconnect escape", "catch it"],
        ),
    ],
}
