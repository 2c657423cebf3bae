"""The kernel side: ``load()`` registers the comm target and the ``%chat`` magics once,
and restores the chats of the kernel's notebook from the history store.

Frontends run ``import jupyter_deltachat.kernel as _dc; _dc.load(); del _dc`` silently
before opening a comm; ``%load_ext jupyter_deltachat`` calls the same ``load()``.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from ..history import History, history_path
from ..models.registry import REGISTRY
from .chats import DEFAULT_CHAT, ChatService
from .comm import TARGET, CommServer

__all__ = ["DEFAULT_CHAT", "HISTORY", "SERVICE", "TARGET", "load"]

SERVICE = ChatService(REGISTRY)
"""The kernel's one set of conversations, shared by comms, magics and widgets."""

HISTORY = History(history_path())
"""Where ``SERVICE``'s chats are kept across kernels (``JUPYTER_DELTACHAT_HISTORY``)."""

SESSION_PATH_ENV = "JPY_SESSION_NAME"  # set by jupyter_server: the kernel's notebook

_lock = threading.Lock()
_server: CommServer | None = None
_magics_shells: set[int] = set()


def load(ipython: Any = None) -> None:
    """Register comm target ``jupyter_deltachat`` and the magics; idempotent."""
    global _server
    from IPython import get_ipython

    shell = ipython if ipython is not None else get_ipython()
    with _lock:
        if SERVICE.persistence is None:
            HISTORY.attach(SERVICE)
            notebook = os.environ.get(SESSION_PATH_ENV)
            if notebook:
                SERVICE.use_path(notebook)
        if _server is None and getattr(shell, "kernel", None) is not None:
            import comm

            _server = CommServer(SERVICE, REGISTRY)
            comm.get_comm_manager().register_target(TARGET, _server.open)
        if shell is not None and id(shell) not in _magics_shells:
            from .magics import register_magics

            register_magics(shell, SERVICE)
            _magics_shells.add(id(shell))
