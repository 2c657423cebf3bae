"""``Chat``: a chat widget for a cell, built from core ipywidgets (like marimo's ``mo.ui.chat``).

It is a view of one conversation of the kernel's ``SERVICE`` (a chat id of its own), so
the sidebar can show it too. Service events arrive on worker threads; one dispatcher
thread per widget applies them, re-renders the streaming reply at most 10 times a second,
and runs ``.value`` observers and ``on_message`` outside the engine's locks.

With ``tools=`` the model may call tools: each call is a card in place in the reply (the
same card ``%chat --tools`` shows) with Run / Deny / Always in this chat while it waits.
"""

from __future__ import annotations

import contextvars
import html
import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import ipywidgets as widgets
import traitlets

from ..engine import Reply
from ..errors import DeltaChatError
from ..protocol import Delta, Done, Error, Event, MessageAdded, Snapshot, Start
from ..protocol import Tool as ToolEvent
from ..redact import redact
from ..types import ChatConfig, Message, ToolCall
from .cell_output import LENGTH_MARK, STOPPED_MARK, ReplyBlock, bundle, reply_blocks, tool_card
from .chats import ChatService

log = logging.getLogger(__name__)

UPDATE_INTERVAL = 0.1
ModelFn = Callable[..., Any]
MARKS = {"cancelled": STOPPED_MARK, "length": LENGTH_MARK}


def _show(output: widgets.Output, data: dict[str, str]) -> None:
    """Show the bundle ``data`` in ``output`` (no comm message when it is shown already)."""
    outputs = ({"output_type": "display_data", "data": data, "metadata": {}},)
    if output.outputs != outputs:
        output.outputs = outputs


class ToolCallCard(widgets.VBox):
    """One tool call in the widget: its card and, while it awaits approval, the buttons
    Run, Deny and Always in this chat (``decide(call_id, decision)`` sends the choice)."""

    def __init__(self, decide: Callable[[str, str], None], locked: bool = False) -> None:
        self.decide = decide
        self.call: ToolCall | None = None
        self._locked = locked
        self.output = widgets.Output()
        self.run_button = widgets.Button(description="Run", tooltip="Run tool", icon="play")
        self.run_button.layout.width = "auto"
        self.run_button.button_style = "primary"
        self.deny_button = widgets.Button(description="Deny", tooltip="Deny tool", icon="ban")
        self.deny_button.layout.width = "auto"
        self.always_button = widgets.Button(
            description="Always in this chat",
            tooltip="Always allow tool",
            layout=widgets.Layout(width="auto"),
        )
        decisions = ((self.run_button, "allow"), (self.deny_button, "deny"))
        for button, decision in (*decisions, (self.always_button, "allow_chat")):
            button.on_click(lambda _b, d=decision: self._decide(d))
        self.buttons = widgets.HBox(
            [self.run_button, self.deny_button, self.always_button],
            layout=widgets.Layout(margin="2px 0 14px 0"),  # apart from the input row below
        )
        super().__init__([self.output, self.buttons])

    @property
    def locked(self) -> bool:
        """The chat is ``disabled``: the buttons show but cannot be clicked."""
        return self._locked

    @locked.setter
    def locked(self, locked: bool) -> None:
        self._locked = locked
        if self.call is not None:
            self.show(self.call)

    def show(self, call: ToolCall) -> None:
        self.call = call
        _show(self.output, bundle(tool_card(call, "markdown"), "markdown"))
        asking = call.status == "awaiting_approval"
        self.buttons.layout.display = None if asking else "none"
        for button in self.buttons.children:
            button.disabled = self._locked or not asking

    def _decide(self, decision: str) -> None:
        if self._locked or self.call is None or self.call.status != "awaiting_approval":
            return
        for button in self.buttons.children:
            button.disabled = True  # until the call's next status: one decision per call
        self.decide(self.call.id, decision)


