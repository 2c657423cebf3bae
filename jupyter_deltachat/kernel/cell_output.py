"""What a ``%chat`` cell shows: MIME bundles, the stopped/cut-off marks, the code a
``-f code`` reply puts into a new cell, and tables for ``%chat models`` and ``history``."""

from __future__ import annotations

import re

from ..types import Message

STOPPED_MARK = "*⏹ stopped*"
LENGTH_MARK = "*… cut off at the token limit*"

_FENCE = re.compile(r"^(```|~~~)", re.MULTILINE)
_CODE_BLOCK = re.compile(
    r"^(```|~~~)[ \t]*([\w+-]*)[^\n]*\n(.*?)^\1[ \t]*$", re.MULTILINE | re.DOTALL
)
_PYTHON_TAGS = ("", "python", "py", "python3", "ipython", "ipython3")


# -- output -----------------------------------------------------------------------------


def bundle(text: str, text_format: str) -> dict[str, str]:
    if text_format == "text":
        return {"text/plain": text}
    return {"text/markdown": text, "text/plain": text}


def with_mark(content: str, mark: str) -> str:
    """``content`` with a closing note, after closing a code fence left open."""
    if len(_FENCE.findall(content)) % 2:
        content = content.rstrip("\n") + "\n```"
    return f"{content}\n\n{mark}" if content else mark


def extract_code(reply: str) -> str:
    """The reply's first Python (or untagged) code block, else its first block, else all."""
    blocks = [(m.group(2).lower(), m.group(3)) for m in _CODE_BLOCK.finditer(reply)]
    for tag, code in blocks:
        if tag in _PYTHON_TAGS:
            return code.rstrip("\n")
    if blocks:
        return blocks[0][1].rstrip("\n")
    return reply.strip()


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def plain_table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    )


def history_markdown(messages: list[Message]) -> str:
    parts = []
    for message in messages:
        who = f"**{message.role}**"
        if message.model:
            who += f" ({message.model})"
        if message.finish_reason not in (None, "stop"):
            who += f" — {message.finish_reason}"
        parts.append(f"{who}\n\n{message.content}")
    return "\n\n---\n\n".join(parts)


def history_plain(messages: list[Message]) -> str:
    return "\n\n".join(f"[{m.role}] {m.content}" for m in messages)
