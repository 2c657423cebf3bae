"""The one text block that puts a message's context in front of a built-in provider.

Every built-in provider sends it the same way, at the start of the user turn
(``models.base.conversation``), so the same chat reads the same to every model; custom
models get ``message.context`` and may render the items as they like. The format
(docs/context.md) is delimited so the model can tell the user's data from the question::

    <context>
    The user attached these items from the Jupyter kernel and notebook.
    <item kind="variable" label="df">
    …the item's text…
    </item>
    </context>

    …the user's message…
"""

from __future__ import annotations

import dataclasses
from html import escape

from ..types import ContextItem, Message

INTRODUCTION = "The user attached these items from the Jupyter kernel and notebook."


def context_block(items: list[ContextItem]) -> str:
    """The block for ``items`` (an empty string when there are none)."""
    if not items:
        return ""
    parts = ["<context>", INTRODUCTION]
    for item in items:
        parts.append(f'<item kind="{item.kind}" label="{escape(item.label)}">')
        parts += [item.text, "</item>"]
    parts.append("</context>")
    return "\n".join(parts) + "\n\n"


def with_context(message: Message) -> Message:
    """``message`` with its context block in front of its content (itself when it has none)."""
    if not message.context:
        return message
    return dataclasses.replace(message, content=context_block(message.context) + message.content)
