"""Native tool calling by the built-in providers (issue 12 item 3, docs/tools.md).

The shared part first: how the engine keeps a provider's call (its id, its provider, bad
arguments) and how ``models/tool_history.turns`` turns a chat's history into the neutral
turns every provider renders. Then each provider through its real SDK against its fake
server: tool definitions in the request, the streamed call assembled into a ``ToolCall``,
the call and its result sent back natively in the next request and on later turns, a call
of another provider sent as text, bad arguments, tools off.
"""

from __future__ import annotations

from typing import Any, Literal

import pytest
from fakes.cases import CASES, ProviderCase
from fakes.fixtures import *  # noqa: F403 - the fixtures
from fakes.fixtures import EngineRun
from fakes.native import NATIVE, Native, Returned, Sent
from fakes.script import Script, ScriptCall
from fakes.server import FakeServer, RecordedRequest
from fakes.sse_wires import OpenAIChatWire

from jupyter_deltachat.credentials import CredentialStore
from jupyter_deltachat.models.tool_history import (
    AssistantTurn,
    ResultsTurn,
    ToolOutcome,
    UserTurn,
    parse_arguments,
    turns,
)
from jupyter_deltachat.tools import make_tool
from jupyter_deltachat.types import CallTool, Message, ModelConfig, ToolCall, ToolMessage


def double(n: int) -> int:
    """Double a number.

    Args:
        n: the number to double.
    """
    return 2 * n


DOUBLE = make_tool(double, approval="never")


def call(
    call_id: str, at: int, result: str, provider: str | None = "openai", **kw: Any
) -> ToolCall:
    return ToolCall(
        call_id, "double", {"n": 2}, kw.pop("status", "done"), at, result, provider=provider, **kw
    )


# -- the shared part: history as turns -------------------------------------------------


def test_a_stored_message_is_split_at_each_call_into_text_calls_results_text() -> None:
    first, second, third = call("c1", 13, "4"), call("c2", 13, "6"), call("c3", 23, "8")
    stored = Message(
        "assistant", "Let me look. It is 4, 6. Done.", tool_calls=[first, second, third]
    )
    history = [Message("user", "Double 2"), stored, Message("user", "Thanks")]
    assert turns(history, "openai") == [
        UserTurn(history[0]),
        AssistantTurn("Let me look. ", (first, second)),
        ResultsTurn((ToolOutcome(first, "4", False), ToolOutcome(second, "6", False))),
        AssistantTurn("It is 4, 6", (third,)),
        ResultsTurn((ToolOutcome(third, "8", False),)),
        AssistantTurn(". Done."),
        UserTurn(history[2]),
    ]


def test_calls_of_another_provider_or_with_tools_off_are_text_in_the_assistant_turn() -> None:
    denied = call("c1", 5, "the user denied this call", status="denied")
    stored = Message("assistant", "Look. Denied.", tool_calls=[denied])
    as_text = (
        'Look.\n\n[tool call double {"n": 2}]\n[tool error]\nthe user denied this call\n\n Denied.'
    )
    assert turns([stored], "anthropic") == [AssistantTurn(as_text)]
    assert turns([stored], None) == [AssistantTurn(as_text)]


def test_a_step_inside_a_reply_takes_its_results_from_the_tool_messages() -> None:
    step = Message("assistant", "Sure. ", tool_calls=[call("c1", 6, None, status="running")])
    answer = ToolMessage(content="4", tool_call_id="c1", name="double")
    stray = ToolMessage(content="orphan", tool_call_id="nobody", name="double")
    result = turns([Message("user", "Hi"), step, answer, stray], "openai")
    assert result[1:] == [
        AssistantTurn("Sure. ", (step.tool_calls[0],)),
        ResultsTurn((ToolOutcome(step.tool_calls[0], "4", True),)),
        UserTurn(result[3].message),  # type: ignore[union-attr]
    ]
    assert result[3].message.content == "[tool result]\norphan"  # type: ignore[union-attr]


