"""What a ``%chat`` cell shows: MIME bundles, the stopped/cut-off marks, the code a
``-f code`` reply puts into a new cell, tables for ``%chat models`` and ``history``, and
the tool-call cards of ``%chat --tools`` and the widget (a reply split at its calls).

Every Markdown output the kernel makes (``%chat`` live and final, ``history``, ``models``,
the ``Chat`` widget) is built by ``bundle``, which neutralises it: the cell that ran
``%chat`` is trusted, so its Markdown is rendered without a sanitizer (docs/security.md)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from ..safe_markdown import code_blocks, fenced, neutralize
from ..types import Message, ToolCall

# Words, not a glyph: "⏹" is a missing-glyph box in Debian's default fonts.
STOPPED_MARK = "*stopped*"
LENGTH_MARK = "*… cut off at the token limit*"

_FENCE = re.compile(r"^(```|~~~)", re.MULTILINE)
PYTHON_TAGS = ("", "python", "py", "python3", "ipython", "ipython3")

STATUS_WORDS = {
    "awaiting_approval": "awaiting approval",
    "running": "running…",
    "done": "done",
    "error": "error",
    "denied": "denied",
    "cancelled": "cancelled",
}
FIGURE_TYPES = ("image/png", "image/jpeg", "image/gif")  # not SVG: markup
CARD_RESULT_LINES = 20
CARD_RESULT_CODE_POINTS = 2000
# Characters that can hide or reorder what a terminal or page shows: C0/C1 controls (but
# newline and tab), DEL, and the bidirectional overrides and isolates ("Trojan Source").
_HIDING = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


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


# -- tool calls -------------------------------------------------------------------------


def visible(text: str) -> str:
    """``text`` with every character that could hide or reorder its display written as an
    escape (``\\r``, ``\\x1b``, ``\\u202e``), so code shown for approval shows all it does."""
    return _HIDING.sub(lambda match: repr(match.group())[1:-1], text)


def _is_code(call: ToolCall) -> bool:
    """A ``python`` call with just its code: shown as that code, not as JSON."""
    code = call.arguments.get("code")
    return call.name == "python" and set(call.arguments) == {"code"} and isinstance(code, str)


def call_arguments(call: ToolCall) -> str:
    """What a call will run, exactly: a ``python`` call's code, else its arguments as JSON."""
    if _is_code(call):
        return visible(call.arguments["code"])
    return visible(json.dumps(call.arguments, ensure_ascii=False))


def approval_question(call: ToolCall, again: bool = False) -> str:
    """The input prompt asking about ``call``: exactly what will run, then the question
    (``again``: the question alone)."""
    is_code = _is_code(call)
    question = f"Run this {'code' if is_code else 'call'}? [y]es / [n]o / [a]lways: "
    if again:
        return question
    shown = call_arguments(call) if is_code else f"{call.name} {call_arguments(call)}"
    return f"{shown}\n{question}"


def _shown_result(result: str) -> str:
    result = result.rstrip("\n")
    shown = "\n".join(result.split("\n")[:CARD_RESULT_LINES])[:CARD_RESULT_CODE_POINTS]
    if len(shown) < len(result):
        shown += f"\n[… {len(result) - len(shown):,} more characters]"
    return visible(shown)


def tool_card(call: ToolCall, text_format: str, note: str = "") -> str:
    """A call as a compact block: name, the exact code or arguments, status, the result
    (cut for the page; the model got up to 16,000 code points) and a ``note``."""
    status = STATUS_WORDS.get(call.status, call.status)
    language = "python" if _is_code(call) else "json"
    arguments = call_arguments(call)
    result = _shown_result(call.result) if call.result else ""
    if call.truncated:
        result += "\n[the model got the first 16,000 code points]"
    if text_format == "text":
        lines = [f"[tool {call.name}] {status}", _indent(arguments)]
        if result:
            lines += ["result:", _indent(result)]
        if note:
            lines.append(note)
        return "\n".join(lines)
    name = call.name.replace("`", "'")
    parts = [f"**tool `{name}`** · *{status}*", fenced(arguments, language)]
    if result:
        parts += ["result:", fenced(result, "text")]
    if note:
        parts.append(f"*{note}*")
    return "\n\n".join(parts)


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines()) or "    "


@dataclass(frozen=True)
class ReplyBlock:
    """One piece of a reply as shown: its text (Markdown or plain) or a figure's bundle.

    ``key`` names the piece (``text-N``: the text after the N-th call, ``call-ID``,
    ``figure-ID-N``); pieces are only ever added at the end while a reply streams.
    """

    key: str
    text: str | None = None
    call: ToolCall | None = None
    figure: dict[str, str] | None = None


def reply_blocks(content: str, calls: list[ToolCall], mark: str | None = None) -> list[ReplyBlock]:
    """``content`` split where ``calls`` happened (``at``), each call after the text before
    it, its figures after it; ``mark`` closes the last text. Empty text is left out."""
    blocks: list[ReplyBlock] = []
    start = 0
    for index, call in enumerate(sorted(calls, key=lambda c: c.at)):
        at = max(start, min(call.at, len(content)))
        if content[start:at]:
            blocks.append(ReplyBlock(f"text-{index}", text=content[start:at]))
        blocks.append(ReplyBlock(f"call-{call.id}", call=call))
        for number, figure in enumerate(call.outputs):
            if figure.media_type in FIGURE_TYPES:
                data = {figure.media_type: figure.data, "text/plain": f"[{figure.name}]"}
                blocks.append(ReplyBlock(f"figure-{call.id}-{number}", figure=data))
        start = at
    tail = content[start:]
    if mark is not None:
        tail = with_mark(tail, mark)
    if tail:
        blocks.append(ReplyBlock(f"text-{len(calls)}", text=tail))
    return blocks
