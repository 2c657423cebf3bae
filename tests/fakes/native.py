"""What each provider's request looks like with tools, written out by hand from its API
reference (not from the model code): tool definitions, a user message, an assistant step
with its calls, the calls' results, plain assistant text. The provider tool tests compare
requests the real SDKs sent with these."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol

from jupyter_deltachat.types import ToolInfo

from .sse_wires import GoogleWire


@dataclass(frozen=True)
class Sent:
    """One call as a request carries it: id, name, arguments as JSON text."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True)
class Returned:
    """One result as a request carries it."""

    id: str
    name: str
    text: str
    is_error: bool = False


class Native(Protocol):
    history_key: str
    """The request field holding the conversation."""

    def tools(self, infos: list[ToolInfo]) -> Any: ...
    def user(self, text: str) -> list[dict[str, Any]]: ...
    def assistant(self, text: str) -> list[dict[str, Any]]: ...
    def step(self, text: str, calls: list[Sent]) -> list[dict[str, Any]]: ...
    def results(self, results: list[Returned]) -> list[dict[str, Any]]: ...
    def tool_definitions(self, body: dict[str, Any]) -> Any: ...


class PlainTextTurns:
    """The part three APIs share word for word: tools under ``tools``, and a user or
    assistant turn whose ``content`` is the text itself."""

    def tool_definitions(self, body: dict[str, Any]) -> Any:
        return body.get("tools")

    def user(self, text: str) -> list[dict[str, Any]]:
        return [{"role": "user", "content": text}]

    def assistant(self, text: str) -> list[dict[str, Any]]:
        return [{"role": "assistant", "content": text}]


class ChatCompletionsNative(PlainTextTurns):
    """OpenAI chat completions (also Groq, Ollama and other compatible servers)."""

    history_key = "messages"

    def tools(self, infos: list[ToolInfo]) -> Any:
        return [
            {
                "type": "function",
                "function": {
                    "name": info.name,
                    "description": info.description,
                    "parameters": info.parameters,
                },
            }
            for info in infos
        ]

    def step(self, text: str, calls: list[Sent]) -> list[dict[str, Any]]:
        return [
            {
                "role": "assistant",
                "content": text or None,
                "tool_calls": [
                    {
                        "id": call.id,
                        "type": "function",
                        "function": {"name": call.name, "arguments": call.arguments},
                    }
                    for call in calls
                ],
            }
        ]

    def results(self, results: list[Returned]) -> list[dict[str, Any]]:
        return [{"role": "tool", "tool_call_id": r.id, "content": r.text} for r in results]


class ResponsesNative(PlainTextTurns):
    """OpenAI Responses: ``function_call`` and ``function_call_output`` input items."""

    history_key = "input"

    def tools(self, infos: list[ToolInfo]) -> Any:
        return [
            {
                "type": "function",
                "name": info.name,
                "description": info.description,
                "parameters": info.parameters,
                "strict": False,
            }
            for info in infos
        ]

    def step(self, text: str, calls: list[Sent]) -> list[dict[str, Any]]:
        items = self.assistant(text) if text else []
        return items + [
            {"type": "function_call", "call_id": c.id, "name": c.name, "arguments": c.arguments}
            for c in calls
        ]

    def results(self, results: list[Returned]) -> list[dict[str, Any]]:
        return [
            {"type": "function_call_output", "call_id": r.id, "output": r.text} for r in results
        ]


class AnthropicNative(PlainTextTurns):
    """Anthropic Messages: ``tool_use`` blocks in the assistant turn, ``tool_result``
    blocks in a user turn."""

    history_key = "messages"

    def tools(self, infos: list[ToolInfo]) -> Any:
        return [
            {"name": info.name, "description": info.description, "input_schema": info.parameters}
            for info in infos
        ]

    def step(self, text: str, calls: list[Sent]) -> list[dict[str, Any]]:
        blocks = [{"type": "text", "text": text}] if text else []
        blocks += [
            {"type": "tool_use", "id": c.id, "name": c.name, "input": json.loads(c.arguments)}
            for c in calls
        ]
        return [{"role": "assistant", "content": blocks}]

    def results(self, results: list[Returned]) -> list[dict[str, Any]]:
        blocks = [
            {"type": "tool_result", "tool_use_id": r.id, "content": r.text}
            | ({"is_error": True} if r.is_error else {})
            for r in results
        ]
        return [{"role": "user", "content": blocks}]