def test_a_call_without_a_result_still_gets_one() -> None:
    cancelled = call("c1", 0, None, status="cancelled")
    [_, results] = turns([Message("assistant", "", tool_calls=[cancelled])], "openai")
    assert results == ResultsTurn(
        (ToolOutcome(cancelled, "not run: the user stopped the reply", True),)
    )


def test_arguments_are_read_as_a_json_object_or_refused_with_the_reason() -> None:
    assert parse_arguments('{"n": 2}') == ({"n": 2}, None)
    assert parse_arguments("") == ({}, None)
    assert parse_arguments('{"n": 2') == (
        {},
        "not run: the arguments are not valid JSON (Expecting ',' delimiter: line 1 column 8 "
        '(char 7)): {"n": 2',
    )
    assert parse_arguments("[2]") == (
        {},
        "not run: the arguments must be a JSON object, not list: [2]",
    )


# -- the shared part: the engine keeps the provider's call -----------------------------


def test_the_engine_keeps_the_provider_s_call_id_and_passes_the_step_and_results() -> None:
    seen: list[list[Message]] = []

    def model(messages: list[Message], config: ModelConfig) -> Any:
        seen.append(list(messages))
        if len(seen) == 1:
            yield "Let me see. "
            yield CallTool("double", {"n": 2}, id="call_Ab9", provider="openai")
            yield CallTool("double", {"n": 3}, id="call_Ab9", provider="openai")  # taken
            yield CallTool("double", {"n": 4}, id="not an id", provider="openai")
        else:
            yield "Done."

    run = EngineRun(model, [Message("user", "Hi")], tools=[DOUBLE])
    reply = run.wait()
    first, second, third = reply.tool_calls
    assert (first.id, first.provider, first.at, first.result) == ("call_Ab9", "openai", 12, "4")
    assert second.id.startswith("call-") and third.id.startswith("call-")
    assert len({first.id, second.id, third.id}) == 3
    step, *results = seen[1][1:]
    assert step.role == "assistant" and step.content == "Let me see. "
    assert [(c.id, c.status, c.at, c.result) for c in step.tool_calls] == [
        (first.id, "done", 12, "4"),
        (second.id, "done", 12, "6"),
        (third.id, "done", 12, "8"),
    ]
    assert [(m.role, m.tool_call_id, m.name, m.content) for m in results] == [  # type: ignore[attr-defined]
        ("tool", first.id, "double", "4"),
        ("tool", second.id, "double", "6"),
        ("tool", third.id, "double", "8"),
    ]


def test_unreadable_arguments_are_an_error_the_model_is_told_and_nothing_runs() -> None:
    ran: list[int] = []

    def counted(n: int) -> int:
        """Count a call."""
        ran.append(n)
        return n

    seen: list[list[Message]] = []

    def model(messages: list[Message], config: ModelConfig) -> Any:
        seen.append(list(messages))
        if len(seen) == 1:
            yield CallTool("counted", {}, id="call_1", arguments_error="not run: bad JSON")

    reply = EngineRun(model, tools=[make_tool(counted, approval="never")]).wait()
    [bad] = reply.tool_calls
    assert (bad.status, bad.result, ran) == ("error", "not run: bad JSON", [])
    assert seen[1][-1].content == "not run: bad JSON"


# -- every provider through its real SDK against its fake server -----------------------

TOOL_CASES = [case for case in CASES if case.id in NATIVE]
ASK_DOUBLE = make_tool(double, approval="ask")


@pytest.fixture(params=TOOL_CASES, ids=[case.id for case in TOOL_CASES])
def tool_case(request: pytest.FixtureRequest) -> ProviderCase:
    return request.param


@pytest.fixture
def tool_model(tool_case: ProviderCase, fake: FakeServer, store: CredentialStore) -> Any:
    """The model with its SDK client made (the SDK imported) before any test waits: a
    first import of a large SDK on a loaded machine can outlast the waits."""
    store.set(tool_case.store_id, tool_case.stored(fake.url))
    model = tool_case.model(fake.url)
    model.client()
    return model


def history(request: RecordedRequest, native: Native) -> list[dict[str, Any]]:
    return request.json[native.history_key]


