"""A chat as a file: Markdown, or a Jupyter notebook (nbformat 4.5).

Markdown keeps the conversation with each turn's context labels and tool calls. The
notebook has one Markdown cell per turn (neutralised, as every Markdown the kernel makes)
and, after an assistant turn, a code cell for each Python code block of the reply and each
``python`` tool call, so the code can be run again.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from .kernel.cell_output import PYTHON_TAGS
from .safe_markdown import code_blocks, fenced, neutralize
from .types import Message

_UNSAFE_FILENAME = re.compile(r'[\\/:*?"<>|\x00-\x1f\x7f]+')
_MAX_FILENAME = 100
_ROLES = {"user": "User", "assistant": "Assistant", "system": "System"}


def export_chat(title: str, messages: list[Message], file_format: str) -> tuple[str, str]:
    """(filename, content) of the chat in ``file_format`` (``markdown`` or ``ipynb``)."""
    if file_format == "markdown":
        return filename(title, ".md"), markdown(title, messages)
    return filename(title, ".ipynb"), json.dumps(notebook(title, messages), indent=1) + "\n"


def filename(title: str, suffix: str) -> str:
    """``<title><suffix>`` with the characters no file system accepts replaced by ``-``."""
    stem = _UNSAFE_FILENAME.sub("-", title).strip(" .-")[:_MAX_FILENAME].strip(" .-")
    return (stem or "chat") + suffix


def markdown(title: str, messages: list[Message]) -> str:
    parts = [f"# {title}"]
    for message in messages:
        parts.append(f"## {_heading(message)}\n\n{_turn(message)}".rstrip())
    return "\n\n".join(parts) + "\n"


def notebook(title: str, messages: list[Message]) -> dict[str, Any]:
    """The chat as an nbformat 4.5 notebook (a dict, ready for ``json.dumps``)."""
    cells = [_markdown_cell(f"# {title}")]
    for message in messages:
        cells.append(_markdown_cell(f"**{_heading(message)}**\n\n{_turn(message)}".rstrip()))
        if message.role == "assistant":
            code = [c for tag, c in code_blocks(message.content) if tag in PYTHON_TAGS]
            code += [call["arguments"]["code"] for call in _python_calls(message)]
            cells += [_code_cell(source.rstrip("\n")) for source in code]
    return {
        "cells": cells,
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def _heading(message: Message) -> str:
    heading = _ROLES.get(message.role, message.role)
    if message.model:
        heading += f" ({message.model})"
    if message.finish_reason not in (None, "stop"):
        heading += f" — {message.finish_reason}"
    return heading


def _turn(message: Message) -> str:
    """The message's text, its context labels and its tool calls, as Markdown."""
    data = message.to_json()
    parts = [message.content]
    labels = [str(item.get("label", "")) for item in data.get("context") or []]
    if labels:
        parts.insert(0, "*Context: " + ", ".join(f"`{label}`" for label in labels) + "*")
    for call in data.get("tool_calls") or []:
        arguments = call.get("arguments") or {}
        if call.get("name") == "python" and isinstance(arguments.get("code"), str):
            shown = fenced(arguments["code"].rstrip(), "python")
        else:
            shown = fenced(json.dumps(arguments, indent=1, ensure_ascii=False), "json")
        text = f"**Tool call `{call.get('name')}`** ({call.get('status')})\n\n{shown}"
        if call.get("result"):
            text += "\n\nResult:\n\n" + fenced(str(call["result"]).rstrip(), "")
        parts.append(text)
    if message.error:
        parts.append(f"*Error: {message.error.get('message', '')}*")
    return "\n\n".join(part for part in parts if part)


def _python_calls(message: Message) -> list[dict[str, Any]]:
    calls = message.to_json().get("tool_calls") or []
    return [
        call
        for call in calls
        if call.get("name") == "python"
        and isinstance((call.get("arguments") or {}).get("code"), str)
    ]


def _markdown_cell(text: str) -> dict[str, Any]:
    return {"cell_type": "markdown", "id": _cell_id(), "metadata": {}, "source": neutralize(text)}


def _code_cell(source: str) -> dict[str, Any]:
    return {
        "cell_type": "code",
        "execution_count": None,
        "id": _cell_id(),
        "metadata": {},
        "outputs": [],
        "source": source,
    }


def _cell_id() -> str:
    return uuid.uuid4().hex[:8]
