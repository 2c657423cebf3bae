"""The kernel's protocol classes, the schema file and the panel's ``protocol.ts`` agree.

``jupyter_deltachat/protocol.schema.json`` is the one list of message types and shapes;
the classes of ``jupyter_deltachat/protocol.py`` and the interfaces of
``labextension/src/protocol.ts`` are each compared with it: the same message types, the
same fields, the same optional marks and the same field kinds.
"""

from __future__ import annotations

import dataclasses
import json
import re
import types
import typing
from pathlib import Path
from typing import Any

import pytest

from jupyter_deltachat import protocol
from jupyter_deltachat.types import (
    Attachment,
    ChatConfig,
    ContextItem,
    Message,
    ModelInfo,
    ToolCall,
    ToolInfo,
    Usage,
)

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = json.loads((ROOT / "jupyter_deltachat" / "protocol.schema.json").read_text())
PROTOCOL_TS = (ROOT / "labextension" / "src" / "protocol.ts").read_text()

PYTHON_SHAPES: dict[str, type] = {
    "Message": Message,
    "Attachment": Attachment,
    "ChatConfig": ChatConfig,
    "ModelInfo": ModelInfo,
    "Usage": Usage,
    "ChatInfo": protocol.ChatInfo,
    "ErrorInfo": protocol.ErrorInfo,
    "StreamingMark": protocol.StreamingMark,
    "ContextRef": protocol.ContextRef,
    "ContextItem": ContextItem,
    "VariableInfo": protocol.VariableInfo,
    "ToolInfo": ToolInfo,
    "ToolCall": ToolCall,
}
# Fields the schema and the panel already know and the kernel does not send yet (protocol
# 1.1 section 0); the test fails once the kernel has them, so the entry is removed then.
NOT_YET_IN_THE_KERNEL: set[tuple[str, str]] = set()

Field = tuple[bool, str]  # (optional, kind); a union of several kinds joins them with " or "


# -- the three readers --------------------------------------------------------------------


def schema_kind(spec: dict[str, Any]) -> str:
    if "oneOf" in spec:
        kinds = [schema_kind(s) for s in spec["oneOf"] if s.get("type") != "null"]
        nullable = len(kinds) < len(spec["oneOf"])
        return " or ".join(kinds) + ("|null" if nullable else "")
    if "$ref" in spec:
        return spec["$ref"].rsplit("/", 1)[1]
    if "const" in spec:
        return f"={spec['const']}"
    if "enum" in spec:
        return "enum:" + ",".join(sorted(spec["enum"]))
    if spec["type"] == "array":
        return f"[{schema_kind(spec['items'])}]"
    return spec["type"]


def schema_fields(name: str) -> dict[str, Field]:
    definition = SCHEMA["$defs"][name]
    required = set(definition["required"])
    return {
        key: (key not in required, schema_kind(spec))
        for key, spec in definition["properties"].items()
    }


def python_kind(annotation: Any) -> str:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        literals = tuple(a for a in args if typing.get_origin(a) is typing.Literal)
        others = [a for a in args if a is not type(None) and a not in literals]
        kinds = [python_kind(typing.Literal[sum((typing.get_args(a) for a in literals), ())])]
        return " or ".join((kinds if literals else []) + [python_kind(a) for a in others])
    if origin is typing.Literal:
        return f"={args[0]}" if len(args) == 1 else "enum:" + ",".join(sorted(args))
    if origin is list:
        return f"[{python_kind(args[0])}]"
    if origin is dict:
        return "object"
    names = {cls: name for name, cls in PYTHON_SHAPES.items()}
    if annotation in names:
        return names[annotation]
    return {str: "string", int: "integer", float: "number", bool: "boolean"}[annotation]


def python_fields(cls: type) -> dict[str, Field]:
    hints = typing.get_type_hints(cls)
    nullable = getattr(cls, "NULLABLE", frozenset())
    fields: dict[str, Field] = {}
    if issubclass(cls, protocol.WireMessage):
        fields["type"] = (False, f"={cls.type}")
    for item in dataclasses.fields(cls):
        annotation = hints[item.name]
        admits_none = type(None) in typing.get_args(annotation)
        optional = (admits_none and item.name not in nullable) or item.default_factory is list
        kind = python_kind(annotation) + ("|null" if item.name in nullable else "")
        fields[item.name] = (optional, kind)
    return fields


def ts_declarations() -> tuple[dict[str, dict[str, Field]], dict[str, list[str]]]:
    """protocol.ts's interfaces (fields) and type aliases (the parts of their unions)."""
    aliases = {
        name: [part.strip() for part in body.split("|") if part.strip()]
        for name, body in re.findall(r"^export type (\w+) =([^;]+);", PROTOCOL_TS, re.M)
    }
    interfaces = {}
    for name, body in re.findall(r"^export interface (\w+) \{\n(.*?)^\}", PROTOCOL_TS, re.M | re.S):
        fields = {}
        for line in body.splitlines():
            line = line.split("//")[0].strip()
            if not line:
                continue
            match = re.fullmatch(r"(\w+)(\??): (.+);", line)
            assert match, f"protocol.ts: {name}: cannot read the field line {line!r}"
            fields[match[1]] = (match[2] == "?", ts_kind(match[3], aliases))
        interfaces[name] = fields
    return interfaces, aliases


