"""Subscribers of one source: the chat service, the model registry and the tool registry
keep theirs the same way, safe to add, remove and notify from any thread."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, ParamSpec

P = ParamSpec("P")


class Listeners(Generic[P]):
    """Callbacks called in the order they subscribed, outside the lock that guards the list.

    A listener must not raise or block: it runs on whichever thread notifies.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._callbacks: list[Callable[P, None]] = []

    def subscribe(self, listener: Callable[P, None]) -> Callable[[], None]:
        """Add ``listener``; returns the function that removes it again."""
        with self._lock:
            self._callbacks.append(listener)
        return lambda: self._unsubscribe(listener)

    def _unsubscribe(self, listener: Callable[P, None]) -> None:
        with self._lock:
            if listener in self._callbacks:
                self._callbacks.remove(listener)

    def notify(self, *args: P.args, **kwargs: P.kwargs) -> None:
        with self._lock:
            callbacks = list(self._callbacks)
        for callback in callbacks:
            callback(*args, **kwargs)
