"""Stopping a reply, as a model sees it: ``on_stop``, ``stop_requested`` and ``pause``.

The engine binds one ``StopSignal`` per reply into the context its worker runs in; models
and providers read it through the three functions here, so they never import the engine.
Outside a reply the functions do nothing special (``pause`` simply sleeps).
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Callable

StopCallback = Callable[[], None]


class StopSignal:
    """A reply's stop request: an event plus callbacks to run once when it is set."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._event = threading.Event()
        self._callbacks: list[StopCallback] = []

    def is_set(self) -> bool:
        return self._event.is_set()

    def set(self) -> list[StopCallback] | None:
        """Mark the stop; returns the callbacks for the caller to run, or None if already set."""
        with self._lock:
            if self._event.is_set():
                return None
            self._event.set()
            callbacks, self._callbacks = self._callbacks, []
        return callbacks

    def wait(self, timeout: float) -> bool:
        return self._event.wait(timeout)

    def add(self, callback: StopCallback) -> Callable[[], None]:
        """Run ``callback`` when the stop comes (at once if it came); returns its remover."""
        with self._lock:
            if not self._event.is_set():
                self._callbacks.append(callback)
                return lambda: self._remove(callback)
        callback()
        return lambda: None

    def _remove(self, callback: StopCallback) -> None:
        with self._lock:
            if callback in self._callbacks:
                self._callbacks.remove(callback)


_current: contextvars.ContextVar[StopSignal | None] = contextvars.ContextVar(
    "jupyter_deltachat_stop", default=None
)


def bind(signal: StopSignal) -> None:
    """Make ``signal`` the running reply's stop signal in the current context."""
    _current.set(signal)


def on_stop(callback: StopCallback) -> Callable[[], None]:
    """Call ``callback`` from the stopping thread when the running reply is stopped.

    Providers use it to shut a socket whose read is blocked on a silent server. Returns
    a function that unregisters the callback. Outside a reply this does nothing.
    """
    signal = _current.get()
    if signal is None:
        return lambda: None
    return signal.add(callback)


def stop_requested() -> bool:
    """Whether the reply running in this context was asked to stop."""
    signal = _current.get()
    return signal is not None and signal.is_set()


def pause(seconds: float) -> bool:
    """Sleep ``seconds``, waking early on a stop; returns True if the reply was stopped.

    For models that pace themselves (the ``demo`` model does), so a stop is immediate.
    """
    signal = _current.get()
    if signal is None:
        time.sleep(seconds)
        return False
    return signal.wait(seconds)
