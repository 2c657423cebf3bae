"""jupyter-deltachat: chat with language models inside Jupyter.

Models run in the kernel and yield text deltas; see docs/protocol.md for the comm protocol.
"""

from __future__ import annotations

from typing import Any

from ._version import __version__
from .context import Summary, summarizer, unregister_summarizer
from .models.registry import register, resolve, unregister
from .tools import tool, untool
from .tools.builtin import ToolResult
from .types import (
    Attachment,
    CallTool,
    ChatConfig,
    ContextItem,
    Finish,
    Message,
    ModelConfig,
    ModelInfo,
    Reasoning,
    ToolCall,
    ToolInfo,
    Usage,
)

__all__ = [
    "Attachment",
    "CallTool",
    "Chat",
    "ChatConfig",
    "ContextItem",
    "Finish",
    "Message",
    "ModelConfig",
    "ModelInfo",
    "Reasoning",
    "Summary",
    "ToolCall",
    "ToolInfo",
    "ToolResult",
    "Usage",
    "__version__",
    "load_ipython_extension",
    "register",
    "resolve",
    "summarizer",
    "tool",
    "unregister",
    "unregister_summarizer",
    "untool",
]


def __getattr__(name: str) -> Any:
    if name == "Chat":  # ipywidgets is imported only when the widget is used
        from .kernel.widget import Chat

        return Chat
    raise AttributeError(f"module 'jupyter_deltachat' has no attribute {name!r}")


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext jupyter_deltachat``: the same ``load()`` the panel runs."""
    from .kernel import load

    load(ipython)


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    from .server.app import DeltaChatApp

    return [{"module": "jupyter_deltachat", "app": DeltaChatApp}]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "jupyter-deltachat"}]
