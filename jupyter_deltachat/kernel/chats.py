"""The kernel's conversations: the single source of truth every frontend views.

``ChatService`` owns the chats and is the only writer of their state: a reply reports its
frames and outcome to the service, which records them and sends its listeners typed
protocol events (``jupyter_deltachat.protocol``). The comm server (every open comm), the
``%chat`` magics and the widget all subscribe. Lock order: a reply's lock, then a stream's
lock, then the service lock; the service lock is never held while stopping a reply.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..engine import (
    ADAPTIVE_PACING,
    DeltaFrame,
    FramePacing,
    Reply,
    ReplyDone,
    ReplyEvent,
    ToolUpdate,
)
from ..errors import BadRequestError, BusyError, UnknownChatError
from ..listeners import Listeners
from ..models.registry import REGISTRY, ModelRegistry
from ..protocol import (
    ChatInfo,
    Chats,
    ChatScope,
    Delta,
    Done,
    Error,
    ErrorInfo,
    Event,
    MessageAdded,
    Snapshot,
    Start,
    StreamingMark,
    Tool,
    ToolChoice,
)
from ..tools import TOOLS, ToolRegistry
from ..types import Attachment, ChatConfig, ContextItem, Message, ToolCall, now_iso

if TYPE_CHECKING:
    from ..history import History, StoredChat

Listener = Callable[[Event], None]
ModelFn = Callable[..., Any]
DEFAULT_CHAT = "default"
MAX_CHATS = 1000
_TITLE_LENGTH = 60


@dataclass
class Stream:
    """A reply streaming into a chat, as far as its frames have told the service.

    ``lock`` is held while a frame or the outcome is recorded and sent, and while a
    snapshot is built and delivered, so a snapshot always falls on a frame boundary.
    """

    message: Message  # the chat's assistant message, written only by the service
    request_id: str | None
    reply: Reply = field(init=False)
    lock: threading.RLock = field(default_factory=threading.RLock)
    content: list[str] = field(default_factory=list)  # the deltas, appended only
    reasoning: list[str] = field(default_factory=list)
    tool_calls: dict[str, ToolCall] = field(default_factory=dict)  # by id, in call order
    seq: int = 0
    finished: bool = False


def title_of(first_user_message: str | None) -> str:
    """A chat's title: its first user message on one line, shortened."""
    line = " ".join((first_user_message or "").split())
    if not line:
        return "New chat"
    return line if len(line) <= _TITLE_LENGTH else line[: _TITLE_LENGTH - 1] + "…"


@dataclass
class Chat:
    chat_id: str
    messages: list[Message] = field(default_factory=list)
    streaming: Stream | None = None
    updated: str = field(default_factory=now_iso)
    path: str | None = None  # the notebook it belongs to; None until the kernel knows it
    custom_title: str | None = None  # set by rename_chat
    allowed_tools: set[str] = field(default_factory=set)  # "allow_chat": no more asking

    @property
    def title(self) -> str:
        if self.custom_title:
            return self.custom_title
        return title_of(next((m.content for m in self.messages if m.role == "user"), None))

    def info(self, persisted: bool) -> ChatInfo:
        return ChatInfo(
            chat_id=self.chat_id,
            title=self.title,
            updated=self.updated,
            message_count=len(self.messages),
            streaming=self.streaming is not None,
            path=self.path,
            persisted=persisted and self.path is not None,
        )


