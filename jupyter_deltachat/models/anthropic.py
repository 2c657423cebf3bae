"""Anthropic's Messages API, streamed; thinking deltas go to the reasoning channel.

Tools go as ``tools=[{name, description, input_schema}]``; a call streams as a ``tool_use``
block (id and name at its start, the input JSON in ``input_json_delta`` pieces) and is
yielded when the block stops; results go back as ``tool_result`` blocks in a user turn.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..types import ChatConfig, Message, Reasoning
from .base import CallMemory, Delta, SignedReasoning, StainlessSdkModel, StreamState, keyed_factory
from .spec import PROVIDERS
from .tool_history import AssistantTurn, ResultsTurn, Turn, UserTurn, offered_tools, turns

DEFAULT_MAX_TOKENS = 8192
"""The API requires ``max_tokens``; this is used when the chat's config sets none."""
SIGNED_THINKING = CallMemory()
"""The signed thinking blocks before each step's first call: with thinking on, the API
refuses a tool loop whose assistant turn does not start with them."""


class AnthropicModel(StainlessSdkModel, spec=PROVIDERS["anthropic"]):
    """``messages.create(stream=True)``. This SDK version's ``create`` takes no
    temperature/top_p/top_k, so of ChatConfig only ``max_tokens`` is sent."""

    client_class = "Anthropic"
    base_error = "AnthropicError"
    final_event = "message_stop"

    def build_request(self, messages: list[Message], config: ChatConfig) -> dict[str, Any]:
        tools = offered_tools(config)
        history = turns(messages, self.provider if tools else None)
        request: dict[str, Any] = {
            "model": self.model,
            "messages": [self.turn(turn) for turn in history],
            "max_tokens": DEFAULT_MAX_TOKENS,
            "stream": True,
        }
        system = self.system_text(messages)
        if system:
            request["system"] = system
        if tools:
            request["tools"] = [
                {"name": t.name, "description": t.description, "input_schema": t.parameters}
                for t in tools
            ]
        return request | self.options(config, {"max_tokens": "max_tokens"})

    def turn(self, turn: Turn) -> dict[str, Any]:
        """One neutral turn as a Messages API message (the API joins consecutive turns of
        one role, so results followed by a user's message need no merging here)."""
        if isinstance(turn, UserTurn):
            return {"role": "user", "content": self.content(turn.message)}
        if isinstance(turn, AssistantTurn):
            if not turn.calls:
                return {"role": "assistant", "content": turn.text}
            blocks = self.call_turn_blocks(
                turn,
                SIGNED_THINKING,
                reasoning=thinking_block,
                text=lambda text: {"type": "text", "text": text},
                call=lambda call: {
                    "type": "tool_use",
                    "id": call.id,
                    "name": call.name,
                    "input": call.arguments,
                },
            )
            return {"role": "assistant", "content": blocks}
        assert isinstance(turn, ResultsTurn)
        return {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": outcome.call.id, "content": outcome.text}
                | ({"is_error": True} if outcome.is_error else {})
                for outcome in turn.outcomes
            ],
        }

    def content(self, message: Message) -> str | list[dict[str, Any]]:
        return self.text_or_parts(
            message,
            text=lambda text: {"type": "text", "text": text},
            image=lambda image: {
                "type": "image",
                "source": {"type": "base64", "media_type": image.media_type, "data": image.data},
            },
            images_first=True,
        )

    def open_stream(self, client: Any, request: dict[str, Any]) -> Iterable[Any]:
        return client.messages.create(**request)

    def read_chunk(self, event: Any, state: StreamState) -> Iterable[Delta]:
        kind = event.type
        if kind == "content_block_delta":
            delta = event.delta
            if delta.type == "text_delta":
                yield delta.text
            elif delta.type == "thinking_delta":
                yield Reasoning(delta.thinking)
                if event.index in state.signed:
                    state.signed[event.index].text.append(delta.thinking)
            elif delta.type == "input_json_delta" and event.index in state.calls:
                state.calls.add(event.index, arguments=delta.partial_json)
            elif delta.type == "signature_delta" and event.index in state.signed:
                state.signed[event.index].signature = delta.signature
        elif kind == "content_block_start":
            block = event.content_block
            if block.type == "tool_use":
                state.calls.add(event.index, block.id, block.name)
            elif block.type == "thinking":
                state.signed[event.index] = SignedReasoning()
            elif block.type == "redacted_thinking":
                state.signed[event.index] = SignedReasoning(redacted=block.data)
        elif kind == "content_block_stop":
            if event.index in state.calls:
                yield from self.completed_calls(state, SIGNED_THINKING)
        elif kind == "message_start":
            usage = event.message.usage
            state.input_tokens = (
                usage.input_tokens
                + (usage.cache_creation_input_tokens or 0)
                + (usage.cache_read_input_tokens or 0)
            )
        elif kind == "message_delta":
            state.output_tokens = event.usage.output_tokens
            if event.delta.stop_reason == "max_tokens":
                state.finish = "length"
        elif kind == "message_stop":
            state.complete = True


def thinking_block(block: SignedReasoning) -> dict[str, Any]:
    """A thinking block as the API wants it back."""
    if block.redacted is not None:
        return {"type": "redacted_thinking", "data": block.redacted}
    return {"type": "thinking", "thinking": "".join(block.text), "signature": block.signature}


anthropic = keyed_factory(
    AnthropicModel,
    """A Claude model. ``params`` go into every request, e.g.
    ``thinking={"type": "enabled", "budget_tokens": 2048}`` for reasoning deltas.""",
)
