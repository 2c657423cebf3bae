"""What each provider's request looks like with tools, written out by hand from its API
reference (not from the model code): tool definitions, a user message, an assistant step
with its calls, the calls' results, plain assistant text. The provider tool tests compare
requests the real SDKs sent with these."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from jupyter_deltachat.types import ToolInfo


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


class ChatCompletionsNative:
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

    def tool_definitions(self, body: dict[str, Any]) -> Any:
        return body.get("tools")

    def user(self, text: str) -> list[dict[str, Any]]:
        return [{"role": "user", "content": text}]

    def assistant(self, text: str) -> list[dict[str, Any]]:
        return [{"role": "assistant", "content": text}]

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


class ResponsesNative:
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

    def tool_definitions(self, body: dict[str, Any]) -> Any:
        return body.get("tools")

    def user(self, text: str) -> list[dict[str, Any]]:
        return [{"role": "user", "content": text}]

    def assistant(self, text: str) -> list[dict[str, Any]]:
        return [{"role": "assistant", "content": text}]

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


NATIVE: dict[str, Native] = {
    "openai": ResponsesNative(),
    "openai_chat": ChatCompletionsNative(),
    "groq": ChatCompletionsNative(),
    "ollama": ChatCompletionsNative(),
}
"""By ``ProviderCase.id``: the providers with native tool calling."""
