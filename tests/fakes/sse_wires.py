"""The SSE wire formats: OpenAI chat completions and Responses, Groq, Anthropic, Google.

Each event is one body chunk, shaped as the provider's documented stream events.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from .script import ERROR_BODIES, Script, ScriptCall
from .server import Plan


def sse(data: Any, event: str | None = None) -> bytes:
    head = f"event: {event}\n" if event else ""
    payload = data if isinstance(data, str) else json.dumps(data)
    return f"{head}data: {payload}\n\n".encode()


def _json_error(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Plan:
    return Plan(status=status, body=json.dumps(body).encode(), headers=headers or {})


class OpenAIChatWire:
    """``/v1/chat/completions`` with ``stream=True``; reasoning as ``reasoning_content``.

    ``call_index``: how tool-call deltas name their call — ``"position"`` (OpenAI: 0, 1…),
    ``"zero"`` (servers that number every call 0) or ``"absent"`` (no ``index``).
    """

    reasoning_field = "reasoning_content"

    def __init__(self, call_index: Literal["position", "zero", "absent"] = "position") -> None:
        self.call_index = call_index

    def _index(self, position: int) -> dict[str, int]:
        if self.call_index == "absent":
            return {}
        return {"index": position if self.call_index == "position" else 0}

    def _chunk(self, delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
        choice = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
        body = {
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "created": 1700000000,
            "model": "fake-model",
            "choices": [choice],
            **extra,
        }
        return sse(body)

    def _usage(self, script: Script) -> dict[str, int]:
        total = script.input_tokens + script.output_tokens
        return {
            "prompt_tokens": script.input_tokens,
            "completion_tokens": script.output_tokens,
            "total_tokens": total,
        }

    def finish_reason(self, script: Script) -> str:
        if script.finish == "length":
            return "length"
        return "tool_calls" if script.tool_calls else "stop"

    def call_chunks(self, script: Script) -> list[bytes]:
        """Each call as OpenAI streams it: its id, type and name with empty arguments
        first, then the arguments in pieces, every delta naming the call's ``index``."""
        chunks = []
        for index, call in enumerate(script.tool_calls):
            head = {"name": call.name, "arguments": ""}
            first = self._index(index) | {"id": call.id, "type": "function", "function": head}
            chunks.append(self._chunk({"tool_calls": [first]}))
            for piece in call.argument_pieces():
                delta = self._index(index) | {"function": {"arguments": piece}}
                chunks.append(self._chunk({"tool_calls": [delta]}))
        return chunks

    def final_chunks(self, script: Script) -> list[bytes]:
        finish = self.finish_reason(script)
        usage_chunk = {
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "created": 1700000000,
            "model": "fake-model",
            "choices": [],
            "usage": self._usage(script),
        }
        return [self._chunk({}, finish), sse(usage_chunk), sse("[DONE]")]

    def error_event(self, script: Script) -> bytes:
        """``data: {"error": …}`` in the stream, as vLLM, Ollama and OpenAI send it."""
        return sse(ERROR_BODIES[script.error_shape](script.error_message))

    def stream(self, script: Script) -> Plan:
        chunks = [self._chunk({"role": "assistant", "content": ""})]
        chunks += [self._chunk({self.reasoning_field: text}) for text in script.reasoning]
        for count, text in enumerate(script.content):
            if count == script.error_after:
                return Plan(chunks + [self.error_event(script)])
            chunks.append(self._chunk({"content": text}))
        if script.error_after == len(script.content):
            return Plan(chunks + [self.error_event(script)])
        chunks += self.call_chunks(script)
        return Plan(chunks + (self.final_chunks(script) if script.final else []))

    def http_error(self, status: int, message: str, shape: str = "error.message") -> Plan:
        """OpenAI's own error body, or another shape of ``ERROR_BODIES`` (compatible servers)."""
        return _json_error(status, ERROR_BODIES[shape](message))


class GroqWire(OpenAIChatWire):
    """Groq's OpenAI-compatible stream: reasoning as ``reasoning``, usage in ``x_groq``."""

    reasoning_field = "reasoning"

    def call_chunks(self, script: Script) -> list[bytes]:
        """Groq sends all of a step's calls whole, in one delta."""
        if not script.tool_calls:
            return []
        calls = [
            {
                "index": index,
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments},
            }
            for index, call in enumerate(script.tool_calls)
        ]
        return [self._chunk({"tool_calls": calls})]

    def final_chunks(self, script: Script) -> list[bytes]:
        finish = self.finish_reason(script)
        x_groq = {"id": "req_fake", "usage": self._usage(script)}
        return [self._chunk({}, finish, x_groq=x_groq), sse("[DONE]")]


