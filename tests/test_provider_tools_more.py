"""Native tool calling of Anthropic, Google and Bedrock, each through its real SDK against
its fake server (docs/tools.md): the tool definitions in the native schema (only when tools
are on), a streamed call assembled into a ``ToolCall`` with the provider's id, the call and
its result sent back natively in the next request and on later turns, parallel calls,
calls of another provider (or with tools off) as text, unreadable arguments, the
provider's own "malformed call" stops, Gemini's thought signatures."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fakes import bedrock_wire
from fakes.bedrock_wire import event
from fakes.cases import CASES, ProviderCase
from fakes.fixtures import *  # noqa: F403 - the fixtures
from fakes.fixtures import EngineRun, drain
from fakes.script import Script, ScriptCall
from fakes.server import FakeServer, Plan
from fakes.sse_wires import AnthropicWire, GoogleWire

from jupyter_deltachat.errors import ProviderError
from jupyter_deltachat.models.google import LOCAL_ID_PREFIX, google
from jupyter_deltachat.tools import make_tool
from jupyter_deltachat.types import CallTool, Message, ModelConfig, ToolCall, Usage

NATIVE = ("anthropic", "google", "bedrock")


def double(n: int) -> int:
    """Double a number.

    Args:
        n: the number to double.
    """
    return 2 * n


DOUBLE = make_tool(double, approval="never")
SCHEMA = {
    "type": "object",
    "properties": {"n": {"type": "integer", "description": "the number to double."}},
    "required": ["n"],
}
ASK = [Message("user", "Double 21")]


@pytest.fixture(params=[c for c in CASES if c.id in NATIVE], ids=list(NATIVE))
def case(request: pytest.FixtureRequest) -> ProviderCase:
    return request.param


def history(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The conversation a recorded request carried, in the provider's own shape."""
    return body["contents"] if "contents" in body else body["messages"]


def user(case: ProviderCase, text: str) -> dict[str, Any]:
    if case.id == "anthropic":
        return {"role": "user", "content": text}
    if case.id == "google":
        return {"role": "user", "parts": [{"text": text}]}
    return {"role": "user", "content": [{"text": text}]}


def assistant(case: ProviderCase, text: str, *calls: tuple[str, int]) -> dict[str, Any]:
    """An assistant turn: its text, then a ``double`` call per ``(id, n)``."""
    if case.id == "anthropic":
        if not calls:
            return {"role": "assistant", "content": text}
        blocks = [{"type": "text", "text": text}] if text else []
        blocks += [
            {"type": "tool_use", "id": i, "name": "double", "input": {"n": n}} for i, n in calls
        ]
        return {"role": "assistant", "content": blocks}
    if case.id == "google":
        parts: list[dict[str, Any]] = [{"text": text}] if text else []
        parts += [{"functionCall": {"id": i, "args": {"n": n}, "name": "double"}} for i, n in calls]
        return {"role": "model", "parts": parts}
    blocks = [{"text": text}] if text else []
    blocks += [{"toolUse": {"toolUseId": i, "name": "double", "input": {"n": n}}} for i, n in calls]
    return {"role": "assistant", "content": blocks}


def results(case: ProviderCase, *outcomes: tuple[str, str, bool]) -> list[dict[str, Any]]:
    """The parts of a user turn carrying results, one per ``(id, text, is_error)``."""
    if case.id == "anthropic":
        return [
            {"type": "tool_result", "tool_use_id": i, "content": text}
            | ({"is_error": True} if error else {})
            for i, text, error in outcomes
        ]
    if case.id == "google":
        return [
            {
                "functionResponse": {
                    "id": i,
                    "name": "double",
                    "response": {"error" if error else "output": text},
                }
            }
            for i, text, error in outcomes
        ]
    return [
        {
            "toolResult": {
                "toolUseId": i,
                "content": [{"text": text}],
                "status": "error" if error else "success",
            }
        }
        for i, text, error in outcomes
    ]


def results_turn(case: ProviderCase, *outcomes: tuple[str, str, bool]) -> dict[str, Any]:
    key = "parts" if case.id == "google" else "content"
    return {"role": "user", key: results(case, *outcomes)}


