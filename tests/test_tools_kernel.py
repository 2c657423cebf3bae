"""Tools through a real kernel (protocol 1.1 section 2): one reply, many steps, approval,
stop in every state, max_steps, bounded results, and every comm seeing the same calls.

Custom models call tools by yielding ``CallTool``; each test's model is defined in the
kernel, as a user would.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from kernel_client import CommClient, KernelHarness

MODELS = r"""
import threading
import jupyter_deltachat as dc

x = 4
STEPS = []

def _after_tool(messages):
    return messages[-1].role == "tool"

@dc.register("asker")
def asker(messages, config):
    STEPS.append([m.role for m in messages])
    if _after_tool(messages):
        yield "Result: " + messages[-1].content
    else:
        yield "Let me look. "
        yield dc.CallTool("python", {"code": "print(x * 2)\nx + 1"})
    yield dc.Usage(3, 4)

@dc.register("tool_names")
def tool_names(messages, config):
    yield ",".join(t.name for t in config.tools)

@dc.tool(approval="never")
def double(n: int) -> int:
    '''Double a number.

    Args:
        n: the number to double.
    '''
    return 2 * n

@dc.register("looper")
def looper(messages, config):
    yield "step "
    yield dc.CallTool("double", {"n": len(messages)})

@dc.register("inspector")
def inspector(messages, config):
    if not _after_tool(messages):
        yield dc.CallTool("inspect_variable", {"name": messages[-1].content})

@dc.register("coder")
def coder(messages, config):
    STEPS.append([m.content for m in messages])
    if _after_tool(messages):
        yield "ran"
        return
    yield dc.CallTool("python", {"code": messages[-1].content})
"""

SPIN = r"""
import time
try:
    while True:
        time.sleep(0.01)
except KeyboardInterrupt:
    INTERRUPTED = True
    raise
"""


@pytest.fixture(scope="module")
def kernel(kernel: KernelHarness) -> KernelHarness:
    """The shared module kernel (tests/conftest.py) with this module's models and tools."""
    kernel.execute(MODELS)
    return kernel


def send(client: CommClient, model: str, content: str = "go", **extra: Any) -> tuple[str, str]:
    chat = extra.pop("chat_id", None) or f"tools-{uuid.uuid4().hex[:8]}"
    client.send(
        {"type": "send", "request_id": "r", "chat_id": chat, "content": content, "model": model}
        | extra
    )
    return chat, client.next("start")["message_id"]


def tool_event(client: CommClient, status: str) -> dict[str, Any]:
    event = client.next("tool")
    assert event["call"]["status"] == status, event
    return event


def test_ready_lists_the_tools_and_a_new_tool_is_announced(
    kernel: KernelHarness, client: CommClient
) -> None:
    ready = CommClient(kernel).open()
    tools = {t["name"]: t for t in ready["tools"]}
    assert tools["python"]["approval"] == "ask" and tools["python"]["source"] == "builtin"
    assert tools["python"]["parameters"]["required"] == ["code"]
    assert tools["double"] == {
        "name": "double",
        "description": "Double a number.",
        "parameters": {
            "type": "object",
            "properties": {"n": {"type": "integer", "description": "the number to double."}},
            "required": ["n"],
        },
        "approval": "never",
        "source": "kernel",
    }
    assert client.request({"type": "list_tools"}, "tools")["tools"] == ready["tools"]
    kernel.execute("@dc.tool\nasync def shout(text: str) -> str:\n    return text.upper()")
    announced = {t["name"]: t for t in client.next("tools")["tools"]}
    assert announced["shout"]["approval"] == "ask"
    kernel.execute("dc.untool('shout')")
    assert "shout" not in {t["name"] for t in client.next("tools")["tools"]}


