"""Stop always frees the chat: models that never reach a yield, through a real kernel.

A model spinning in Python gets a ``KeyboardInterrupt`` in its thread; one blocked in C
(``time.sleep``, a lock) is abandoned: ``done`` ``cancelled`` comes at once, the chat takes
the next message, and whatever the abandoned thread yields later is discarded.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from kernel_client import CommClient, KernelHarness

BLOCKING_MODELS = r"""
import threading, time
import jupyter_deltachat as dc

SPUN_OUT = threading.Event()
RELEASE, RETURNED = threading.Event(), threading.Event()

@dc.register("spin")
def spin(messages):
    try:
        while True:
            pass
    except KeyboardInterrupt:
        SPUN_OUT.set()
        raise
    yield "never"

@dc.register("sleeps")
def sleeps(messages):
    time.sleep(3600)
    yield "never"

@dc.register("blocked")
def blocked(messages):
    try:
        RELEASE.wait()
        yield "late"
        yield " and later"
    finally:
        RETURNED.set()

TOOL_RELEASE, TOOL_RETURNED = threading.Event(), threading.Event()

@dc.tool(approval="never")
def hold() -> str:
    '''Blocks until the test releases it.'''
    try:
        TOOL_RELEASE.wait()
        return "held"
    finally:
        TOOL_RETURNED.set()

@dc.register("holder")
def holder(messages, config):
    if messages[-1].role != "tool":
        yield dc.CallTool("hold", {})
"""


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KernelHarness]:
    store = tmp_path_factory.mktemp("credentials") / "credentials.json"
    harness = KernelHarness({"JUPYTER_DELTACHAT_CREDENTIALS": str(store)})
    harness.execute(BLOCKING_MODELS)
    try:
        yield harness
    finally:
        harness.shutdown()


def start(client: CommClient, model: str) -> tuple[str, str]:
    chat = f"stop-{uuid.uuid4().hex[:8]}"
    client.send(
        {"type": "send", "request_id": "r", "chat_id": chat, "content": "go", "model": model}
    )
    return chat, client.next("start")["message_id"]


def stop_and_expect_cancelled(client: CommClient, chat: str, message_id: str) -> None:
    client.send({"type": "stop", "chat_id": chat, "message_id": message_id})
    done = client.next("done")
    assert (done["message_id"], done["finish_reason"], done["seq"], done["length"]) == (
        message_id,
        "cancelled",
        0,
        0,
    )
    again = client.request(
        {"type": "send", "request_id": "r2", "chat_id": chat, "content": "x", "model": "demo"},
        "start",
    )
    assert again["chat_id"] == chat  # the chat took the next message: it is not busy
    client.send({"type": "stop", "chat_id": chat})
    assert client.next("done")["message_id"] == again["message_id"]


def test_a_model_spinning_in_python_is_interrupted(kernel: KernelHarness) -> None:
    client = CommClient(kernel)
    client.open()
    chat, message_id = start(client, "spin")
    stop_and_expect_cancelled(client, chat, message_id)
    kernel.execute("assert SPUN_OUT.wait(10)")  # the thread stopped spinning
    client.close()


def test_a_model_asleep_in_c_is_abandoned(kernel: KernelHarness) -> None:
    client = CommClient(kernel)
    client.open()
    chat, message_id = start(client, "sleeps")
    stop_and_expect_cancelled(client, chat, message_id)
    snapshot = client.request({"type": "sync", "chat_id": chat}, "snapshot")
    assert [m["finish_reason"] for m in snapshot["messages"] if m["id"] == message_id] == [
        "cancelled"
    ]
    client.close()


def test_an_abandoned_model_s_later_output_is_discarded(kernel: KernelHarness) -> None:
    client = CommClient(kernel)
    client.open()
    chat, message_id = start(client, "blocked")
    stop_and_expect_cancelled(client, chat, message_id)
    kernel.execute("RELEASE.set()\nassert RETURNED.wait(10)")
    snapshot = client.request({"type": "sync", "chat_id": chat}, "snapshot")
    late = [e for e in client.drain() if e.get("message_id") == message_id]
    assert late == []
    kept = [m for m in snapshot["messages"] if m["id"] == message_id]
    assert [(m["content"], m["finish_reason"]) for m in kept] == [("", "cancelled")]
    assert kernel.stderr_text() == ""  # the abandoned threads are reported in the kernel's log
    client.close()


def test_a_tool_blocked_in_c_is_abandoned_and_its_call_says_cancelled(
    kernel: KernelHarness,
) -> None:
    """Stop while an approved tool call runs, blocked where no interrupt reaches it: the
    call is cancelled (its card says so) before ``done``, and its later result is discarded."""
    client = CommClient(kernel)
    client.open()
    chat = f"stop-{uuid.uuid4().hex[:8]}"
    client.send(
        {
            "type": "send",
            "request_id": "r",
            "chat_id": chat,
            "content": "go",
            "model": "holder",
            "tools": ["hold"],
        }
    )
    message_id = client.next("start")["message_id"]
    running = client.next("tool")["call"]
    assert (running["name"], running["status"]) == ("hold", "running")
    client.send({"type": "stop", "chat_id": chat, "message_id": message_id})
    cancelled = client.next("tool", "done")
    assert cancelled["type"] == "tool"
    assert (cancelled["call"]["id"], cancelled["call"]["status"], cancelled["call"]["result"]) == (
        running["id"],
        "cancelled",
        "stopped by the user",
    )
    assert client.next("done")["finish_reason"] == "cancelled"
    kernel.execute("TOOL_RELEASE.set()\nassert TOOL_RETURNED.wait(10)")
    snapshot = client.request({"type": "sync", "chat_id": chat}, "snapshot")
    assert [e for e in client.drain() if e.get("message_id") == message_id] == []
    kept = [m for m in snapshot["messages"] if m["id"] == message_id]
    assert [[(c["status"], c["result"]) for c in m["tool_calls"]] for m in kept] == [
        [("cancelled", "stopped by the user")]
    ]
    client.close()
