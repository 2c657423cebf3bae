"""Protocol v1 (docs/protocol.md) as typed messages: one class per message type.

``parse_request`` turns a raw comm message into exactly one request class, or raises
``BadRequestError`` saying which field is wrong and why; events are built from their
classes and leave the kernel through ``to_wire()``. ``protocol.schema.json`` (next to this
file) lists every message and shape; ``tests/test_protocol_schema.py`` checks that these
classes, the schema and ``labextension/src/protocol.ts`` agree field for field.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import math
import sys
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, get_args

from .errors import BadRequestError, DeltaChatError

if sys.version_info >= (3, 11):
    from typing import dataclass_transform
else:  # pragma: no cover - Python 3.10
    from typing_extensions import dataclass_transform
from .types import (
    Attachment,
    ChatConfig,
    FinishReason,
    Message,
    ModelInfo,
    ToolCall,
    ToolInfo,
    Usage,
)

PROTOCOL = 1
PROTOCOL_MINOR = 1
MAX_ID_LENGTH = 256
MAX_CONTENT_CODE_POINTS = 1_000_000
MAX_ATTACHMENT_BYTES = 20 * 1024 * 1024
MAX_MESSAGE_BYTES = 32 * 1024 * 1024
MAX_TITLE_CODE_POINTS = 200
MAX_PATH_LENGTH = 4096
MAX_CLIENT_ID_LENGTH = 64
HEARTBEAT_SECONDS = (5, 300)  # the heartbeat a hello may declare, lowest and highest

Channel = Literal["content", "reasoning"]
ToolChoice = Literal["none", "all"] | list[str]
Decision = Literal["allow", "deny", "allow_chat"]
DECISIONS: tuple[str, ...] = ("allow", "deny", "allow_chat")
MAX_TOOL_NAMES = 100


def _to_wire(value: Any) -> Any:
    if isinstance(value, list):
        return [_to_wire(item) for item in value]
    if isinstance(value, Wire):
        return value.to_wire()
    if hasattr(value, "to_json"):
        return value.to_json()
    return value


@dataclass_transform(frozen_default=True, kw_only_default=True)
class Wire:
    """A protocol object: a frozen dataclass whose JSON is its fields, unset optional ones
    left out. Subclassing makes the dataclass, so each class below is just its fields."""

    NULLABLE: ClassVar[frozenset[str]] = frozenset()  # required fields that may be null

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        dataclass(frozen=True, kw_only=True)(cls)

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {}
        for item in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, item.name)
            if value is None and item.name not in self.NULLABLE:
                continue
            wire[item.name] = _to_wire(value)
        return wire


class WireMessage(Wire):
    """A request or an event: ``class Ping(WireMessage, type="ping")`` names its wire
    ``type``, which leads its JSON. A base holding the fields several messages share names
    no type."""

    type: ClassVar[str]

    def __init_subclass__(cls, *, type: str | None = None, **kwargs: Any) -> None:
        if type is not None:
            cls.type = type
        super().__init_subclass__(**kwargs)

    def to_wire(self) -> dict[str, Any]:
        return {"type": self.type, **super().to_wire()}


# -- shapes that only the protocol uses ---------------------------------------------------


class ChatInfo(Wire):
    NULLABLE: ClassVar[frozenset[str]] = frozenset({"path"})

    chat_id: str
    title: str
    updated: str
    message_count: int
    streaming: bool
    path: str | None  # the notebook it belongs to (protocol 1.1 section 3)
    persisted: bool


class ErrorInfo(Wire):
    """The ``error`` object of an ``error`` event (``DeltaChatError.to_json`` fills it)."""

    code: str
    message: str
    retryable: bool
    provider: str | None = None
    status: int | None = None
    traceback: str | None = None

    @classmethod
    def of(cls, error: DeltaChatError) -> ErrorInfo:
        return cls(**error.to_json())


class StreamingMark(Wire):
    """``snapshot.streaming``: the message still streaming and the last frame it holds."""

    message_id: str
    seq: int


ContextKind = Literal["variable", "error", "cell", "notebook", "text"]
CONTEXT_KINDS: tuple[str, ...] = ("variable", "error", "cell", "notebook", "text")


class ContextRef(Wire):
    """One ``send.context`` entry: what to render into a ``ContextItem`` (docs/context.md).

    Which fields apply depends on ``kind``: ``name`` (variable), ``source``, ``cell_type``,
    ``outputs``, ``execution_count`` (cell), ``path``, ``cells`` (notebook), ``text``
    (text), ``label`` (cell and text).
    """

    kind: ContextKind
    name: str | None = None
    source: str | None = None
    cell_type: str | None = None
    outputs: list[dict[str, Any]] | None = None
    execution_count: int | None = None
    label: str | None = None
    path: str | None = None
    cells: list[ContextRef] | None = None
    text: str | None = None


class VariableInfo(Wire):
    """One variable of ``variables``: ``summary`` is one line of at most 80 code points."""

    name: str
    type: str
    summary: str


# -- frontend to kernel -------------------------------------------------------------------


class Hello(WireMessage, type="hello"):
    """Opens a comm: the protocol it speaks and who it is; answered by ``ready``."""

    protocol: int
    client: str | None = None
    path: str | None = None
    client_id: str | None = None
    heartbeat: float | None = None


class Ping(WireMessage, type="ping"):
    """Keeps a comm that declared a heartbeat alive; never answered."""


class ChatRequest(WireMessage):
    """A request about one chat."""

    chat_id: str


class ReplyRequest(ChatRequest):
    """What ``send`` and ``regenerate`` share: each starts a reply, with these options."""

    request_id: str
    model: str | None = None
    config: ChatConfig | None = None
    tools: ToolChoice | None = None  # left out: "none"


class Send(ReplyRequest, type="send"):
    """A user message for a chat; the kernel answers with ``message`` and a streamed reply."""

    content: str
    attachments: list[Attachment] = field(default_factory=list)
    context: list[ContextRef] = field(default_factory=list)


class Stop(ChatRequest, type="stop"):
    """Ends the chat's streaming reply (its ``done`` says ``cancelled``)."""

    message_id: str | None = None


