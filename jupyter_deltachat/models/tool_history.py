"""Tool calling shared by every built-in provider: the history as neutral turns, the tools a
request offers, and a streamed call's arguments read into a ``CallTool``.

A stored assistant message that called tools holds the text of all its steps in
``content`` and each call at its ``at``; within a reply the engine passes each step as an
assistant message (its calls, ``at`` relative to its text) followed by one ``ToolMessage``
per call. ``turns`` turns either into the one sequence every API wants — assistant text
with the calls made after it, then their results, then the text that followed — and each
provider only renders these turns in its own format. Calls made by another provider (or
any call when tools are off: several APIs refuse tool blocks without tool definitions) are
folded into the assistant's text instead.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any

from ..context.block import with_context
from ..types import CallTool, ChatConfig, Message, ModelConfig, ToolCall, ToolInfo, ToolMessage

MAX_ECHOED_ARGUMENTS = 2000
"""Code points of unreadable arguments quoted back to the model in the error."""


@dataclass(frozen=True)
class UserTurn:
    """A user message (its context block first, as ``context.block`` makes it)."""

    message: Message


@dataclass(frozen=True)
class AssistantTurn:
    """Text the model wrote, then the calls it made right after it (none: text only)."""

    text: str
    calls: tuple[ToolCall, ...] = ()


@dataclass(frozen=True)
class ToolOutcome:
    """What one call returned, as the model is told it."""

    call: ToolCall
    text: str
    is_error: bool


@dataclass(frozen=True)
class ResultsTurn:
    """The results of the calls of the assistant turn before it, in the same order."""

    outcomes: tuple[ToolOutcome, ...]


Turn = UserTurn | AssistantTurn | ResultsTurn


def offered_tools(config: ChatConfig) -> list[ToolInfo]:
    """The tools this request may offer the model (none for a plain ``ChatConfig``)."""
    return list(config.tools) if isinstance(config, ModelConfig) else []


def turns(messages: list[Message], provider: str | None) -> list[Turn]:
    """The conversation as neutral turns; calls made by ``provider`` stay native calls, all
    others (every call when ``provider`` is None) become text in the assistant's turn.

    System messages are left out (each API takes them apart); so is an empty failed reply.
    """
    result: list[Turn] = []
    consumed: set[int] = set()  # indexes of tool messages an assistant message took
    for index, message in enumerate(messages):
        if message.role == "assistant":
            if message.tool_calls:
                answers = _answers(messages, index, consumed)
                result += _expand(message, provider, answers)
            elif message.content:
                result.append(AssistantTurn(message.content))
        elif message.role == "user":
            if message.content or message.attachments or message.context:
                result.append(UserTurn(with_context(message)))
        elif message.role == "tool" and index not in consumed:
            result.append(UserTurn(Message("user", f"[tool result]\n{message.content}")))
    return result


def _answers(messages: list[Message], index: int, consumed: set[int]) -> dict[str, str]:
    """The results the tool messages right after ``messages[index]`` give its calls (a
    step inside a reply), by call id; the ones answering its calls are marked consumed."""
    ids = {call.id for call in messages[index].tool_calls}
    answers: dict[str, str] = {}
    for later in range(index + 1, len(messages)):
        message = messages[later]
        if message.role != "tool":
            break
        if isinstance(message, ToolMessage) and message.tool_call_id in ids:
            answers[message.tool_call_id] = message.content
            consumed.add(later)
    return answers


def _expand(message: Message, provider: str | None, answers: dict[str, str]) -> list[Turn]:
    """One assistant message with calls, split at each call's ``at``."""
    content = message.content
    result: list[Turn] = []
    text: list[str] = []
    position = 0
    ordered = sorted(message.tool_calls, key=lambda call: call.at)  # stable: call order kept
    for at, group in groupby(ordered, key=lambda call: call.at):
        at = max(position, min(at, len(content)))
        text.append(content[position:at])
        position = at
        native: list[ToolOutcome] = []
        for call in group:
            outcome = ToolOutcome(
                call, answers.get(call.id) or outcome_text(call), call_failed(call)
            )
            if provider is not None and call.provider == provider:
                native.append(outcome)
            else:
                text.append(as_text(outcome))
        if native:
            result.append(AssistantTurn("".join(text), tuple(o.call for o in native)))
            result.append(ResultsTurn(tuple(native)))
            text = []
    text.append(content[position:])
    rest = "".join(text)
    if rest.strip():
        result.append(AssistantTurn(rest))
    return result


