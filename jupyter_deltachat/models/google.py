"""Google Gemini through google-genai's ``generate_content_stream``; parts marked
``thought`` go to the reasoning channel.

Tools go as ``function_declarations`` (the JSON Schema as ``parameters_json_schema``); a
call arrives whole as a ``functionCall`` part and results go back as ``functionResponse``
parts. Gemini attaches a thought signature to a step's first call and Gemini 3 refuses a
replayed call without it, so signatures are kept (in this process) by call id and sent back.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from ..errors import ProviderError
from ..types import CallTool, ChatConfig, Message, Reasoning
from .base import (
    CallMemory,
    Delta,
    ProviderModel,
    StreamState,
    capture_socket,
    decode,
    keyed_factory,
)
from .spec import PROVIDERS
from .tool_history import AssistantTurn, ResultsTurn, Turn, UserTurn, offered_tools, turns

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
TOOL_STOPS = {
    "MALFORMED_FUNCTION_CALL": "the model wrote a tool call that is not valid",
    "UNEXPECTED_TOOL_CALL": "the model called a tool it was not offered",
    "TOO_MANY_TOOL_CALLS": "the model made too many tool calls at once",
    "MISSING_THOUGHT_SIGNATURE": "a tool call sent back lacked its thought signature",
}
"""What the finish reasons about tool calls mean (the SDK keeps no message with them)."""
UNSIGNED_CALL_MODELS = ("gemini-1", "gemini-2")
"""Gemini models that take a replayed call without its thought signature; Gemini 3 and
later refuse one."""
SKIP_SIGNATURE = b"skip_thought_signature_validator"
"""Google's documented stand-in for a signature that is not known (another kernel's call)."""
LOCAL_ID_PREFIX = "gemini-local-"
"""Ids this module gives calls that Gemini sent without one (never sent back as ids)."""
SIGNATURES = CallMemory()
"""The thought signature of each call this process received, by call id."""


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
        tools = offered_tools(config)
        history = turns(messages, self.provider if tools else None)
        contents: list[dict[str, Any]] = []
        for turn in history:
            content = self.content(turn)
            if contents and contents[-1]["role"] == content["role"]:
                contents[-1]["parts"] += content["parts"]
            else:
                contents.append(content)
        generation: dict[str, Any] = {}
        if self.model.startswith(THINKING_MODELS):
            generation["thinking_config"] = {"include_thoughts": True}
        system = self.system_text(messages)
        if system:
            generation["system_instruction"] = system
        if tools:
            declarations = [
                {
                    "name": t.name,
                    "description": t.description,
                    "parameters_json_schema": t.parameters,
                }
                for t in tools
            ]
            generation["tools"] = [{"function_declarations": declarations}]
        generation |= self.options(config, CONFIG_NAMES)
        return {"model": self.model, "contents": contents, "config": generation}

    def content(self, turn: Turn) -> dict[str, Any]:
        """One neutral turn as a ``Content`` (the caller joins consecutive ones of a role)."""
        if isinstance(turn, UserTurn):
            return {"role": "user", "parts": self.parts(turn.message)}
        if isinstance(turn, AssistantTurn):
            parts: list[Any] = [{"text": turn.text}] if turn.text else []
            for count, call in enumerate(turn.calls):
                function_call: dict[str, Any] = {"name": call.name, "args": call.arguments}
                if not call.id.startswith(LOCAL_ID_PREFIX):
                    function_call["id"] = call.id
                part: dict[str, Any] = {"function_call": function_call}
                signature = SIGNATURES.get(call.id)
                if signature is None and count == 0 and self.needs_signatures():
                    signature = SKIP_SIGNATURE
                if signature is not None:
                    part["thought_signature"] = signature
                parts.append(part)
            return {"role": "model", "parts": parts}
        assert isinstance(turn, ResultsTurn)
        responses = []
        for outcome in turn.outcomes:
            response: dict[str, Any] = {
                "name": outcome.call.name,
                "response": {"error" if outcome.is_error else "output": outcome.text},
            }
            if not outcome.call.id.startswith(LOCAL_ID_PREFIX):
                response["id"] = outcome.call.id
            responses.append({"function_response": response})
        return {"role": "user", "parts": responses}

    def needs_signatures(self) -> bool:
        name = self.model.removeprefix("models/")
        return name.startswith("gemini-") and not name.startswith(UNSIGNED_CALL_MODELS)

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
                elif part.function_call is not None:
                    yield self.call(part.function_call, part.thought_signature)
        reason = candidate.finish_reason
        if reason is not None:
            name = getattr(reason, "value", str(reason))
            if name not in ("STOP", "MAX_TOKENS"):
                why = TOOL_STOPS.get(name)
                raise ProviderError(
                    f"Google Gemini stopped the reply ({name}{': ' + why if why else ''})",
                    provider=self.provider,
                )
            state.finish = "length" if name == "MAX_TOKENS" else "stop"
            state.complete = True

    def call(self, function_call: Any, signature: bytes | None) -> CallTool:
        """A whole ``functionCall`` part as a ``CallTool`` (Gemini sends ``args`` parsed)."""
        call_id = function_call.id or f"{LOCAL_ID_PREFIX}{uuid.uuid4().hex[:16]}"
        if signature:
            SIGNATURES.keep(call_id, signature)
        arguments = function_call.args or {}
        return CallTool(function_call.name or "", arguments, id=call_id, provider=self.provider)


google = keyed_factory(
    GoogleModel,
    """A Gemini model (Gemini Developer API key). ``params`` go into the generation
    config, e.g. ``thinking_config={"thinking_budget": 1024}``.""",
)
