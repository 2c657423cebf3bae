"""What native tool calling takes beyond the common path for Anthropic, Google and Bedrock
(the common path — definitions, a call and its result, parallel calls, later turns, other
providers' calls, bad arguments — runs for them in tests/test_provider_tools.py): error
outcomes, joined user turns, signed thinking and thought signatures sent back, the
providers' own "malformed call" stops. Each through its real SDK against its fake server."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fakes import bedrock_wire
from fakes.cases import CASES, ProviderCase
from fakes.fixtures import *  # noqa: F403 - the fixtures
from fakes.fixtures import EngineRun, drain
from fakes.native import NATIVE, Returned, Sent
from fakes.script import Script, ScriptCall
from fakes.server import FakeServer, Plan, RecordedRequest
from fakes.sse_wires import AnthropicWire, GoogleWire

from jupyter_deltachat.credentials import CredentialStore
from jupyter_deltachat.errors import ProviderError
from jupyter_deltachat.models.google import LOCAL_ID_PREFIX, google
from jupyter_deltachat.tools import make_tool
from jupyter_deltachat.types import Message, ModelConfig, ToolCall


def double(n: int) -> int:
    """Double a number.

    Args:
        n: the number to double.
    """
    return 2 * n


DOUBLE = make_tool(double, approval="never")
TOOLS_ON = ModelConfig(tools=[DOUBLE.info])
ASK = [Message("user", "Double 21")]


def cases(*ids: str) -> Any:
    chosen = [c for c in CASES if c.id in ids]
    return pytest.mark.parametrize("case", chosen, ids=[c.id for c in chosen])


MINE = [c for c in CASES if c.id in ("anthropic", "google", "bedrock")]


@pytest.fixture(params=MINE, ids=[c.id for c in MINE])
def case(request: pytest.FixtureRequest) -> ProviderCase:
    return request.param


@pytest.fixture
def model(case: ProviderCase, fake: FakeServer, store: CredentialStore) -> Any:
    """The model with its SDK client made (the SDK imported) before any test waits."""
    store.set(case.store_id, case.stored(fake.url))
    model = case.model(fake.url)
    model.client()
    return model


def history(request: RecordedRequest, case: ProviderCase) -> list[dict[str, Any]]:
    return request.json[NATIVE[case.id].history_key]


def stored_call(call_id: str, n: int, at: int, provider: str, **changes: Any) -> ToolCall:
    fields: dict[str, Any] = {"status": "done", "result": str(2 * n)} | changes
    return ToolCall(call_id, "double", {"n": n}, at=at, provider=provider, **fields)


@cases("anthropic", "bedrock")
def test_a_denied_call_goes_back_as_an_error_result_beside_a_done_one(
    model: Any, fake: FakeServer, case: ProviderCase
):
    native = NATIVE[case.id]
    done = stored_call("toolu_1", 2, 12, case.id)
    denied = stored_call("toolu_2", 3, 12, case.id, status="denied", result="the user denied")
    earlier = Message("assistant", "Let me see. Only 4.", tool_calls=[done, denied])
    messages = [Message("user", "Double 2 and 3"), earlier, Message("user", "Why?")]
    fake.plan(case.wire.stream(Script()))
    assert drain(model, messages, TOOLS_ON)[1] is None
    sent = [Sent("toolu_1", "double", '{"n": 2}'), Sent("toolu_2", "double", '{"n": 3}')]
    returned = [
        Returned("toolu_1", "double", "4"),
        Returned("toolu_2", "double", "the user denied", is_error=True),
    ]
    assert history(fake.requests[0], case) == [
        *native.user("Double 2 and 3"),
        *native.step("Let me see. ", sent),
        *native.results(returned),
        *native.assistant("Only 4."),
        *native.user("Why?"),
    ]


@cases("anthropic", "bedrock")
def test_only_whitespace_before_a_call_is_no_text_block(
    model: Any, fake: FakeServer, case: ProviderCase
):
    """Both APIs refuse a text block that is blank."""
    earlier = Message("assistant", "\n\n4.", tool_calls=[stored_call("toolu_1", 2, 2, case.id)])
    fake.plan(case.wire.stream(Script()))
    assert drain(model, [Message("user", "Double 2"), earlier], TOOLS_ON)[1] is None
    [step] = NATIVE[case.id].step("", [Sent("toolu_1", "double", '{"n": 2}')])
    assert history(fake.requests[0], case)[1] == step


@cases("google")
def test_a_gemini_error_result_goes_back_under_error(
    model: Any, fake: FakeServer, case: ProviderCase
):
    """Gemini's ``functionResponse.response`` takes ``output`` or ``error``."""
    denied = stored_call("c1", 2, 5, "google", status="denied", result="the user denied")
    fake.plan(case.wire.stream(Script()))
    earlier = Message("assistant", "Sure.", tool_calls=[denied])
    assert drain(model, [Message("user", "Double 2"), earlier], TOOLS_ON)[1] is None
    assert history(fake.requests[0], case)[2] == {
        "role": "user",
        "parts": [
            {
                "functionResponse": {
                    "id": "c1",
                    "name": "double",
                    "response": {"error": "the user denied"},
                }
            }
        ],
    }


def test_results_followed_by_the_users_message_are_one_user_turn(
    model: Any, fake: FakeServer, case: ProviderCase
):
    """A reply stopped right after its calls, then the user writes: Converse refuses two
    user turns in a row, Gemini expects one; Anthropic's API joins them itself."""
    native = NATIVE[case.id]
    earlier = Message("assistant", "Sure.", tool_calls=[stored_call("toolu_1", 2, 5, case.id)])
    fake.plan(case.wire.stream(Script()))
    messages = [Message("user", "Double 2"), earlier, Message("user", "Go on")]
    assert drain(model, messages, TOOLS_ON)[1] is None
    [results] = native.results([Returned("toolu_1", "double", "4")])
    [go_on] = native.user("Go on")
    if case.id == "anthropic":
        joined = [results, go_on]
    else:
        key = "parts" if case.id == "google" else "content"
        joined = [{"role": "user", key: results[key] + go_on[key]}]
    assert history(fake.requests[0], case)[2:] == joined