class Regenerate(ReplyRequest, type="regenerate"):
    """Replaces the chat's last reply with a new one."""


class Sync(ChatRequest, type="sync"):
    """Asks for a chat's ``snapshot`` (after a reconnect, or to switch chats)."""


class Clear(ChatRequest, type="clear"):
    """Empties a chat; every comm gets the empty ``snapshot``."""


class ListModels(WireMessage, type="list_models"):
    """Asks for ``models`` again (the kernel also sends it unasked on a change)."""


class ListVariables(WireMessage, type="list_variables"):
    """Asks for the kernel's ``variables`` (the ``@`` completer)."""


class ListTools(WireMessage, type="list_tools"):
    """Asks for ``tools`` again (the kernel also sends it unasked on a change)."""


ChatScope = Literal["notebook", "all"]
ExportFormat = Literal["markdown", "ipynb"]


class ListChats(WireMessage, type="list_chats"):
    """Asks for ``chats``: this notebook's, or all the store holds."""

    scope: ChatScope


class StoredChatRequest(ChatRequest):
    """A request about a stored chat, which may be another notebook's: ``path`` names the
    notebook (left out: this notebook's chat of that id, else the one notebook that has one)."""

    path: str | None = None


class OpenChat(StoredChatRequest, type="open_chat"):
    """Loads a stored chat into this kernel."""


class RenameChat(StoredChatRequest, type="rename_chat"):
    """Sets a chat's title; every comm gets a fresh ``chats``."""

    title: str


class DeleteChat(StoredChatRequest, type="delete_chat"):
    """Removes a chat from the kernel and the store."""