def ts_kind(text: str, aliases: dict[str, list[str]]) -> str:
    parts = [part.strip() for part in text.split("|")]
    if "null" in parts:
        parts.remove("null")
        return ts_kind(" | ".join(parts), aliases) + "|null"
    if len(parts) == 1 and parts[0] in aliases:
        parts = aliases[parts[0]]
    quoted = [part for part in parts if part.startswith("'")]
    if quoted and len(quoted) < len(parts):
        others = [ts_kind(part, aliases) for part in parts if not part.startswith("'")]
        return " or ".join([ts_kind(" | ".join(quoted), aliases), *others])
    if quoted:
        values = sorted(part.strip("'") for part in parts)
        return f"={values[0]}" if len(values) == 1 else "enum:" + ",".join(values)
    (single,) = parts
    if single.endswith("[]"):
        return f"[{ts_kind(single[:-2], aliases)}]"
    if single == "Record<string, unknown>":
        return "object"
    if re.fullmatch(r"I[A-Z]\w*", single):
        return single[1:]
    assert single in ("string", "number", "boolean"), f"protocol.ts: unknown type {single!r}"
    return single


def as_ts(fields: dict[str, Field]) -> dict[str, Field]:
    """The schema's kinds as TypeScript can say them (integer is number there)."""
    return {
        name: (optional, re.sub(r"\binteger\b", "number", kind))
        for name, (optional, kind) in fields.items()
    }


INTERFACES, ALIASES = ts_declarations()


def ts_messages(union: str) -> dict[str, str]:
    """type -> interface name, for the interfaces of a protocol.ts union."""
    return {INTERFACES[name]["type"][1].removeprefix("="): name for name in ALIASES[union]}


# -- the agreement ------------------------------------------------------------------------


def test_the_same_message_types_everywhere() -> None:
    assert list(SCHEMA["requests"]) == list(protocol.REQUESTS) == list(ts_messages("ClientRequest"))
    assert list(SCHEMA["events"]) == list(protocol.EVENTS) == list(ts_messages("KernelEvent"))


@pytest.mark.parametrize(
    ("kind", "cls"), [*protocol.REQUESTS.items(), *protocol.EVENTS.items()], ids=str
)
def test_each_message_has_the_same_fields_everywhere(kind: str, cls: type) -> None:
    reference = SCHEMA["requests"].get(kind) or SCHEMA["events"][kind]
    name = reference["$ref"].rsplit("/", 1)[1]
    expected = schema_fields(name)
    assert expected["type"] == (False, f"={kind}")
    assert python_fields(cls) == expected
    union = "ClientRequest" if kind in protocol.REQUESTS else "KernelEvent"
    assert INTERFACES[ts_messages(union)[kind]] == as_ts(expected)


@pytest.mark.parametrize("name", list(PYTHON_SHAPES))
def test_each_shape_has_the_same_fields_everywhere(name: str) -> None:
    expected = schema_fields(name)
    assert INTERFACES[f"I{name}"] == as_ts(expected)
    python = python_fields(PYTHON_SHAPES[name])
    for field_name, field in expected.items():
        if (name, field_name) in NOT_YET_IN_THE_KERNEL:
            assert field_name not in python, f"{name}.{field_name} landed: drop the allowance"
            assert field[0], "a field the kernel does not send yet must be optional"
            continue
        optional, kind = python.pop(field_name)
        assert optional == field[0], f"{name}.{field_name}: optional marks differ"
        assert kind == field[1] or (kind == "object" and field[1] in PYTHON_SHAPES), (
            f"{name}.{field_name}: {kind} in Python, {field[1]} in the schema"
        )
    assert python == {}, f"{name}: fields the schema lacks: {sorted(python)}"


def test_every_schema_definition_is_a_message_or_a_shape() -> None:
    messages = {
        r["$ref"].rsplit("/", 1)[1]
        for r in [*SCHEMA["requests"].values(), *SCHEMA["events"].values()]
    }
    assert set(SCHEMA["$defs"]) == messages | set(PYTHON_SHAPES)
    declared = {n for n in INTERFACES if n[1:] in PYTHON_SHAPES}
    assert declared == {f"I{n}" for n in PYTHON_SHAPES}


def test_events_leave_the_kernel_as_the_schema_says() -> None:
    error = protocol.Error(
        chat_id="c", error=protocol.ErrorInfo(code="busy", message="m", retryable=True)
    )
    assert error.to_wire() == {
        "type": "error",
        "chat_id": "c",
        "error": {"code": "busy", "message": "m", "retryable": True},
    }
    empty = protocol.Snapshot(chat_id="c", messages=[], streaming=None)
    assert empty.to_wire() == {
        "type": "snapshot",
        "chat_id": "c",
        "messages": [],
        "streaming": None,
    }
    delta = protocol.Delta(chat_id="c", message_id="m", seq=1, text="t")
    assert delta.to_wire() == {
        "type": "delta",
        "chat_id": "c",
        "message_id": "m",
        "seq": 1,
        "text": "t",
    }