def outcome_text(call: ToolCall) -> str:
    """The call's result, or what happened to a call that has none."""
    if call.result:
        return call.result
    if call.status == "cancelled":
        return "not run: the user stopped the reply"
    if call.status in ("awaiting_approval", "running"):
        return "not run: the reply ended before this call finished"
    return "(no output)"


def call_failed(call: ToolCall) -> bool:
    return call.status != "done"


def as_text(outcome: ToolOutcome) -> str:
    """A call and its result as text, for a model that cannot take it natively."""
    call = outcome.call
    arguments = json.dumps(call.arguments, ensure_ascii=False)
    status = "error" if outcome.is_error else "result"
    return f"\n\n[tool call {call.name} {arguments}]\n[tool {status}]\n{outcome.text}\n\n"


def arguments_json(call: ToolCall) -> str:
    """A call's arguments as the JSON text APIs take (OpenAI's ``arguments``)."""
    return json.dumps(call.arguments, ensure_ascii=False)


def read_call(provider: str, call_id: str | None, name: str, arguments: str | None) -> CallTool:
    """A call whose arguments streamed as JSON text; unreadable ones give the reason."""
    parsed, problem = parse_arguments(arguments)
    return CallTool(name, parsed, id=call_id or None, provider=provider, arguments_error=problem)


@dataclass
class PendingCall:
    """A call whose parts are still streaming."""

    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)


class PendingCalls:
    """Tool calls streaming in pieces, by the index the API gives each (OpenAI's
    ``tool_calls[].index``, Anthropic's and Bedrock's content block index)."""

    __slots__ = ("_calls",)

    def __init__(self) -> None:
        self._calls: dict[int, PendingCall] = {}

    def __contains__(self, index: int) -> bool:
        """Whether a call is streaming at ``index`` (Anthropic's and Bedrock's block stops)."""
        return index in self._calls

    def starts_new(self, index: int, call_id: str | None) -> bool:
        """Whether a piece begins a call: an index not seen yet, or a different id at a
        seen one (servers that number every call 0)."""
        call = self._calls.get(index)
        return call is None or bool(call_id and call.id and call_id != call.id)

    def add(
        self,
        index: int,
        call_id: str | None = None,
        name: str | None = None,
        arguments: str | None = None,
    ) -> None:
        """One piece: the id once, the name and the arguments text as they come."""
        call = self._calls.setdefault(index, PendingCall())
        if call_id and not call.id:
            call.id = call_id
        if name:
            call.name += name
        if arguments:
            call.arguments.append(arguments)

    def complete(self, provider: str) -> list[CallTool]:
        """Every call streamed so far, whole, in index order; none is pending after."""
        calls = [self._calls[index] for index in sorted(self._calls)]
        self._calls.clear()
        return [read_call(provider, c.id, c.name, "".join(c.arguments)) for c in calls]


def parse_arguments(text: str | None) -> tuple[dict[str, Any], str | None]:
    """The arguments object, or ``{}`` and why ``text`` is not one (empty text: no
    arguments, as some models send for a tool without parameters)."""
    if text is None or not text.strip():
        return {}, None
    echoed = text if len(text) <= MAX_ECHOED_ARGUMENTS else text[:MAX_ECHOED_ARGUMENTS] + "…"
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        return {}, f"not run: the arguments are not valid JSON ({exc}): {echoed}"
    if not isinstance(value, dict):
        kind = type(value).__name__
        return {}, f"not run: the arguments must be a JSON object, not {kind}: {echoed}"
    return value, None
