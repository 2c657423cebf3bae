"""Groq through its own SDK (the ``groq`` extra): the same chat-completions chunks as
OpenAI, plus typed ``reasoning`` deltas and usage in ``x_groq`` on the last chunk."""

from __future__ import annotations

from typing import Any

from .base import capture_socket
from .openai_compatible import CHAT_CONFIG_NAMES, ChatCompletionsModel


class GroqModel(ChatCompletionsModel):
    provider = "groq"
    credentials_id = "groq"
    label = "Groq"
    package = "groq"
    pip_name = "groq"
    extra = "groq"
    placeholder_key = None
    config_names = CHAT_CONFIG_NAMES | {"max_tokens": "max_completion_tokens"}

    def make_client(self, credentials: dict[str, str]) -> Any:
        import groq

        return groq.Groq(
            api_key=self.require_key(credentials, "GROQ_API_KEY"),
            base_url=credentials.get("base_url") or None,
            max_retries=self.max_retries,
            http_client=groq.DefaultHttpxClient(event_hooks={"response": [capture_socket]}),
        )

    def stream_options(self) -> dict[str, Any]:
        return {}

    def transport_errors(self) -> tuple[type[BaseException], ...]:
        import groq
        import httpx

        return (groq.APIConnectionError, httpx.TransportError)

    def sdk_errors(self) -> tuple[type[BaseException], ...]:
        import groq

        return (groq.GroqError,)


def groq(
    model: str,
    system_message: str | None = None,
    api_key: str | None = None,
    base_url: str | None = None,
    **params: Any,
) -> GroqModel:
    """A model on Groq (``base_url`` is the host; the SDK appends ``/openai/v1``)."""
    credentials = {"api_key": api_key, "base_url": base_url}
    return GroqModel(model, system_message, credentials=credentials, **params)
