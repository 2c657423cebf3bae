"""Running one tool call: arguments checked, the function called, its result made text.

Results are bounded (``MAX_RESULT_CODE_POINTS``) and pass ``redact`` before anything
sees them: the model, the frontends and the chat's record get the same text.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from typing import Any

from ..redact import redact
from .builtin import ToolResult

MAX_RESULT_CODE_POINTS = 16_000


def check_arguments(fn: Callable[..., Any], arguments: dict[str, Any]) -> str | None:
    """Why ``arguments`` cannot be passed to ``fn`` (a sentence for the model), or None."""
    try:
        inspect.signature(fn).bind(**arguments)
    except TypeError as exc:
        return f"the arguments do not fit the tool: {exc}"
    except ValueError:
        return None
    return None


def as_result(value: Any) -> ToolResult:
    """A tool's return value as a ``ToolResult`` (JSON when it is JSON, else its repr)."""
    if isinstance(value, ToolResult):
        return value
    if value is None:
        return ToolResult(text="")
    if isinstance(value, str):
        return ToolResult(text=value)
    try:
        return ToolResult(text=json.dumps(value, ensure_ascii=False, default=None))
    except (TypeError, ValueError):
        return ToolResult(text=repr(value))


def bounded(text: str) -> tuple[str, bool]:
    """``text`` redacted and cut to ``MAX_RESULT_CODE_POINTS``; whether it was cut."""
    text = redact(text)
    if len(text) <= MAX_RESULT_CODE_POINTS:
        return text, False
    marker = f"\n[… truncated: the result had {len(text):,} code points]"
    return text[: MAX_RESULT_CODE_POINTS - len(marker)] + marker, True
