"""An object becomes a ``ContextItem``: summarised within a time limit, redacted, bounded.

The bounds are the contract's (docs/context.md): by default at most ``MAX_ITEM_CHARS`` code
points per item and ``MAX_MESSAGE_CHARS`` for all items of one message, a cut item ending
with a visible marker; ``LIMITS`` holds the kernel's current bounds, read at every render.
A summary that raises or takes longer than ``LIMITS.seconds`` (``TIME_LIMIT``) becomes
an item saying so; a thread that overruns is abandoned (Python cannot kill it), the chat
goes on.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from ..redact import redact
from ..types import Attachment, ContextItem
from .builtins import fallback, qualified_type
from .registry import Summary, find

MAX_ITEM_CHARS = 8_000
MAX_MESSAGE_CHARS = 32_000
TIME_LIMIT = 2.0
_REDACT_MARGIN = 512  # a secret that starts before the cut is whole in what is redacted

Kind = Literal["variable", "error", "cell", "notebook", "text"]
T = TypeVar("T")


@dataclass
class Limits:
    """The kernel's context bounds; set them in the kernel to change every later render,
    e.g. ``jupyter_deltachat.context.LIMITS.item_chars = 4_000``."""

    item_chars: int = MAX_ITEM_CHARS
    message_chars: int = MAX_MESSAGE_CHARS
    seconds: float = TIME_LIMIT


LIMITS = Limits()


@dataclass
class Rendered:
    """The items of one message and the images they brought (a figure's PNG)."""

    items: list[ContextItem] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)


def cut(text: str, limit: int, full_length: int | None = None) -> tuple[str, bool]:
    """``text`` within ``limit`` code points; a cut one ends with a visible marker giving
    ``full_length`` (default: the length of ``text``)."""
    if len(text) <= limit:
        return text, False
    mark = marker(full_length or len(text))
    if limit <= len(mark):
        return mark.strip()[:limit], True
    return text[: limit - len(mark)] + mark, True


def marker(full_length: int) -> str:
    """The line that ends a cut item."""
    return f"\n[… cut here: the full text has {full_length:,} characters]"


def make_item(kind: Kind, label: str, text: str, limit: int | None = None) -> ContextItem:
    """The item for ``text``: redacted, then bounded (``chars``: the length before the cut)."""
    limit = LIMITS.item_chars if limit is None else limit
    safe = redact(text[: limit + _REDACT_MARGIN])
    shown, truncated = cut(safe, limit, len(text))
    if not truncated and len(text) > limit + _REDACT_MARGIN:  # redaction shortened it
        shown, truncated = safe[: limit - len(marker(len(text)))] + marker(len(text)), True
    return ContextItem(
        kind=kind, label=redact(label), text=shown, chars=len(text), truncated=truncated
    )


def within_time(work: Callable[[], T], seconds: float) -> T:
    """``work()`` in a daemon thread; ``TimeoutError`` if it has not returned in time."""
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append((True, work()))
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            outcome.append((False, exc))

    thread = threading.Thread(target=run, name="deltachat-summary", daemon=True)
    thread.start()
    thread.join(seconds)
    if not outcome:
        raise TimeoutError
    ok, value = outcome[0]
    if not ok:
        raise value
    return value  # type: ignore[no-any-return]


def summary_of(obj: Any) -> Summary:
    """The registered (or built-in) summary of ``obj``, unbounded; may raise."""
    result = (find(obj) or fallback)(obj)
    if isinstance(result, str):
        return Summary(result)
    if isinstance(result, Summary) and isinstance(result.text, str):
        return result
    raise TypeError(f"a summariser must return str or Summary, not {type(result).__name__}")


def summarize(
    obj: Any,
    label: str,
    *,
    kind: Kind = "variable",
    limit: int | None = None,
    time_limit: float | None = None,
) -> tuple[ContextItem, list[Attachment]]:
    """The item for ``obj`` (and its images), never raising and never waiting much longer
    than ``time_limit`` (default ``LIMITS.seconds``)."""
    time_limit = LIMITS.seconds if time_limit is None else time_limit
    type_name = qualified_type(obj)
    try:
        summary = within_time(lambda: summary_of(obj), time_limit)
    except TimeoutError:
        text = (
            f"[no summary: summarising this {type_name} took longer than {time_limit:g} s "
            "and was abandoned]"
        )
        return make_item(kind, label, text, limit), []
    except Exception as exc:  # noqa: BLE001 - any summariser's bug becomes an item
        text = f"[no summary: summarising this {type_name} raised {type(exc).__name__}: {exc}]"
        return make_item(kind, label, text, limit), []
    return make_item(kind, label, summary.text, limit), list(summary.attachments)


def within_message(items: list[ContextItem], limit: int | None = None) -> list[ContextItem]:
    """The items cut so that together they hold at most ``limit`` (default
    ``LIMITS.message_chars``) code points; the later ones give way first."""
    bounded, left = [], LIMITS.message_chars if limit is None else limit
    for item in items:
        if len(item.text) > left:
            text, _ = cut(item.text, left, item.chars)
            item = ContextItem(
                kind=item.kind, label=item.label, text=text, chars=item.chars, truncated=True
            )
        left -= len(item.text)
        bounded.append(item)
    return bounded
