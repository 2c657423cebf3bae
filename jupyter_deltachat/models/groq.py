"""Groq through its own SDK (the ``groq`` extra): the same chat-completions chunks as
OpenAI, plus typed ``reasoning`` deltas and usage in ``x_groq`` on the last chunk."""

from __future__ import annotations

from typing import Any

from .base import keyed_factory
from .openai_compatible import CHAT_CONFIG_NAMES, ChatCompletionsModel
from .spec import PROVIDERS


class GroqModel(ChatCompletionsModel, spec=PROVIDERS["groq"]):
    client_class = "Groq"
    base_error = "GroqError"
    http_package = "httpx"
    placeholder_key = None
    config_names = CHAT_CONFIG_NAMES | {"max_tokens": "max_completion_tokens"}

    def stream_options(self) -> dict[str, Any]:
        return {}

    def usage_of(self, chunk: Any) -> Any:
        """Groq sends the usage in ``x_groq`` on the last chunk."""
        if chunk.usage is not None:
            return chunk.usage
        x_groq = chunk.__dict__.get("x_groq")
        return x_groq.usage if x_groq is not None else None

    def reasoning_of(self, delta: Any) -> str | None:
        """``reasoning`` is a declared field of groq's delta type."""
        return delta.__dict__.get("reasoning")


groq = keyed_factory(
    GroqModel, """A model on Groq (``base_url`` is the host; the SDK appends ``/openai/v1``)."""
)