class Export(StoredChatRequest, type="export"):
    """Asks for a chat as a Markdown file or a notebook (``exported``)."""

    request_id: str
    format: ExportFormat


class Approve(ChatRequest, type="approve"):
    """The user's decision on a tool call awaiting approval."""

    call_id: str
    decision: Decision


Request = (
    Hello
    | Ping
    | Send
    | Stop
    | Regenerate
    | Sync
    | Clear
    | ListModels
    | ListVariables
    | ListChats
    | OpenChat
    | RenameChat
    | DeleteChat
    | Export
    | ListTools
    | Approve
)
REQUESTS: dict[str, type[Request]] = {cls.type: cls for cls in get_args(Request)}


# -- kernel to frontend -------------------------------------------------------------------


class Ready(WireMessage, type="ready"):
    """The answer to ``hello``: what the kernel offers and holds."""

    protocol: int
    version: str
    models: list[ModelInfo]
    default_model: str
    chats: list[ChatInfo]
    protocol_minor: int = PROTOCOL_MINOR
    tools: list[ToolInfo]


class MessageAdded(WireMessage, type="message"):
    """A finished message added to a chat (the user's, or a restored one)."""

    chat_id: str
    message: Message


class Start(WireMessage, type="start"):
    """A reply begins: its id and model; ``delta`` frames follow."""

    chat_id: str
    request_id: str | None = None
    message_id: str
    model: str


class Delta(WireMessage, type="delta"):
    """The text a reply produced since the previous frame, once."""

    chat_id: str
    message_id: str
    seq: int
    text: str
    channel: Channel | None = None  # left out for the default, "content"


class Done(WireMessage, type="done"):
    """A reply ended: how, how long, what it cost."""

    chat_id: str
    message_id: str
    seq: int
    finish_reason: FinishReason
    length: int
    usage: Usage | None = None


class Error(WireMessage, type="error"):
    """A request or a reply failed; ``error`` says why."""

    request_id: str | None = None
    chat_id: str | None = None
    message_id: str | None = None
    error: ErrorInfo


class Snapshot(WireMessage, type="snapshot"):
    """A whole chat, and which message is still streaming."""

    NULLABLE: ClassVar[frozenset[str]] = frozenset({"streaming"})

    chat_id: str
    messages: list[Message]
    streaming: StreamingMark | None


class Models(WireMessage, type="models"):
    """The models this kernel can use, and the default."""

    models: list[ModelInfo]
    default_model: str


class Variables(WireMessage, type="variables"):
    """The kernel's variables, one line each."""

    variables: list[VariableInfo]
    truncated: bool


class Chats(WireMessage, type="chats"):
    """The chats of this notebook or of all notebooks."""

    chats: list[ChatInfo]
    scope: ChatScope


class Exported(WireMessage, type="exported"):
    """A chat as a file's name and content."""

    request_id: str
    chat_id: str
    format: ExportFormat
    filename: str
    content: str


class Tools(WireMessage, type="tools"):
    """The tools this kernel offers."""

    tools: list[ToolInfo]


class Tool(WireMessage, type="tool"):
    """One change of one tool call: frontends upsert ``call`` by its id."""

    chat_id: str
    message_id: str
    call: ToolCall


Event = (
    Ready
    | MessageAdded
    | Start
    | Delta
    | Done
    | Error
    | Snapshot
    | Models
    | Variables
    | Chats
    | Exported
    | Tools
    | Tool
)
EVENTS: dict[str, type[Event]] = {cls.type: cls for cls in get_args(Event)}


def error_answer(data: Any, error: DeltaChatError) -> Error:
    """The ``error`` answering a raw message: its usable ``request_id`` and ``chat_id`` echoed."""
    return Error(
        request_id=_usable_id(data, "request_id"),
        chat_id=_usable_id(data, "chat_id"),
        error=ErrorInfo.of(error),
    )


