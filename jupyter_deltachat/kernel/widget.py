"""``Chat``: a chat widget for a cell, built from core ipywidgets (like marimo's ``mo.ui.chat``).

It is a view of one conversation of the kernel's ``SERVICE`` (a chat id of its own), so
the sidebar can show it too. Service events arrive on worker threads; one dispatcher
thread per widget applies them, re-renders the streaming reply at most 10 times a second,
and runs ``.value`` observers and ``on_message`` outside the engine's locks.
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
from ..redact import redact
from ..types import ChatConfig, Message
from .cell_output import LENGTH_MARK, STOPPED_MARK, bundle, with_mark
from .chats import ChatService

log = logging.getLogger(__name__)

UPDATE_INTERVAL = 0.1
ModelFn = Callable[..., Any]


class Chat(widgets.VBox):
    """Chat with ``model`` (an id, a model function, or None: the kernel's default).

    ``.value`` is the list of finished ``Message``s (observe it with ``observe``; it
    changes when a message is added or a reply finishes, not on every delta).
    ``on_message(message)`` is called for each message once it is complete.
    """

    value = traitlets.List(read_only=True, help="the chat's finished messages")
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
    ) -> None:
        if service is None:
            from . import SERVICE as service
        self.service: ChatService = service
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
        self._rows: dict[str, widgets.Output] = {}
        self._streaming: tuple[str, list[str]] | None = None
        self._dirty = False
        self._last_render = 0.0
        self._events: queue.SimpleQueue[Event | None] = queue.SimpleQueue()
        if system_message:
            service.add_message(self.chat_id, Message(role="system", content=system_message))
        for message in service.history(self.chat_id):
            self._row(message.id, message.role, message.model)
            self._render(message.id, message.content)
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
        """Send ``text`` as the user and stream the reply; returns the ``Reply``."""
        return self.service.send(self.chat_id, text, model=self.model, config=self.config)

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
            self._row(event.message_id, "assistant", event.model)
            self._render(event.message_id, f"*{event.model} is writing…*")
            self.status.value = ""
            self._sync_controls()
        elif isinstance(event, Delta):
            self._delta(event)
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

    def _finish(self, message_id: str) -> None:
        self._streaming = None
        self._dirty = False
        finished = self.service.message(self.chat_id, message_id)
        if finished is not None:
            text = finished.content
            if finished.finish_reason == "cancelled":
                text = with_mark(text, STOPPED_MARK)
            elif finished.finish_reason == "length":
                text = with_mark(text, LENGTH_MARK)
            self._render(message_id, text)
            self._add(finished)
        self._sync_controls()

    def _add(self, message: Message) -> None:
        if any(m.id == message.id for m in self.value):
            return
        if message.id not in self._rows:
            self._row(message.id, message.role, message.model)
            self._render(message.id, message.content)
        self.set_trait("value", [*self.value, message])
        self._sync_controls()
        if self.on_message is not None:
            try:
                self.on_message(message)
            except Exception:  # noqa: BLE001 - a user callback must not end the widget
                log.exception("on_message raised")

    def _reset(self, event: Snapshot) -> None:
        streaming_id = event.streaming.message_id if event.streaming else None
        self._rows = {}
        self.messages_box.children = ()
        for message in event.messages:
            self._row(message.id, message.role, message.model)
            self._render(message.id, message.content)
        self._streaming = None
        if streaming_id is not None:
            content = next(m.content for m in event.messages if m.id == streaming_id)
            self._streaming = (streaming_id, [content])
        self.set_trait("value", [m for m in event.messages if m.id != streaming_id])
        self._sync_controls()

    # -- rendering ---------------------------------------------------------------------

    def _row(self, message_id: str, role: str, model: str | None) -> None:
        label = f"<b>{html.escape(role)}</b>"
        if model and role == "assistant":
            label += f" <small>{html.escape(model)}</small>"
        output = widgets.Output()
        self._rows[message_id] = output
        row = widgets.VBox([widgets.HTML(label), output])
        self.messages_box.children = (*self.messages_box.children, row)

    def _render_streaming(self) -> None:
        self._dirty = False
        if self._streaming is not None:
            message_id, parts = self._streaming
            self._render(message_id, "".join(parts))

    def _render(self, message_id: str, text: str) -> None:
        output = self._rows.get(message_id)
        if output is None:
            return
        self._last_render = time.monotonic()
        data = bundle(text, "markdown")
        output.outputs = ({"output_type": "display_data", "data": data, "metadata": {}},)