class Chat(widgets.VBox):
    """Chat with ``model`` (an id, a model function, or None: the kernel's default).

    ``.value`` is the list of finished ``Message``s (observe it with ``observe``; it
    changes when a message is added or a reply finishes, not on every delta).
    ``on_message(message)`` is called for each message once it is complete.
    """

    value = traitlets.List(read_only=True, help="the chat's finished messages")
    tool_calls = traitlets.List(
        read_only=True, help="the tool calls of the latest reply as shown, updated live"
    )
    disabled = traitlets.Bool(False, help="disable the input and the buttons")

    def __init__(
        self,
        model: str | ModelFn | None = None,
        *,
        prompts: Sequence[str] | None = None,
        config: ChatConfig | dict[str, Any] | None = None,
        system_message: str | None = None,
        max_height: int | str | None = None,
        disabled: bool = False,
        on_message: Callable[[Message], None] | None = None,
        chat_id: str | None = None,
        service: ChatService | None = None,
        tools: str | list[str] | None = None,
    ) -> None:
        if service is None:
            from . import SERVICE as service
        self.service: ChatService = service
        service.tools.select(tools)  # an unknown name fails here, not at the first send
        self.tools = tools
        self.chat_id = chat_id or f"widget-{uuid.uuid4().hex[:12]}"
        self.model = model
        self.config = ChatConfig.from_json(config) if isinstance(config, dict) else config
        self.system_message = system_message
        self.on_message = on_message
        height = f"{max_height}px" if isinstance(max_height, int) else max_height
        self.messages_box = widgets.VBox(
            layout=widgets.Layout(max_height=height, overflow_y="auto")
        )
        self.prompt_buttons = [widgets.Button(description=p, tooltip=p) for p in prompts or []]
        for button in self.prompt_buttons:
            button.on_click(lambda b: self._try(self.send, b.tooltip))
        self.suggestions = widgets.HBox(
            self.prompt_buttons, layout=widgets.Layout(flex_flow="row wrap")
        )
        self.input = widgets.Textarea(placeholder="Message", rows=2)
        self.input.layout = widgets.Layout(flex="1 1 auto", width="auto")
        self.send_button = widgets.Button(description="Send", icon="paper-plane")
        self.send_button.button_style = "primary"
        self.stop_button = widgets.Button(description="Stop", icon="stop", disabled=True)
        self.clear_button = widgets.Button(description="Clear", icon="trash")
        self.send_button.on_click(lambda _b: self._send_input())
        self.stop_button.on_click(lambda _b: self.stop())
        self.clear_button.on_click(lambda _b: self._try(self.clear))
        self.status = widgets.HTML()
        controls = widgets.HBox(
            [self.input, self.send_button, self.stop_button, self.clear_button],
            layout=widgets.Layout(align_items="flex-end"),
        )
        super().__init__([self.messages_box, self.suggestions, controls, self.status])
        self._rows: dict[str, widgets.VBox] = {}
        self._pieces: dict[str, list[tuple[str, widgets.Widget]]] = {}
        self._streaming: tuple[str, list[str]] | None = None
        self._calls: dict[str, ToolCall] = {}  # the streaming reply's, by id
        self._dirty = False
        self._last_render = 0.0
        self._events: queue.SimpleQueue[Event | None] = queue.SimpleQueue()
        if system_message:
            service.add_message(self.chat_id, Message(role="system", content=system_message))
        for message in service.history(self.chat_id):
            self._row(message.id, message.role, message.model)
            self._render(message.id, message.content, message.tool_calls)
        self.set_trait("value", service.history(self.chat_id))
        self._unsubscribe = service.subscribe(self._on_event)
        self.disabled = disabled
        self._sync_controls()
        thread = threading.Thread(
            target=contextvars.copy_context().run,
            args=(self._dispatch,),
            name="deltachat-widget",
            daemon=True,
        )
        thread.start()

    # -- the Python API --------------------------------------------------------------------

    def send(self, text: str) -> Reply:
        """Send ``text`` as the user and stream the reply (with ``.tools`` on: ``"all"`` or
        a list of names); returns the ``Reply``."""
        return self.service.send(
            self.chat_id, text, model=self.model, config=self.config, tools=self.tools
        )

    def stop(self) -> None:
        """Stop the reply being streamed; what arrived is kept."""
        self.service.stop(self.chat_id)

    def clear(self) -> None:
        """Empty the conversation (its system message is added back)."""
        self.service.clear(self.chat_id)
        if self.system_message:
            message = Message(role="system", content=self.system_message)
            self.service.add_message(self.chat_id, message)

    def close(self) -> None:
        self._unsubscribe()
        self._events.put(None)
        super().close()

    # -- user input ------------------------------------------------------------------------

    def _send_input(self) -> None:
        text = self.input.value
        if text.strip() and self._try(self.send, text):
            self.input.value = ""

    def _try(self, action: Callable[..., Any], *args: Any) -> bool:
        try:
            action(*args)
        except DeltaChatError as exc:
            self._show_error(exc.to_json()["message"])
            return False
        self.status.value = ""
        return True

    def _decide(self, call_id: str, decision: str) -> None:
        self._try(self.service.approve, self.chat_id, call_id, decision)

    def _show_error(self, message: str) -> None:
        style = "color: var(--jp-error-color1, #d32f2f)"
        self.status.value = f'<span style="{style}">{html.escape(redact(message))}</span>'

    @traitlets.observe("disabled")
    def _on_disabled(self, _change: Any) -> None:
        self._sync_controls()

    def _sync_controls(self) -> None:
        streaming = self._streaming is not None
        self.input.disabled = self.disabled
        self.send_button.disabled = self.disabled or streaming
        self.stop_button.disabled = self.disabled or not streaming
        self.clear_button.disabled = self.disabled
        for button in self.prompt_buttons:
            button.disabled = self.disabled or streaming
        for pieces in self._pieces.values():
            for _, piece in pieces:
                if isinstance(piece, ToolCallCard):
                    piece.locked = self.disabled
        self.suggestions.layout.display = "none" if self._rows_with_content() else None

    def _rows_with_content(self) -> bool:
        return any(m.role != "system" for m in self.value) or self._streaming is not None

    # -- service events (dispatcher thread) -----------------------------------------------

    def _on_event(self, event: Event) -> None:
        if getattr(event, "chat_id", None) == self.chat_id:
            self._events.put(event)

    def _dispatch(self) -> None:
        while True:
            timeout = None
            if self._dirty:
                timeout = max(0.0, self._last_render + UPDATE_INTERVAL - time.monotonic())
            try:
                event = self._events.get(timeout=timeout)
            except queue.Empty:
                self._render_streaming()
                continue
            if event is None:
                return
            try:
                self._apply(event)
            except Exception:  # noqa: BLE001 - one bad event must not end the widget
                log.exception("chat widget could not apply a %s event", event.type)

    def _apply(self, event: Event) -> None:
        if isinstance(event, MessageAdded):
            self._add(event.message)
        elif isinstance(event, Start):
            self._streaming = (event.message_id, [])
            self._calls = {}
            self.set_trait("tool_calls", [])
            self._row(event.message_id, "assistant", event.model)
            self._render(event.message_id, f"*{event.model} is writing…*")
            self.status.value = ""
            self._sync_controls()
        elif isinstance(event, Delta):
            self._delta(event)
        elif isinstance(event, ToolEvent):
            self._tool(event)
        elif isinstance(event, Error):
            self._show_error(event.error.message)
        elif isinstance(event, Done):
            self._finish(event.message_id)
        elif isinstance(event, Snapshot):
            self._reset(event)

    def _delta(self, event: Delta) -> None:
        streaming = self._streaming
        if streaming is None or event.message_id != streaming[0] or event.channel is not None:
            return
        streaming[1].append(event.text)
        self._dirty = True
        if time.monotonic() - self._last_render >= UPDATE_INTERVAL:
            self._render_streaming()

    def _tool(self, event: ToolEvent) -> None:
        if self._streaming is None or event.message_id != self._streaming[0]:
            return
        self._calls[event.call.id] = event.call
        self._render_streaming()
        self.set_trait("tool_calls", list(self._calls.values()))

    def _finish(self, message_id: str) -> None:
        self._streaming = None
        self._dirty = False
        finished = self.service.message(self.chat_id, message_id)
        if finished is not None:
            mark = MARKS.get(finished.finish_reason or "")
            self._render(message_id, finished.content, finished.tool_calls, mark)
            self.set_trait("tool_calls", list(finished.tool_calls))
            self._add(finished)
        self._sync_controls()

    def _add(self, message: Message) -> None:
        if any(m.id == message.id for m in self.value):
            return
        if message.id not in self._rows:
            self._row(message.id, message.role, message.model)
            self._render(message.id, message.content, message.tool_calls)
        self.set_trait("value", [*self.value, message])
        self._sync_controls()
        if self.on_message is not None:
            try:
                self.on_message(message)
            except Exception:  # noqa: BLE001 - a user callback must not end the widget
                log.exception("on_message raised")

    def _reset(self, event: Snapshot) -> None:
        streaming_id = event.streaming.message_id if event.streaming else None
        self._rows, self._pieces = {}, {}
        self.messages_box.children = ()
        for message in event.messages:
            self._row(message.id, message.role, message.model)
            self._render(message.id, message.content, message.tool_calls)
        self._streaming = None
        if streaming_id is not None:
            partial = next(m for m in event.messages if m.id == streaming_id)
            self._streaming = (streaming_id, [partial.content])
            self._calls = {call.id: call for call in partial.tool_calls}
        self.set_trait("value", [m for m in event.messages if m.id != streaming_id])
        self._sync_controls()

    # -- rendering ---------------------------------------------------------------------

    def _row(self, message_id: str, role: str, model: str | None) -> None:
        label = f"<b>{html.escape(role)}</b>"
        if model and role == "assistant":
            label += f" <small>{html.escape(model)}</small>"
        row = widgets.VBox([widgets.HTML(label)])
        self._rows[message_id], self._pieces[message_id] = row, []
        self.messages_box.children = (*self.messages_box.children, row)

    def _render_streaming(self) -> None:
        self._dirty = False
        if self._streaming is not None:
            message_id, parts = self._streaming
            self._render(message_id, "".join(parts), list(self._calls.values()))

    def _render(
        self,
        message_id: str,
        content: str,
        calls: Sequence[ToolCall] = (),
        mark: str | None = None,
    ) -> None:
        """Show a message under its label: its text split where tools were called, a card
        per call, the call's figures after it; pieces already shown are updated in place."""
        row = self._rows.get(message_id)
        if row is None:
            return
        self._last_render = time.monotonic()
        blocks = reply_blocks(content, list(calls), mark) or [ReplyBlock("text-0", text="")]
        pieces = self._pieces[message_id]
        changed = len(pieces) != len(blocks)
        for index, block in enumerate(blocks):
            if index >= len(pieces) or pieces[index][0] != block.key:
                del pieces[index:]
                pieces.append((block.key, self._piece(block)))
                changed = True
            widget = pieces[index][1]
            if isinstance(widget, ToolCallCard) and block.call is not None:
                widget.show(block.call)
            elif isinstance(widget, widgets.Output):
                _show(widget, block.figure or bundle(block.text or "", "markdown"))
        del pieces[len(blocks) :]
        if changed:
            row.children = (row.children[0], *(widget for _, widget in pieces))

    def _piece(self, block: ReplyBlock) -> widgets.Widget:
        if block.call is None:
            return widgets.Output()
        return ToolCallCard(self._decide, locked=self.disabled)