def _usable_id(data: Any, name: str) -> str | None:
    value = data.get(name) if isinstance(data, dict) else None
    if isinstance(value, str) and 0 < len(value) <= MAX_ID_LENGTH:
        return value
    return None


# -- parsing ------------------------------------------------------------------------------

# name -> (integer only, lowest, highest, lowest excluded)
_CONFIG_RANGES: dict[str, tuple[bool, float, float, bool]] = {
    "max_tokens": (True, 0, math.inf, True),
    "temperature": (False, 0, 2, False),
    "top_p": (False, 0, 1, False),
    "top_k": (True, 0, math.inf, True),
    "frequency_penalty": (False, -2, 2, False),
    "presence_penalty": (False, -2, 2, False),
    "max_steps": (True, 0, math.inf, True),
}


def parse_request(data: Any) -> Request:
    """The one request ``data`` is, every field checked; else ``BadRequestError``."""
    if not isinstance(data, dict):
        raise BadRequestError(f"a message must be a JSON object, got {_kind(data)}")
    kind = data.get("type")
    if not isinstance(kind, str):
        raise BadRequestError(f"'type' must be a string, got {_kind(kind)}")
    if kind == "hello":
        return Hello(
            protocol=_protocol(data),
            client=_optional_id(data, kind, "client", True),
            path=_path(data, kind),
            client_id=_client_id(data),
            heartbeat=_heartbeat(data),
        )
    if kind == "ping":
        return Ping()
    if kind == "send":
        send = Send(
            request_id=_id(data, kind, "request_id"),
            chat_id=_id(data, kind, "chat_id"),
            model=_optional_id(data, kind, "model"),
            config=_config(data.get("config"), kind),
            content=_content(data),
            attachments=_attachments(data.get("attachments")),
            context=_context_refs(data.get("context")),
            tools=_tool_choice(data.get("tools"), kind),
        )
        _check_size(data, send)
        return send
    if kind == "stop":
        return Stop(
            chat_id=_id(data, kind, "chat_id"), message_id=_optional_id(data, kind, "message_id")
        )
    if kind == "regenerate":
        return Regenerate(
            request_id=_id(data, kind, "request_id"),
            chat_id=_id(data, kind, "chat_id"),
            model=_optional_id(data, kind, "model"),
            config=_config(data.get("config"), kind),
            tools=_tool_choice(data.get("tools"), kind),
        )
    if kind == "sync":
        return Sync(chat_id=_id(data, kind, "chat_id"))
    if kind == "clear":
        return Clear(chat_id=_id(data, kind, "chat_id"))
    if kind == "list_models":
        return ListModels()
    if kind == "list_variables":
        return ListVariables()
    if kind == "list_chats":
        return ListChats(scope=_choice(data, kind, "scope", ("notebook", "all")))  # type: ignore[arg-type]
    if kind == "open_chat":
        return OpenChat(chat_id=_id(data, kind, "chat_id"), path=_path(data, kind))
    if kind == "rename_chat":
        return RenameChat(
            chat_id=_id(data, kind, "chat_id"), title=_title(data), path=_path(data, kind)
        )
    if kind == "delete_chat":
        return DeleteChat(chat_id=_id(data, kind, "chat_id"), path=_path(data, kind))
    if kind == "export":
        return Export(
            request_id=_id(data, kind, "request_id"),
            chat_id=_id(data, kind, "chat_id"),
            format=_choice(data, kind, "format", ("markdown", "ipynb")),  # type: ignore[arg-type]
            path=_path(data, kind),
        )
    if kind == "list_tools":
        return ListTools()
    if kind == "approve":
        decision = data.get("decision")
        if decision not in DECISIONS:
            raise BadRequestError(
                f"approve: 'decision' must be one of {', '.join(DECISIONS)}, got "
                f"{str(decision)[:80]!r}"
            )
        return Approve(
            chat_id=_id(data, kind, "chat_id"),
            call_id=_id(data, kind, "call_id"),
            decision=decision,
        )
    raise BadRequestError(f"unknown message type {kind[:80]!r}; known: {', '.join(REQUESTS)}")


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _id(data: dict[str, Any], kind: str, name: str) -> str:
    """A non-empty string; the ids that events repeat are at most ``MAX_ID_LENGTH`` long."""
    value = data.get(name)
    if not isinstance(value, str) or not value:
        got = "an empty string" if value == "" else _kind(value)
        raise BadRequestError(f"{kind}: {name!r} must be a non-empty string, got {got}")
    if len(value) > MAX_ID_LENGTH and name in _BOUNDED_IDS:
        raise BadRequestError(
            f"{kind}: {name!r} has {len(value):,} characters; the limit is {MAX_ID_LENGTH}"
        )
    return value


