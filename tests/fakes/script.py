"""What a fake provider should say, independent of any wire format."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from .server import Plan

ERROR_BODIES: dict[str, Callable[[str], Any]] = {
    "error.message": lambda reason: {
        "error": {"message": reason, "type": "invalid_request_error", "code": None}
    },
    "error": lambda reason: {"error": reason},
    "detail": lambda reason: {"detail": reason},
    "message": lambda reason: {"message": reason},
    "detail[].msg": lambda reason: {
        "detail": [{"loc": ["body", "model"], "msg": reason, "type": "value_error"}]
    },
}
"""The error body shapes real OpenAI-compatible servers send, by name: OpenAI and vLLM,
Ollama, FastAPI-based servers (a string, or a 422's list of problems), and others."""


@dataclass
class ScriptCall:
    """A tool call the fake model makes, its arguments as the JSON text it streams (in
    ``pieces`` deltas on wires that stream them; a wire that sends whole calls ignores it)."""

    name: str
    arguments: str = "{}"
    id: str = "call_fake_1"
    pieces: int = 3

    def argument_pieces(self) -> list[str]:
        """The arguments cut into ``pieces`` parts (the last takes the rest)."""
        size = max(1, -(-len(self.arguments) // self.pieces))
        return [self.arguments[i : i + size] for i in range(0, len(self.arguments), size)] or [""]


@dataclass
class Script:
    """A reply: reasoning deltas, then content deltas, then usage and the final event.

    ``error_after=n`` replaces everything after the n-th content delta with the provider's
    mid-stream error event (on chat-completions wires shaped as ``ERROR_BODIES[error_shape]``);
    ``final=False`` leaves out the final event (a truncated stream). ``tool_calls`` come
    after the content (parallel calls in order); with any, a ``"stop"`` finish is sent as
    the wire's own tool-call finish (``tool_calls``, ``tool_use``...).
    """

    content: list[str] = field(default_factory=lambda: ["Hel", "lo", ", wor", "ld!"])
    reasoning: list[str] = field(default_factory=list)
    input_tokens: int = 11
    output_tokens: int = 7
    finish: Literal["stop", "length"] = "stop"
    error_after: int | None = None
    error_message: str = "the model is overloaded"
    error_shape: str = "error.message"
    final: bool = True
    tool_calls: list[ScriptCall] = field(default_factory=list)


class Wire(Protocol):
    """One provider's wire format, as the fake server speaks it."""

    def stream(self, script: Script) -> Plan:
        """The streamed answer: one body chunk per wire event."""
        ...

    def http_error(self, status: int, message: str) -> Plan:
        """A non-200 answer with the provider's own error body."""
        ...