def test_a_streamed_call_runs_after_approval_and_goes_back_natively(
    tool_case: ProviderCase, tool_model: Any, fake: FakeServer
) -> None:
    native = NATIVE[tool_case.id]
    wire = tool_case.wire
    called = ScriptCall("double", '{"n": 21}', id="call_A1")
    fake.plan(
        wire.stream(Script(content=["Let me ", "check. "], tool_calls=[called])),
        wire.stream(Script(content=["It is ", "42."])),
    )
    run = EngineRun(tool_model, [Message("user", "Double 21")], tools=[ASK_DOUBLE])
    asked = run.wait_for_call("awaiting_approval")
    assert (asked.id, asked.name, asked.arguments) == ("call_A1", "double", {"n": 21})
    run.reply.approve(asked.id, "allow")
    reply = run.wait()
    assert reply.outcome is not None and reply.outcome.error is None
    assert reply.message.content == "Let me check. It is 42."
    assert reply.tool_calls == [
        ToolCall("call_A1", "double", {"n": 21}, "done", 14, "42", provider=tool_case.store_id)
    ]
    first, second = fake.requests
    assert native.tool_definitions(first.json) == native.tools([ASK_DOUBLE.info])
    assert native.tool_definitions(second.json) == native.tools([ASK_DOUBLE.info])
    assert history(first, native) == native.user("Double 21")
    assert history(second, native) == [
        *native.user("Double 21"),
        *native.step("Let me check. ", [Sent("call_A1", "double", '{"n": 21}')]),
        *native.results([Returned("call_A1", "double", "42")]),
    ]


def test_parallel_calls_are_one_step_and_a_later_turn_resends_them(
    tool_case: ProviderCase, tool_model: Any, fake: FakeServer
) -> None:
    native = NATIVE[tool_case.id]
    wire = tool_case.wire
    calls = [
        ScriptCall("double", '{"n": 1}', id="call_P1"),
        ScriptCall("double", '{"n": 2}', id="call_P2", pieces=1),
    ]
    fake.plan(
        wire.stream(Script(content=[], tool_calls=calls)),
        wire.stream(Script(content=["2 and 4."])),
        wire.stream(Script(content=["You are welcome."])),
    )
    question = Message("user", "Double 1 and 2")
    reply = EngineRun(tool_model, [question], tools=[DOUBLE]).wait()
    assert [(c.id, c.arguments, c.at, c.result) for c in reply.tool_calls] == [
        ("call_P1", {"n": 1}, 0, "2"),
        ("call_P2", {"n": 2}, 0, "4"),
    ]
    sent = [Sent("call_P1", "double", '{"n": 1}'), Sent("call_P2", "double", '{"n": 2}')]
    returned = [Returned("call_P1", "double", "2"), Returned("call_P2", "double", "4")]
    assert history(fake.requests[1], native) == [
        *native.user("Double 1 and 2"),
        *native.step("", sent),
        *native.results(returned),
    ]
    later = [question, reply.message, Message("user", "Thanks")]
    EngineRun(tool_model, later, tools=[DOUBLE]).wait()
    assert history(fake.requests[2], native) == [
        *native.user("Double 1 and 2"),
        *native.step("", sent),
        *native.results(returned),
        *native.assistant("2 and 4."),
        *native.user("Thanks"),
    ]


def test_calls_of_another_provider_and_calls_with_tools_off_go_as_text(
    tool_case: ProviderCase, tool_model: Any, fake: FakeServer
) -> None:
    native = NATIVE[tool_case.id]
    other = "google" if tool_case.store_id != "google" else "openai"
    foreign = ToolCall("call_F1", "double", {"n": 5}, "done", 6, "10", provider=other)
    own = ToolCall("call_O1", "double", {"n": 5}, "done", 6, "10", provider=tool_case.store_id)
    as_text = 'Sure. \n\n[tool call double {"n": 5}]\n[tool result]\n10\n\nIt is 10.'
    fake.plan(tool_case.wire.stream(Script()), tool_case.wire.stream(Script()))
    for made_by, tools in ((foreign, [DOUBLE]), (own, None)):
        earlier = Message("assistant", "Sure. It is 10.", tool_calls=[made_by])
        EngineRun(tool_model, [Message("user", "Double 5"), earlier], tools=tools).wait()
    for request, tools in zip(fake.requests, ([DOUBLE], None), strict=True):
        assert history(request, native) == [*native.user("Double 5"), *native.assistant(as_text)]
        expected_tools = native.tools([DOUBLE.info]) if tools else None
        assert native.tool_definitions(request.json) == expected_tools


