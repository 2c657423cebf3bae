"""Bedrock ``converse-stream``: the binary ``application/vnd.amazon.eventstream`` framing.

A frame is a prelude (total length, headers length, CRC32 of those 8 bytes), string
headers (name length, name, type 7, value length, value), the JSON payload, and a CRC32
of everything before it. botocore checks both CRCs.
"""

from __future__ import annotations

import json
import struct
import zlib
from typing import Any

from .script import Script, ScriptCall
from .server import Plan

CONTENT_TYPE = "application/vnd.amazon.eventstream"
SIGNATURE = "QmVkcm9ja1NpZ25lZFJlYXNvbmluZw=="
"""The signature closing a reasoning block (Claude on Bedrock signs its reasoning)."""


def frame(headers: dict[str, str], payload: bytes) -> bytes:
    encoded = b"".join(
        bytes([len(name)])
        + name.encode()
        + b"\x07"
        + struct.pack(">H", len(value))
        + value.encode()
        for name, value in headers.items()
    )
    prelude = struct.pack(">II", 12 + len(encoded) + len(payload) + 4, len(encoded))
    message = prelude + struct.pack(">I", zlib.crc32(prelude)) + encoded + payload
    return message + struct.pack(">I", zlib.crc32(message))


def event(kind: str, body: dict[str, Any]) -> bytes:
    headers = {
        ":event-type": kind,
        ":content-type": "application/json",
        ":message-type": "event",
    }
    return frame(headers, json.dumps(body).encode())


def exception(kind: str, message: str) -> bytes:
    headers = {
        ":exception-type": kind,
        ":content-type": "application/json",
        ":message-type": "exception",
    }
    return frame(headers, json.dumps({"message": message}).encode())


def tool_use(index: int, call: ScriptCall) -> list[bytes]:
    """A ``toolUse`` block: id and name in its start event, the input JSON in pieces."""
    start = {"toolUse": {"toolUseId": call.id, "name": call.name}}
    return [
        event("contentBlockStart", {"start": start, "contentBlockIndex": index}),
        *(
            event(
                "contentBlockDelta",
                {"delta": {"toolUse": {"input": piece}}, "contentBlockIndex": index},
            )
            for piece in call.argument_pieces()
        ),
        event("contentBlockStop", {"contentBlockIndex": index}),
    ]


class BedrockWire:
    def stream(self, script: Script) -> Plan:
        chunks = [event("messageStart", {"role": "assistant"})]
        chunks += [
            event(
                "contentBlockDelta",
                {"delta": {"reasoningContent": {"text": text}}, "contentBlockIndex": 0},
            )
            for text in script.reasoning
        ]
        if script.reasoning:
            signature = {"reasoningContent": {"signature": SIGNATURE}}
            chunks.append(event("contentBlockDelta", {"delta": signature, "contentBlockIndex": 0}))
            chunks.append(event("contentBlockStop", {"contentBlockIndex": 0}))
        index = 1 if script.reasoning else 0
        for count, text in enumerate([*script.content, None]):
            if count == script.error_after:
                error = exception("modelStreamErrorException", script.error_message)
                return Plan(chunks + [error], content_type=CONTENT_TYPE)
            if text is not None:
                chunks.append(
                    event(
                        "contentBlockDelta",
                        {"delta": {"text": text}, "contentBlockIndex": index},
                    )
                )
        chunks.append(event("contentBlockStop", {"contentBlockIndex": index}))
        for call in script.tool_calls:
            index += 1
            chunks += tool_use(index, call)
        if script.final:
            stop_reason = "max_tokens" if script.finish == "length" else "end_turn"
            if script.tool_calls:
                stop_reason = "tool_use"
            chunks.append(event("messageStop", {"stopReason": stop_reason}))
            usage = {
                "inputTokens": script.input_tokens,
                "outputTokens": script.output_tokens,
                "totalTokens": script.input_tokens + script.output_tokens,
            }
            chunks.append(event("metadata", {"usage": usage, "metrics": {"latencyMs": 12}}))
        return Plan(chunks, content_type=CONTENT_TYPE)

    def http_error(self, status: int, message: str) -> Plan:
        kinds = {
            401: "UnrecognizedClientException",
            403: "AccessDeniedException",
            429: "ThrottlingException",
            500: "InternalServerException",
        }
        return Plan(
            status=status,
            body=json.dumps({"message": message}).encode(),
            headers={"x-amzn-ErrorType": kinds.get(status, "ValidationException")},
        )
