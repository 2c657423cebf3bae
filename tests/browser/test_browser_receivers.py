"""No stale receivers in the browser: after reloads, a reply reaches the page once.

The panel's chat kernel survives page reloads. Before protocol 1.1's client_id, heartbeat
and the close on ``pagehide``, each reload left one more open comm in that kernel, and
every frame of every reply went out once per comm: all of them reached the live page's
WebSocket (iopub goes to every connection of a kernel).
"""

from __future__ import annotations

import json
import struct
from collections import Counter
from typing import Any

from lab_helpers import LAB_LOAD_TIMEOUT, open_panel, send, wait_finished

RELOADS = 3


def jupyter_messages(payload: str | bytes) -> list[dict[str, Any]]:
    """The Jupyter message in one WebSocket frame: JSON, or the binary protocol
    ``v1.kernel.websocket.jupyter.org`` (offsets, then channel, header, parent header,
    metadata and content)."""
    if isinstance(payload, str):
        return [json.loads(payload)]
    count = struct.unpack_from("<Q", payload, 0)[0]
    offsets = [*struct.unpack_from(f"<{count}Q", payload, 8), len(payload)]
    parts = [payload[offsets[i] : offsets[i + 1]] for i in range(min(count, 6))]
    channel, *documents = parts[0].decode(), *(json.loads(p) for p in parts[1:5])
    header, parent_header, metadata, content = documents
    return [
        {
            "channel": channel,
            "header": header,
            "parent_header": parent_header,
            "metadata": metadata,
            "content": content,
        }
    ]


def test_after_three_reloads_a_reply_reaches_the_page_exactly_once(page: Any) -> None:
    frames: list[str | bytes] = []

    def keep(payload: str | bytes) -> None:
        frames.append(payload)

    def watch(socket: Any) -> None:
        if "/api/kernels/" in socket.url:  # not the server's event or terminal sockets
            socket.on("framereceived", keep)

    page.on("websocket", watch)
    for _ in range(RELOADS):
        page.reload(timeout=LAB_LOAD_TIMEOUT)
        page.wait_for_selector("#jp-main-dock-panel", timeout=LAB_LOAD_TIMEOUT)
        open_panel(page)
    frames.clear()

    send(page, "hello after reloads")
    wait_finished(page)

    events = [
        message["content"]["data"]
        for payload in list(frames)
        for message in jupyter_messages(payload)
        if message["header"].get("msg_type") == "comm_msg"
    ]
    deltas = Counter((e["message_id"], e["seq"]) for e in events if e.get("type") == "delta")
    dones = [e for e in events if e.get("type") == "done"]
    assert len(dones) == 1, f"the done arrived {len(dones)} times"
    message_id, last_seq = dones[0]["message_id"], dones[0]["seq"]
    assert last_seq > 1
    assert deltas == Counter((message_id, seq) for seq in range(1, last_seq + 1))
