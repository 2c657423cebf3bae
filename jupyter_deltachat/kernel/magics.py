"""``%chat`` / ``%%chat``: chat from notebook cells, in the same conversations as the sidebar.

The reply streams into the cell output through a display handle (at most 10 updates a
second) and ends as a plain ``text/markdown`` output, so the saved notebook renders
anywhere. A kernel interrupt stops the reply and keeps what arrived. Errors are one
redacted line (``_render_traceback_``), never a traceback wall.
"""

from __future__ import annotations

import contextlib
import keyword
import shlex
from typing import Any

from IPython.core.display_functions import display
from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class, no_var_expand
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring

from ..engine import Reply
from ..errors import BusyError, DeltaChatError
from ..types import ChatConfig
from .cell_output import (
    LENGTH_MARK,
    STOPPED_MARK,
    bundle,
    extract_code,
    history_markdown,
    history_plain,
    markdown_table,
    plain_table,
    with_mark,
)
from .chats import DEFAULT_CHAT, ChatService
from .prompt import (
    ChatError,
    chat_id_option,
    interpolate,
    keep_question_marks,
    split_options,
    subcommand,
)

UPDATE_INTERVAL = 0.1
STOP_TIMEOUT = 30.0
FORMATS = ("markdown", "text", "code")


def _explain(exc: BaseException) -> str:
    if isinstance(exc, DeltaChatError):
        return f"{exc.message} ({exc.code})"
    return str(exc)


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
            if cell is None and (name := subcommand(line.split())) is not None:
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
        table = bundle(markdown_table(header, rows), "markdown", plain_table(header, rows))
        display(table, raw=True)

    def _use(self, rest: list[str]) -> None:
        self.service.registry.set_default(rest[0])
        print(f"default model: {rest[0]}")

    def _history(self, rest: list[str]) -> None:
        chat_id = chat_id_option(rest)
        messages = self.service.history(chat_id)
        if not messages:
            print(f"chat {chat_id!r} is empty")
            return
        display(bundle(history_markdown(messages), "markdown", history_plain(messages)), raw=True)

    def _clear(self, rest: list[str]) -> None:
        chat_id = chat_id_option(rest)
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
        handle = display(bundle(waiting, text_format), raw=True, display_id=True)
        shown = None
        try:
            while not reply.wait(UPDATE_INTERVAL):
                text = reply.sent_text()[0]
                if text and text != shown:
                    handle.update(bundle(text, text_format), raw=True)
                    shown = text
        except KeyboardInterrupt:
            self.service.stop(chat_id, reply.message.id)
            with contextlib.suppress(KeyboardInterrupt):
                reply.wait(STOP_TIMEOUT)
        if not reply.finished:
            partial = with_mark(reply.sent_text()[0], "*⏹ stopping…*")
            handle.update(bundle(partial, text_format), raw=True)
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
        handle.update(bundle(final, text_format), raw=True)
        return content


def _config(args: Any) -> ChatConfig:
    if args.temperature is not None and not 0 <= args.temperature <= 2:
        raise ChatError(f"--temperature must be between 0 and 2, got {args.temperature}")
    if args.max_tokens is not None and args.max_tokens < 1:
        raise ChatError(f"--max-tokens must be a positive integer, got {args.max_tokens}")
    return ChatConfig(max_tokens=args.max_tokens, temperature=args.temperature)


def _assignable(name: str) -> bool:
    return name.isidentifier() and not keyword.iskeyword(name)


def register_magics(shell: Any, service: ChatService) -> None:
    """Register the ``%chat`` magics on ``shell``, backed by ``service``."""
    shell.register_magics(ChatMagics(shell, service))
    cleanup = getattr(shell, "input_transformers_cleanup", None)
    if cleanup is not None and keep_question_marks not in cleanup:
        cleanup.append(keep_question_marks)