_BOUNDED_IDS = frozenset({"chat_id", "request_id", "message_id", "call_id"})


def _optional_id(
    data: dict[str, Any], kind: str, name: str, allow_empty: bool = False
) -> str | None:
    if data.get(name) is None:
        return None
    if allow_empty and isinstance(data[name], str):
        return data[name]
    return _id(data, kind, name)


def _path(data: dict[str, Any], kind: str) -> str | None:
    """An optional notebook path: a non-empty string of at most ``MAX_PATH_LENGTH``."""
    value = _optional_id(data, kind, "path")
    if value is not None and len(value) > MAX_PATH_LENGTH:
        raise BadRequestError(
            f"{kind}: 'path' has {len(value):,} characters; the limit is {MAX_PATH_LENGTH:,}"
        )
    return value


def _choice(data: dict[str, Any], kind: str, name: str, choices: tuple[str, ...]) -> str:
    value = data.get(name)
    if value not in choices:
        shown = repr(value[:80]) if isinstance(value, str) else _kind(value)
        raise BadRequestError(f"{kind}: {name!r} must be one of {', '.join(choices)}; got {shown}")
    return str(value)


def _title(data: dict[str, Any]) -> str:
    value = data.get("title")
    if not isinstance(value, str) or not value.strip():
        got = "an empty string" if isinstance(value, str) else _kind(value)
        raise BadRequestError(f"rename_chat: 'title' must be a non-empty string, got {got}")
    if len(value) > MAX_TITLE_CODE_POINTS:
        raise BadRequestError(
            f"rename_chat: 'title' has {len(value):,} code points; the limit is "
            f"{MAX_TITLE_CODE_POINTS}"
        )
    return value


def _protocol(data: dict[str, Any]) -> int:
    value = data.get("protocol")
    if not isinstance(value, int) or isinstance(value, bool):
        raise BadRequestError(f"hello: 'protocol' must be an integer, got {_kind(value)}")
    return value


def _client_id(data: dict[str, Any]) -> str | None:
    value = _optional_id(data, "hello", "client_id")
    if value is not None and len(value) > MAX_CLIENT_ID_LENGTH:
        raise BadRequestError(
            f"hello: 'client_id' has {len(value):,} characters; the limit is {MAX_CLIENT_ID_LENGTH}"
        )
    return value


def _heartbeat(data: dict[str, Any]) -> float | None:
    value = data.get("heartbeat")
    if value is None:
        return None
    low, high = HEARTBEAT_SECONDS
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BadRequestError(f"hello: 'heartbeat' must be a number of seconds, got {_kind(value)}")
    if not low <= value <= high:  # NaN fails this too
        raise BadRequestError(
            f"hello: 'heartbeat' must be between {low} and {high} seconds, got {value!r}"
        )
    return float(value)


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


