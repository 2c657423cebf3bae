"""Context: what the chat sees of the kernel (docs/context.md).

Objects are summarised (``summarize``) into ``ContextItem``s, bounded, redacted and given a
time limit; ``@jupyter_deltachat.summarizer(SomeType)`` adds a summary for a type of one's
own. Importing this package imports none of pandas, polars, numpy, xarray or matplotlib.
"""

from __future__ import annotations

from . import builtins as _builtins  # noqa: F401 - registers the built-in summaries
from .brief import brief
from .registry import Summary, summarizer, unregister_summarizer
from .render import (
    LIMITS,
    MAX_ITEM_CHARS,
    MAX_MESSAGE_CHARS,
    TIME_LIMIT,
    Limits,
    Rendered,
    make_item,
    summarize,
    within_message,
)

__all__ = [
    "MAX_ITEM_CHARS",
    "MAX_MESSAGE_CHARS",
    "TIME_LIMIT",
    "LIMITS",
    "Limits",
    "Rendered",
    "Summary",
    "brief",
    "make_item",
    "summarize",
    "summarizer",
    "unregister_summarizer",
    "within_message",
]
