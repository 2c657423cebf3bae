"""``%chat`` / ``%%chat``: chat from notebook cells, in the same conversations as the sidebar.

The reply streams into the cell output through a display handle (at most 10 updates a
second) and ends as a plain ``text/markdown`` output, so the saved notebook renders
anywhere. A kernel interrupt stops the reply and keeps what arrived. Errors are one
redacted line (``_render_traceback_``), never a traceback wall.

With ``--tools`` the model may call tools: each call is a card in place in the reply (its
own display, updated as its status changes), and a call that needs approval asks through
the cell's input prompt, showing exactly what will run.
"""

from __future__ import annotations

import contextlib
import keyword
import queue
import shlex
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from IPython.core.display_functions import display
from IPython.core.error import StdinNotImplementedError, UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class, no_var_expand
from IPython.core.magic_arguments import (
    argument,
    argument_group,
    magic_arguments,
    parse_argstring,
)

from ..context.refs import render as render_context
from ..errors import BadRequestError, BusyError, DeltaChatError
from ..export import export_chat
from ..protocol import ChatScope, ContextRef, Delta, Done, Error, ErrorInfo, Event
from ..protocol import Tool as ToolEvent
from ..types import ChatConfig, ToolCall
from .cell_output import (
    LENGTH_MARK,
    STOPPED_MARK,
    ReplyBlock,
    approval_question,
    bundle,
    extract_code,
    history_markdown,
    history_plain,
    markdown_table,
    plain_table,
    reply_blocks,
    tool_card,
)
from .chats import DEFAULT_CHAT, ChatService
from .prompt import (
    ChatError,
    chat_id_option,
    interpolate,
    keep_question_marks,
    option_value,
    split_options,
    subcommand,
)

UPDATE_INTERVAL = 0.1
STOP_TIMEOUT = 30.0
FORMATS = ("markdown", "text", "code")
EXPLAIN_PROMPT = (
    "Explain the error above: what went wrong, in which line, why, and how to fix it "
    "(with the corrected code)."
)
ANSWERS = {"y": "allow", "yes": "allow", "n": "deny", "no": "deny"}
ANSWERS |= {"a": "allow_chat", "always": "allow_chat"}
NO_STDIN_NOTE = (
    "not run: this frontend has no input prompt to ask you; "
    "use %chat --tools --yes, or the chat panel"
)


def _explain(exc: BaseException) -> str:
    if isinstance(exc, DeltaChatError):
        return f"{exc.message} ({exc.code})"
    return str(exc)


@dataclass
class _Outcome:
    """What a followed reply came to: its content and how it ended (None: not yet)."""

    content: str
    finish_reason: str | None
    error: ErrorInfo | None


# -- the magics -------------------------------------------------------------------------


