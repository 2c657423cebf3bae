"""What a fake provider should say, independent of any wire format."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

from .server import Plan


@dataclass
class Script:
    """A reply: reasoning deltas, then content deltas, then usage and the final event.

    ``error_after=n`` replaces everything after the n-th content delta with the provider's
    mid-stream error event; ``final=False`` leaves out the final event (a truncated stream).
    """

    content: list[str] = field(default_factory=lambda: ["Hel", "lo", ", wor", "ld!"])
    reasoning: list[str] = field(default_factory=list)
    input_tokens: int = 11
    output_tokens: int = 7
    finish: Literal["stop", "length"] = "stop"
    error_after: int | None = None
    error_message: str = "the model is overloaded"
    final: bool = True


class Wire(Protocol):
    """One provider's wire format, as the fake server speaks it."""

    def stream(self, script: Script) -> Plan:
        """The streamed answer: one body chunk per wire event."""
        ...

    def http_error(self, status: int, message: str) -> Plan:
        """A non-200 answer with the provider's error body."""
        ...
