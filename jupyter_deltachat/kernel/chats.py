"""The kernel's conversations: the single source of truth every frontend views.

``ChatService`` owns the chats and produces protocol v1 events (plain dicts) for its
listeners: the comm server (every open comm), the ``%chat`` magics and the widget all
subscribe. Lock order: the service lock is never held while taking a reply's lock.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..engine import DEFAULT_FRAME_INTERVAL, DeltaFrame, Reply
from ..errors import BadRequestError, BusyError
from ..models.registry import REGISTRY, ModelRegistry
from ..types import Attachment, ChatConfig, Message, now_iso

Event = dict[str, Any]
Listener = Callable[[Event], None]
ModelFn = Callable[..., Any]
DEFAULT_CHAT = "default"
_TITLE_LENGTH = 60


@dataclass
class Chat:
    chat_id: str
    messages: list[Message] = field(default_factory=list)
    streaming: Reply | None = None
    updated: str = field(default_factory=now_iso)

    @property
    def title(self) -> str:
        first = next((m.content for m in self.messages if m.role == "user"), "")
        line = " ".join(first.split())
        if not line:
            return "New chat"
        return line if len(line) <= _TITLE_LENGTH else line[: _TITLE_LENGTH - 1] + "…"

    def info(self) -> dict[str, Any]:
        return {
            "chat_id": self.chat_id,
            "title": self.title,
            "updated": self.updated,
            "message_count": len(self.messages),
            "streaming": self.streaming is not None,
        }


class ChatService:
    """Chats by id, created on first use; ``send``/``regenerate`` stream replies."""

    def __init__(
        self, registry: ModelRegistry = REGISTRY, frame_interval: float = DEFAULT_FRAME_INTERVAL
    ) -> None:
        self.registry = registry
        self.frame_interval = frame_interval
        self._lock = threading.RLock()
        self._chats: dict[str, Chat] = {}
        self._listeners: list[Listener] = []

    # -- listeners -------------------------------------------------------------------------

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(event)`` for every chat event; returns the unsubscribe function.

        Listeners are called from worker threads and must not raise or block.
        """
        with self._lock:
            self._listeners.append(listener)
        return lambda: self._unsubscribe(listener)

    def _unsubscribe(self, listener: Listener) -> None:
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def emit(self, event: Event) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            listener(event)

    # -- reading ---------------------------------------------------------------------------

    def chat(self, chat_id: str) -> Chat:
        with self._lock:
            chat = self._chats.get(chat_id)
            if chat is None:
                chat = self._chats[chat_id] = Chat(chat_id)
            return chat

    def infos(self) -> list[dict[str, Any]]:
        with self._lock:
            chats = sorted(self._chats.values(), key=lambda c: c.updated, reverse=True)
            return [c.info() for c in chats]

    def streaming(self, chat_id: str) -> Reply | None:
        """The reply the chat is streaming now, if any."""
        with self._lock:
            chat = self._chats.get(chat_id)
            return chat.streaming if chat else None

    def history(self, chat_id: str) -> list[Message]:
        """A copy of the chat's finished messages (a streaming reply is left out)."""
        with self._lock:
            chat = self.chat(chat_id)
            streaming_id = chat.streaming.message.id if chat.streaming else None
            return [dataclasses.replace(m) for m in chat.messages if m.id != streaming_id]

    def snapshot(self, chat_id: str, deliver: Callable[[Event], None]) -> None:
        """Build the chat's ``snapshot`` at a frame boundary and ``deliver`` it.

        It is delivered with the streaming reply's lock held, so no frame can overtake it:
        the frontend resumes at ``streaming.seq`` without losing or repeating a character.
        """
        with self._lock:
            chat = self.chat(chat_id)
            messages = list(chat.messages)
            reply = chat.streaming
        if reply is None:
            deliver(_snapshot(chat_id, [m.to_json() for m in messages], None))
            return
        with reply.lock:
            if reply.finish_reason is not None:
                deliver(_snapshot(chat_id, [m.to_json() for m in messages], None))
                return
            content, reasoning, seq = reply.sent_text()
            rows = []
            for message in messages:
                row = message.to_json()
                if message is reply.message:
                    row["content"] = content
                    row.pop("reasoning", None)
                    if reasoning:
                        row["reasoning"] = reasoning
                rows.append(row)
            deliver(_snapshot(chat_id, rows, {"message_id": reply.message.id, "seq": seq}))

    # -- changing --------------------------------------------------------------------------

    def send(
        self,
        chat_id: str,
        content: str,
        *,
        model: str | ModelFn | None = None,
        config: ChatConfig | None = None,
        attachments: list[Attachment] | None = None,
        request_id: str | None = None,
        system: str | None = None,
    ) -> Reply:
        """Append the user's message and start streaming the reply.

        ``model`` is an id, a model callable (the widget's), or None for the default.
        ``system`` adds a system message first, unless it is already the chat's latest.
        Raises ``BusyError`` or ``UnknownModelError`` before anything changes.
        """
        model_id, model_fn = self._model(model)
        added = [Message(role="user", content=content, attachments=list(attachments or []))]
        with self._lock:
            chat = self.chat(chat_id)
            if chat.streaming is not None:
                raise BusyError(f"chat {chat_id!r} is already streaming a reply; stop it first")
            systems = [m.content for m in chat.messages if m.role == "system"]
            if system and (not systems or systems[-1] != system):
                added.insert(0, Message(role="system", content=system))
            chat.messages.extend(added)
            reply = self._start_reply(chat, model_id, model_fn, config, request_id)
        for message in added:
            self.emit({"type": "message", "chat_id": chat_id, "message": message.to_json()})
        self._begin(chat_id, reply, request_id)
        return reply

    def regenerate(
        self,
        chat_id: str,
        *,
        model: str | ModelFn | None = None,
        config: ChatConfig | None = None,
        request_id: str | None = None,
    ) -> Reply:
        """Replace the last assistant message with a new reply to the same user message."""
        with self._lock:
            chat = self.chat(chat_id)
            if chat.streaming is not None:
                raise BusyError(f"chat {chat_id!r} is already streaming a reply; stop it first")
            if not chat.messages or chat.messages[-1].role != "assistant":
                raise BadRequestError(f"chat {chat_id!r} has no assistant reply to regenerate")
            previous = chat.messages[-1].model
        model_id, model_fn = self._model(model or previous)
        with self._lock:
            if chat.streaming is not None:
                raise BusyError(f"chat {chat_id!r} is already streaming a reply; stop it first")
            chat.messages.pop()
            self.snapshot(chat_id, self.emit)  # everyone drops the replaced reply
            reply = self._start_reply(chat, model_id, model_fn, config, request_id)
        self._begin(chat_id, reply, request_id)
        return reply

    def stop(self, chat_id: str, message_id: str | None = None) -> None:
        """Stop the chat's streaming reply; a no-op when nothing (or another id) streams."""
        with self._lock:
            chat = self._chats.get(chat_id)
            reply = chat.streaming if chat else None
        if reply is not None and message_id in (None, reply.message.id):
            reply.stop()

    def clear(self, chat_id: str) -> None:
        """Empty the chat (stopping its reply first) and send everyone the empty snapshot."""
        self.stop(chat_id)
        with self._lock:
            chat = self.chat(chat_id)
            chat.messages.clear()
            chat.streaming = None
            chat.updated = now_iso()
        self.snapshot(chat_id, self.emit)

    def add_message(self, chat_id: str, message: Message) -> None:
        """Append a complete message (e.g. from ``%chat``) and tell every listener."""
        with self._lock:
            chat = self.chat(chat_id)
            chat.messages.append(message)
            chat.updated = now_iso()
        self.emit({"type": "message", "chat_id": chat_id, "message": message.to_json()})

    # -- replies ---------------------------------------------------------------------------

    def _model(self, model: str | ModelFn | None) -> tuple[str, ModelFn]:
        """(id, callable) for a model id, a callable, or None (the kernel's default)."""
        if callable(model):
            return getattr(model, "__name__", "custom"), model
        model_id = model or self.registry.default_model()
        return model_id, self.registry.resolve(model_id)

    def _start_reply(
        self,
        chat: Chat,
        model_id: str,
        model_fn: ModelFn,
        config: ChatConfig | None,
        request_id: str | None,
    ) -> Reply:
        """Create the reply and mark the chat streaming (service lock held)."""
        history = [dataclasses.replace(m) for m in chat.messages]
        message = Message(role="assistant", content="", model=model_id)
        chat_id = chat.chat_id

        def on_frame(frame: DeltaFrame) -> None:
            event: Event = {
                "type": "delta",
                "chat_id": chat_id,
                "message_id": frame.message_id,
                "seq": frame.seq,
                "text": frame.text,
            }
            if frame.channel != "content":
                event["channel"] = frame.channel
            self.emit(event)

        def on_done(reply: Reply) -> None:
            with self._lock:
                if chat.streaming is reply:
                    chat.streaming = None
                chat.updated = now_iso()
            if reply.error is not None:
                error: Event = {"type": "error", "chat_id": chat_id, "message_id": message.id}
                if request_id is not None:
                    error["request_id"] = request_id
                error["error"] = reply.error.to_json()
                self.emit(error)
            done: Event = {
                "type": "done",
                "chat_id": chat_id,
                "message_id": message.id,
                "seq": reply.seq,
                "finish_reason": reply.finish_reason,
                "length": len(message.content),
            }
            if reply.usage is not None:
                done["usage"] = reply.usage.to_json()
            self.emit(done)

        reply = Reply(
            model_fn,
            history,
            ChatConfig().merged(config),
            message,
            on_frame,
            on_done,
            frame_interval=self.frame_interval,
        )
        chat.messages.append(message)
        chat.streaming = reply
        chat.updated = now_iso()
        return reply

    def _begin(self, chat_id: str, reply: Reply, request_id: str | None) -> None:
        start: Event = {"type": "start", "chat_id": chat_id}
        if request_id is not None:
            start["request_id"] = request_id
        start.update({"message_id": reply.message.id, "model": reply.message.model})
        self.emit(start)
        reply.start()


def _snapshot(chat_id: str, messages: list[dict[str, Any]], streaming: Any) -> Event:
    return {"type": "snapshot", "chat_id": chat_id, "messages": messages, "streaming": streaming}