@cases("anthropic", "bedrock")
def test_signed_thinking_goes_back_first_in_the_step_that_called(
    model: Any, fake: FakeServer, case: ProviderCase
):
    """With thinking on, Claude refuses a tool loop whose assistant turn does not start
    with its signed thinking (Anthropic's API and Bedrock's Converse alike)."""
    native = NATIVE[case.id]
    call = ScriptCall("double", '{"n": 21}', id="toolu_01A")
    fake.plan(
        case.wire.stream(Script(reasoning=["Think", "ing."], content=["See."], tool_calls=[call])),
        case.wire.stream(Script(content=[" 42."])),
    )
    reply = EngineRun(model, ASK, tools=[DOUBLE]).wait()
    assert (reply.message.reasoning, reply.message.content) == ("Thinking.", "See. 42.")
    if case.id == "anthropic":
        signature = AnthropicWire.SIGNATURE
        thinking = {"type": "thinking", "thinking": "Thinking.", "signature": signature}
    else:
        text = {"text": "Thinking.", "signature": bedrock_wire.SIGNATURE}
        thinking = {"reasoningContent": {"reasoningText": text}}
    [step] = native.step("See.", [Sent("toolu_01A", "double", '{"n": 21}')])
    step["content"].insert(0, thinking)
    assert history(fake.requests[1], case)[1] == step


@cases("bedrock")
def test_bedrock_s_malformed_tool_use_stop_is_a_provider_error(
    model: Any, fake: FakeServer, case: ProviderCase
):
    plan = case.wire.stream(Script(content=["Hm."]))
    stop = next(i for i, chunk in enumerate(plan.chunks) if b"messageStop" in chunk)
    plan.chunks[stop] = bedrock_wire.event("messageStop", {"stopReason": "malformed_tool_use"})
    fake.plan(plan)
    items, error = drain(model, ASK, TOOLS_ON)
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


@cases("google")
def test_gemini_s_malformed_function_call_stop_is_a_provider_error_saying_so(
    model: Any, fake: FakeServer, case: ProviderCase
):
    fake.plan(google_plan(Script(content=["Hm."]), finishReason="MALFORMED_FUNCTION_CALL"))
    items, error = drain(model, ASK, TOOLS_ON)
    assert items == ["Hm."]
    assert type(error) is ProviderError
    assert error.message == (
        "Google Gemini stopped the reply (MALFORMED_FUNCTION_CALL: the model wrote a tool "
        "call that is not valid)"
    )


@cases("google")
def test_gemini_calls_without_an_id_go_back_without_one_with_their_signature(
    model: Any, fake: FakeServer, case: ProviderCase
):
    """The Gemini API sends calls without ids: the engine's ids stay in the kernel, the
    results are matched by order and name, the signature goes back on the first call."""
    calls = [ScriptCall("double", '{"n": 2}', id=""), ScriptCall("double", '{"n": 3}', id="")]
    fake.plan(
        case.wire.stream(Script(content=["Sure."], tool_calls=calls)),
        case.wire.stream(Script(content=[" 4 and 6."])),
    )
    reply = EngineRun(model, ASK, tools=[DOUBLE]).wait()
    assert reply.message.content == "Sure. 4 and 6."
    first, second = reply.tool_calls
    assert first.id.startswith(LOCAL_ID_PREFIX) and first.id != second.id
    assert history(fake.requests[1], case)[1:] == [
        {
            "role": "model",
            "parts": [
                {"text": "Sure."},
                {
                    "functionCall": {"args": {"n": 2}, "name": "double"},
                    "thoughtSignature": GoogleWire.SIGNATURE,
                },
                {"functionCall": {"args": {"n": 3}, "name": "double"}},
            ],
        },
        {
            "role": "user",
            "parts": [
                {"functionResponse": {"name": "double", "response": {"output": "4"}}},
                {"functionResponse": {"name": "double", "response": {"output": "6"}}},
            ],
        },
    ]


@cases("google")
def test_a_gemini_3_call_whose_signature_this_kernel_never_saw_gets_google_s_stand_in(
    case: ProviderCase, fake: FakeServer, store: CredentialStore
):
    """A chat from before a kernel restart: Gemini 3 and later refuse its calls without a
    signature, so the first call of each step carries Google's documented stand-in; 2.5
    needs none, nor do other models (Gemma)."""
    store.set(case.store_id, case.stored(fake.url))
    earlier = Message(
        "assistant",
        "Sure. 4 and 6.",
        tool_calls=[stored_call("c-1", 2, 5, "google"), stored_call("c-2", 3, 5, "google")],
    )
    fake.plan(*(case.wire.stream(Script()) for _ in range(4)))
    for name in ("gemini-3-pro-fake", "gemini-2.5-flash", "models/gemini-4-fake", "gemma-3"):
        chat_model = google(name, base_url=fake.url, max_retries=0)
        assert drain(chat_model, [earlier], TOOLS_ON)[1] is None
    signatures = [
        [part.get("thoughtSignature") for part in history(request, case)[0]["parts"]]
        for request in fake.requests
    ]
    stand_in = "c2tpcF90aG91Z2h0X3NpZ25hdHVyZV92YWxpZGF0b3I="  # skip_thought_signature_validator
    unsigned = [None, None, None]
    assert signatures == [[None, stand_in, None], unsigned, [None, stand_in, None], unsigned]