def _tool_choice(value: Any, kind: str) -> ToolChoice | None:
    """``"none"``, ``"all"`` or a list of tool names (which tools exist is checked on use)."""
    if value is None or value in ("none", "all"):
        return value
    if not isinstance(value, list):
        got = repr(value[:80]) if isinstance(value, str) else _kind(value)
        raise BadRequestError(
            f'{kind}: \'tools\' must be "none", "all" or a list of tool names, got {got}'
        )
    if len(value) > MAX_TOOL_NAMES:
        raise BadRequestError(f"{kind}: 'tools' names {len(value):,} tools; the limit is 100")
    for index, name in enumerate(value):
        if not isinstance(name, str) or not name or len(name) > MAX_ID_LENGTH:
            raise BadRequestError(f"{kind}: tools[{index}] must be a tool name (a short string)")
    return list(value)


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


MAX_CONTEXT_REFS = 100
_REF_FIELDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # kind -> (required string fields, optional fields)
    "variable": (("name",), ()),
    "error": ((), ()),
    "cell": (("source",), ("cell_type", "outputs", "execution_count", "label")),
    "notebook": ((), ("path", "cells")),
    "text": (("label", "text"), ()),
}


def _context_refs(value: Any) -> list[ContextRef]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise BadRequestError(f"send: 'context' must be a list, got {_kind(value)}")
    if len(value) > MAX_CONTEXT_REFS:
        raise BadRequestError(
            f"send: 'context' has {len(value):,} entries; the limit is {MAX_CONTEXT_REFS}"
        )
    return [_context_ref(item, f"context[{index}]") for index, item in enumerate(value)]


def _context_ref(item: Any, where: str) -> ContextRef:
    if not isinstance(item, dict):
        raise BadRequestError(f"send: {where} must be an object, got {_kind(item)}")
    kind = item.get("kind")
    if kind not in _REF_FIELDS:
        raise BadRequestError(
            f"send: {where}.kind must be one of {', '.join(CONTEXT_KINDS)}, got {str(kind)[:80]!r}"
        )
    required, optional = _REF_FIELDS[kind]
    unknown = sorted(set(item) - {"kind", *required, *optional})
    if unknown:
        raise BadRequestError(f"send: {where}: unknown field {str(unknown[0])[:80]!r} for {kind}")
    for name in required:
        if not isinstance(item.get(name), str) or (name == "name" and not item[name]):
            raise BadRequestError(f"send: {where}.{name} must be a non-empty string")
    for name in ("cell_type", "label", "path"):
        if item.get(name) is not None and not isinstance(item[name], str):
            raise BadRequestError(f"send: {where}.{name} must be a string")
    count = item.get("execution_count")
    if count is not None and (not isinstance(count, int) or isinstance(count, bool)):
        raise BadRequestError(f"send: {where}.execution_count must be an integer or null")
    outputs = item.get("outputs")
    if outputs is not None and (
        not isinstance(outputs, list) or not all(isinstance(o, dict) for o in outputs)
    ):
        raise BadRequestError(f"send: {where}.outputs must be a list of nbformat output objects")
    cells = None
    if kind == "notebook":
        raw_cells = item.get("cells", [])
        if not isinstance(raw_cells, list):
            raise BadRequestError(f"send: {where}.cells must be a list")
        cells = []
        for index, cell in enumerate(raw_cells):
            if not isinstance(cell, dict):
                raise BadRequestError(f"send: {where}.cells[{index}] must be an object")
            cells.append(_context_ref({"kind": "cell", **cell}, f"{where}.cells[{index}]"))
    return ContextRef(
        kind=kind,
        name=item.get("name"),
        source=item.get("source"),
        cell_type=item.get("cell_type"),
        outputs=outputs,
        execution_count=count,
        label=item.get("label"),
        path=item.get("path"),
        cells=cells,
        text=item.get("text"),
    )


def _check_size(data: dict[str, Any], send: Send) -> None:
    rough = len(send.content) + sum(len(a.data) for a in send.attachments)
    if rough > MAX_MESSAGE_BYTES // 8 and len(json.dumps(data).encode()) > MAX_MESSAGE_BYTES:
        raise BadRequestError("send: the message is larger than 32 MiB")
