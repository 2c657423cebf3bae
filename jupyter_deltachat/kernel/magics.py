"""``%chat`` / ``%%chat``: chat from notebook cells, in the same conversations as the sidebar.

The reply streams into the cell output through a display handle (at most 10 updates a
second) and ends as a plain ``text/markdown`` output, so the saved notebook renders
anywhere. A kernel interrupt stops the reply and keeps what arrived. Errors are one
redacted line (``_render_traceback_``), never a traceback wall.
"""

from __future__ import annotations

import contextlib
import keyword
import re
import shlex
import string
from collections.abc import Callable
from typing import Any

from IPython.core.display_functions import display
from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class, no_var_expand
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring

from ..engine import Reply
from ..errors import BusyError, DeltaChatError
from ..redact import redact
from ..types import ChatConfig, Message
from .chats import DEFAULT_CHAT, ChatService

UPDATE_INTERVAL = 0.1
STOP_TIMEOUT = 30.0
FORMATS = ("markdown", "text", "code")
STOPPED_MARK = "*⏹ stopped*"
LENGTH_MARK = "*… cut off at the token limit*"
_VALUE_OPTIONS = frozenset(
    {"-m", "--model", "-s", "--system", "--chat", "-f", "--format"}
    | {"--temperature", "--max-tokens", "-o", "--output"}
)
_FENCE = re.compile(r"^(```|~~~)", re.MULTILINE)
_CODE_BLOCK = re.compile(
    r"^(```|~~~)[ \t]*([\w+-]*)[^\n]*\n(.*?)^\1[ \t]*$", re.MULTILINE | re.DOTALL
)
_PYTHON_TAGS = ("", "python", "py", "python3", "ipython", "ipython3")


class ChatError(Exception):
    """A ``%chat`` failure shown as one clear, redacted line instead of a traceback."""

    def __init__(self, message: str) -> None:
        super().__init__(redact(message))

    def _render_traceback_(self) -> list[str]:
        return [f"\x1b[0;31mChatError\x1b[0m: {self}"]


def _explain(exc: BaseException) -> str:
    if isinstance(exc, DeltaChatError):
        return f"{exc.message} ({exc.code})"
    return str(exc)


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


def split_options(line: str) -> tuple[list[str], str]:
    """The leading option tokens of ``line``, and the rest verbatim (the prompt).

    Only the options are shell-split, so a prompt like ``what's this?`` keeps its quote.
    ``--`` ends the options explicitly.
    """
    lexer = shlex.shlex(line, posix=True)
    lexer.whitespace_split = True
    lexer.commenters = ""
    tokens: list[str] = []
    wants_value = False
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
        if wants_value:
            tokens.append(token)
            wants_value = False
        elif token == "--":
            return tokens, line[lexer.instream.tell() :].strip()
        elif token.startswith("-") and len(token) > 1:
            tokens.append(token)
            wants_value = token in _VALUE_OPTIONS
        else:
            return tokens, line[start:].strip()


def _subcommand(words: list[str]) -> str | None:
    """The subcommand ``words`` spell exactly, or None: then the line is a prompt."""
    if not words:
        return None
    name, rest = words[0], words[1:]
    shapes: dict[str, Callable[[list[str]], bool]] = {
        "help": lambda r: not r,
        "models": lambda r: not r,
        "use": lambda r: len(r) == 1,
        "history": _chat_option_only,
        "clear": _chat_option_only,
        "register": lambda r: len(r) == 2 and all(_dotted_name(w) for w in r),
    }
    shape = shapes.get(name)
    return name if shape is not None and shape(rest) else None


def _chat_option_only(rest: list[str]) -> bool:
    return (
        not rest
        or (len(rest) == 2 and rest[0] == "--chat")
        or (len(rest) == 1 and rest[0].startswith("--chat="))
    )


def _dotted_name(text: str) -> bool:
    return all(part.isidentifier() for part in text.split("."))


def _chat_id_option(rest: list[str]) -> str:
    if not rest:
        return DEFAULT_CHAT
    chat_id = rest[1] if len(rest) == 2 else rest[0].partition("=")[2]
    if not chat_id:
        raise ChatError("--chat needs a chat id")
    return chat_id


# -- output -----------------------------------------------------------------------------


def _bundle(text: str, text_format: str) -> dict[str, str]:
    if text_format == "text":
        return {"text/plain": text}
    return {"text/markdown": text, "text/plain": text}


def with_mark(content: str, mark: str) -> str:
    """``content`` with a closing note, after closing a code fence left open."""
    if len(_FENCE.findall(content)) % 2:
        content = content.rstrip("\n") + "\n```"
    return f"{content}\n\n{mark}" if content else mark


