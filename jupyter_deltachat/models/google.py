"""Google Gemini through google-genai's ``generate_content_stream``; parts marked
``thought`` go to the reasoning channel."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..errors import ProviderError
from ..types import ChatConfig, Message, Reasoning
from .base import (
    Delta,
    ProviderModel,
    StreamState,
    capture_socket,
    conversation,
    decode,
)
from .spec import PROVIDERS

CONFIG_NAMES = {
    "max_tokens": "max_output_tokens",
    "temperature": "temperature",
    "top_p": "top_p",
    "top_k": "top_k",
    "frequency_penalty": "frequency_penalty",
    "presence_penalty": "presence_penalty",
}
THINKING_MODELS = ("gemini-2.5", "gemini-3")
"""Models that always think: asking for their thought summaries costs nothing extra."""


class GoogleModel(ProviderModel, spec=PROVIDERS["google"]):
    final_event = "a candidate with finishReason"

    def make_client(self, credentials: dict[str, str]) -> Any:
        from google import genai
        from google.genai import types

        options = types.HttpOptions(
            base_url=self.endpoint,
            retry_options=types.HttpRetryOptions(attempts=self.max_retries + 1),
            client_args={"event_hooks": {"response": [capture_socket]}},
        )
        key = self.require_field(credentials, "api_key")
        return genai.Client(api_key=key, http_options=options)

    def transport_errors(self) -> tuple[type[BaseException], ...]:
        import httpx
        import httpx2

        return (httpx2.TransportError, httpx.TransportError)

    def sdk_errors(self) -> tuple[type[BaseException], ...]:
        from google.genai import errors

        return (errors.APIError,)

    def error_body(self, exc: BaseException) -> object:
        return getattr(exc, "details", None)

    def build_request(self, messages: list[Message], config: ChatConfig) -> dict[str, Any]:
        contents = [
            {"role": "model" if m.role == "assistant" else "user", "parts": self.parts(m)}
            for m in conversation(messages)
        ]
        generation: dict[str, Any] = {}
        if self.model.startswith(THINKING_MODELS):
            generation["thinking_config"] = {"include_thoughts": True}
        system = self.system_text(messages)
        if system:
            generation["system_instruction"] = system
        generation |= self.options(config, CONFIG_NAMES)
        return {"model": self.model, "contents": contents, "config": generation}

    def parts(self, message: Message) -> list[Any]:
        from google.genai import types

        return self.message_parts(
            message,
            text=lambda text: {"text": text},
            image=lambda image: types.Part.from_bytes(
                data=decode(image), mime_type=image.media_type
            ),
        )

    def open_stream(self, client: Any, request: dict[str, Any]) -> Iterable[Any]:
        return client.models.generate_content_stream(**request)

    def read_chunk(self, chunk: Any, state: StreamState) -> Iterable[Delta]:
        usage = chunk.usage_metadata
        if usage is not None:
            state.input_tokens = usage.prompt_token_count
            output = (usage.candidates_token_count or 0) + (usage.thoughts_token_count or 0)
            state.output_tokens = output or state.output_tokens
        if not chunk.candidates:
            feedback = chunk.prompt_feedback
            if feedback is not None and feedback.block_reason is not None:
                raise ProviderError(
                    f"Google Gemini blocked the prompt ({feedback.block_reason})",
                    provider=self.provider,
                )
            return
        candidate = chunk.candidates[0]
        content = candidate.content
        if content is not None and content.parts:
            for part in content.parts:
                if part.text:
                    yield Reasoning(part.text) if part.thought else part.text
        reason = candidate.finish_reason
        if reason is not None:
            name = getattr(reason, "value", str(reason))
            if name not in ("STOP", "MAX_TOKENS"):
                raise ProviderError(
                    f"Google Gemini stopped the reply ({name})", provider=self.provider
                )
            state.finish = "length" if name == "MAX_TOKENS" else "stop"
            state.complete = True


def google(
    model: str,
    system_message: str | None = None,
    api_key: str | None = None,
    base_url: str | None = None,
    **params: Any,
) -> GoogleModel:
    """A Gemini model (Gemini Developer API key). ``params`` go into the generation
    config, e.g. ``thinking_config={"thinking_budget": 1024}``."""
    return GoogleModel(
        model, system_message, endpoint=base_url, credentials={"api_key": api_key}, **params
    )
