"""Anthropic's Messages API, streamed; thinking deltas go to the reasoning channel."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..types import ChatConfig, Message, Reasoning
from .base import Delta, StainlessSdkModel, StreamState, conversation
from .spec import PROVIDERS

DEFAULT_MAX_TOKENS = 8192
"""The API requires ``max_tokens``; this is used when the chat's config sets none."""


class AnthropicModel(StainlessSdkModel, spec=PROVIDERS["anthropic"]):
    """``messages.create(stream=True)``. This SDK version's ``create`` takes no
    temperature/top_p/top_k, so of ChatConfig only ``max_tokens`` is sent."""

    client_class = "Anthropic"
    base_error = "AnthropicError"
    final_event = "message_stop"

    def build_request(self, messages: list[Message], config: ChatConfig) -> dict[str, Any]:
        turns = [
            {"role": message.role, "content": self.content(message)}
            for message in conversation(messages)
        ]
        request: dict[str, Any] = {
            "model": self.model,
            "messages": turns,
            "max_tokens": DEFAULT_MAX_TOKENS,
            "stream": True,
        }
        system = self.system_text(messages)
        if system:
            request["system"] = system
        return request | self.options(config, {"max_tokens": "max_tokens"})

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


def anthropic(
    model: str,
    system_message: str | None = None,
    api_key: str | None = None,
    base_url: str | None = None,
    **params: Any,
) -> AnthropicModel:
    """A Claude model. ``params`` go into every request, e.g.
    ``thinking={"type": "enabled", "budget_tokens": 2048}`` for reasoning deltas."""
    credentials = {"api_key": api_key, "base_url": base_url}
    return AnthropicModel(model, system_message, credentials=credentials, **params)
