"""Tools a model may call in the kernel (protocol 1.1 section 2, docs/protocol.md).

``TOOLS`` holds the built-in tools and the user's ``@jupyter_deltachat.tool`` functions;
it tells its listeners when the list changes, so every comm gets a fresh ``tools`` event.
A tool's JSON Schema comes from its function's signature, type hints and docstring.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, overload

from ..errors import BadRequestError
from ..listeners import Listeners
from ..types import ToolApproval, ToolInfo
from .schema import describe

ToolFn = Callable[..., Any]
APPROVALS: tuple[str, ...] = ("ask", "never")


@dataclass(frozen=True)
class Tool:
    """A callable the engine runs with the model's arguments, and what the model is told."""

    info: ToolInfo
    fn: ToolFn


class ToolRegistry:
    """The tools of this kernel by name: built-ins first, then the user's in their order."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._tools: dict[str, Tool] = {}
        self._listeners: Listeners[[]] = Listeners()

    def add(self, tool: Tool) -> None:
        with self._lock:
            self._tools[tool.info.name] = tool
        self._changed()

    def remove(self, name: str) -> None:
        with self._lock:
            removed = self._tools.pop(name, None) is not None
        if removed:
            self._changed()

    def infos(self) -> list[ToolInfo]:
        with self._lock:
            return [tool.info for tool in self._tools.values()]

    def get(self, name: str) -> Tool | None:
        with self._lock:
            return self._tools.get(name)

    def select(self, choice: str | list[str] | None) -> list[Tool]:
        """The tools a ``send``'s ``tools`` field enables; an unknown name is ``bad_request``."""
        with self._lock:
            if choice is None or choice == "none":
                return []
            if choice == "all":
                return list(self._tools.values())
            unknown = [name for name in choice if name not in self._tools]
            if unknown:
                raise BadRequestError(
                    f"unknown tool {unknown[0][:80]!r}; known: {', '.join(self._tools) or 'none'}"
                )
            return [self._tools[name] for name in dict.fromkeys(choice)]

    def subscribe(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener`` whenever the tool list changes."""
        return self._listeners.subscribe(listener)

    def _changed(self) -> None:
        self._listeners.notify()


TOOLS = ToolRegistry()


def make_tool(
    fn: ToolFn,
    *,
    name: str | None = None,
    approval: ToolApproval = "ask",
    source: str = "kernel",
) -> Tool:
    """A ``Tool`` for ``fn``; a bad name, approval or signature raises a readable error."""
    if not callable(fn):
        raise TypeError(f"a tool must be callable, not {type(fn).__name__}")
    tool_name = name or getattr(fn, "__name__", "")
    if not tool_name.isidentifier():
        raise ValueError(f"a tool name must be a Python identifier, got {tool_name!r}")
    if approval not in APPROVALS:
        raise ValueError(f"approval must be 'ask' or 'never', got {approval!r}")
    description, parameters = describe(fn)
    info = ToolInfo(
        name=tool_name,
        description=description,
        parameters=parameters,
        approval=approval,
        source="builtin" if source == "builtin" else "kernel",
    )
    return Tool(info, fn)


@overload
def tool(fn: ToolFn, /) -> ToolFn: ...
@overload
def tool(
    *, name: str | None = None, approval: ToolApproval = "ask"
) -> Callable[[ToolFn], ToolFn]: ...
def tool(
    fn: ToolFn | None = None, /, *, name: str | None = None, approval: ToolApproval = "ask"
) -> Any:
    """Offer a typed, documented function to models as a tool: ``@tool`` or
    ``@tool(approval="never")``. Without ``approval=`` every call asks the user first."""

    def decorator(function: ToolFn) -> ToolFn:
        TOOLS.add(make_tool(function, name=name, approval=approval))
        return function

    return decorator(fn) if fn is not None else decorator


def untool(name: str) -> None:
    """Withdraw the tool ``name`` (a no-op when there is none)."""
    TOOLS.remove(name)


def _add_builtins() -> None:
    from .builtin import inspect_variable, list_variables, python

    TOOLS.add(make_tool(python, approval="ask", source="builtin"))
    TOOLS.add(make_tool(list_variables, approval="never", source="builtin"))
    TOOLS.add(make_tool(inspect_variable, approval="never", source="builtin"))


_add_builtins()