def extract_code(reply: str) -> str:
    """The reply's first Python (or untagged) code block, else its first block, else all."""
    blocks = [(m.group(2).lower(), m.group(3)) for m in _CODE_BLOCK.finditer(reply)]
    for tag, code in blocks:
        if tag in _PYTHON_TAGS:
            return code.rstrip("\n")
    if blocks:
        return blocks[0][1].rstrip("\n")
    return reply.strip()


def _markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _plain_table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    )


def history_markdown(messages: list[Message]) -> str:
    parts = []
    for message in messages:
        who = f"**{message.role}**"
        if message.model:
            who += f" ({message.model})"
        if message.finish_reason not in (None, "stop"):
            who += f" — {message.finish_reason}"
        parts.append(f"{who}\n\n{message.content}")
    return "\n\n---\n\n".join(parts)


def history_plain(messages: list[Message]) -> str:
    return "\n\n".join(f"[{m.role}] {m.content}" for m in messages)


# -- the magics -------------------------------------------------------------------------


@magics_class
class ChatMagics(Magics):
    """``%chat`` and ``%%chat`` on one ``ChatService`` (the kernel's ``SERVICE``)."""

    def __init__(self, shell: Any, service: ChatService) -> None:
        super().__init__(shell)
        self.service = service

    @no_var_expand
    @magic_arguments()
    @argument("-m", "--model", metavar="ID", help="model id (default: the kernel's default)")
    @argument("-s", "--system", metavar="TEXT", help="system message for the chat")
    @argument("--chat", metavar="ID", default=DEFAULT_CHAT, help="conversation (default: default)")
    @argument("--new", action="store_true", help="start the chat afresh (clear it first)")
    @argument(
        "-f",
        "--format",
        choices=FORMATS,
        default="markdown",
        help="markdown (default), text, or code: also put the code in a new cell below",
    )
    @argument("--temperature", type=float, metavar="T", help="sampling temperature, 0 to 2")
    @argument("--max-tokens", type=int, metavar="N", help="cap the reply's length in tokens")
    @argument("-o", "--output", metavar="NAME", help="store the reply text in variable NAME")
    @argument("--no-interpolate", action="store_true", help="send {braces} as they are")
    @argument(
        "prompt",
        nargs="*",
        help="the prompt (%%%%chat: the cell body); {name}, {obj.attr}, {seq[0]} are filled in",
    )
    @line_cell_magic
    def chat(self, line: str, cell: str | None = None) -> None:
        """Chat with a model; the reply streams into the output. Ctrl-C (interrupt) stops it.

        Subcommands (line magic, exactly these shapes):
          %chat models                       the models and whether they are configured
          %chat use ID                       make ID the kernel's default model
          %chat history [--chat ID]          show a conversation
          %chat clear [--chat ID]            empty a conversation
          %chat register NAME FUNCTION       make a function of yours a model
          %chat help                         this text
        To send a prompt that looks like a subcommand, write %chat -- help.
        """
        try:
            if cell is None and (name := _subcommand(line.split())) is not None:
                getattr(self, f"_{name}")(line.split()[1:])
                return
            self._ask(line, cell)
        except UsageError as exc:
            raise ChatError(str(exc)) from None
        except DeltaChatError as exc:
            raise ChatError(_explain(exc)) from None

    # -- subcommands -------------------------------------------------------------------

    def _help(self, _rest: list[str]) -> None:
        print((self.chat.__doc__ or "").removeprefix("::\n\n").rstrip())

    def _models(self, _rest: list[str]) -> None:
        registry = self.service.registry
        infos = registry.models()
        default = registry.default_model(infos)
        header = ["id", "provider", "configured"]
        rows = [
            [
                f"{info.id} (default)" if info.id == default else info.id,
                info.provider,
                "yes" if info.configured else "no",
            ]
            for info in infos
        ]
        table = {"text/markdown": _markdown_table(header, rows)}
        table["text/plain"] = _plain_table(header, rows)
        display(table, raw=True)

    def _use(self, rest: list[str]) -> None:
        self.service.registry.set_default(rest[0])
        print(f"default model: {rest[0]}")

    def _history(self, rest: list[str]) -> None:
        chat_id = _chat_id_option(rest)
        messages = self.service.history(chat_id)
        if not messages:
            print(f"chat {chat_id!r} is empty")
            return
        display(
            {"text/markdown": history_markdown(messages), "text/plain": history_plain(messages)},
            raw=True,
        )

    def _clear(self, rest: list[str]) -> None:
        chat_id = _chat_id_option(rest)
        self.service.clear(chat_id)
        print(f"cleared chat {chat_id!r}")

    def _register(self, rest: list[str]) -> None:
        name, function_name = rest
        function = self._lookup(function_name)
        try:
            self.service.registry.register(name, function)
        except (TypeError, ValueError) as exc:
            raise ChatError(f"cannot register {name!r}: {exc}") from None
        print(f"registered model {name!r}: %chat -m {name} ...")

    def _lookup(self, dotted: str) -> Any:
        head, *attributes = dotted.split(".")
        if head not in self.shell.user_ns:
            raise ChatError(f"name {head!r} is not defined")
        value = self.shell.user_ns[head]
        for attribute in attributes:
            try:
                value = getattr(value, attribute)
            except AttributeError as exc:
                raise ChatError(str(exc)) from None
        return value

    # -- a prompt ------------------------------------------------------------------------

    def _ask(self, line: str, cell: str | None) -> None:
        tokens, line_prompt = split_options(line)
        args = parse_argstring(self.chat, shlex.join(tokens))
        body = None if cell is None else cell.lstrip("\n").rstrip()
        prompt = "\n".join(p for p in (line_prompt, body) if p)
        if not prompt.strip():
            raise ChatError("nothing to send: write a prompt after %chat, or see %chat help")
        if not args.no_interpolate:
            prompt = interpolate(prompt, self.shell.user_ns)
        config = _config(args)
        if args.output is not None and not _assignable(args.output):
            raise ChatError(f"-o needs a variable name, not {args.output!r}")
        if args.model is not None:
            self.service.registry.resolve(args.model)
        if args.new:
            self.service.clear(args.chat)
        try:
            reply = self.service.send(
                args.chat, prompt, model=args.model, config=config, system=args.system
            )
        except BusyError:
            raise ChatError(
                f"chat {args.chat!r} is already streaming a reply; stop it first, "
                "or use --chat ID for another conversation"
            ) from None
        content = self._follow(args.chat, reply, args.format)
        if args.output is not None:
            self.shell.user_ns[args.output] = content
        if reply.finish_reason == "error" and reply.error is not None:
            raise ChatError(_explain(reply.error))
        if reply.finish_reason == "cancelled":
            raise ChatError(f"stopped; the partial reply is kept in chat {args.chat!r}")
        if args.format == "code" and reply.finish_reason == "stop":
            self.shell.set_next_input(extract_code(content))

    def _follow(self, chat_id: str, reply: Reply, text_format: str) -> str:
        """Show the reply as it streams; on an interrupt stop it and keep the partial text."""
        waiting = f"*{reply.message.model} is writing…*"
        handle = display(_bundle(waiting, text_format), raw=True, display_id=True)
        shown = None
        try:
            while not reply.wait(UPDATE_INTERVAL):
                text = reply.sent_text()[0]
                if text and text != shown:
                    handle.update(_bundle(text, text_format), raw=True)
                    shown = text
        except KeyboardInterrupt:
            self.service.stop(chat_id, reply.message.id)
            with contextlib.suppress(KeyboardInterrupt):
                reply.wait(STOP_TIMEOUT)
        if not reply.finished:
            partial = with_mark(reply.sent_text()[0], "*⏹ stopping…*")
            handle.update(_bundle(partial, text_format), raw=True)
            raise ChatError(
                f"the model has not returned yet; its reply in chat {chat_id!r} ends when it does"
            )
        content = reply.message.content
        if reply.finish_reason == "cancelled":
            final = with_mark(content, STOPPED_MARK)
        elif reply.finish_reason == "length":
            final = with_mark(content, LENGTH_MARK)
        else:
            final = content
        handle.update(_bundle(final, text_format), raw=True)
        return content


def _config(args: Any) -> ChatConfig:
    if args.temperature is not None and not 0 <= args.temperature <= 2:
        raise ChatError(f"--temperature must be between 0 and 2, got {args.temperature}")
    if args.max_tokens is not None and args.max_tokens < 1:
        raise ChatError(f"--max-tokens must be a positive integer, got {args.max_tokens}")
    return ChatConfig(max_tokens=args.max_tokens, temperature=args.temperature)


def _assignable(name: str) -> bool:
    return name.isidentifier() and not keyword.iskeyword(name)


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


def register_magics(shell: Any, service: ChatService) -> None:
    """Register the ``%chat`` magics on ``shell``, backed by ``service``."""
    shell.register_magics(ChatMagics(shell, service))
    cleanup = getattr(shell, "input_transformers_cleanup", None)
    if cleanup is not None and keep_question_marks not in cleanup:
        cleanup.append(keep_question_marks)
