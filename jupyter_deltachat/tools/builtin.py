"""The built-in tools: ``python``, ``list_variables`` and ``inspect_variable``.

``python`` runs the model's code in the user's namespace, like a cell: what the model gets
back is what a cell would show (what the code printed, the last expression's repr, the
traceback of the code's own frames on error); matplotlib figures the code left open become
PNG ``outputs`` and are closed. The other two read without running anything: they are the
context summaries (``jupyter_deltachat.context``), so they need no approval.
"""

from __future__ import annotations

import ast
import base64
import contextlib
import io
import itertools
import linecache
import sys
import threading
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ..types import Attachment

_runs = itertools.count(1)


class _ThreadRouter:
    """``sys.stdout``/``sys.stderr`` while tool code runs: a running tool thread's writes go
    to that call's buffer, every other thread's (a cell running meanwhile) where they went."""

    def __init__(self, original: Any, routes: dict[int, io.StringIO]) -> None:
        self.original = original
        self.routes = routes

    def write(self, text: str) -> int:
        buffer = self.routes.get(threading.get_ident())
        return (buffer if buffer is not None else self.original).write(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.original, name)


_capture_lock = threading.Lock()
_routes: dict[int, io.StringIO] = {}
_installed: dict[str, _ThreadRouter] = {}


@contextlib.contextmanager
def _captured(buffer: io.StringIO) -> Iterator[None]:
    """Route this thread's prints (stdout and stderr) into ``buffer`` while the block runs."""
    with _capture_lock:
        for name in ("stdout", "stderr"):
            current = getattr(sys, name)
            if _installed.get(name) is not current:
                _installed[name] = _ThreadRouter(current, _routes)
                setattr(sys, name, _installed[name])
        _routes[threading.get_ident()] = buffer
    try:
        yield
    finally:
        with _capture_lock:
            _routes.pop(threading.get_ident(), None)
            if not _routes:
                for name, router in _installed.items():
                    if getattr(sys, name) is router:
                        setattr(sys, name, router.original)
                _installed.clear()


@dataclass
class ToolResult:
    """What a tool may return besides plain text: attachments, and whether it failed."""

    text: str
    outputs: list[Attachment] = field(default_factory=list)
    is_error: bool = False


def _shell() -> Any:
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    return get_ipython()


def user_namespace() -> dict[str, Any]:
    """The kernel's user namespace (``__main__``'s outside IPython)."""
    shell = _shell()
    if shell is not None:
        return shell.user_ns  # type: ignore[no-any-return]
    return sys.modules["__main__"].__dict__


def python(code: str) -> ToolResult:
    """Run Python code in the user's kernel namespace, like a notebook cell: the user's
    variables are there, and what it defines stays. Returns what it printed, the value of
    its last expression, or the traceback; matplotlib figures it draws are shown to the user.

    Args:
        code: Python source to run; the last line's value is returned when it is an expression.
    """
    filename = f"<deltachat-tool-{next(_runs)}>"
    linecache.cache[filename] = (len(code), None, code.splitlines(keepends=True), filename)
    namespace = user_namespace()
    printed = io.StringIO()
    figures_before = _figure_numbers()
    value: Any = None
    failed = False
    try:
        tree = ast.parse(code, filename, "exec")
        last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
        with _captured(printed):
            exec(compile(tree, filename, "exec"), namespace)  # noqa: S102 - the approved code
            if last is not None:
                expression = ast.Expression(last.value)
                value = eval(compile(expression, filename, "eval"), namespace)  # noqa: S307
    except Exception as exc:  # noqa: BLE001 - the code's own error is its result
        failed = True
        printed.write(_user_traceback(exc, filename))
    text = printed.getvalue()
    if value is not None and not failed:
        text += ("" if not text or text.endswith("\n") else "\n") + repr(value)
    return ToolResult(text=text, outputs=_new_figures(figures_before), is_error=failed)


def list_variables() -> str:
    """List the variables in the user's kernel: one line each with the name, the type and
    a short summary (shape, length or value)."""
    from ..context.variables import list_variables as variables_in

    hidden = getattr(_shell(), "user_ns_hidden", None)
    variables, truncated = variables_in(user_namespace(), hidden)
    lines = [f"{v.name}: {v.type} = {v.summary}" for v in variables]
    if truncated:
        lines.append(f"[only the first {len(variables):,} variables are listed]")
    return "\n".join(lines) or "[the namespace holds no variables]"


def inspect_variable(name: str) -> ToolResult:
    """Describe one variable of the user's kernel without changing it: for tables the
    shape, column types, first rows and statistics; for arrays shape, dtype and statistics;
    for other objects a bounded repr.

    Args:
        name: the variable, optionally with attribute or key steps (df, cfg.path, rows[0]).
    """
    from ..context import summarize
    from ..context.refs import lookup
    from ..errors import BadRequestError

    try:
        target = lookup(name, user_namespace())
    except BadRequestError as exc:
        return ToolResult(text=str(exc), is_error=True)
    item, images = summarize(target, name)
    return ToolResult(text=item.text, outputs=images)


def _user_traceback(exc: BaseException, filename: str) -> str:
    """The traceback from the first frame of the tool's code on (the engine's are dropped)."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename != filename:
        tb = tb.tb_next
    if isinstance(exc, SyntaxError):
        tb = None
    return "".join(traceback.format_exception(type(exc), exc, tb))


def _figure_numbers() -> set[int]:
    pyplot = sys.modules.get("matplotlib.pyplot")
    return set(pyplot.get_fignums()) if pyplot is not None else set()


def _new_figures(before: set[int]) -> list[Attachment]:
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is None:
        return []
    outputs = []
    for number in sorted(set(pyplot.get_fignums()) - before):
        figure = pyplot.figure(number)
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", bbox_inches="tight")
        pyplot.close(figure)
        data = base64.b64encode(buffer.getvalue()).decode()
        outputs.append(Attachment(name=f"figure-{number}.png", media_type="image/png", data=data))
    return outputs
