"""Which function summarises an object: the users' own first, then the built-ins.

Users register by type object (``@jupyter_deltachat.summarizer(MyType)``). The built-ins
are keyed by ``"<top-level package>.<class name>"`` (``"pandas.DataFrame"``) so that
looking one up never imports pandas, polars, numpy, xarray or matplotlib: an object of
those types exists only if its package is already imported. Both are found along the
object's MRO, so a subclass of a DataFrame is summarised as a DataFrame.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ..types import Attachment


@dataclass
class Summary:
    """What a summariser may return instead of plain text: text and images (a figure)."""

    text: str
    attachments: list[Attachment] = field(default_factory=list)


SummaryFn = Callable[[Any], "str | Summary"]
F = TypeVar("F", bound=SummaryFn)

_lock = threading.Lock()
_users: dict[type, SummaryFn] = {}
BUILTINS: dict[str, SummaryFn] = {}


def summarizer(cls: type) -> Callable[[F], F]:
    """Register the decorated ``fn(obj) -> str | Summary`` for ``cls`` and its subclasses.

    It replaces any earlier summariser of ``cls``, the built-in ones included. Its text is
    bounded, redacted and given a time limit like every summary.
    """
    if not isinstance(cls, type):
        raise TypeError(f"summarizer() takes a type, got {type(cls).__name__}")

    def register(fn: F) -> F:
        if not callable(fn):
            raise TypeError(f"a summariser must be callable, got {type(fn).__name__}")
        with _lock:
            _users[cls] = fn
        return fn

    return register


def unregister_summarizer(cls: type) -> None:
    """Forget the user's summariser of ``cls`` (the built-in one, if any, applies again)."""
    with _lock:
        _users.pop(cls, None)


def builtin(*names: str) -> Callable[[F], F]:
    """Register a built-in summariser under ``"package.ClassName"`` keys."""

    def register(fn: F) -> F:
        for name in names:
            BUILTINS[name] = fn
        return fn

    return register


def type_key(cls: type) -> str:
    return f"{cls.__module__.partition('.')[0]}.{cls.__name__}"


def find(obj: Any) -> SummaryFn | None:
    """The summariser for ``obj``'s type or its nearest base that has one, or None."""
    with _lock:
        users = dict(_users)
    for cls in type(obj).__mro__:
        found = users.get(cls) or BUILTINS.get(type_key(cls))
        if found is not None:
            return found
    return None