def test_an_approved_python_call_runs_in_the_user_namespace_within_one_reply(
    kernel: KernelHarness, client: CommClient
) -> None:
    other = CommClient(kernel)
    other.open()
    chat, message_id = send(client, "asker", tools="all")
    waiting = tool_event(client, "awaiting_approval")
    call = waiting["call"]
    assert (waiting["message_id"], call["name"], call["arguments"], call["at"]) == (
        message_id,
        "python",
        {"code": "print(x * 2)\nx + 1"},
        len("Let me look. "),
    )
    first = client.next("delta")
    assert first["text"] == "Let me look. "  # sent before the call's event
    client.send({"type": "approve", "chat_id": chat, "call_id": call["id"], "decision": "allow"})
    assert tool_event(client, "running")["call"]["id"] == call["id"]
    done_call = tool_event(client, "done")["call"]
    assert done_call["result"] == "8\n5" and "truncated" not in done_call
    stream = client.stream(message_id, first=first)
    assert stream.text() == "Let me look. Result: 8\n5"
    assert stream.done["finish_reason"] == "stop"
    assert stream.done["usage"] == {"input_tokens": 6, "output_tokens": 8}
    assert [e["call"]["status"] for e in other.drain() if e["type"] == "tool"] == [
        "awaiting_approval",
        "running",
        "done",
    ]
    snapshot = client.request({"type": "sync", "chat_id": chat}, "snapshot")
    reply = snapshot["messages"][-1]
    assert reply["content"] == "Let me look. Result: 8\n5"
    assert reply["tool_calls"] == [done_call]
    assert kernel.evaluate("STEPS[-1]") == "['user', 'assistant', 'tool']"
    other.close()


def test_a_denied_call_is_not_run_and_the_model_is_told(
    kernel: KernelHarness, client: CommClient
) -> None:
    kernel.execute("x = 4")
    chat, message_id = send(client, "coder", "x = 99", tools=["python"])
    call = tool_event(client, "awaiting_approval")["call"]
    client.send({"type": "approve", "chat_id": chat, "call_id": call["id"], "decision": "deny"})
    assert tool_event(client, "denied")["call"]["result"] == "the user denied this call"
    assert client.stream(message_id).text() == "ran"
    assert kernel.evaluate("x") == "4"


def test_allow_in_chat_stops_asking_in_that_chat_only(
    kernel: KernelHarness, client: CommClient
) -> None:
    chat, message_id = send(client, "coder", "y = 1", tools="all")
    call = tool_event(client, "awaiting_approval")["call"]
    client.send(
        {"type": "approve", "chat_id": chat, "call_id": call["id"], "decision": "allow_chat"}
    )
    tool_event(client, "running")
    tool_event(client, "done")
    client.stream(message_id)
    _, message_id = send(client, "coder", "y = 2", tools="all", chat_id=chat)
    assert tool_event(client, "running")["call"]["arguments"] == {"code": "y = 2"}
    tool_event(client, "done")
    client.stream(message_id)
    other_chat, message_id = send(client, "coder", "y = 3", tools="all")
    tool_event(client, "awaiting_approval")
    assert kernel.evaluate("y") == "2"
    client.send({"type": "stop", "chat_id": other_chat})
    tool_event(client, "cancelled")
    client.stream(message_id)


def test_stop_while_awaiting_approval_cancels_the_call(client: CommClient) -> None:
    chat, message_id = send(client, "coder", "z = 1", tools="all")
    waiting = tool_event(client, "awaiting_approval")["call"]
    snapshot = client.request({"type": "sync", "chat_id": chat}, "snapshot")
    assert snapshot["streaming"]["message_id"] == message_id
    assert snapshot["messages"][-1]["tool_calls"] == [waiting]
    client.send({"type": "stop", "chat_id": chat})
    assert tool_event(client, "cancelled")["message_id"] == message_id
    assert client.stream(message_id).done["finish_reason"] == "cancelled"


def test_stop_while_python_runs_interrupts_the_user_code(
    kernel: KernelHarness, client: CommClient
) -> None:
    chat, message_id = send(client, "coder", SPIN, tools="all")
    call = tool_event(client, "awaiting_approval")["call"]
    client.send({"type": "approve", "chat_id": chat, "call_id": call["id"], "decision": "allow"})
    tool_event(client, "running")
    client.send({"type": "stop", "chat_id": chat})
    assert tool_event(client, "cancelled")["call"]["id"] == call["id"]
    assert client.stream(message_id).done["finish_reason"] == "cancelled"
    assert kernel.evaluate("INTERRUPTED") == "True"
    assert kernel.evaluate("1 + 1") == "2"


def test_max_steps_ends_the_reply_and_the_last_calls_are_not_run(client: CommClient) -> None:
    _, message_id = send(client, "looper", tools=["double"], config={"max_steps": 3})
    results = []
    for _ in range(2):
        assert tool_event(client, "running")
        results.append(tool_event(client, "done")["call"]["result"])
    last = tool_event(client, "error")["call"]
    assert results == ["2", "6"]  # the history grows by an assistant and a tool message
    assert last["result"] == "not run: the reply reached its limit of 3 model calls (max_steps)"
    stream = client.stream(message_id)
    assert stream.text() == "step step step "
    assert stream.done["finish_reason"] == "max_steps"


