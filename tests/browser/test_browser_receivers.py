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

from lab_helpers import (
    CHAT_SESSION_PATH,
    LAB_LOAD_TIMEOUT,
    open_panel,
    send,
    shut_down_kernels,
    wait_finished,
)

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


def test_after_three_reloads_a_reply_reaches_the_page_exactly_once(
    page: Any, lab_server: Any
) -> None:
    # End the panel's chat kernel, so this test's pages are the only ones that ever had a
    # comm in the next one: the pages of earlier tests were closed without a ``pagehide``, and
    # their comms stay open (and get every event) until their heartbeat lapses.
    assert CHAT_SESSION_PATH in shut_down_kernels(lab_server, keep_chat_kernel=False)
    page.reload(timeout=LAB_LOAD_TIMEOUT)  # the page starts a fresh chat kernel
    page.wait_for_selector("#jp-main-dock-panel", timeout=LAB_LOAD_TIMEOUT)
    open_panel(page)

    frames: list[tuple[str, str | bytes]] = []

    def watch(socket: Any) -> None:
        if "/api/kernels/" in socket.url:  # not the server's event or terminal sockets
            socket.on("framereceived", lambda payload: frames.append((socket.url, payload)))

    page.on("websocket", watch)
    for _ in range(RELOADS):
        page.reload(timeout=LAB_LOAD_TIMEOUT)
        page.wait_for_selector("#jp-main-dock-panel", timeout=LAB_LOAD_TIMEOUT)
        open_panel(page)
    frames.clear()

    send(page, "hello after reloads")
    wait_finished(page, after="hello after reloads")

    received = [
        (url, message["content"])
        for url, payload in list(frames)
        for message in jupyter_messages(payload)
        if message["header"].get("msg_type") == "comm_msg"
    ]
    events = [content["data"] for _, content in received]
    deltas = Counter((e["message_id"], e["seq"]) for e in events if e.get("type") == "delta")
    dones = [e for e in events if e.get("type") == "done"]
    routes = [
        (url.split("?")[0], content["comm_id"])
        for url, content in received
        if content["data"].get("type") == "done"
    ]
    assert len(dones) == 1, f"the done arrived {len(dones)} times, (socket, comm): {routes}"
    message_id, last_seq = dones[0]["message_id"], dones[0]["seq"]
    assert last_seq > 1
    assert deltas == Counter((message_id, seq) for seq in range(1, last_seq + 1))
