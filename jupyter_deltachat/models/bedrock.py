"""Amazon Bedrock through boto3's ``converse_stream`` (one API for every Bedrock model);
``reasoningContent`` deltas go to the reasoning channel.

Tools go as ``toolConfig.tools[].toolSpec`` (the JSON Schema under ``inputSchema.json``); a
call streams as a ``toolUse`` block (id and name in ``contentBlockStart``, the input JSON in
``contentBlockDelta`` pieces) and is yielded when the block stops; results go back as
``toolResult`` blocks in a user turn. Converse wants strictly alternating roles, so
consecutive turns of one role are joined.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable
from typing import Any

from ..errors import ProviderError
from ..types import ChatConfig, Message, Reasoning
from .base import CallMemory, Delta, ProviderModel, SignedReasoning, StreamState, decode
from .spec import PROVIDERS
from .tool_history import AssistantTurn, ResultsTurn, Turn, UserTurn, offered_tools, turns

CONFIG_NAMES = {"max_tokens": "maxTokens", "temperature": "temperature", "top_p": "topP"}
MALFORMED_STOPS = {
    "malformed_tool_use": "the model wrote a tool call that is not valid",
    "malformed_model_output": "the model's output could not be read",
}
"""Stop reasons that end a reply with nothing usable: a ``provider`` error, not a stop."""
SIGNED_REASONING = CallMemory()
"""The signed reasoning blocks before each step's first call: Claude on Bedrock refuses a
tool loop whose assistant turn does not start with them."""


class BedrockModel(ProviderModel, spec=PROVIDERS["bedrock"]):
    final_event = "messageStop"

    def make_client(self, credentials: dict[str, str]) -> Any:
        import boto3
        from botocore.config import Config

        region = self.require_field(credentials, "region")
        session = boto3.Session(
            aws_access_key_id=credentials.get("access_key_id"),
            aws_secret_access_key=credentials.get("secret_access_key"),
            aws_session_token=credentials.get("session_token"),
            profile_name=credentials.get("profile"),
            region_name=region,
        )
        config = Config(retries={"total_max_attempts": self.max_retries + 1})
        return session.client("bedrock-runtime", endpoint_url=self.endpoint, config=config)

    def transport_errors(self) -> tuple[type[BaseException], ...]:
        from botocore.exceptions import ConnectionError, HTTPClientError
        from urllib3.exceptions import HTTPError

        return (HTTPClientError, ConnectionError, HTTPError)

    def credential_errors(self) -> tuple[type[BaseException], ...]:
        from botocore.exceptions import NoCredentialsError, PartialCredentialsError, ProfileNotFound

        return (NoCredentialsError, PartialCredentialsError, ProfileNotFound)

    def sdk_errors(self) -> tuple[type[BaseException], ...]:
        from botocore.exceptions import BotoCoreError, ClientError

        return (BotoCoreError, ClientError)

    def error_body(self, exc: BaseException) -> object:
        response = getattr(exc, "response", None)
        return response.get("Error") if isinstance(response, dict) else None

    def build_request(self, messages: list[Message], config: ChatConfig) -> dict[str, Any]:
        tools = offered_tools(config)
        rendered: list[dict[str, Any]] = []
        for turn in turns(messages, self.provider if tools else None):
            message = self.message(turn)
            if rendered and rendered[-1]["role"] == message["role"]:
                rendered[-1]["content"] += message["content"]
            else:
                rendered.append(message)
        request: dict[str, Any] = {"modelId": self.model, "messages": rendered}
        system = self.system_text(messages)
        if system:
            request["system"] = [{"text": system}]
        if tools:
            specs = [
                {
                    "toolSpec": {
                        "name": t.name,
                        "description": t.description,
                        "inputSchema": {"json": t.parameters},
                    }
                }
                for t in tools
            ]
            request["toolConfig"] = {"tools": specs}
        inference = {
            name: getattr(config, field)
            for field, name in CONFIG_NAMES.items()
            if getattr(config, field) is not None
        }
        params = dict(self.params)
        inference = params.pop("inferenceConfig", {}) | inference
        if inference:
            request["inferenceConfig"] = inference
        return request | params

    def message(self, turn: Turn) -> dict[str, Any]:
        """One neutral turn as a Converse message."""
        if isinstance(turn, UserTurn):
            return {"role": "user", "content": self.content(turn.message)}
        if isinstance(turn, AssistantTurn):
            blocks = self.call_turn_blocks(
                turn,
                SIGNED_REASONING,
                reasoning=reasoning_block,
                text=lambda text: {"text": text},
                call=lambda call: {
                    "toolUse": {"toolUseId": call.id, "name": call.name, "input": call.arguments}
                },
            )
            return {"role": "assistant", "content": blocks}
        assert isinstance(turn, ResultsTurn)
        return {
            "role": "user",
            "content": [
                {
                    "toolResult": {
                        "toolUseId": outcome.call.id,
                        "content": [{"text": outcome.text}],
                        "status": "error" if outcome.is_error else "success",
                    }
                }
                for outcome in turn.outcomes
            ],
        }

    def content(self, message: Message) -> list[dict[str, Any]]:
        return self.message_parts(
            message,
            text=lambda text: {"text": text},
            image=lambda image: {
                "image": {
                    "format": image.media_type.split("/", 1)[1],
                    "source": {"bytes": decode(image)},
                }
            },
            images_first=True,
        )

    def open_stream(self, client: Any, request: dict[str, Any]) -> Iterable[Any]:
        return client.converse_stream(**request)["stream"]

    def stream_socket(self, stream: Any) -> socket.socket | None:
        connection = getattr(getattr(stream, "_raw_stream", None), "connection", None)
        return getattr(connection, "sock", None)

    def read_chunk(self, event: dict[str, Any], state: StreamState) -> Iterable[Delta]:
        block = event.get("contentBlockDelta")
        if block is not None:
            delta = block["delta"]
            text = delta.get("text")
            if text:
                yield text
            elif "reasoningContent" in delta:
                content = delta["reasoningContent"]
                reasoning = content.get("text")
                if reasoning:
                    yield Reasoning(reasoning)
                signed = state.signed.setdefault(
                    block.get("contentBlockIndex", 0), SignedReasoning()
                )
                if reasoning:
                    signed.text.append(reasoning)
                if "signature" in content:
                    signed.signature = content["signature"]
                if "redactedContent" in content:
                    signed.redacted = content["redactedContent"]
            elif "toolUse" in delta and block.get("contentBlockIndex") in state.calls:
                state.calls.add(block["contentBlockIndex"], arguments=delta["toolUse"]["input"])
        elif "contentBlockStart" in event:
            start = event["contentBlockStart"]
            tool_use = start.get("start", {}).get("toolUse")
            if tool_use is not None:
                index = start.get("contentBlockIndex", 0)
                state.calls.add(index, tool_use.get("toolUseId"), tool_use.get("name"))
        elif "contentBlockStop" in event:
            if event["contentBlockStop"].get("contentBlockIndex", 0) in state.calls:
                yield from self.completed_calls(state, SIGNED_REASONING)
        elif "messageStop" in event:
            reason = event["messageStop"].get("stopReason")
            if reason in MALFORMED_STOPS:
                raise ProviderError(
                    f"Amazon Bedrock stopped the reply ({reason}: {MALFORMED_STOPS[reason]})",
                    provider=self.provider,
                )
            state.complete = True
            if reason == "max_tokens":
                state.finish = "length"
        elif "metadata" in event:
            usage = event["metadata"].get("usage", {})
            state.input_tokens = usage.get("inputTokens")
            state.output_tokens = usage.get("outputTokens")


def reasoning_block(block: SignedReasoning) -> dict[str, Any]:
    """A reasoning block as Converse wants it back."""
    if block.redacted is not None:
        return {"reasoningContent": {"redactedContent": block.redacted}}
    text = {"text": "".join(block.text), "signature": block.signature}
    return {"reasoningContent": {"reasoningText": text}}


def bedrock(
    model: str,
    region: str | None = None,
    profile: str | None = None,
    system_message: str | None = None,
    *,
    endpoint_url: str | None = None,
    **params: Any,
) -> BedrockModel:
    """A Bedrock model id or inference profile (``us.anthropic.claude-sonnet-4-5-...``).
    Keys come from the credential store or the AWS environment; ``params`` go into every
    ``converse_stream`` call (``additionalModelRequestFields={...}`` for reasoning)."""
    return BedrockModel(
        model,
        system_message,
        endpoint=endpoint_url,
        credentials={"region": region, "profile": profile},
        **params,
    )
