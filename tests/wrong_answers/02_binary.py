"""Plausible wrong answers to lesson 02's exercises, one per exercise.

See __init__.py for what the test requires.
"""

WRONG_ANSWERS: dict[str, str] = {
    # The right digest, but the whole file is read into memory at once.
    "sha256_of": '''
return hashlib.sha256(file.read()).hexdigest()
''',
    # The whole file in one binary frame: over chunk_size, so the server
    # closes the connection with 1009.
    "upload_file": '''
with connect(url, compression=None) as websocket:
    websocket.send(json.dumps({"type": "upload", "name": name, "size": len(data), "sha256": sha256}))
    json.loads(websocket.recv(timeout=5))
    websocket.send(data)
    return json.loads(websocket.recv(timeout=5))
''',
    # Assumes the first reply is always "ready": an invalid_name error
    # has no "offset", so this raises KeyError.
    "try_upload": '''
websocket.send(json.dumps({"type": "upload", "name": name, "size": len(data), "sha256": sha256}))
ready = json.loads(websocket.recv(timeout=5))
for start in range(ready["offset"], len(data), ready["chunk_size"]):
    websocket.send(data[start : start + ready["chunk_size"]])
while (reply := json.loads(websocket.recv(timeout=5)))["type"] == "progress":
    pass
return reply
''',
    # Reads the offset but sends the file from byte 0: the server gets
    # more than the declared size and answers size_mismatch.
    "resume_upload": '''
with connect(url, compression=None) as websocket, open(path, "rb") as file:
    websocket.send(json.dumps({"type": "upload", "name": name, "size": size, "sha256": sha256}))
    ready = json.loads(websocket.recv(timeout=5))
    while data := file.read(ready["chunk_size"]):
        websocket.send(data)
    while (reply := json.loads(websocket.recv(timeout=5)))["type"] == "progress":
        pass
    return ready["offset"], reply
''',
    # Fixes "wb" with append mode, but keeps the article's one fixed name:
    # two uploads at once end up interleaved in a single file.
    "collect": '''
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
''',
}
