"""Checks every incoming comm message against protocol v1 before anything acts on it.

``parse_request`` returns a ``Request`` whose fields are known to be well-typed, or raises
``BadRequestError`` with a message saying exactly which field is wrong and why.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from dataclasses import dataclass, field
from typing import Any

from ..errors import BadRequestError
from ..types import Attachment, ChatConfig

MAX_CONTENT_CODE_POINTS = 1_000_000
MAX_ATTACHMENT_BYTES = 20 * 1024 * 1024
MAX_MESSAGE_BYTES = 32 * 1024 * 1024

# type -> the ids it requires as non-empty strings
_REQUIRED_IDS: dict[str, tuple[str, ...]] = {
    "hello": (),
    "send": ("request_id", "chat_id"),
    "stop": ("chat_id",),
    "regenerate": ("request_id", "chat_id"),
    "sync": ("chat_id",),
    "clear": ("chat_id",),
    "list_models": (),
}

# name -> (integer only, lowest, highest, lowest excluded)
_CONFIG_RANGES: dict[str, tuple[bool, float, float, bool]] = {
    "max_tokens": (True, 0, math.inf, True),
    "temperature": (False, 0, 2, False),
    "top_p": (False, 0, 1, False),
    "top_k": (True, 0, math.inf, True),
    "frequency_penalty": (False, -2, 2, False),
    "presence_penalty": (False, -2, 2, False),
}


@dataclass
class Request:
    """A validated frontend message."""

    type: str
    request_id: str | None = None
    chat_id: str | None = None
    message_id: str | None = None
    content: str = ""
    model: str | None = None
    config: ChatConfig | None = None
    attachments: list[Attachment] = field(default_factory=list)
    protocol: int | None = None
    client: str | None = None


def request_id_of(data: Any) -> str | None:
    """The request id to echo in an error, when the message carried a usable one."""
    if isinstance(data, dict):
        value = data.get("request_id")
        if isinstance(value, str) and value:
            return value
    return None


def parse_request(data: Any) -> Request:
    if not isinstance(data, dict):
        raise BadRequestError(f"a message must be a JSON object, got {_kind(data)}")
    kind = data.get("type")
    if not isinstance(kind, str):
        raise BadRequestError(f"'type' must be a string, got {_kind(kind)}")
    if kind not in _REQUIRED_IDS:
        known = ", ".join(_REQUIRED_IDS)
        raise BadRequestError(f"unknown message type {kind[:80]!r}; known: {known}")
    request = Request(type=kind)
    for name in _REQUIRED_IDS[kind]:
        setattr(request, name, _nonempty_string(data, kind, name))
    if kind == "hello":
        request.protocol = _protocol(data)
        request.client = _optional_string(data, kind, "client", allow_empty=True)
    elif kind == "stop":
        request.message_id = _optional_string(data, kind, "message_id")
    elif kind in ("send", "regenerate"):
        request.model = _optional_string(data, kind, "model")
        request.config = _config(data.get("config"), kind)
        if kind == "send":
            request.content = _content(data)
            request.attachments = _attachments(data.get("attachments"))
            _check_size(data, request)
    return request


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _nonempty_string(data: dict[str, Any], kind: str, name: str) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value:
        got = "an empty string" if value == "" else _kind(value)
        raise BadRequestError(f"{kind}: {name!r} must be a non-empty string, got {got}")
    return value


def _optional_string(
    data: dict[str, Any], kind: str, name: str, *, allow_empty: bool = False
) -> str | None:
    if data.get(name) is None:
        return None
    if allow_empty and isinstance(data[name], str):
        return data[name]
    return _nonempty_string(data, kind, name)


def _protocol(data: dict[str, Any]) -> int:
    value = data.get("protocol")
    if not isinstance(value, int) or isinstance(value, bool):
        raise BadRequestError(f"hello: 'protocol' must be an integer, got {_kind(value)}")
    return value


def _content(data: dict[str, Any]) -> str:
    value = data.get("content")
    if not isinstance(value, str):
        raise BadRequestError(f"send: 'content' must be a string, got {_kind(value)}")
    if len(value) > MAX_CONTENT_CODE_POINTS:
        raise BadRequestError(
            f"send: 'content' has {len(value):,} code points; the limit is "
            f"{MAX_CONTENT_CODE_POINTS:,}"
        )
    return value


def _config(value: Any, kind: str) -> ChatConfig | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise BadRequestError(f"{kind}: 'config' must be an object, got {_kind(value)}")
    unknown = sorted(set(value) - set(_CONFIG_RANGES))
    if unknown:
        raise BadRequestError(
            f"{kind}: unknown config field {str(unknown[0])[:80]!r}; known: "
            + ", ".join(_CONFIG_RANGES)
        )
    for name, (integer, low, high, low_excluded) in _CONFIG_RANGES.items():
        number = value.get(name)
        if number is None:
            continue
        valid_type = isinstance(number, int) if integer else isinstance(number, (int, float))
        if isinstance(number, bool) or not valid_type or not math.isfinite(number):
            wanted = "an integer" if integer else "a number"
            raise BadRequestError(f"{kind}: config.{name} must be {wanted}, got {_kind(number)}")
        if number < low or number > high or (low_excluded and number == low):
            bounds = "positive" if integer else f"between {low:g} and {high:g}"
            raise BadRequestError(f"{kind}: config.{name} must be {bounds}, got {number!r}")
    return ChatConfig.from_json(value)


def _attachments(value: Any) -> list[Attachment]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise BadRequestError(f"send: 'attachments' must be a list, got {_kind(value)}")
    attachments, total = [], 0
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            raise BadRequestError(f"send: attachments[{index}] must be an object")
        for name in ("name", "media_type", "data"):
            if not isinstance(item.get(name), str):
                raise BadRequestError(f"send: attachments[{index}].{name} must be a string")
        try:
            total += len(base64.b64decode(item["data"], validate=True))
        except (binascii.Error, ValueError):
            raise BadRequestError(f"send: attachments[{index}].data is not valid base64") from None
        if total > MAX_ATTACHMENT_BYTES:
            raise BadRequestError("send: attachments exceed 20 MiB decoded in total")
        attachments.append(Attachment.from_json(item))
    return attachments


def _check_size(data: dict[str, Any], request: Request) -> None:
    rough = len(request.content) + sum(len(a.data) for a in request.attachments)
    if rough > MAX_MESSAGE_BYTES // 8 and len(json.dumps(data).encode()) > MAX_MESSAGE_BYTES:
        raise BadRequestError("send: the message is larger than 32 MiB")