class OpenAIResponsesWire:
    """``/v1/responses`` with ``stream=True``: typed events with ``event:`` lines."""

    def __init__(self) -> None:
        self._seq = 0

    def _event(self, kind: str, **fields: Any) -> bytes:
        self._seq += 1
        return sse({"type": kind, "sequence_number": self._seq, **fields}, event=kind)

    def _response(self, status: str, script: Script | None = None) -> dict[str, Any]:
        response: dict[str, Any] = {
            "id": "resp_fake",
            "object": "response",
            "created_at": 1700000000,
            "model": "fake-model",
            "status": status,
            "output": [],
            "parallel_tool_calls": True,
            "tool_choice": "auto",
            "tools": [],
        }
        if script is not None:
            response["usage"] = {
                "input_tokens": script.input_tokens,
                "input_tokens_details": {"cached_tokens": 0},
                "output_tokens": script.output_tokens,
                "output_tokens_details": {"reasoning_tokens": 0},
                "total_tokens": script.input_tokens + script.output_tokens,
            }
        if status == "incomplete":
            response["incomplete_details"] = {"reason": "max_output_tokens"}
        return response

    def stream(self, script: Script) -> Plan:
        self._seq = 0
        chunks = [self._event("response.created", response=self._response("in_progress"))]
        for text in script.reasoning:
            chunks.append(
                self._event(
                    "response.reasoning_summary_text.delta",
                    item_id="rs_1",
                    output_index=0,
                    summary_index=0,
                    delta=text,
                )
            )
        for count, text in enumerate([*script.content, None]):
            if count == script.error_after:
                error = self._event(
                    "error", code="server_error", message=script.error_message, param=None
                )
                return Plan(chunks + [error])
            if text is not None:
                chunks.append(
                    self._event(
                        "response.output_text.delta",
                        item_id="msg_1",
                        output_index=1,
                        content_index=0,
                        delta=text,
                        logprobs=[],
                    )
                )
        chunks += self.call_events(script)
        if script.final:
            kind, status = (
                ("response.incomplete", "incomplete")
                if script.finish == "length"
                else ("response.completed", "completed")
            )
            chunks.append(self._event(kind, response=self._response(status, script)))
        return Plan(chunks)

    def call_events(self, script: Script) -> list[bytes]:
        """Each call as its own ``function_call`` output item: added with empty arguments,
        the arguments in delta events, their done event, the item done (whole)."""
        chunks = []
        for count, call in enumerate(script.tool_calls):
            index, item_id = 2 + count, f"fc_{count + 1}"
            item = {"id": item_id, "type": "function_call", "call_id": call.id, "name": call.name}
            added = item | {"arguments": "", "status": "in_progress"}
            chunks.append(self._event("response.output_item.added", output_index=index, item=added))
            where = {"item_id": item_id, "output_index": index}
            for piece in call.argument_pieces():
                chunks.append(
                    self._event("response.function_call_arguments.delta", delta=piece, **where)
                )
            done = "response.function_call_arguments.done"
            chunks.append(self._event(done, arguments=call.arguments, **where))
            whole = item | {"arguments": call.arguments, "status": "completed"}
            chunks.append(self._event("response.output_item.done", output_index=index, item=whole))
        return chunks

    def http_error(self, status: int, message: str) -> Plan:
        return OpenAIChatWire().http_error(status, message)


