"""The panel's private chat kernel (server/chat_kernel.py) over real HTTP and a real
websocket (pytest-jupyter): notebooks' kernel pickers list ``/api/kernels``, so the chat
kernel must never be there."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import pytest
from jupyter_client.session import Session
from tornado.httpclient import HTTPClientError

pytest_plugins = ("pytest_jupyter.jupyter_server",)

KERNELS = ("deltachat", "api", "kernels")
REPLY_TIMEOUT = 60.0


@pytest.fixture
def jp_server_config(tmp_path: Path) -> dict[str, Any]:
    return {
        "ServerApp": {"jpserver_extensions": {"jupyter_deltachat": True}},
        "DeltaChat": {"credentials_path": str(tmp_path / "credentials.json")},
    }


async def request(jp_fetch: Any, method: str, *parts: str, **kwargs: Any) -> Any:
    """The response whatever its status (tornado raises for non-2xx otherwise)."""
    if method == "POST" and "body" not in kwargs:
        kwargs["body"] = b""
    return await jp_fetch(*parts, method=method, raise_error=False, **kwargs)


async def start(jp_fetch: Any) -> tuple[int, dict[str, Any]]:
    response = await request(jp_fetch, "POST", *KERNELS, body=json.dumps({"name": "python3"}))
    return response.code, json.loads(response.body)


async def execute(jp_ws_fetch: Any, kernel_id: str, code: str) -> str:
    """Run ``code`` over the chat kernel's ``/channels`` websocket (the JSON protocol);
    what it printed."""
    socket = await jp_ws_fetch(*KERNELS, kernel_id, "channels")
    session = Session()
    message = session.msg("execute_request", {"code": code, "silent": False})
    message["channel"] = "shell"
    msg_id = message["header"]["msg_id"]
    await socket.write_message(json.dumps(message, default=str))
    printed = ""
    try:
        while True:
            raw = await asyncio.wait_for(socket.read_message(), REPLY_TIMEOUT)
            assert raw is not None, "the websocket closed before the kernel went idle"
            reply = json.loads(raw)
            if reply["parent_header"].get("msg_id") != msg_id:
                continue
            if reply["msg_type"] == "stream":
                printed += reply["content"]["text"]
            if reply["msg_type"] == "status" and reply["content"]["execution_state"] == "idle":
                return printed
    finally:
        socket.close()


async def test_chat_kernel_executes_over_its_websocket_in_the_chat_scope(
    jp_fetch: Any, jp_ws_fetch: Any
) -> None:
    code, model = await start(jp_fetch)
    assert code == 201
    printed = await execute(
        jp_ws_fetch, model["id"], "import os; print(os.environ['JPY_SESSION_NAME'])"
    )
    assert printed == ".deltachat/chat\n"


async def test_a_second_start_returns_the_same_kernel(jp_fetch: Any) -> None:
    assert json.loads((await request(jp_fetch, "GET", *KERNELS)).body) == []
    first_code, first = await start(jp_fetch)
    second_code, second = await start(jp_fetch)
    assert (first_code, second_code) == (201, 200)
    assert second["id"] == first["id"]
    got = await request(jp_fetch, "GET", *KERNELS, first["id"])
    assert got.code == 200
    assert json.loads(got.body)["id"] == first["id"]
    listed = json.loads((await request(jp_fetch, "GET", *KERNELS)).body)
    assert [kernel["id"] for kernel in listed] == [first["id"]]


async def test_chat_kernel_is_in_no_kernel_or_session_list(jp_fetch: Any) -> None:
    _, model = await start(jp_fetch)
    kernels = json.loads((await request(jp_fetch, "GET", "api", "kernels")).body)
    sessions = json.loads((await request(jp_fetch, "GET", "api", "sessions")).body)
    assert model["id"] not in [kernel["id"] for kernel in kernels]
    assert kernels == []
    assert sessions == []


async def test_restart_keeps_the_kernel_id_and_forgets_its_state(
    jp_fetch: Any, jp_ws_fetch: Any
) -> None:
    _, model = await start(jp_fetch)
    assert await execute(jp_ws_fetch, model["id"], "x = 41; print(x + 1)") == "42\n"
    restarted = await request(jp_fetch, "POST", *KERNELS, model["id"], "restart")
    assert restarted.code == 200
    assert json.loads(restarted.body)["id"] == model["id"]
    assert await execute(jp_ws_fetch, model["id"], "print('x' in globals())") == "False\n"


async def test_interrupt_and_shutdown(jp_fetch: Any) -> None:
    _, model = await start(jp_fetch)
    interrupted = await request(jp_fetch, "POST", *KERNELS, model["id"], "interrupt")
    assert interrupted.code == 204
    deleted = await request(jp_fetch, "DELETE", *KERNELS, model["id"])
    assert deleted.code == 204
    assert (await request(jp_fetch, "GET", *KERNELS, model["id"])).code == 404
    code, again = await start(jp_fetch)
    assert code == 201
    assert again["id"] != model["id"]


@pytest.mark.parametrize(
    ("method", "suffix"),
    [
        ("POST", ()),
        ("GET", ()),
        ("GET", ("{id}",)),
        ("DELETE", ("{id}",)),
        ("POST", ("{id}", "restart")),
        ("POST", ("{id}", "interrupt")),
    ],
)
async def test_no_token_is_403(jp_fetch: Any, method: str, suffix: tuple[str, ...]) -> None:
    _, model = await start(jp_fetch)
    parts = [part.format(id=model["id"]) for part in suffix]
    response = await request(jp_fetch, method, *KERNELS, *parts, headers={"Authorization": ""})
    assert response.code == 403
    assert (await request(jp_fetch, "GET", *KERNELS, model["id"])).code == 200


async def test_websocket_without_token_is_403(jp_fetch: Any, jp_ws_fetch: Any) -> None:
    _, model = await start(jp_fetch)
    with pytest.raises(HTTPClientError) as refused:
        await jp_ws_fetch(*KERNELS, model["id"], "channels", headers={"Authorization": ""})
    assert refused.value.code == 403


async def test_chat_kernel_ends_when_the_server_stops(jp_fetch: Any, jp_serverapp: Any) -> None:
    _, model = await start(jp_fetch)
    manager = jp_serverapp.web_app.settings["jupyter_deltachat_chat_kernels"].manager
    pid = manager.get_kernel(model["id"]).provisioner.pid
    os.kill(pid, 0)  # running
    await jp_serverapp.cleanup_extensions()  # what the server runs when it stops
    assert manager.list_kernel_ids() == []
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
