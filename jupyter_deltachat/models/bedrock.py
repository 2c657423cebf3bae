"""Amazon Bedrock through boto3's ``converse_stream`` (one API for every Bedrock model);
``reasoningContent`` deltas go to the reasoning channel."""

from __future__ import annotations

import socket
from collections.abc import Iterable
from typing import Any

from ..types import ChatConfig, Message, Reasoning
from .base import Delta, ProviderModel, StreamState, conversation, decode
from .spec import PROVIDERS

CONFIG_NAMES = {"max_tokens": "maxTokens", "temperature": "temperature", "top_p": "topP"}


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
        turns = [
            {"role": message.role, "content": self.content(message)}
            for message in conversation(messages)
        ]
        request: dict[str, Any] = {"modelId": self.model, "messages": turns}
        system = self.system_text(messages)
        if system:
            request["system"] = [{"text": system}]
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
                reasoning = delta["reasoningContent"].get("text")
                if reasoning:
                    yield Reasoning(reasoning)
        elif "messageStop" in event:
            state.complete = True
            if event["messageStop"].get("stopReason") == "max_tokens":
                state.finish = "length"
        elif "metadata" in event:
            usage = event["metadata"].get("usage", {})
            state.input_tokens = usage.get("inputTokens")
            state.output_tokens = usage.get("outputTokens")


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