class AnthropicWire:
    """``/v1/messages`` with ``stream=True``: every event has its ``event:`` line; a thinking
    block ends with its ``signature_delta``."""

    SIGNATURE = "RXVTaWduZWRUaGlua2luZw=="

    def _event(self, kind: str, **fields: Any) -> bytes:
        return sse({"type": kind, **fields}, event=kind)

    def _block(self, index: int, kind: str, deltas: list[str]) -> list[bytes]:
        start = {"type": kind, kind: ""} | ({"signature": ""} if kind == "thinking" else {})
        delta_kind = "thinking_delta" if kind == "thinking" else "text_delta"
        return [
            self._event("content_block_start", index=index, content_block=start),
            *(
                self._event(
                    "content_block_delta", index=index, delta={"type": delta_kind, kind: text}
                )
                for text in deltas
            ),
        ]

    def _tool_use(self, index: int, call: ScriptCall) -> list[bytes]:
        """A ``tool_use`` block: its id and name at the start, the input JSON in pieces."""
        block = {"type": "tool_use", "id": call.id, "name": call.name, "input": {}}
        return [
            self._event("content_block_start", index=index, content_block=block),
            *(
                self._event(
                    "content_block_delta",
                    index=index,
                    delta={"type": "input_json_delta", "partial_json": piece},
                )
                for piece in call.argument_pieces()
            ),
            self._event("content_block_stop", index=index),
        ]

    def stream(self, script: Script) -> Plan:
        message = {
            "id": "msg_fake",
            "type": "message",
            "role": "assistant",
            "model": "fake-model",
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": script.input_tokens, "output_tokens": 1},
        }
        chunks = [self._event("message_start", message=message)]
        index = 0
        if script.reasoning:
            chunks += self._block(0, "thinking", script.reasoning)
            signature = {"type": "signature_delta", "signature": self.SIGNATURE}
            chunks.append(self._event("content_block_delta", index=0, delta=signature))
            chunks.append(self._event("content_block_stop", index=0))
            index = 1
        text_chunks = self._block(index, "text", script.content)
        if script.error_after is not None:
            error = self._event(
                "error", error={"type": "overloaded_error", "message": script.error_message}
            )
            return Plan(chunks + text_chunks[: script.error_after + 1] + [error])
        if script.content or not script.tool_calls:
            chunks += text_chunks + [self._event("content_block_stop", index=index)]
            index += 1
        for call in script.tool_calls:
            chunks += self._tool_use(index, call)
            index += 1
        stop_reason = "max_tokens" if script.finish == "length" else "end_turn"
        if script.tool_calls:
            stop_reason = "tool_use"
        chunks.append(
            self._event(
                "message_delta",
                delta={"stop_reason": stop_reason, "stop_sequence": None},
                usage={"output_tokens": script.output_tokens},
            )
        )
        if script.final:
            chunks.append(self._event("message_stop"))
        return Plan(chunks)

    def http_error(self, status: int, message: str) -> Plan:
        kinds = {401: "authentication_error", 429: "rate_limit_error", 500: "api_error"}
        error = {"type": kinds.get(status, "invalid_request_error"), "message": message}
        return _json_error(status, {"type": "error", "error": error})


class GoogleWire:
    """``:streamGenerateContent?alt=sse``: each event a GenerateContentResponse. Tool calls
    come whole, as ``functionCall`` parts of the last event (the first with the thought
    signature Gemini attaches); a call's ``id`` is sent only when the script gives one."""

    SIGNATURE = "c2lnbmF0dXJlLW9mLXRoZS1jYWxs"
    """The base64 ``thoughtSignature`` the fake attaches to the first call part."""

    def _chunk(self, parts: list[dict[str, Any]], script: Script, last: bool = False) -> bytes:
        candidate: dict[str, Any] = {"content": {"parts": parts, "role": "model"}, "index": 0}
        if last:
            candidate["finishReason"] = "MAX_TOKENS" if script.finish == "length" else "STOP"
        usage = {"promptTokenCount": script.input_tokens}
        if last:
            usage |= {
                "candidatesTokenCount": script.output_tokens,
                "totalTokenCount": script.input_tokens + script.output_tokens,
            }
        body = {
            "candidates": [candidate],
            "usageMetadata": usage,
            "modelVersion": "fake-model",
            "responseId": "fake",
        }
        return f"data: {json.dumps(body)}\r\n\r\n".encode()

    def _call_parts(self, calls: list[ScriptCall]) -> list[dict[str, Any]]:
        parts = []
        for count, call in enumerate(calls):
            function_call = {"name": call.name, "args": json.loads(call.arguments)}
            if call.id:
                function_call["id"] = call.id
            part: dict[str, Any] = {"functionCall": function_call}
            if count == 0:
                part["thoughtSignature"] = self.SIGNATURE
            parts.append(part)
        return parts

    def stream(self, script: Script) -> Plan:
        chunks = [
            self._chunk([{"text": text, "thought": True}], script) for text in script.reasoning
        ]
        for count, text in enumerate(script.content):
            if count == script.error_after:
                error = {"error": {"code": 500, "message": script.error_message}}
                return Plan(chunks + [f"data: {json.dumps(error)}\r\n\r\n".encode()])
            chunks.append(self._chunk([{"text": text}], script))
        if script.final:
            chunks.append(self._chunk(self._call_parts(script.tool_calls), script, last=True))
        return Plan(chunks)

    def http_error(self, status: int, message: str) -> Plan:
        names = {401: "UNAUTHENTICATED", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL"}
        error = {"code": status, "message": message, "status": names.get(status, "UNKNOWN")}
        return _json_error(status, {"error": error})
