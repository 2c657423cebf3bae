"""What a ``%chat`` cell shows: MIME bundles, the stopped/cut-off marks, the code a
``-f code`` reply puts into a new cell, and tables for ``%chat models`` and ``history``.

Every Markdown output the kernel makes (``%chat`` live and final, ``history``, ``models``,
the ``Chat`` widget) is built by ``bundle``, which neutralises it: the cell that ran
``%chat`` is trusted, so its Markdown is rendered without a sanitizer (docs/security.md)."""

from __future__ import annotations

import re

from ..safe_markdown import code_blocks, neutralize
from ..types import Message

# Words, not a glyph: "⏹" is a missing-glyph box in Debian's default fonts.
STOPPED_MARK = "*stopped*"
LENGTH_MARK = "*… cut off at the token limit*"

_FENCE = re.compile(r"^(```|~~~)", re.MULTILINE)
PYTHON_TAGS = ("", "python", "py", "python3", "ipython", "ipython3")


# -- output -----------------------------------------------------------------------------


def bundle(text: str, text_format: str, plain: str | None = None) -> dict[str, str]:
    """The MIME bundle showing ``text``: plain only, or neutralised Markdown and plain text."""
    if text_format == "text":
        return {"text/plain": text}
    return {"text/markdown": neutralize(text), "text/plain": text if plain is None else plain}


def with_mark(content: str, mark: str) -> str:
    """``content`` with a closing note, after closing a code fence left open."""
    if len(_FENCE.findall(content)) % 2:
        content = content.rstrip("\n") + "\n```"
    return f"{content}\n\n{mark}" if content else mark


def extract_code(reply: str) -> str:
    """The reply's first Python (or untagged) code block, else its first block, else all.

    Blocks are those a Markdown parser renders as code, so a fence hidden in an HTML
    comment or an HTML block is never picked.
    """
    blocks = code_blocks(reply)
    for tag, code in blocks:
        if tag in PYTHON_TAGS:
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