def test_a_long_result_is_cut_to_16000_code_points(client: CommClient) -> None:
    chat, message_id = send(client, "coder", "print('é' * 20000)", tools="all")
    call = tool_event(client, "awaiting_approval")["call"]
    client.send({"type": "approve", "chat_id": chat, "call_id": call["id"], "decision": "allow"})
    tool_event(client, "running")
    done = tool_event(client, "done")["call"]
    assert done["truncated"] is True and len(done["result"]) == 16000
    assert done["result"].endswith("[… truncated: the result had 20,001 code points]")
    client.stream(message_id)


def test_a_call_while_tools_are_off_is_an_error_the_model_sees(client: CommClient) -> None:
    _, message_id = send(client, "coder", "x = 1")
    failed = tool_event(client, "error")["call"]
    assert (
        failed["result"]
        == "tool 'python' is not enabled in this chat; enabled: none (tools are off)"
    )
    assert client.stream(message_id).text() == "ran"


def test_models_see_the_enabled_tools_in_config(client: CommClient) -> None:
    _, message_id = send(client, "tool_names", tools=["double"])
    assert client.stream(message_id).text() == "double"
    _, message_id = send(client, "tool_names")
    assert client.stream(message_id).text() == ""


def test_bad_tool_requests_are_bad_request(client: CommClient) -> None:
    answer = client.request(
        {"type": "approve", "chat_id": "nope", "call_id": "call-x", "decision": "allow"}, "error"
    )
    assert answer["error"]["code"] == "bad_request"
    assert answer["error"]["message"] == "tool call 'call-x' is not awaiting approval"
    answer = client.request(
        {"type": "approve", "chat_id": "c", "call_id": "call-x", "decision": "maybe"}, "error"
    )
    assert answer["error"]["message"] == (
        "approve: 'decision' must be one of allow, deny, allow_chat, got 'maybe'"
    )
    for tools, message in [
        ("some", "send: 'tools' must be \"none\", \"all\" or a list of tool names, got 'some'"),
        (["nope"], "unknown tool 'nope'; known: python, list_variables, inspect_variable, double"),
    ]:
        answer = client.request(
            {"type": "send", "request_id": "r", "chat_id": "c", "content": "x", "tools": tools},
            "error",
        )
        assert answer["error"]["message"] == message


def test_the_demo_model_looks_at_the_user_s_variables_with_approval(
    kernel: KernelHarness, client: CommClient
) -> None:
    kernel.execute("orders = [1, 2, 3]")
    chat, message_id = send(client, "demo", "Which variables do I have?", tools=["python"])
    call = tool_event(client, "awaiting_approval")["call"]
    assert call["name"] == "python" and call["at"] == len(
        "Let me look at the variables in your kernel. "
    )
    client.send({"type": "approve", "chat_id": chat, "call_id": call["id"], "decision": "allow"})
    tool_event(client, "running")
    result = tool_event(client, "done")["call"]["result"]
    assert "'orders': 'list'" in result and "'x': 'int'" in result
    text = client.stream(message_id).text()
    assert text.startswith("Let me look at the variables in your kernel. Your kernel holds")
    assert result in text
    _, message_id = send(client, "demo", "Which variables do I have?")
    assert client.stream(message_id).text().startswith("## Welcome to deltachat")


def test_list_and_inspect_variables_run_without_approval(
    kernel: KernelHarness, client: CommClient
) -> None:
    kernel.execute("orders = [1, 2, 3]")
    _, message_id = send(client, "demo", "Which variables do I have?", tools="all")
    call = tool_event(client, "running")["call"]
    assert (call["name"], call["arguments"]) == ("list_variables", {})
    result = tool_event(client, "done")["call"]["result"]
    assert "orders: list = list 3 items" in result.splitlines()
    assert result in client.stream(message_id).text()
    _, message_id = send(client, "inspector", "orders", tools=["inspect_variable"])
    tool_event(client, "running")
    inspected = tool_event(client, "done")["call"]["result"]
    assert inspected.startswith("list, 3 items\nitem types among the first 3: int")
    _, message_id = send(client, "inspector", "nope", tools=["inspect_variable"])
    tool_event(client, "running")
    failed = tool_event(client, "error")["call"]["result"]
    assert failed == "no variable 'nope' in the kernel's namespace"
    client.stream(message_id)


