"""Plausible wrong answers for the lesson 04 exercises (solutions/04_timeout.ipynb).

See __init__.py for what the test requires.
"""

WRONG_ANSWERS: dict[str, str] = {
    # Counts its own acks from 0 instead of echoing the heartbeat's seq. It
    # skips the unknown_seq replies, so nothing raises and the connection
    # stays open: only the acks themselves are wrong.
    "answer_heartbeats": '''
seqs = []
while len(seqs) < n:
    message = json.loads(websocket.recv(timeout=5))
    if message["type"] != "heartbeat":
        continue
    websocket.send(json.dumps({"type": "heartbeat_ack", "seq": len(seqs)}))
    seqs.append(message["seq"])
return seqs
''',
    # Iterating ends quietly only on a clean close (1000, 1001 or 1005 both
    # ways): the 4000 close raises.
    "wait_for_close": '''
heartbeats = 0
for message in websocket:
    heartbeats += 1
return heartbeats, websocket.close_code, websocket.close_reason
''',
    # Treats a closed connection like a quiet one.
    "next_event": '''
try:
    return "message", websocket.recv(timeout=timeout)
except (TimeoutError, ConnectionClosed):
    return "timeout", None
''',
    # Closes on time, but with the default code 1000: nothing tells the
    # client why.
    "quiet_endpoint": '''
try:
    while True:
        try:
            async with asyncio.timeout(IDLE_LIMIT):
                text = await websocket.receive_text()
        except TimeoutError:
            await websocket.close(reason="idle timeout")
            return
        await websocket.send_text(text)
except WebSocketDisconnect:
    pass
''',
}
