"""Native tool calling by the built-in providers (issue 12 item 3, docs/tools.md).

The shared part first: how the engine keeps a provider's call (its id, its provider, bad
arguments) and how ``models/tool_history.turns`` turns a chat's history into the neutral
turns every provider renders. Then each provider through its real SDK against its fake
server: tool definitions in the request, the streamed call assembled into a ``ToolCall``,
the call and its result sent back natively in the next request and on later turns, a call
of another provider sent as text, bad arguments, tools off.
"""

from __future__ import annotations

from typing import Any

from fakes.fixtures import EngineRun

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