def test_a_result_holding_a_key_is_redacted_for_the_model_and_every_view(
    kernel: KernelHarness, client: CommClient
) -> None:
    kernel.execute(
        "from jupyter_deltachat.redact import remember_secret\n"
        "remember_secret('tool-secret-0123456789abcdef')"
    )
    chat, message_id = send(client, "coder", "print('tool-secret-0123456789abcdef')", tools="all")
    call = tool_event(client, "awaiting_approval")["call"]
    client.send({"type": "approve", "chat_id": chat, "call_id": call["id"], "decision": "allow"})
    tool_event(client, "running")
    result = tool_event(client, "done")["call"]["result"]
    assert result == "[redacted]\n"
    client.stream(message_id)
    assert kernel.evaluate("STEPS[-1][-1]") == repr("[redacted]\n")  # what the model got


def test_stop_while_the_model_streams_after_a_call_keeps_the_call(client: CommClient) -> None:
    chat, message_id = send(client, "demo", "Show my data", tools=["list_variables"])
    first = client.next("delta")
    tool_event(client, "running")
    done_call = tool_event(client, "done")["call"]
    client.send({"type": "stop", "chat_id": chat})  # the demo paces its answer: it streams
    stream = client.stream(message_id, first=first)
    assert stream.done["finish_reason"] == "cancelled"
    reply = client.request({"type": "sync", "chat_id": chat}, "snapshot")["messages"][-1]
    assert reply["tool_calls"] == [done_call]
    assert reply["content"] == stream.text()
    assert reply["content"].startswith("Let me look at the variables in your kernel. ")
    assert not reply["content"].endswith("A real model would now answer your question from them.")


def test_a_cell_printing_while_python_runs_keeps_its_output(
    kernel: KernelHarness, client: CommClient
) -> None:
    kernel.execute("GATE, WAITING = threading.Event(), threading.Event()")
    code = "print('from the tool')\nWAITING.set()\nGATE.wait(30)\nprint('tool again')"
    chat, message_id = send(client, "coder", code, tools="all")
    call = tool_event(client, "awaiting_approval")["call"]
    client.send({"type": "approve", "chat_id": chat, "call_id": call["id"], "decision": "allow"})
    tool_event(client, "running")
    outputs = kernel.outputs("WAITING.wait(30)\nprint('from the cell')\nGATE.set()")
    assert [(o["type"], o.get("text")) for o in outputs] == [("stream", "from the cell\n")]
    assert tool_event(client, "done")["call"]["result"] == "from the tool\ntool again\n"
    client.stream(message_id)


def test_async_tools_run_and_arguments_that_do_not_fit_are_an_error(
    kernel: KernelHarness, client: CommClient
) -> None:
    kernel.execute(
        "import asyncio\n"
        "@dc.tool(approval='never')\n"
        "async def shout(text: str) -> str:\n"
        "    '''Upper-case text.'''\n"
        "    await asyncio.sleep(0)\n"
        "    return text.upper()\n"
        "@dc.register('caller')\n"
        "def caller(messages, config):\n"
        "    if messages[-1].role == 'tool':\n"
        "        yield messages[-1].content\n"
        "    else:\n"
        "        yield dc.CallTool('shout', json.loads(messages[-1].content))\n"
        "import json"
    )
    _, message_id = send(client, "caller", '{"text": "quiet"}', tools=["shout"])
    tool_event(client, "running")
    assert tool_event(client, "done")["call"]["result"] == "QUIET"
    assert client.stream(message_id).text() == "QUIET"
    _, message_id = send(client, "caller", '{"loud": true}', tools=["shout"])
    failed = tool_event(client, "error")["call"]
    assert failed["result"] == (
        "the arguments do not fit the tool: missing a required argument: 'text'"
    )
    assert client.stream(message_id).text() == failed["result"]
    kernel.execute("dc.untool('shout')")


def test_the_finish_reason_is_the_last_step_s(kernel: KernelHarness, client: CommClient) -> None:
    kernel.execute(
        "@dc.register('cut_then_call')\n"
        "def cut_then_call(messages, config):\n"
        "    if messages[-1].role == 'tool':\n"
        "        yield 'done'\n"
        "    else:\n"
        "        yield dc.CallTool('double', {'n': 1})\n"
        "        yield dc.Finish('length')"
    )
    _, message_id = send(client, "cut_then_call", tools=["double"])
    tool_event(client, "running")
    tool_event(client, "done")
    assert client.stream(message_id).done["finish_reason"] == "stop"
