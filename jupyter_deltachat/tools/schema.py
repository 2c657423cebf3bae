"""A tool's description and JSON Schema, read from its function.

The description is the docstring's first paragraph; a parameter's description is its line
in an ``Args:`` (or ``Parameters:``) section; its type comes from the type hint. Models
only see what this produces, so a function without hints still works (any value).
"""

from __future__ import annotations

import inspect
import re
import types
import typing
from collections.abc import Callable
from typing import Any

_SIMPLE: dict[Any, dict[str, Any]] = {
    str: {"type": "string"},
    int: {"type": "integer"},
    float: {"type": "number"},
    bool: {"type": "boolean"},
    dict: {"type": "object"},
    list: {"type": "array"},
    type(None): {"type": "null"},
}
_SECTION = re.compile(r"^\s*(Args|Arguments|Parameters)\s*:?\s*$")
_PARAM_LINE = re.compile(r"^\s*\*{0,2}(\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")


def describe(fn: Callable[..., Any]) -> tuple[str, dict[str, Any]]:
    """(description, JSON Schema of the arguments object) for ``fn``."""
    doc = inspect.getdoc(fn) or ""
    summary, documented = _read_docstring(doc)
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"tool {getattr(fn, '__name__', fn)!r}: no signature: {exc}") from None
    try:
        hints = typing.get_type_hints(fn)
    except Exception:  # noqa: BLE001 - unresolvable hints: the raw annotations are used
        hints = {}
    properties: dict[str, Any] = {}
    required: list[str] = []
    for parameter in signature.parameters.values():
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            raise ValueError(
                f"tool {fn.__name__!r}: *{parameter.name} cannot be described to a model; "
                "name each argument"
            )
        annotation = hints.get(parameter.name, parameter.annotation)
        spec = _schema(annotation) if annotation is not inspect.Parameter.empty else {}
        if parameter.name in documented:
            spec = {**spec, "description": documented[parameter.name]}
        if parameter.default is inspect.Parameter.empty:
            required.append(parameter.name)
        elif _json_value(parameter.default):
            spec = {**spec, "default": parameter.default}
        properties[parameter.name] = spec
    schema: dict[str, Any] = {"type": "object", "properties": properties, "required": required}
    return summary, schema


def _read_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """The first paragraph, and each parameter's text from an ``Args:`` section."""
    summary = " ".join(doc.split("\n\n", 1)[0].split())
    documented: dict[str, str] = {}
    in_section = False
    current: str | None = None
    param_indent: int | None = None
    for line in doc.splitlines():
        if _SECTION.match(line):
            in_section, current, param_indent = True, None, None
            continue
        if not in_section or not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        match = _PARAM_LINE.match(line)
        if match and (param_indent is None or indent <= param_indent):
            current, param_indent = match[1], indent
            documented[current] = match[2].strip()
        elif current is not None and param_indent is not None and indent > param_indent:
            documented[current] = f"{documented[current]} {line.strip()}".strip()
        else:
            in_section = False
    return summary, documented


def _schema(annotation: Any) -> dict[str, Any]:
    if annotation in _SIMPLE:
        return dict(_SIMPLE[annotation])
    if annotation is Any:
        return {}
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Literal:
        return {"enum": list(args)}
    if origin in (typing.Union, types.UnionType):
        options = [_schema(arg) for arg in args]
        return options[0] if len(options) == 1 else {"anyOf": options}
    if origin in (list, tuple, set, frozenset):
        item = args[0] if args and args[0] is not Ellipsis else Any
        return {"type": "array", "items": _schema(item)}
    if origin is dict:
        return {"type": "object"}
    return {}


def _json_value(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))