def test_arguments_that_are_not_json_are_an_error_the_model_is_told(
    tool_case: ProviderCase, tool_model: Any, fake: FakeServer
) -> None:
    if tool_case.id == "google":
        pytest.skip("Gemini sends a call's arguments parsed, never as JSON text")
    native = NATIVE[tool_case.id]
    broken = ScriptCall("double", '{"n": 2', id="call_B1")
    fake.plan(
        tool_case.wire.stream(Script(content=[], tool_calls=[broken])),
        tool_case.wire.stream(Script(content=["Sorry."])),
    )
    reply = EngineRun(tool_model, [Message("user", "Double 2")], tools=[DOUBLE]).wait()
    reason = (
        "not run: the arguments are not valid JSON (Expecting ',' delimiter: line 1 column 8 "
        '(char 7)): {"n": 2'
    )
    [call] = reply.tool_calls
    assert (call.id, call.status, call.arguments, call.result) == ("call_B1", "error", {}, reason)
    assert reply.message.content == "Sorry."
    assert history(fake.requests[1], native)[1:] == [
        *native.step("", [Sent("call_B1", "double", "{}")]),
        *native.results([Returned("call_B1", "double", reason, is_error=True)]),
    ]


@pytest.mark.parametrize("call_index", ["zero", "absent"])
def test_calls_of_servers_that_number_them_0_or_not_at_all_stay_apart(
    call_index: Literal["zero", "absent"], fake: FakeServer, store: CredentialStore
) -> None:
    [case] = [c for c in CASES if c.id == "ollama"]
    store.set(case.store_id, case.stored(fake.url))
    wire = OpenAIChatWire(call_index)
    calls = [
        ScriptCall("double", '{"n": 1}', id="call_Z1"),
        ScriptCall("double", '{"n": 2}', id="call_Z2"),
    ]
    fake.plan(wire.stream(Script(content=[], tool_calls=calls)), wire.stream(Script()))
    reply = EngineRun(case.model(fake.url), tools=[DOUBLE]).wait()
    assert [(c.id, c.arguments, c.result) for c in reply.tool_calls] == [
        ("call_Z1", {"n": 1}, "2"),
        ("call_Z2", {"n": 2}, "4"),
    ]


def test_a_tool_message_answers_only_the_step_right_before_it() -> None:
    """Servers that number their calls ``call_0`` in every reply reuse ids across turns:
    a result belongs to the call of the step it follows, not to an earlier one."""
    earlier = Message("assistant", "", tool_calls=[call("call_0", 0, "4")])
    step = Message("assistant", "", tool_calls=[call("call_0", 0, None, status="running")])
    answer = ToolMessage(content="6", tool_call_id="call_0", name="double")
    result = turns([earlier, Message("user", "And 3?"), step, answer], "openai")
    assert [turn.outcomes[0].text for turn in result if isinstance(turn, ResultsTurn)] == [
        "4",
        "6",
    ]


def test_a_provider_id_used_earlier_in_the_chat_is_replaced_by_a_fresh_one() -> None:
    earlier = Message("assistant", "", tool_calls=[call("call_0", 0, "4")])

    def model(messages: list[Message], config: ModelConfig) -> Any:
        if messages[-1].role != "tool":
            yield CallTool("double", {"n": 3}, id="call_0", provider="openai")

    run = EngineRun(model, [Message("user", "2?"), earlier, Message("user", "3?")], [DOUBLE])
    [again] = run.wait().tool_calls
    assert again.id.startswith("call-") and again.result == "6"