@magics_class
class ChatMagics(Magics):
    """``%chat`` and ``%%chat`` on one ``ChatService`` (the kernel's ``SERVICE``)."""

    def __init__(self, shell: Any, service: ChatService) -> None:
        super().__init__(shell)
        self.service = service
        self.current = DEFAULT_CHAT  # the chat used without --chat; %chat open changes it

    @no_var_expand
    @magic_arguments()
    # A group takes every argument declared after it, so the positional one comes first
    # (argparse's usage lists it last whatever the order).
    @argument(
        "prompt",
        nargs="*",
        help="the prompt (%%%%chat: the cell body); {name}, {obj.attr}, {seq[0]} are filled in",
    )
    @argument("-m", "--model", metavar="ID", help="model id (default: the kernel's default)")
    @argument("-s", "--system", metavar="TEXT", help="system message for the chat")
    @argument("--chat", metavar="ID", help="conversation (default: the current one, `default`)")
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
    @argument_group("context")
    @argument(
        "-c",
        "--context",
        action="append",
        default=[],
        metavar="NAME[,NAME…]",
        help="give the model a summary of these variables (name, obj.attr, seq[0]); repeatable",
    )
    @argument("--error", action="store_true", help="give the model the last error")
    @argument_group("tools")
    @argument(
        "--tools",
        nargs="?",
        const="all",
        metavar="NAME[,NAME…]",
        help="let the model call tools: all, or these (--tools=NAME always takes the value)",
    )
    @argument("--yes", action="store_true", help="with --tools: run every call without asking")
    @line_cell_magic
    def chat(self, line: str, cell: str | None = None) -> None:
        """Chat with a model; the reply streams into the output. Ctrl-C (interrupt) stops it.

        Subcommands (line magic, exactly these shapes):
          %chat models                       the models and whether they are configured
          %chat use ID                       make ID the kernel's default model
          %chat history                      this notebook's chats (--all: every notebook's)
          %chat history --chat ID            show a conversation
          %chat open ID [--path NOTEBOOK]    make a past chat the current one
          %chat export FILE [--chat ID]      write the chat to FILE (.md or .ipynb)
          %chat clear [--chat ID]            empty a conversation
          %chat register NAME FUNCTION       make a function of yours a model
          %chat explain                      explain the last error (its traceback as context)
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

    def _explain(self, _rest: list[str]) -> None:
        self._ask(f"--error -- {EXPLAIN_PROMPT}", None)

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
        if not rest or rest == ["--all"]:
            self._chat_list("all" if rest else "notebook")
            return
        chat_id = chat_id_option(rest)
        messages = self.service.history(chat_id)
        if not messages:
            print(f"chat {chat_id!r} is empty")
            return
        display(bundle(history_markdown(messages), "markdown", history_plain(messages)), raw=True)

    def _chat_list(self, scope: ChatScope) -> None:
        infos = self.service.chat_list(scope)
        problem = self.service.persistence.problem if self.service.persistence else None
        if problem:
            print(f"chat history is off in this kernel: {problem}")
        elif not self.service.persisted:
            print("chat history is off (JUPYTER_DELTACHAT_HISTORY=off): chats live in memory")
        if not infos:
            print("no chats yet" if scope == "notebook" else "no chats in any notebook yet")
            return
        header = ["chat", "title", "messages", "updated", "saved"]
        if scope == "all":
            header.insert(1, "notebook")
        rows = []
        for info in infos:
            marker = " (current)" if info.chat_id == self.current else ""
            row = [
                info.chat_id + marker,
                info.title,
                str(info.message_count),
                info.updated[:16].replace("T", " "),
                "yes" if info.persisted else "no",
            ]
            if scope == "all":
                row.insert(1, info.path or "")
            rows.append(row)
        cells = [[cell.replace("|", "\\|") for cell in row] for row in rows]
        display(
            bundle(markdown_table(header, cells), "markdown", plain_table(header, rows)), raw=True
        )

    def _open(self, rest: list[str]) -> None:
        chat_id, path = rest[0], option_value("--path", rest[1:])
        self.service.open_chat(chat_id, path)
        self.current = chat_id
        count = len(self.service.history(chat_id))
        print(f"chat {chat_id!r} ({count} messages) is the current chat; back: %chat open default")

    def _export(self, rest: list[str]) -> None:
        target = Path(rest[0]).expanduser()
        chat_id = chat_id_option(rest[1:], self.current)
        formats = {".md": "markdown", ".ipynb": "ipynb"}
        file_format = formats.get(target.suffix.lower())
        if file_format is None:
            raise ChatError(f"%chat export writes a .md or .ipynb file, not {target.name!r}")
        title, messages = self.service.export_source(chat_id)
        if not messages:
            raise ChatError(f"chat {chat_id!r} is empty: nothing to export")
        _, content = export_chat(title, messages, file_format)
        try:
            with target.open("x", encoding="utf-8") as out:
                out.write(content)
        except FileExistsError:
            raise ChatError(f"{target} exists; nothing was written (give another name)") from None
        except OSError as exc:
            raise ChatError(f"cannot write {target}: {exc.strerror or exc}") from None
        print(f"wrote chat {chat_id!r} ({len(messages)} messages) to {target}")

    def _clear(self, rest: list[str]) -> None:
        chat_id = chat_id_option(rest, self.current)
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
        tokens, line_prompt = split_options(line, [t.name for t in self.service.tools.infos()])
        args = parse_argstring(self.chat, shlex.join(tokens))
        tools = self._tool_choice(args)
        args.chat = args.chat or self.current
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
        refs = [
            ContextRef(kind="variable", name=name.strip())
            for names in args.context
            for name in names.split(",")
            if name.strip()
        ] + ([ContextRef(kind="error")] if args.error else [])
        rendered = render_context(refs, self.shell.user_ns)
        labels = [item.label for item in rendered.items]
        if args.new:
            self.service.clear(args.chat)
        events: queue.SimpleQueue[Event] = queue.SimpleQueue()
        unsubscribe = self.service.subscribe(events.put)  # before the send: miss nothing
        try:
            try:
                reply = self.service.send(
                    args.chat,
                    prompt,
                    model=args.model,
                    config=config,
                    system=args.system,
                    attachments=rendered.attachments,
                    context=rendered.items,
                    tools=tools,
                )
            except BusyError:
                raise ChatError(
                    f"chat {args.chat!r} is already streaming a reply; stop it first, "
                    "or use --chat ID for another conversation"
                ) from None
            model_id, message_id = reply.message.model or "", reply.message.id
            outcome = self._follow(
                args.chat,
                model_id,
                message_id,
                events,
                args.format,
                context_line(labels, args.format),
                approve_all=args.yes,
            )
        finally:
            unsubscribe()
        if args.output is not None:
            self.shell.user_ns[args.output] = outcome.content
        if outcome.finish_reason == "error" and outcome.error is not None:
            raise ChatError(
                f"{outcome.error.message} ({outcome.error.code})", outcome.error.traceback
            )
        if outcome.finish_reason == "cancelled":
            raise ChatError(f"stopped; the partial reply is kept in chat {args.chat!r}")
        if args.format == "code" and outcome.finish_reason == "stop":
            self.shell.set_next_input(extract_code(outcome.content))

    def _tool_choice(self, args: Any) -> str | list[str] | None:
        """``--tools``' value as a ``send``'s ``tools``; unknown names are a usage error."""
        if args.tools is None:
            if args.yes:
                raise ChatError("--yes approves tool calls: use it with --tools")
            return None
        if args.tools == "all":
            return "all"
        names = [name.strip() for name in args.tools.split(",") if name.strip()]
        available = [info.name for info in self.service.tools.infos()]
        unknown = [name for name in names if name not in available]
        if unknown or not names:
            raise ChatError(
                f"unknown tool{'s' if len(unknown) > 1 else ''} "
                f"{', '.join(repr(n) for n in unknown) or repr(args.tools)} in --tools; "
                f"available: {', '.join(available) or 'none'} (or --tools alone for all)"
            )
        return names

    def _decide(
        self, chat_id: str, call: ToolCall, approve_all: bool, notes: dict[str, str]
    ) -> None:
        """Answer a call awaiting approval: ``--yes``, else the user's answer at the input
        prompt; a frontend without one denies it. Decided elsewhere meanwhile: nothing to do."""
        if approve_all:
            decision = "allow"
        else:
            try:
                decision = ask_approval(call)
            except StdinNotImplementedError:
                decision, notes[call.id] = "deny", NO_STDIN_NOTE
        with contextlib.suppress(BadRequestError):
            self.service.approve(chat_id, call.id, decision)

    def _follow(
        self,
        chat_id: str,
        model_id: str,
        message_id: str,
        events: queue.SimpleQueue[Event],
        text_format: str,
        heading: str = "",
        approve_all: bool = False,
    ) -> _Outcome:
        """Show the reply as its events arrive; on an interrupt stop it and keep the text.

        ``heading`` (the context labels) stays above the reply, in the saved output too.
        A call awaiting approval is asked about here, on the kernel's main thread, where
        ``input()`` reaches the cell's prompt (and an interrupt while asking stops the reply).
        """
        view = _ReplyDisplay(heading, text_format, f"*{model_id} is writing…*")
        outcome = _Outcome("", None, None)
        parts: list[str] = []
        calls: dict[str, ToolCall] = {}
        asking: list[ToolCall] = []
        version, shown, last_update = 0, 0, 0.0

        def show(mark: str | None = None, final: bool = False) -> None:
            nonlocal shown, last_update
            view.show("".join(parts), list(calls.values()), mark, final)
            shown, last_update = version, time.monotonic()

        def take(timeout: float) -> None:
            """Apply the next event of this reply that arrives within ``timeout`` seconds."""
            deadline = time.monotonic() + timeout
            while True:
                try:
                    event = events.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    return
                if getattr(event, "message_id", None) == message_id:
                    break
            nonlocal version
            if isinstance(event, Delta) and event.channel is None:
                parts.append(event.text)
                version += 1
            elif isinstance(event, ToolEvent):
                calls[event.call.id] = event.call
                version += 1
                if event.call.status == "awaiting_approval":
                    asking.append(event.call)
            elif isinstance(event, Error):
                outcome.error = event.error
            elif isinstance(event, Done):
                outcome.finish_reason = event.finish_reason

        try:
            while outcome.finish_reason is None:
                if asking:
                    while not events.empty():  # decided or stopped elsewhere meanwhile?
                        take(0)
                    call = asking.pop(0)
                    if calls[call.id].status == "awaiting_approval":
                        show()
                        self._decide(chat_id, call, approve_all, view.notes)
                    continue
                due = last_update + UPDATE_INTERVAL - time.monotonic()
                if version > shown and due <= 0:
                    show()
                    continue
                take(due if version > shown else UPDATE_INTERVAL)
        except KeyboardInterrupt:
            self.service.stop(chat_id, message_id)
            with contextlib.suppress(KeyboardInterrupt):
                deadline = time.monotonic() + STOP_TIMEOUT
                while outcome.finish_reason is None and time.monotonic() < deadline:
                    take(deadline - time.monotonic())
        outcome.content = "".join(parts)
        if outcome.finish_reason is None:
            show("*stopping…*")
            raise ChatError(
                f"the model has not returned yet; its reply in chat {chat_id!r} ends when it does"
            )
        marks = {"cancelled": STOPPED_MARK, "length": LENGTH_MARK}
        show(marks.get(outcome.finish_reason), final=True)
        return outcome


class _ReplyDisplay:
    """A reply in the cell: one display per piece (text, tool card, figure), made as the
    pieces appear and updated in place; the first shows a placeholder until then."""

    def __init__(self, heading: str, text_format: str, placeholder: str) -> None:
        self.heading, self.text_format = heading, text_format
        self.notes: dict[str, str] = {}  # call id -> a line under its card
        first = bundle(heading + placeholder, text_format)
        self.shown: list[tuple[dict[str, str], Any]] = [
            (first, display(first, raw=True, display_id=True))
        ]

    def show(self, content: str, calls: list[ToolCall], mark: str | None, final: bool) -> None:
        blocks = reply_blocks(content, calls, mark)
        if not blocks and not final:
            return
        pieces = blocks or [ReplyBlock("text-0", text="")]
        bundles = [self._bundle(b, self.heading if i == 0 else "") for i, b in enumerate(pieces)]
        for index, data in enumerate(bundles):
            if index == len(self.shown):
                self.shown.append((data, display(data, raw=True, display_id=True)))
            elif self.shown[index][0] != data:
                self.shown[index] = (data, self.shown[index][1])
                self.shown[index][1].update(data, raw=True)

    def _bundle(self, block: ReplyBlock, heading: str = "") -> dict[str, str]:
        if block.figure is not None:
            return block.figure
        if block.call is not None:
            note = self.notes.get(block.call.id, "")
            return bundle(heading + tool_card(block.call, self.text_format, note), self.text_format)
        return bundle(heading + (block.text or ""), self.text_format)


def ask_approval(call: ToolCall) -> str:
    """The user's decision on ``call`` from the cell's input prompt: ``allow``, ``deny`` or
    ``allow_chat``; any other answer asks again. Without a prompt: ``StdinNotImplementedError``."""
    question = approval_question(call)
    while True:
        answer = input(question).strip().lower()
        if answer in ANSWERS:
            return ANSWERS[answer]
        question = "Please answer y, n or a. " + approval_question(call, again=True)


def context_line(labels: list[str], text_format: str) -> str:
    """The line above a reply naming the context it was given (empty without context)."""
    if not labels:
        return ""
    if text_format == "text":
        return f"context: {', '.join(labels)}\n\n"
    return (
        "*context:* " + ", ".join(f"`{label.replace('`', chr(39))}`" for label in labels) + "\n\n"
    )


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
