"""No stale receivers (protocol 1.1 section 0) through a real ipykernel: a ``hello`` with a
``client_id`` drops the older comm of that client, a comm that declared a ``heartbeat`` and
went silent is closed, and comms that declared neither are kept as in v1.

Events to several comms leave the kernel in the order the comms were opened, and one
router thread queues them in arrival order, so once a later comm holds an event, an
earlier comm would hold its copy already: ``drain()`` of a dropped comm is then exact.
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import pytest
from kernel_client import CommClient, KernelHarness

from jupyter_deltachat.kernel.comm import HEARTBEAT_MISSES

ECHO = """
import jupyter_deltachat as dc
dc.register("receivers_echo", lambda messages: messages[-1].content)
"""


@pytest.fixture(scope="module", autouse=True)
def echo_model(kernel: KernelHarness) -> None:
    kernel.execute(ECHO)


def hello(**fields: Any) -> dict[str, Any]:
    return {"type": "hello", "protocol": 1, "client": "tests/1", **fields}


def opened(kernel: KernelHarness, **fields: Any) -> CommClient:
    comm = CommClient(kernel)
    comm.open(hello(**fields))
    assert comm.next("ready")["protocol"] == 1
    return comm


def echo(sender: CommClient, text: str) -> None:
    sender.send(
        {
            "type": "send",
            "request_id": uuid.uuid4().hex,
            "chat_id": f"chat-{uuid.uuid4().hex[:8]}",
            "content": text,
            "model": "receivers_echo",
        }
    )


def test_a_hello_with_a_client_id_drops_the_older_comm_of_that_client(
    kernel: KernelHarness,
) -> None:
    client_id = uuid.uuid4().hex
    older = opened(kernel, client_id=client_id)
    newer = opened(kernel, client_id=client_id, heartbeat=30)
    other = opened(kernel, client_id=uuid.uuid4().hex)
    plain = opened(kernel)

    echo(newer, "hello once")
    for comm in (newer, other, plain):
        assert comm.next("message")["message"]["content"] == "hello once"
        assert comm.stream().text() == "hello once"
    assert older.drain() == []

    older.send({"type": "list_models"})  # a dropped comm is answered nothing either
    newer.request({"type": "list_models"}, "models")
    assert older.drain() == []
    for comm in (newer, other, plain):
        comm.close()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"client_id": "x" * 65}, "hello: 'client_id' has 65 characters; the limit is 64"),
        ({"client_id": ""}, "hello: 'client_id' must be a non-empty string, got an empty string"),
        ({"client_id": 7}, "hello: 'client_id' must be a non-empty string, got int"),
        ({"heartbeat": 4}, "hello: 'heartbeat' must be between 5 and 300 seconds, got 4"),
        ({"heartbeat": 300.5}, "hello: 'heartbeat' must be between 5 and 300 seconds, got 300.5"),
        ({"heartbeat": "30"}, "hello: 'heartbeat' must be a number of seconds, got str"),
        ({"heartbeat": True}, "hello: 'heartbeat' must be a number of seconds, got bool"),
    ],
)
def test_a_bad_client_id_or_heartbeat_is_bad_request(
    kernel: KernelHarness, fields: dict[str, Any], message: str
) -> None:
    comm = CommClient(kernel)
    comm.open(hello(**fields))
    error = comm.next("error", "ready")
    assert error["type"] == "error"
    assert error["error"]["code"] == "bad_request"
    assert error["error"]["message"] == message
    comm.close()


def test_a_ping_is_answered_by_nothing(kernel: KernelHarness) -> None:
    comm = opened(kernel, heartbeat=5)
    comm.send({"type": "ping"})
    comm.request({"type": "list_models"}, "models")
    assert comm.drain() == []
    comm.close()


def test_a_comm_silent_past_its_heartbeat_is_closed_and_the_others_are_kept(
    kernel: KernelHarness,
) -> None:
    heartbeat = 5
    began = time.monotonic()
    silent = opened(kernel, heartbeat=heartbeat)
    pinging = opened(kernel, heartbeat=heartbeat)
    plain = opened(kernel)
    stop_pinging = threading.Event()

    def ping() -> None:
        while not stop_pinging.wait(heartbeat / 2):
            pinging.send({"type": "ping"})

    pinger = threading.Thread(target=ping, daemon=True)
    pinger.start()
    try:
        silent.next("comm_close", timeout=HEARTBEAT_MISSES * heartbeat + 15)
        assert time.monotonic() - began >= HEARTBEAT_MISSES * heartbeat
        echo(plain, "still here")
        for comm in (pinging, plain):
            assert comm.next("message")["message"]["content"] == "still here"
            assert comm.stream().text() == "still here"
        assert silent.drain() == []
        assert not any(e.get("type") == "comm_close" for e in pinging.drain() + plain.drain())
    finally:
        stop_pinging.set()
        pinger.join()
    pinging.close()
    plain.close()
