"""OpenAI through its Responses API, which the ``openai`` SDK treats as its primary one
(reasoning summaries stream as their own events); ``api="chat"`` uses chat completions."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

from ..errors import ProviderError
from ..types import ChatConfig, Message, Reasoning
from .base import Delta, StreamState, data_url
from .openai_compatible import OpenAIChatModel, OpenAISdkModel
from .spec import PROVIDERS
from .tool_history import (
    ResultsTurn,
    Turn,
    UserTurn,
    arguments_json,
    offered_tools,
    read_call,
    turns,
)

_REASONING_EVENTS = frozenset(
    {"response.reasoning_summary_text.delta", "response.reasoning_text.delta"}
)


class OpenAIResponsesModel(OpenAISdkModel, spec=PROVIDERS["openai"]):
    """``responses.create(stream=True)``; ``store=False`` unless given, since every call
    sends the whole conversation anyway. A tool call is a ``function_call`` output item,
    read whole from its ``response.output_item.done`` event (its arguments streamed before
    in ``response.function_call_arguments.delta`` events)."""

    final_event = "response.completed"

    def build_request(self, messages: list[Message], config: ChatConfig) -> dict[str, Any]:
        tools = offered_tools(config)
        items: list[dict[str, Any]] = []
        for turn in turns(messages, self.provider if tools else None):
            items += self.input_items(turn)
        request: dict[str, Any] = {"model": self.model, "input": items, "stream": True}
        system = self.system_text(messages)
        if system:
            request["instructions"] = system
        request["store"] = False
        if tools:
            request["tools"] = [
                {
                    "type": "function",
                    "name": tool.name,
                    "description": tool.description,
                    "parameters": tool.parameters,
                    "strict": False,  # strict needs every property required: ours may be optional
                }
                for tool in tools
            ]
        names = {"max_tokens": "max_output_tokens", "temperature": "temperature", "top_p": "top_p"}
        return request | self.options(config, names)

    def input_items(self, turn: Turn) -> list[dict[str, Any]]:
        """A turn as input items: a message, ``function_call`` items, ``function_call_output``
        items (without item ids: with ``store=False`` the server keeps none to refer to)."""
        if isinstance(turn, UserTurn):
            return [{"role": "user", "content": self.input_content(turn.message)}]
        if isinstance(turn, ResultsTurn):
            return [
                {"type": "function_call_output", "call_id": outcome.call.id, "output": outcome.text}
                for outcome in turn.outcomes
            ]
        items: list[dict[str, Any]] = []
        if turn.text:
            items.append({"role": "assistant", "content": turn.text})
        for call in turn.calls:
            items.append(
                {
                    "type": "function_call",
                    "call_id": call.id,
                    "name": call.name,
                    "arguments": arguments_json(call),
                }
            )
        return items

    def input_content(self, message: Message) -> str | list[dict[str, Any]]:
        return self.text_or_parts(
            message,
            text=lambda text: {"type": "input_text", "text": text},
            image=lambda image: {"type": "input_image", "image_url": data_url(image)},
        )

    def open_stream(self, client: Any, request: dict[str, Any]) -> Iterable[Any]:
        return client.responses.create(**request)

    def read_chunk(self, event: Any, state: StreamState) -> Iterable[Delta]:
        kind = event.type
        if kind == "response.output_text.delta":
            yield event.delta
        elif kind in _REASONING_EVENTS:
            yield Reasoning(event.delta)
        elif kind == "response.output_item.done" and event.item.type == "function_call":
            item = event.item
            yield read_call(self.provider, item.call_id, item.name, item.arguments)
        elif kind in ("response.completed", "response.incomplete"):
            response = event.response
            if response.usage is not None:
                state.input_tokens = response.usage.input_tokens
                state.output_tokens = response.usage.output_tokens
            details = response.incomplete_details
            if kind == "response.incomplete" and details is not None:
                if details.reason != "max_output_tokens":
                    raise ProviderError(
                        f"OpenAI left the reply incomplete ({details.reason})",
                        provider=self.provider,
                    )
                state.finish = "length"
            state.complete = True
        elif kind == "error":
            raise self.stream_error(event.message)
        elif kind == "response.failed":
            error = event.response.error
            raise self.stream_error(error.message if error is not None else "the response failed")


def openai(
    model: str,
    system_message: str | None = None,
    api_key: str | None = None,
    base_url: str | None = None,
    *,
    api: Literal["responses", "chat"] = "responses",
    **params: Any,
) -> OpenAISdkModel:
    """An OpenAI model (or Azure OpenAI, by its ``/openai/v1/`` ``base_url``).

    ``params`` go into every request (``reasoning={"summary": "auto"}``...); the chat's
    config overrides the ones it sets.
    """
    cls = OpenAIResponsesModel if api == "responses" else OpenAIChatModel
    credentials = {"api_key": api_key, "base_url": base_url}
    return cls(model, system_message, credentials=credentials, **params)
