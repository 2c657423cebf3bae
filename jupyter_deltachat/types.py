"""The shapes of protocol v1 (docs/protocol.md) as plain dataclasses.

Each type round-trips through JSON with ``to_json()`` / ``from_json()``; optional fields
that are unset are left out of the JSON, as the protocol's ``?`` marks say.
"""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal

Role = Literal["user", "assistant", "system", "tool"]  # "tool": only in what models receive
FinishReason = Literal["stop", "length", "cancelled", "error", "interrupted", "max_steps"]
ToolApproval = Literal["ask", "never"]
ToolStatus = Literal["awaiting_approval", "running", "done", "error", "denied", "cancelled"]


def now_iso() -> str:
    """The current time as ISO 8601 UTC with a ``Z``, as the protocol's times are."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_id(prefix: str = "msg") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


def _drop_none(data: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in data.items() if value is not None}


@dataclass
class Attachment:
    """A file sent with a user message; ``data`` is base64."""

    name: str
    media_type: str
    data: str

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Attachment:
        return cls(name=data["name"], media_type=data["media_type"], data=data["data"])


@dataclass
class ContextItem:
    """One piece of context on a user message (docs/context.md): ``text`` is exactly what
    the model gets for it, ``chars`` its length in code points before truncation."""

    kind: Literal["variable", "error", "cell", "notebook", "text"]
    label: str
    text: str
    chars: int
    truncated: bool

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ContextItem:
        return cls(**{f.name: data[f.name] for f in dataclasses.fields(cls)})


@dataclass
class ToolInfo:
    """A tool the model may call: ``parameters`` is the JSON Schema of its arguments object."""

    name: str
    description: str
    parameters: dict[str, Any]
    approval: ToolApproval
    source: Literal["builtin", "kernel"]

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ToolInfo:
        return cls(**{f.name: data[f.name] for f in dataclasses.fields(cls)})


@dataclass
class ToolCall:
    """One call of a tool inside an assistant message (an upsert by ``id`` in ``tool`` events).

    ``at`` is the code-point length of the message's content when the model made the call,
    so views draw the call in place; ``outputs`` are attachments the tool made (figures).
    ``provider`` names the built-in provider whose model made the call (its ``id`` is then
    the provider's own call id): later turns to that provider resend the call natively,
    other models get it as text.
    """

    id: str
    name: str
    arguments: dict[str, Any]
    status: ToolStatus
    at: int
    result: str | None = None
    truncated: bool | None = None
    outputs: list[Attachment] = field(default_factory=list)
    provider: str | None = None

    def to_json(self) -> dict[str, Any]:
        data = _drop_none(
            {
                "id": self.id,
                "name": self.name,
                "arguments": self.arguments,
                "status": self.status,
                "at": self.at,
                "result": self.result,
                "truncated": self.truncated,
                "provider": self.provider,
            }
        )
        if self.outputs:
            data["outputs"] = [a.to_json() for a in self.outputs]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ToolCall:
        return cls(
            id=data["id"],
            name=data["name"],
            arguments=data["arguments"],
            status=data["status"],
            at=data["at"],
            result=data.get("result"),
            truncated=data.get("truncated"),
            outputs=[Attachment.from_json(a) for a in data.get("outputs", [])],
            provider=data.get("provider"),
        )


@dataclass
class Message:
    """One message of a chat. Models receive a list of these."""

    role: Role
    content: str
    id: str = field(default_factory=new_id)
    created: str = field(default_factory=now_iso)
    model: str | None = None
    finish_reason: FinishReason | None = None
    error: dict[str, Any] | None = None
    reasoning: str | None = None
    attachments: list[Attachment] = field(default_factory=list)
    context: list[ContextItem] = field(default_factory=list)
    tool_calls: list[ToolCall] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        data = _drop_none(
            {
                "id": self.id,
                "role": self.role,
                "content": self.content,
                "model": self.model,
                "created": self.created,
                "finish_reason": self.finish_reason,
                "error": self.error,
                "reasoning": self.reasoning,
            }
        )
        if self.attachments:
            data["attachments"] = [a.to_json() for a in self.attachments]
        if self.context:
            data["context"] = [item.to_json() for item in self.context]
        if self.tool_calls:
            data["tool_calls"] = [c.to_json() for c in self.tool_calls]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Message:
        return cls(
            id=data["id"],
            role=data["role"],
            content=data["content"],
            created=data["created"],
            model=data.get("model"),
            finish_reason=data.get("finish_reason"),
            error=data.get("error"),
            reasoning=data.get("reasoning"),
            attachments=[Attachment.from_json(a) for a in data.get("attachments", [])],
            context=[ContextItem.from_json(c) for c in data.get("context", [])],
            tool_calls=[ToolCall.from_json(c) for c in data.get("tool_calls", [])],
        )


@dataclass
class ToolMessage(Message):
    """The result of one tool call, as models receive it after the assistant message that
    made the call: ``role`` ``"tool"``, ``content`` the result text, ``tool_call_id`` and
    ``name`` the call it answers. Only in what models receive, never on the wire."""

    role: Role = "tool"
    content: str = ""
    tool_call_id: str = ""
    name: str = ""


@dataclass
class ChatConfig:
    """Sampling settings; a model uses the ones its API accepts and ignores the rest."""

    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    frequency_penalty: float | None = None
    presence_penalty: float | None = None
    max_steps: int | None = None

    def to_json(self) -> dict[str, Any]:
        return _drop_none(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ChatConfig:
        return cls(**{f.name: data.get(f.name) for f in dataclasses.fields(cls)})

    def merged(self, other: ChatConfig | None) -> ChatConfig:
        """This config with every field that ``other`` sets taken from ``other``."""
        if other is None:
            return self
        return dataclasses.replace(self, **other.to_json())


@dataclass
class ModelInfo:
    """What the model picker shows. ``configured`` says credentials exist; never carries them.
    ``provider_label`` names the picker's group (``"Google Gemini"``), so the panel keeps no
    table of its own; this kernel always sets it, older ones did not (protocol 1.1).
    ``asks_for`` says what setting up an unconfigured provider takes, a ``"key"`` or (Ollama)
    just a ``"url"``, so the picker offers the right action."""

    id: str
    provider: str
    label: str
    configured: bool
    source: Literal["builtin", "kernel"]
    provider_label: str | None = None
    asks_for: Literal["key", "url"] | None = None

    def to_json(self) -> dict[str, Any]:
        return _drop_none(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ModelInfo:
        return cls(**{f.name: data[f.name] for f in dataclasses.fields(cls) if f.name in data})


@dataclass
class ModelConfig(ChatConfig):
    """What a model receives as ``config``: the settings and the tools it may call now
    (``tools`` is empty when tools are off)."""

    tools: list[ToolInfo] = field(default_factory=list)


@dataclass(frozen=True)
class CallTool:
    """A model yields this to call a tool; the engine runs it and calls the model again.

    Built-in providers also give ``id`` (the provider's call id, kept as the call's id so
    the result goes back under it) and ``provider``; ``arguments_error`` says why the
    model's arguments could not be read (bad JSON): the call is then not run, its status
    is ``error`` and the model is told the reason.
    """

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)
    id: str | None = None
    provider: str | None = None
    arguments_error: str | None = None


@dataclass(frozen=True)
class Usage:
    """Token counts a model may yield (once, usually last); sent as ``done.usage``."""

    input_tokens: int
    output_tokens: int

    def to_json(self) -> dict[str, int]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Finish:
    """A model may yield this to say why it stopped (``"length"``: it hit max_tokens)."""

    reason: Literal["stop", "length"]


class Reasoning(str):
    """A delta on the ``reasoning`` channel: ``yield Reasoning("thinking...")``."""

    __slots__ = ()
