"""How a ``%chat`` line becomes a prompt: options apart from the prompt, ``{name}``
interpolation from the user namespace, and lines ending in ``?`` kept from IPython's help."""

from __future__ import annotations

import re
import shlex
import string
from collections.abc import Callable, Collection
from typing import Any

from ..redact import redact
from .chats import DEFAULT_CHAT


class ChatError(Exception):
    """A ``%chat`` failure shown as one clear, redacted line instead of IPython's
    traceback; a custom model's error adds where the model raised (``model_traceback``)."""

    def __init__(self, message: str, model_traceback: str | None = None) -> None:
        super().__init__(redact(message))
        self.model_traceback = redact(model_traceback) if model_traceback else None

    def _render_traceback_(self) -> list[str]:
        line = f"\x1b[0;31mChatError\x1b[0m: {self}"
        if not self.model_traceback:
            return [line]
        return [
            line,
            "Traceback (the model's frames, most recent call last):",
            self.model_traceback,
        ]


_VALUE_OPTIONS = frozenset(
    {"-m", "--model", "-s", "--system", "--chat", "-f", "--format", "-c", "--context"}
    | {"--temperature", "--max-tokens", "-o", "--output"}
)


# -- interpolation ----------------------------------------------------------------------


class NamespaceFormatter(string.Formatter):
    """``str.format`` over the user namespace: names, ``.attr`` and ``[index]`` only.

    ``string.Formatter`` resolves a field by attribute and item lookups, never by
    evaluating code, and ``{{``/``}}`` are its escapes; an unknown name is an error.
    """

    def __init__(self, namespace: dict[str, Any]) -> None:
        self.namespace = namespace

    def get_value(self, key: int | str, args: Any, kwargs: Any) -> Any:
        if isinstance(key, int) or not key:
            raise ChatError(
                "the prompt has an empty {} field; name a variable like {x}, write {{ and }} "
                "for literal braces, or use --no-interpolate"
            )
        if key not in self.namespace:
            raise ChatError(
                f"name {key!r} is not defined (in {{{key}}} in the prompt); define it, write "
                "{{ and }} for literal braces, or use --no-interpolate"
            )
        return self.namespace[key]

    def get_field(self, field_name: str, args: Any, kwargs: Any) -> Any:
        try:
            return super().get_field(field_name, args, kwargs)
        except ChatError:
            raise
        except (AttributeError, LookupError, TypeError, ValueError) as exc:
            raise ChatError(f"cannot interpolate {{{field_name}}}: {exc}") from None


def interpolate(prompt: str, namespace: dict[str, Any]) -> str:
    """``prompt`` with ``{name}``, ``{obj.attr}``, ``{seq[0]}`` filled from ``namespace``."""
    try:
        return NamespaceFormatter(namespace).vformat(prompt, (), {})
    except ChatError:
        raise
    except (ValueError, TypeError) as exc:
        raise ChatError(
            f"cannot interpolate the prompt: {exc}; write {{{{ and }}}} for literal braces, "
            "or use --no-interpolate"
        ) from None


# -- the command line -------------------------------------------------------------------


def split_options(line: str, tool_names: Collection[str] = ()) -> tuple[list[str], str]:
    """The leading option tokens of ``line``, and the rest verbatim (the prompt).

    Only the options are shell-split, so a prompt like ``what's this?`` keeps its quote.
    ``--`` ends the options explicitly. ``--tools`` takes the next word as its value only
    when it is a list of names (a comma in it) or one of ``tool_names``: alone it means all
    tools, and ``%chat --tools what is x?`` sends "what is x?".
    """
    lexer = shlex.shlex(line, posix=True)
    lexer.whitespace_split = True
    lexer.commenters = ""
    tokens: list[str] = []
    wants_value = False
    optional_value = False
    while True:
        start = lexer.instream.tell()
        try:
            token = lexer.get_token()
        except ValueError as exc:
            if wants_value:
                raise ChatError(f"cannot read the value of {tokens[-1]}: {exc}") from None
            return tokens, line[start:].strip()
        if token is None or token == lexer.eof:
            return tokens, ""
        if optional_value and not token.startswith("-"):
            optional_value = False
            if "," in token or token in tool_names:
                tokens.append(token)
                continue
            return tokens, line[start:].strip()
        optional_value = False
        if wants_value:
            tokens.append(token)
            wants_value = False
        elif token == "--":
            return tokens, line[lexer.instream.tell() :].strip()
        elif token.startswith("-") and len(token) > 1:
            tokens.append(token)
            wants_value = token in _VALUE_OPTIONS
            optional_value = token == "--tools"
        else:
            return tokens, line[start:].strip()


def subcommand(words: list[str]) -> str | None:
    """The subcommand ``words`` spell exactly, or None: then the line is a prompt."""
    if not words:
        return None
    name, rest = words[0], words[1:]
    shapes: dict[str, Callable[[list[str]], bool]] = {
        "help": lambda r: not r,
        "explain": lambda r: not r,
        "models": lambda r: not r,
        "use": lambda r: len(r) == 1,
        "history": lambda r: _chat_option_only(r) or r == ["--all"],
        "clear": _chat_option_only,
        "export": lambda r: len(r) >= 1 and not r[0].startswith("-") and _chat_option_only(r[1:]),
        "open": lambda r: (
            len(r) >= 1 and not r[0].startswith("-") and _option_only("--path", r[1:])
        ),
        "register": lambda r: len(r) == 2 and all(_dotted_name(w) for w in r),
    }
    shape = shapes.get(name)
    return name if shape is not None and shape(rest) else None


def _chat_option_only(rest: list[str]) -> bool:
    return _option_only("--chat", rest)


def _option_only(option: str, rest: list[str]) -> bool:
    """``rest`` is empty, or ``option VALUE``, or ``option=VALUE``."""
    return (
        not rest
        or (len(rest) == 2 and rest[0] == option)
        or (len(rest) == 1 and rest[0].startswith(f"{option}="))
    )


def _dotted_name(text: str) -> bool:
    return all(part.isidentifier() for part in text.split("."))


def chat_id_option(rest: list[str], default: str = DEFAULT_CHAT) -> str:
    return option_value("--chat", rest) or default


def option_value(option: str, rest: list[str]) -> str | None:
    """The value of ``option VALUE`` / ``option=VALUE`` in ``rest`` (None when absent)."""
    if not rest:
        return None
    value = rest[1] if len(rest) == 2 else rest[0].partition("=")[2]
    if not value:
        raise ChatError(f"{option} needs a value")
    return value


_QUESTION_LINE = re.compile(r"^([ \t]*)%chat([ \t]+\S.*\?)[ \t]*$")


def keep_question_marks(lines: list[str]) -> list[str]:
    """IPython reads a line ending in ``?`` as a help request, so ``%chat what is this?``
    would show help on ``this``: such ``%chat`` lines become the magic's call directly."""
    if not lines or lines[0].lstrip().startswith("%%"):
        return lines
    kept = []
    for line in lines:
        match = _QUESTION_LINE.match(line.rstrip("\n"))
        if match is None:
            kept.append(line)
            continue
        ending = "\n" if line.endswith("\n") else ""
        call = f"get_ipython().run_line_magic('chat', {match[2].strip()!r})"
        kept.append(f"{match[1]}{call}{ending}")
    return kept
