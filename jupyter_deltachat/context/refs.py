"""``send.context`` refs become the items stored on the user message, rendered once.

A ``variable`` ref is looked up like ``%chat`` interpolation looks up ``{name}``
(``string.Formatter``: names, ``.attr`` and ``[key]`` steps, nothing called); ``error`` is
the kernel's last exception; ``cell``, ``notebook`` and ``text`` come from the frontend.
An unknown name is ``BadRequestError`` naming it, raised before anything is added.
"""

from __future__ import annotations

import re
import string
import sys
from collections.abc import Mapping
from typing import Any

from ..errors import BadRequestError
from ..protocol import ContextRef
from .render import Rendered, make_item, summarize
from .render import within_message as _within_message

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_HEAD = re.compile(r"[^.\[]*")


def lookup(name: str, namespace: Mapping[str, Any]) -> Any:
    """The object ``name`` (``df``, ``cfg.path``, ``rows[0]``, ``d[key]``) names."""
    head = _HEAD.match(name)[0]  # type: ignore[index]
    if head not in namespace:
        raise BadRequestError(f"no variable {head!r} in the kernel's namespace")
    try:
        return string.Formatter().get_field(name, (), namespace)[0]
    except (AttributeError, LookupError, TypeError, ValueError) as exc:
        raise BadRequestError(f"cannot look up {name!r}: {type(exc).__name__}: {exc}") from None


def last_error() -> BaseException:
    """The exception the last failing cell raised (IPython keeps it in ``sys``)."""
    error = getattr(sys, "last_exc", None) or getattr(sys, "last_value", None)
    if not isinstance(error, BaseException):
        raise BadRequestError("there is no last error: no cell has raised an exception yet")
    return error


def render(
    refs: list[ContextRef],
    namespace: Mapping[str, Any],
    *,
    item_limit: int | None = None,
    message_limit: int | None = None,
    time_limit: float | None = None,
) -> Rendered:
    """Every ref's item (and images), bounded per item and per message (by default the
    kernel's ``context.LIMITS``)."""
    objects = [_target(ref, namespace) for ref in refs]  # every name checked first
    rendered = Rendered()
    for ref, obj in zip(refs, objects, strict=True):
        if ref.kind in ("variable", "error"):
            label = ref.name if ref.kind == "variable" else f"{type(obj).__name__}"
            item, images = summarize(
                obj, label or "", kind=ref.kind, limit=item_limit, time_limit=time_limit
            )
            rendered.items.append(item)
            rendered.attachments += images
        elif ref.kind == "cell":
            rendered.items.append(make_item("cell", cell_label(ref), cell_text(ref), item_limit))
        elif ref.kind == "notebook":
            text = "\n\n".join(cell_text(cell) for cell in ref.cells or [])
            rendered.items.append(
                make_item("notebook", ref.path or "notebook", text or "(no cells)", item_limit)
            )
        else:
            rendered.items.append(make_item("text", ref.label or "", ref.text or "", item_limit))
    rendered.items = _within_message(rendered.items, message_limit)
    return rendered


def _target(ref: ContextRef, namespace: Mapping[str, Any]) -> Any:
    if ref.kind == "variable":
        return lookup(ref.name or "", namespace)
    if ref.kind == "error":
        return last_error()
    return None


def cell_label(ref: ContextRef) -> str:
    if ref.label:
        return ref.label
    return f"cell [{ref.execution_count}]" if ref.execution_count is not None else "cell"


def cell_text(ref: ContextRef) -> str:
    """A cell as the model reads it: its kind and number, its source, then its outputs."""
    number = f" [{ref.execution_count}]" if ref.execution_count is not None else ""
    lines = [f"{ref.cell_type or 'code'} cell{number}:", ref.source or ""]
    outputs = [output_text(output) for output in ref.outputs or []]
    if outputs:
        lines += ["outputs:", *outputs]
    return "\n".join(lines)


def _joined(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else str(value or "")


def output_text(output: dict[str, Any]) -> str:
    """One nbformat 4 output as text: streams and text/plain as they are, errors with
    their traceback (colour codes removed), anything else by its media types."""
    kind = output.get("output_type")
    if kind == "stream":
        return _joined(output.get("text"))
    if kind == "error":
        traceback = "\n".join(str(line) for line in output.get("traceback") or [])
        head = f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"
        return _ANSI.sub("", f"{head}\n{traceback}" if traceback else head)
    data = output.get("data")
    if isinstance(data, dict):
        if "text/plain" in data:
            return _joined(data["text/plain"])
        return f"[{', '.join(sorted(map(str, data)))} output]"
    return f"[{kind} output]"
