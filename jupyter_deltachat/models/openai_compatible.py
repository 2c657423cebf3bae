"""Chat completions streaming through the ``openai`` SDK: any OpenAI-compatible server
(Ollama, vLLM, LM Studio, Azure), and OpenAI itself with ``api="chat"``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..types import ChatConfig, Message, Reasoning
from .base import Delta, StainlessSdkModel, StreamState, data_url
from .spec import OPENAI_SDK, PROVIDERS
from .tool_history import ResultsTurn, Turn, UserTurn, arguments_json, offered_tools, turns

CHAT_CONFIG_NAMES = {
    "max_tokens": "max_tokens",
    "temperature": "temperature",
    "top_p": "top_p",
    "frequency_penalty": "frequency_penalty",
    "presence_penalty": "presence_penalty",
}


class OpenAISdkModel(StainlessSdkModel):
    """What every model driven by the ``openai`` SDK shares: its client and errors."""

    sdk = OPENAI_SDK
    extra = "openai"
    client_class = "OpenAI"
    base_error = "OpenAIError"


class ChatCompletionsModel(OpenAISdkModel):
    """``chat.completions.create(stream=True)``; reasoning from ``reasoning_content``
    (vLLM, DeepSeek) or ``reasoning`` (Ollama) deltas; tool calls as ``tool_calls`` deltas
    (each call's id and name, then its arguments in pieces, by ``index``), results as
    ``role: "tool"`` messages."""

    provider = "openai_compatible"
    credentials_id = None
    label = "OpenAI-compatible server"
    final_event = "a choice with finish_reason"
    config_names = CHAT_CONFIG_NAMES
    placeholder_key = "not-needed"

    def build_request(self, messages: list[Message], config: ChatConfig) -> dict[str, Any]:
        chat: list[dict[str, Any]] = []
        system = self.system_text(messages)
        if system:
            chat.append({"role": "system", "content": system})
        tools = offered_tools(config)
        for turn in turns(messages, self.provider if tools else None):
            chat += self.chat_messages(turn)
        request: dict[str, Any] = {"model": self.model, "messages": chat, "stream": True}
        if tools:
            request["tools"] = [
                {
                    "type": "function",
                    "function": {
                        "name": tool.name,
                        "description": tool.description,
                        "parameters": tool.parameters,
                    },
                }
                for tool in tools
            ]
        request |= self.stream_options()
        return request | self.options(config, self.config_names)

    def chat_messages(self, turn: Turn) -> list[dict[str, Any]]:
        """A turn as chat messages: calls on the assistant message, one ``tool`` message
        per result."""
        if isinstance(turn, UserTurn):
            return [{"role": "user", "content": self.content(turn.message)}]
        if isinstance(turn, ResultsTurn):
            return [
                {"role": "tool", "tool_call_id": outcome.call.id, "content": outcome.text}
                for outcome in turn.outcomes
            ]
        message: dict[str, Any] = {"role": "assistant", "content": turn.text or None}
        if turn.calls:
            message["tool_calls"] = [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": arguments_json(call)},
                }
                for call in turn.calls
            ]
        return [message]

    def stream_options(self) -> dict[str, Any]:
        return {"stream_options": {"include_usage": True}}

    def content(self, message: Message) -> str | list[dict[str, Any]]:
        return self.text_or_parts(
            message,
            text=lambda text: {"type": "text", "text": text},
            image=lambda image: {"type": "image_url", "image_url": {"url": data_url(image)}},
        )

    def open_stream(self, client: Any, request: dict[str, Any]) -> Iterable[Any]:
        return client.chat.completions.create(**request)

    def read_chunk(self, chunk: Any, state: StreamState) -> Iterable[Delta]:
        usage = self.usage_of(chunk)
        if usage is not None:
            state.input_tokens = usage.prompt_tokens
            state.output_tokens = usage.completion_tokens
        for choice in chunk.choices:
            delta = choice.delta
            reasoning = self.reasoning_of(delta)
            if reasoning:
                yield Reasoning(reasoning)
            if delta.content:
                yield delta.content
            for position, piece in enumerate(delta.tool_calls or ()):
                index = getattr(piece, "index", None)  # some servers leave it out
                index = index if isinstance(index, int) else position
                if state.calls.starts_new(index, piece.id):  # the calls before are whole
                    yield from state.calls.complete(self.provider)
                function = piece.function
                state.calls.add(
                    index,
                    piece.id,
                    function.name if function is not None else None,
                    function.arguments if function is not None else None,
                )
            if choice.finish_reason:
                yield from state.calls.complete(self.provider)
                state.complete = True
                state.finish = "length" if choice.finish_reason == "length" else "stop"

    def usage_of(self, chunk: Any) -> Any:
        return chunk.usage

    def reasoning_of(self, delta: Any) -> str | None:
        """An undeclared field for the openai SDK: read from the pydantic extras, without
        a costly failed ``getattr``."""
        extra = delta.model_extra
        return extra.get("reasoning_content") or extra.get("reasoning") if extra else None


class OpenAIChatModel(ChatCompletionsModel, spec=PROVIDERS["openai"]):
    """OpenAI's own chat completions (``openai(model, api="chat")``): key required."""

    placeholder_key = None
    config_names = CHAT_CONFIG_NAMES | {"max_tokens": "max_completion_tokens"}


class OllamaModel(ChatCompletionsModel, spec=PROVIDERS["ollama"]):
    """Ollama's OpenAI-compatible endpoint; the base URL comes from the credential store
    (``OLLAMA_BASE_URL``, default ``http://localhost:11434/v1``); no key."""


def openai_compatible(
    model: str,
    system_message: str | None = None,
    base_url: str | None = None,
    api_key: str | None = None,
    **params: Any,
) -> ChatCompletionsModel:
    """A model on any OpenAI-compatible server (vLLM, LM Studio, llama.cpp, Azure...)."""
    if not base_url:
        raise ValueError("openai_compatible needs the server's base_url, e.g. http://host:8000/v1")
    return ChatCompletionsModel(
        model, system_message, credentials={"base_url": base_url, "api_key": api_key}, **params
    )


def ollama(
    model: str,
    system_message: str | None = None,
    base_url: str | None = None,
    **params: Any,
) -> OllamaModel:
    """A model served by Ollama (default ``http://localhost:11434/v1``)."""
    return OllamaModel(model, system_message, credentials={"base_url": base_url}, **params)