class GoogleNative:
    """Gemini ``generateContent``: ``functionCall`` parts in a ``model`` turn (the first
    with the thought signature Gemini gave it: the fake gives ``GoogleWire.SIGNATURE``),
    ``functionResponse`` parts (``output`` or ``error``) in a ``user`` turn. google-genai
    sends each declaration as given, so ``parameters_json_schema`` keeps its snake case
    (the API takes either spelling)."""

    history_key = "contents"

    def tools(self, infos: list[ToolInfo]) -> Any:
        declarations = [
            {
                "name": info.name,
                "description": info.description,
                "parameters_json_schema": info.parameters,
            }
            for info in infos
        ]
        return [{"functionDeclarations": declarations}]

    def tool_definitions(self, body: dict[str, Any]) -> Any:
        return body.get("tools")

    def user(self, text: str) -> list[dict[str, Any]]:
        return [{"role": "user", "parts": [{"text": text}]}]

    def assistant(self, text: str) -> list[dict[str, Any]]:
        return [{"role": "model", "parts": [{"text": text}]}]

    def step(self, text: str, calls: list[Sent]) -> list[dict[str, Any]]:
        parts: list[dict[str, Any]] = [{"text": text}] if text else []
        for count, c in enumerate(calls):
            call = {"id": c.id, "name": c.name, "args": json.loads(c.arguments)}
            signature = {"thoughtSignature": GoogleWire.SIGNATURE} if count == 0 else {}
            parts.append({"functionCall": call} | signature)
        return [{"role": "model", "parts": parts}]

    def results(self, results: list[Returned]) -> list[dict[str, Any]]:
        parts = [
            {
                "functionResponse": {
                    "id": r.id,
                    "name": r.name,
                    "response": {"error" if r.is_error else "output": r.text},
                }
            }
            for r in results
        ]
        return [{"role": "user", "parts": parts}]


class BedrockNative:
    """Bedrock Converse: ``toolUse`` blocks in the assistant message, ``toolResult`` blocks
    (``status`` success or error) in a user message; tools under ``toolConfig``."""

    history_key = "messages"

    def tools(self, infos: list[ToolInfo]) -> Any:
        specs = [
            {
                "toolSpec": {
                    "name": info.name,
                    "description": info.description,
                    "inputSchema": {"json": info.parameters},
                }
            }
            for info in infos
        ]
        return {"tools": specs}

    def tool_definitions(self, body: dict[str, Any]) -> Any:
        return body.get("toolConfig")

    def user(self, text: str) -> list[dict[str, Any]]:
        return [{"role": "user", "content": [{"text": text}]}]

    def assistant(self, text: str) -> list[dict[str, Any]]:
        return [{"role": "assistant", "content": [{"text": text}]}]

    def step(self, text: str, calls: list[Sent]) -> list[dict[str, Any]]:
        blocks: list[dict[str, Any]] = [{"text": text}] if text else []
        blocks += [
            {"toolUse": {"toolUseId": c.id, "name": c.name, "input": json.loads(c.arguments)}}
            for c in calls
        ]
        return [{"role": "assistant", "content": blocks}]

    def results(self, results: list[Returned]) -> list[dict[str, Any]]:
        blocks = [
            {
                "toolResult": {
                    "toolUseId": r.id,
                    "content": [{"text": r.text}],
                    "status": "error" if r.is_error else "success",
                }
            }
            for r in results
        ]
        return [{"role": "user", "content": blocks}]


NATIVE: dict[str, Native] = {
    "openai": ResponsesNative(),
    "openai_chat": ChatCompletionsNative(),
    "groq": ChatCompletionsNative(),
    "ollama": ChatCompletionsNative(),
    "anthropic": AnthropicNative(),
    "google": GoogleNative(),
    "bedrock": BedrockNative(),
}
"""By ``ProviderCase.id``: the providers with native tool calling."""