class ChatService:
    """Chats by id, created on first use; ``send``/``regenerate`` stream replies.

    At most ``max_chats`` chats stay in memory: creating one beyond that drops the least
    recently used idle ones.
    """

    def __init__(
        self,
        registry: ModelRegistry = REGISTRY,
        pacing: FramePacing = ADAPTIVE_PACING,
        max_chats: int = MAX_CHATS,
        tools: ToolRegistry = TOOLS,
    ) -> None:
        self.registry = registry
        self.pacing = pacing
        self.tools = tools
        self.max_chats = max_chats
        self._lock = threading.RLock()
        self._chats: OrderedDict[str, Chat] = OrderedDict()  # least recently used first
        self._listeners: Listeners[[Event]] = Listeners()
        self.path: str | None = None  # the notebook this kernel belongs to, once known
        self.persistence: History | None = None  # set by History.attach
        # this notebook's stored chats as the store last listed them (see ``notebook_list``)
        self._stored_infos: dict[str, ChatInfo] = {}

    # -- listeners -------------------------------------------------------------------------

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(event)`` for every chat event; returns the unsubscribe function.

        Listeners are called from worker threads and must not raise or block.
        """
        return self._listeners.subscribe(listener)

    def emit(self, event: Event) -> None:
        self._listeners.notify(event)

    def emit_chat_list(self) -> None:
        """Send every view this notebook's chat list: a chat was added, retitled, reordered,
        started or finished streaming, renamed or deleted. Views follow the kernel's list
        without asking (a cell running ``%chat`` keeps the shell busy while it streams)."""
        self.emit(Chats(chats=self.notebook_list(), scope="notebook"))

    # -- reading ---------------------------------------------------------------------------

    def chat(self, chat_id: str) -> Chat:
        """The chat, created when new (dropping the oldest idle chats beyond the bound)."""
        with self._lock:
            chat = self._chats.get(chat_id)
            if chat is not None:
                self._chats.move_to_end(chat_id)
                return chat
            chat = self._chats[chat_id] = Chat(chat_id, path=self.path)
            self._drop_idle()
            return chat

    def infos(self) -> list[ChatInfo]:
        """The chats this kernel holds, newest first."""
        persisted = self.persisted
        with self._lock:
            chats = sorted(self._chats.values(), key=lambda c: c.updated, reverse=True)
            return [c.info(persisted) for c in chats]

    @property
    def persisted(self) -> bool:
        """Whether chats that belong to a notebook are written to the history store."""
        return self.persistence is not None and self.persistence.usable

    def path_of(self, chat_id: str) -> str | None:
        """The notebook a chat held here belongs to (None: not held, or not known yet)."""
        with self._lock:
            chat = self._chats.get(chat_id)
            return chat.path if chat is not None else None

    def stored_message(self, chat_id: str, message_id: str) -> tuple[str, Message] | None:
        """(notebook path, a copy of the message) while this kernel holds it in a notebook."""
        with self._lock:
            chat = self._chats.get(chat_id)
            if chat is None or chat.path is None:
                return None
            found = next((m for m in chat.messages if m.id == message_id), None)
            return (chat.path, dataclasses.replace(found)) if found is not None else None

    def streaming_reply(self, chat_id: str, message_id: str) -> tuple[str, Message, Stream] | None:
        """(notebook path, a copy of the message, its ``Stream``) while ``message_id`` streams
        in a notebook's chat.

        The history writer reads the stream's text at each checkpoint instead of taking
        every delta: its ``content``/``reasoning`` lists only grow while it streams.
        """
        with self._lock:
            chat = self._chats.get(chat_id)
            stream = chat.streaming if chat is not None else None
            if chat is None or chat.path is None or stream is None:
                return None
            if stream.message.id != message_id:
                return None
            return chat.path, dataclasses.replace(stream.message), stream

    def history(self, chat_id: str) -> list[Message]:
        """A copy of the chat's finished messages (a streaming reply is left out)."""
        with self._lock:
            return self.history_of(self.chat(chat_id))

    def message(self, chat_id: str, message_id: str) -> Message | None:
        """A copy of one message of the chat, or None when the chat no longer holds it."""
        with self._lock:
            chat = self._chats.get(chat_id)
            found = next((m for m in chat.messages if m.id == message_id), None) if chat else None
            return dataclasses.replace(found) if found else None

    def snapshot(self, chat_id: str, deliver: Callable[[Event], None]) -> None:
        """Build the chat's ``snapshot`` at a frame boundary and ``deliver`` it.

        It is delivered with the stream's lock held, so no frame can overtake it: the
        frontend resumes at ``streaming.seq`` without losing or repeating a character.
        """
        with self._lock:
            chat = self.chat(chat_id)
            messages = [dataclasses.replace(m) for m in chat.messages]  # views get copies
            stream = chat.streaming
        if stream is None:
            deliver(Snapshot(chat_id=chat_id, messages=messages, streaming=None))
            return
        with stream.lock:
            if stream.finished:  # it finished since the copies were taken: take them again
                self.snapshot(chat_id, deliver)
                return
            partial = dataclasses.replace(
                stream.message,
                content="".join(stream.content),
                reasoning="".join(stream.reasoning) or None,
                tool_calls=list(stream.tool_calls.values()),
            )
            shown = [partial if m.id == partial.id else m for m in messages]
            mark = StreamingMark(message_id=stream.message.id, seq=stream.seq)
            deliver(Snapshot(chat_id=chat_id, messages=shown, streaming=mark))

    # -- changing --------------------------------------------------------------------------

    def send(
        self,
        chat_id: str,
        content: str,
        *,
        model: str | ModelFn | None = None,
        config: ChatConfig | None = None,
        attachments: list[Attachment] | None = None,
        context: list[ContextItem] | None = None,
        request_id: str | None = None,
        system: str | None = None,
        tools: ToolChoice | None = None,
    ) -> Reply:
        """Append the user's message and start streaming the reply.

        ``model`` is an id, a model callable (the widget's), or None for the default.
        ``context`` holds the items rendered for this message (stored on it, never re-read).
        ``system`` adds a system message first, unless it is already the chat's latest.
        Raises ``BusyError`` or ``UnknownModelError`` before anything changes.
        """
        model_id, model_fn = self._model(model)
        enabled = self.tools.select(tools)
        added = [
            Message(
                role="user",
                content=content,
                attachments=list(attachments or []),
                context=list(context or []),
            )
        ]
        with self._lock:
            chat = self.chat(chat_id)
            if chat.streaming is not None:
                raise BusyError(f"chat {chat_id!r} is already streaming a reply; stop it first")
            systems = [m.content for m in chat.messages if m.role == "system"]
            if system and (not systems or systems[-1] != system):
                added.insert(0, Message(role="system", content=system))
            chat.messages.extend(added)
            stream = self._start_reply(chat, model_id, model_fn, config, request_id, enabled)
        for message in added:
            self.emit(MessageAdded(chat_id=chat_id, message=dataclasses.replace(message)))
        self._begin(chat_id, stream, model_id)
        return stream.reply

    def regenerate(
        self,
        chat_id: str,
        *,
        model: str | ModelFn | None = None,
        config: ChatConfig | None = None,
        request_id: str | None = None,
        tools: ToolChoice | None = None,
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
        enabled = self.tools.select(tools)
        with self._lock:
            if chat.streaming is not None:
                raise BusyError(f"chat {chat_id!r} is already streaming a reply; stop it first")
            chat.messages.pop()
            self.snapshot(chat_id, self.emit)  # everyone drops the replaced reply
            stream = self._start_reply(chat, model_id, model_fn, config, request_id, enabled)
        self._begin(chat_id, stream, model_id)
        return stream.reply

    def stop(self, chat_id: str, message_id: str | None = None) -> None:
        """Stop the chat's streaming reply; a no-op when nothing (or another id) streams."""
        with self._lock:
            chat = self._chats.get(chat_id)
            stream = chat.streaming if chat else None
        if stream is not None and message_id in (None, stream.message.id):
            stream.reply.stop()

    def approve(self, chat_id: str, call_id: str, decision: str) -> None:
        """The user's decision on a call awaiting approval; ``bad_request`` for any other id."""
        with self._lock:
            chat = self._chats.get(chat_id)
            stream = chat.streaming if chat else None
        if stream is None:
            raise BadRequestError(f"tool call {call_id[:80]!r} is not awaiting approval")
        stream.reply.approve(call_id, decision)

    def clear(self, chat_id: str) -> None:
        """Empty the chat (stopping its reply first) and send everyone the empty snapshot."""
        self.stop(chat_id)
        with self._lock:
            chat = self.chat(chat_id)
            chat.messages.clear()
            chat.streaming = None
            chat.updated = now_iso()
        self.snapshot(chat_id, self.emit)
        self.emit_chat_list()

    def add_message(self, chat_id: str, message: Message) -> None:
        """Append a complete message (e.g. from ``%chat``) and tell every listener."""
        with self._lock:
            chat = self.chat(chat_id)
            chat.messages.append(message)
            chat.updated = now_iso()
        self.emit(MessageAdded(chat_id=chat_id, message=dataclasses.replace(message)))
        self.emit_chat_list()

    # -- history (protocol 1.1 section 3) --------------------------------------------------

    def use_path(self, path: str) -> None:
        """Belong to notebook ``path`` from now on (the first call wins): its stored chats
        come back as they were, and chats held before the path was known are stored under it.
        """
        with self._lock:
            if self.path is not None:
                return
            self.path = path
            adopted = [c for c in self._chats.values() if c.path is None]
            for chat in adopted:
                chat.path = path
        store = self.persistence.open() if self.persistence is not None else None
        stored = store.load_notebook(path) if store is not None else []
        stored.sort(key=lambda saved: saved.updated)
        with self._lock:
            self._stored_infos = {saved.chat_id: _stored_info(saved) for saved in stored}
            held = self._chats
            self._chats = OrderedDict()
            for saved in stored[-self.max_chats :]:
                self._chats[saved.chat_id] = _restored(saved)
            for chat_id, chat in held.items():
                saved_chat = self._chats.pop(chat_id, None)
                if saved_chat is not None:  # used before the path was known: stored first
                    known = {m.id for m in chat.messages}
                    chat.messages[:0] = [m for m in saved_chat.messages if m.id not in known]
                    chat.custom_title = chat.custom_title or saved_chat.custom_title
                self._chats[chat_id] = chat
            known = {m.id for saved in stored for m in saved.messages}
            finished = [
                (chat.chat_id, [m for m in self.history_of(chat) if m.id not in known])
                for chat in adopted
            ]
        if self.persistence is not None:
            for chat_id, messages in finished:
                if messages:
                    self.persistence.save(path, chat_id, messages)

    def history_of(self, chat: Chat) -> list[Message]:
        """Copies of the chat's finished messages (service lock held)."""
        streaming_id = chat.streaming.message.id if chat.streaming else None
        return [dataclasses.replace(m) for m in chat.messages if m.id != streaming_id]

    def notebook_list(self) -> list[ChatInfo]:
        """This notebook's chats, newest first, from memory alone: the ones held here as they
        are now, the others as the store last listed them (when the kernel loaded the
        notebook, and at each ``list_chats``, ``rename_chat`` and ``delete_chat``). The list a
        reply pushes is built here on its streaming thread, so ``done`` never waits on the
        database."""
        persisted = self.persisted
        with self._lock:
            infos = {
                c.chat_id: c.info(persisted) for c in self._chats.values() if c.path == self.path
            }
            for chat_id, info in self._stored_infos.items():
                infos.setdefault(chat_id, info)
        return sorted(infos.values(), key=lambda info: info.updated, reverse=True)

    def chat_list(self, scope: ChatScope) -> list[ChatInfo]:
        """This notebook's chats (``notebook``) or every notebook's (``all``), newest first:
        the ones held here as they are now, the others as the store has them now."""
        if scope == "notebook":
            self._reread_notebook()
            return self.notebook_list()
        persisted = self.persisted
        with self._lock:
            infos = {(c.path, c.chat_id): c.info(persisted) for c in self._chats.values()}
        store = self.persistence.open() if self.persistence is not None else None
        if store is not None:
            for saved in store.chats(None):
                infos.setdefault((saved.path, saved.chat_id), _stored_info(saved))
        return sorted(infos.values(), key=lambda info: info.updated, reverse=True)

    def _reread_notebook(self) -> None:
        """Refresh this notebook's stored chats from the store (a database read)."""
        store = self.persistence.open() if self.persistence is not None else None
        path = self.path
        if store is None or path is None:
            return
        stored = {saved.chat_id: _stored_info(saved) for saved in store.chats(path)}
        with self._lock:
            if self.path == path:
                self._stored_infos = stored

    def open_chat(self, chat_id: str, path: str | None = None) -> None:
        """Load a stored chat (of any notebook) under its own id; every view gets its snapshot.

        Raises ``UnknownChatError``, or ``BadRequestError`` when the id is ambiguous or
        already open here from another notebook.
        """
        held = self._held(chat_id, path)
        if held is None:
            saved = self._stored(chat_id, path)
            with self._lock:
                if chat_id in self._chats:  # opened meanwhile
                    held = self._held(chat_id, saved.path)
                else:
                    self._chats[chat_id] = _restored(saved)
                    self._drop_idle()
        self.snapshot(chat_id, self.emit)

    def rename_chat(self, chat_id: str, title: str, path: str | None = None) -> None:
        """Set a chat's title; every view gets a fresh ``chats`` list."""
        held = self._held(chat_id, path)
        if held is not None:
            with self._lock:
                held.custom_title = title
            target = held.path
        else:
            target = self._stored(chat_id, path).path
        if target is not None and self.persistence is not None and self.persistence.usable:
            self.persistence.rename(target, chat_id, title)
            self.persistence.flush()
        self._reread_notebook()
        self.emit_chat_list()

    def delete_chat(self, chat_id: str, path: str | None = None) -> None:
        """Remove a chat from this kernel and the store; every view gets the empty snapshot
        and a fresh ``chats`` list."""
        held = self._held(chat_id, path)
        if held is not None:
            self.stop(chat_id)
            with self._lock:
                if self._chats.get(chat_id) is held:
                    del self._chats[chat_id]
            target = held.path
        else:
            target = self._stored(chat_id, path).path
        if target is not None and self.persistence is not None and self.persistence.usable:
            self.persistence.delete(target, chat_id)
            self.persistence.flush()
        with self._lock:
            if target == self.path:
                self._stored_infos.pop(chat_id, None)
        self._reread_notebook()
        self.emit(Snapshot(chat_id=chat_id, messages=[], streaming=None))
        self.emit_chat_list()

    def export_source(self, chat_id: str, path: str | None = None) -> tuple[str, list[Message]]:
        """(title, finished messages) of a chat held here or stored, for an export. Another
        notebook's chat whose id this kernel holds for its own is exported as stored."""
        try:
            held = self._held(chat_id, path)
        except BadRequestError:
            held = None
        if held is not None:
            with self._lock:
                return held.title, self.history_of(held)
        saved = self._stored(chat_id, path)
        return saved.title or title_of(
            next((m.content for m in saved.messages if m.role == "user"), None)
        ), saved.messages

    def _held(self, chat_id: str, path: str | None) -> Chat | None:
        """The chat held here under ``chat_id``, if it is the one ``path`` names."""
        with self._lock:
            chat = self._chats.get(chat_id)
        if chat is None:
            return None
        if path is not None and chat.path != path:
            where = f"notebook {chat.path!r}" if chat.path else "this kernel"
            raise BadRequestError(f"chat {chat_id!r} is already open here from {where}")
        return chat

    def _stored(self, chat_id: str, path: str | None) -> StoredChat:
        """The stored chat ``chat_id`` names (this notebook's first when ``path`` is None)."""
        store = self.persistence.open() if self.persistence is not None else None
        if store is None:
            off = self.persistence is None or self.persistence.path is None
            reason = "off" if off else "unusable"
            raise UnknownChatError(
                f"chat {chat_id!r} is not open in this kernel, and chat history is {reason}"
            )
        paths = [path] if path is not None else store.paths_of(chat_id)
        if path is None and self.path in paths:
            paths = [self.path]
        if len(paths) > 1:
            raise BadRequestError(
                f"chat {chat_id!r} exists in {len(paths)} notebooks; say which with 'path'"
            )
        saved = store.load(paths[0], chat_id) if paths else None
        if saved is None:
            where = f" of notebook {path!r}" if path is not None else ""
            raise UnknownChatError(f"no stored chat {chat_id!r}{where}")
        return saved

    def _drop_idle(self) -> None:
        """Drop the least recently used idle chats beyond ``max_chats`` (lock held)."""
        excess = len(self._chats) - self.max_chats
        if excess > 0:
            idle = [c for c in self._chats.values() if c.streaming is None]
            persisted = self.persisted
            for old in idle[:excess]:
                del self._chats[old.chat_id]
                if persisted and old.path is not None and old.path == self.path:
                    self._stored_infos[old.chat_id] = old.info(persisted)

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
        tools: list[Any] | None = None,
    ) -> Stream:
        """Create the reply and mark the chat streaming (service lock held)."""
        history = [dataclasses.replace(m) for m in chat.messages]
        message = Message(role="assistant", content="", model=model_id)
        stream = Stream(message, request_id)
        stream.reply = Reply(
            model_fn,
            history,
            ChatConfig().merged(config),
            lambda event: self._record(chat, stream, event),
            model_id=model_id,
            message_id=message.id,
            pacing=self.pacing,
            tools=tools,
            allowed_tools=chat.allowed_tools,
        )
        chat.messages.append(message)
        chat.streaming = stream
        chat.updated = now_iso()
        return stream

    def _begin(self, chat_id: str, stream: Stream, model_id: str) -> None:
        start = Start(
            chat_id=chat_id,
            request_id=stream.request_id,
            message_id=stream.message.id,
            model=model_id,
        )
        self.emit(start)
        self.emit_chat_list()  # a new title, the chat first, streaming
        stream.reply.start()

    def _record(self, chat: Chat, stream: Stream, event: ReplyEvent) -> None:
        """Record one event of a reply in its chat and tell every listener."""
        with stream.lock:
            if isinstance(event, DeltaFrame):
                (stream.content if event.channel == "content" else stream.reasoning).append(
                    event.text
                )
                stream.seq = event.seq
                channel = None if event.channel == "content" else event.channel
                self.emit(
                    Delta(
                        chat_id=chat.chat_id,
                        message_id=event.message_id,
                        seq=event.seq,
                        text=event.text,
                        channel=channel,
                    )
                )
            elif isinstance(event, ToolUpdate):
                stream.tool_calls[event.call.id] = event.call
                self.emit(Tool(chat_id=chat.chat_id, message_id=event.message_id, call=event.call))
            else:
                self._finish(chat, stream, event)

    def _finish(self, chat: Chat, stream: Stream, outcome: ReplyDone) -> None:
        message = stream.message
        with self._lock:
            message.content = outcome.content
            message.reasoning = outcome.reasoning
            message.finish_reason = outcome.finish_reason
            message.tool_calls = outcome.tool_calls
            if outcome.error is not None:
                message.error = outcome.error.to_json()
            stream.finished = True
            if chat.streaming is stream:
                chat.streaming = None
            chat.updated = now_iso()
        if outcome.error is not None:
            self.emit(
                Error(
                    request_id=stream.request_id,
                    chat_id=chat.chat_id,
                    message_id=message.id,
                    error=ErrorInfo.of(outcome.error),
                )
            )
        done = Done(
            chat_id=chat.chat_id,
            message_id=message.id,
            seq=outcome.seq,
            finish_reason=outcome.finish_reason,
            length=len(outcome.content),
            usage=outcome.usage,
        )
        self.emit_chat_list()  # before done: a view that saw done has the list too
        self.emit(done)


def _stored_info(saved: StoredChat) -> ChatInfo:
    return ChatInfo(
        chat_id=saved.chat_id,
        title=saved.title or title_of(saved.auto_title),
        updated=saved.updated,
        message_count=saved.message_count,
        streaming=False,
        path=saved.path,
        persisted=True,
    )


def _restored(saved: StoredChat) -> Chat:
    return Chat(
        saved.chat_id,
        messages=saved.messages,
        updated=saved.updated,
        path=saved.path,
        custom_title=saved.title,
    )