def unsigned(turns: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The turns without Gemini's thought signatures (tested on their own)."""
    return [
        turn | {"parts": [{k: v for k, v in p.items() if k != "thoughtSignature"} for p in parts]}
        if (parts := turn.get("parts"))
        else turn
        for turn in turns
    ]


def stored_call(call_id: str, n: int, at: int, provider: str, **changes: Any) -> ToolCall:
    fields: dict[str, Any] = {"status": "done", "result": str(2 * n)} | changes
    return ToolCall(call_id, "double", {"n": n}, at=at, provider=provider, **fields)


def test_tool_definitions_go_in_the_native_schema_only_when_tools_are_on(
    model: Any, fake: FakeServer, case: ProviderCase
):
    fake.plan(case.wire.stream(Script()), case.wire.stream(Script()))
    assert drain(model, ASK, ModelConfig(tools=[DOUBLE.info]))[1] is None
    assert drain(model, ASK, ModelConfig())[1] is None
    with_tools, without = (request.json for request in fake.requests)
    description = "Double a number."
    if case.id == "anthropic":
        offered = with_tools.pop("tools")
        assert offered == [{"name": "double", "description": description, "input_schema": SCHEMA}]
    elif case.id == "google":
        assert with_tools.pop("generationConfig") == {}  # the SDK's, when tools are set
        offered = with_tools.pop("tools")
        assert offered == [
            {
                "functionDeclarations": [
                    {"description": description, "name": "double", "parameters_json_schema": SCHEMA}
                ]
            }
        ]
    else:
        offered = with_tools.pop("toolConfig")
        assert offered == {
            "tools": [
                {
                    "toolSpec": {
                        "name": "double",
                        "description": description,
                        "inputSchema": {"json": SCHEMA},
                    }
                }
            ]
        }
    assert with_tools == without


def test_streamed_calls_are_assembled_after_the_text_with_the_providers_ids(
    model: Any, fake: FakeServer, case: ProviderCase
):
    calls = [
        ScriptCall("double", '{"n": 21}', id="toolu_01A", pieces=4),
        ScriptCall("double", '{"n": 4}', id="toolu_01B", pieces=2),
    ]
    fake.plan(case.wire.stream(Script(content=["Let me ", "see."], tool_calls=calls)))
    items, error = drain(model, ASK, ModelConfig(tools=[DOUBLE.info]))
    assert error is None
    assert items == [
        "Let me ",
        "see.",
        CallTool("double", {"n": 21}, id="toolu_01A", provider=case.id),
        CallTool("double", {"n": 4}, id="toolu_01B", provider=case.id),
        Usage(11, 7),
    ]


def test_the_call_and_its_result_go_back_natively_and_the_reply_goes_on(
    model: Any, fake: FakeServer, case: ProviderCase
):
    call = ScriptCall("double", '{"n": 21}', id="toolu_01A")
    fake.plan(
        case.wire.stream(Script(content=["Let me ", "see."], tool_calls=[call])),
        case.wire.stream(Script(content=[" It is ", "42."])),
    )
    reply = EngineRun(model, ASK, tools=[DOUBLE]).wait()
    assert (reply.finish_reason, reply.error) == ("stop", None)
    assert reply.message.content == "Let me see. It is 42."
    assert reply.tool_calls == [
        ToolCall("toolu_01A", "double", {"n": 21}, "done", 11, "42", provider=case.id)
    ]
    assert reply.usage == Usage(22, 14)
    first, second = (request.json for request in fake.requests)
    assert history(first) == [user(case, "Double 21")]
    assert unsigned(history(second)) == [
        user(case, "Double 21"),
        assistant(case, "Let me see.", ("toolu_01A", 21)),
        results_turn(case, ("toolu_01A", "42", False)),
    ]


def test_a_later_turn_resends_earlier_parallel_calls_and_their_outcomes_natively(
    model: Any, fake: FakeServer, case: ProviderCase
):
    done = stored_call("toolu_1", 2, 12, case.id)
    denied = stored_call(
        "toolu_2", 3, 12, case.id, status="denied", result="the user denied this call"
    )
    earlier = Message("assistant", "Let me see. Only 4.", tool_calls=[done, denied])
    messages = [Message("user", "Double 2 and 3"), earlier, Message("user", "Why?")]
    fake.plan(case.wire.stream(Script()))
    assert drain(model, messages, ModelConfig(tools=[DOUBLE.info]))[1] is None
    expected = [
        user(case, "Double 2 and 3"),
        assistant(case, "Let me see. ", ("toolu_1", 2), ("toolu_2", 3)),
        results_turn(case, ("toolu_1", "4", False), ("toolu_2", "the user denied this call", True)),
        assistant(case, "Only 4."),
        user(case, "Why?"),
    ]
    if case.id == "anthropic":  # the API joins a user turn to the results turn before it
        expected[3]["content"] = "Only 4."
    assert unsigned(history(fake.requests[0].json)) == expected


def test_calls_of_another_provider_or_with_tools_off_go_as_text(
    model: Any, fake: FakeServer, case: ProviderCase
):
    other = "bedrock" if case.id == "anthropic" else "anthropic"
    earlier = Message(
        "assistant", "Sure. It is 4.", tool_calls=[stored_call("call_9", 2, 6, other)]
    )
    own = Message("assistant", "Sure. It is 4.", tool_calls=[stored_call("call_9", 2, 6, case.id)])
    as_text = 'Sure. \n\n[tool call double {"n": 2}]\n[tool result]\n4\n\nIt is 4.'
    fake.plan(case.wire.stream(Script()), case.wire.stream(Script()))
    assert drain(model, [earlier], ModelConfig(tools=[DOUBLE.info]))[1] is None
    assert drain(model, [own], ModelConfig())[1] is None
    for request in fake.requests:
        assert history(request.json) == [assistant(case, as_text)]


def test_results_followed_by_the_users_message_are_one_user_turn(
    model: Any, fake: FakeServer, case: ProviderCase
):
    """A reply stopped right after its calls: Converse refuses two user turns in a row."""
    earlier = Message("assistant", "Sure.", tool_calls=[stored_call("toolu_1", 2, 5, case.id)])
    fake.plan(case.wire.stream(Script()))
    messages = [Message("user", "Double 2"), earlier, Message("user", "Go on")]
    assert drain(model, messages, ModelConfig(tools=[DOUBLE.info]))[1] is None
    [_, _, *last] = unsigned(history(fake.requests[0].json))
    if case.id == "anthropic":  # separate turns: the API joins them itself
        assert last == [results_turn(case, ("toolu_1", "4", False)), user(case, "Go on")]
    elif case.id == "google":
        parts = results(case, ("toolu_1", "4", False)) + [{"text": "Go on"}]
        assert last == [{"role": "user", "parts": parts}]
    else:
        content = results(case, ("toolu_1", "4", False)) + [{"text": "Go on"}]
        assert last == [{"role": "user", "content": content}]


@pytest.mark.parametrize(
    "case", [c for c in CASES if c.id in ("anthropic", "bedrock")], ids=lambda c: c.id
)
def test_unreadable_arguments_are_an_error_on_the_call_and_the_model_is_told(
    model: Any, fake: FakeServer, case: ProviderCase
):
    ran: list[int] = []

    def counted(n: int) -> int:
        """Count a call."""
        ran.append(n)
        return n

    bad = ScriptCall("counted", '{"n": 2', id="toolu_bad", pieces=2)
    fake.plan(
        case.wire.stream(Script(content=["Hm."], tool_calls=[bad])),
        case.wire.stream(Script(content=[" Sorry."])),
    )
    reply = EngineRun(model, ASK, tools=[make_tool(counted, approval="never")]).wait()
    reason = (
        "not run: the arguments are not valid JSON (Expecting ',' delimiter: line 1 column 8 "
        '(char 7)): {"n": 2'
    )
    assert (reply.finish_reason, reply.message.content, ran) == ("stop", "Hm. Sorry.", [])
    [call] = reply.tool_calls
    assert (call.id, call.status, call.result, call.arguments) == ("toolu_bad", "error", reason, {})
    told = history(fake.requests[1].json)[-1]
    if case.id == "anthropic":
        assert told["content"] == [
            {"type": "tool_result", "tool_use_id": "toolu_bad", "content": reason, "is_error": True}
        ]
    else:
        assert told["content"] == [
            {
                "toolResult": {
                    "toolUseId": "toolu_bad",
                    "content": [{"text": reason}],
                    "status": "error",
                }
            }
        ]


@pytest.mark.parametrize(
    "case", [c for c in CASES if c.id in ("anthropic", "bedrock")], ids=lambda c: c.id
)
def test_signed_thinking_goes_back_first_in_the_step_that_called(
    model: Any, fake: FakeServer, case: ProviderCase
):
    """With thinking on, Claude refuses a tool loop whose assistant turn does not start
    with its signed thinking (Anthropic's API and Bedrock's Converse alike)."""
    call = ScriptCall("double", '{"n": 21}', id="toolu_01A")
    fake.plan(
        case.wire.stream(Script(reasoning=["Think", "ing."], content=["See."], tool_calls=[call])),
        case.wire.stream(Script(content=[" 42."])),
    )
    reply = EngineRun(model, ASK, tools=[DOUBLE]).wait()
    assert (reply.message.reasoning, reply.message.content) == ("Thinking.", "See. 42.")
    step = history(fake.requests[1].json)[1]
    [thinking, *rest] = step["content"]
    assert step == assistant(case, "See.", ("toolu_01A", 21)) | {"content": [thinking, *rest]}
    if case.id == "anthropic":
        signature = AnthropicWire.SIGNATURE
        assert thinking == {"type": "thinking", "thinking": "Thinking.", "signature": signature}
    else:
        text = {"text": "Thinking.", "signature": bedrock_wire.SIGNATURE}
        assert thinking == {"reasoningContent": {"reasoningText": text}}


@pytest.mark.parametrize("case", [c for c in CASES if c.id == "bedrock"], ids=lambda c: c.id)
def test_bedrock_s_malformed_tool_use_stop_is_a_provider_error(
    model: Any, fake: FakeServer, case: ProviderCase
):
    plan = case.wire.stream(Script(content=["Hm."]))
    stop = next(i for i, chunk in enumerate(plan.chunks) if b"messageStop" in chunk)
    plan.chunks[stop] = event("messageStop", {"stopReason": "malformed_tool_use"})
    fake.plan(plan)
    items, error = drain(model, ASK, ModelConfig(tools=[DOUBLE.info]))
    assert items == ["Hm."]
    assert type(error) is ProviderError
    assert error.message == (
        "Amazon Bedrock stopped the reply (malformed_tool_use: the model wrote a tool call "
        "that is not valid)"
    )


def google_plan(script: Script, **last: Any) -> Plan:
    """Google's stream for ``script``, its last event's candidate changed by ``last``."""
    plan = GoogleWire().stream(script)
    body = json.loads(plan.chunks[-1].decode().removeprefix("data: "))
    body["candidates"][0] |= last
    plan.chunks[-1] = f"data: {json.dumps(body)}\r\n\r\n".encode()
    return plan


@pytest.mark.parametrize("case", [c for c in CASES if c.id == "google"], ids=lambda c: c.id)
def test_gemini_s_malformed_function_call_stop_is_a_provider_error_saying_so(
    model: Any, fake: FakeServer, case: ProviderCase
):
    fake.plan(google_plan(Script(content=["Hm."]), finishReason="MALFORMED_FUNCTION_CALL"))
    items, error = drain(model, ASK, ModelConfig(tools=[DOUBLE.info]))
    assert items == ["Hm."]
    assert type(error) is ProviderError
    assert error.message == (
        "Google Gemini stopped the reply (MALFORMED_FUNCTION_CALL: the model wrote a tool "
        "call that is not valid)"
    )


@pytest.mark.parametrize("case", [c for c in CASES if c.id == "google"], ids=lambda c: c.id)
def test_gemini_s_thought_signature_and_a_call_without_id_go_back_as_received(
    model: Any, fake: FakeServer, case: ProviderCase
):
    """Gemini 3 refuses a replayed call without its signature; Gemini sends calls without
    an id, so none is invented on the wire (the engine's id stays in the kernel)."""
    calls = [ScriptCall("double", '{"n": 2}', id=""), ScriptCall("double", '{"n": 3}', id="")]
    fake.plan(
        case.wire.stream(Script(content=["Sure."], tool_calls=calls)),
        case.wire.stream(Script(content=[" 4 and 6."])),
    )
    reply = EngineRun(model, ASK, tools=[DOUBLE]).wait()
    assert reply.message.content == "Sure. 4 and 6."
    first, second = reply.tool_calls
    assert first.id.startswith(LOCAL_ID_PREFIX) and first.id != second.id
    model_turn, results_turn = history(fake.requests[1].json)[1:]
    assert model_turn == {
        "role": "model",
        "parts": [
            {"text": "Sure."},
            {
                "functionCall": {"args": {"n": 2}, "name": "double"},
                "thoughtSignature": GoogleWire.SIGNATURE,
            },
            {"functionCall": {"args": {"n": 3}, "name": "double"}},
        ],
    }
    assert results_turn == {
        "role": "user",
        "parts": [
            {"functionResponse": {"name": "double", "response": {"output": "4"}}},
            {"functionResponse": {"name": "double", "response": {"output": "6"}}},
        ],
    }


@pytest.mark.parametrize("case", [c for c in CASES if c.id == "google"], ids=lambda c: c.id)
def test_a_gemini_3_call_whose_signature_this_kernel_never_saw_gets_google_s_stand_in(
    case: ProviderCase, fake: FakeServer, store: Any
):
    store.set(case.store_id, case.stored(fake.url))
    gemini_3 = google("gemini-3-pro-fake", base_url=fake.url, max_retries=0)
    gemini_25 = google("gemini-2.5-flash", base_url=fake.url, max_retries=0)
    earlier = Message(
        "assistant",
        "Sure. 4 and 6.",
        tool_calls=[stored_call("c-1", 2, 5, "google"), stored_call("c-2", 3, 5, "google")],
    )
    fake.plan(case.wire.stream(Script()), case.wire.stream(Script()))
    for chat_model in (gemini_3, gemini_25):
        assert drain(chat_model, [earlier], ModelConfig(tools=[DOUBLE.info]))[1] is None
    signatures = [
        [part.get("thoughtSignature") for part in history(request.json)[0]["parts"]]
        for request in fake.requests
    ]
    stand_in = "c2tpcF90aG91Z2h0X3NpZ25hdHVyZV92YWxpZGF0b3I="  # b"skip_thought_signature_validator"
    assert signatures == [[None, stand_in, None], [None, None, None]]
