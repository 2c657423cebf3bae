"""Chats that outlive the kernel: one SQLite file the kernels write, scoped by notebook.

``ChatStore`` is the database (stdlib ``sqlite3`` in WAL mode, a schema version and its
migrations). ``History`` subscribes to a ``ChatService`` and writes from one writer thread:
finished messages at once, a streaming one at least every ``CHECKPOINT_SECONDS``. The
streaming path does nothing per delta for history: at each checkpoint the writer reads
what the service's ``Stream`` gained since the last one. Every string passes
``redact`` before it is written. A file that is corrupt, locked or from a newer schema is
never written to: the kernel keeps its chats in memory and says why once, in its log.
"""

from __future__ import annotations

import atexit
import base64
import binascii
import json
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .engine import kernel_log
from .protocol import Done, Event, MessageAdded, Snapshot, Start
from .redact import redact, secrets_version
from .types import Message, ToolCall, now_iso

if TYPE_CHECKING:
    from .kernel.chats import ChatService, Stream

ENV_HISTORY = "JUPYTER_DELTACHAT_HISTORY"
DIR_MODE = 0o700
FILE_MODE = 0o600
CHECKPOINT_SECONDS = 1.0  # the contract asks for at least every 2 s
BUSY_TIMEOUT_SECONDS = 5.0
LOCKED_RETRY_SECONDS = 1.0
# The writer lets a burst of events settle this long before it writes (a flush ends the
# wait): its work for a reply's start and end then runs after that reply's first and last
# frames went out, instead of competing with them for the GIL.
GATHER_SECONDS = 0.05

_MIGRATIONS: list[str] = [
    # 1: chats by (notebook path, chat id); messages as the protocol's Message JSON
    """
    CREATE TABLE chats (
        id INTEGER PRIMARY KEY,
        path TEXT NOT NULL,
        chat_id TEXT NOT NULL,
        title TEXT,
        auto_title TEXT,
        created TEXT NOT NULL,
        updated TEXT NOT NULL,
        message_count INTEGER NOT NULL DEFAULT 0,
        UNIQUE (path, chat_id)
    );
    CREATE INDEX chats_by_chat_id ON chats (chat_id);
    CREATE TABLE messages (
        chat INTEGER NOT NULL,
        message_id TEXT NOT NULL,
        position INTEGER NOT NULL,
        streaming INTEGER NOT NULL DEFAULT 0,
        body TEXT NOT NULL,
        PRIMARY KEY (chat, message_id)
    ) WITHOUT ROWID;
    CREATE INDEX messages_in_order ON messages (chat, position);
    """,
]
SCHEMA_VERSION = len(_MIGRATIONS)


class HistoryUnavailable(Exception):
    """The database cannot be used; ``str()`` says why, for the one warning."""


def history_path() -> Path | None:
    """``$JUPYTER_DELTACHAT_HISTORY`` (``off``: None), else the Jupyter data dir's file."""
    setting = os.environ.get(ENV_HISTORY, "").strip()
    if setting.lower() == "off":
        return None
    if setting:
        return Path(setting).expanduser()
    from jupyter_core.paths import jupyter_data_dir

    return Path(jupyter_data_dir()) / "jupyter_deltachat" / "chats.sqlite3"


# -- what is stored -----------------------------------------------------------------------


@dataclass
class StoredChat:
    """A chat as the database holds it; ``messages`` only when it was loaded whole."""

    path: str
    chat_id: str
    title: str | None  # set by rename_chat
    auto_title: str | None  # the first user message
    updated: str
    message_count: int
    messages: list[Message] = field(default_factory=list)


def redacted_json(message: Message, *, text_redacted: bool = False) -> str:
    """The message's JSON with ``redact`` applied to every string, text attachments included.

    ``text_redacted``: ``content`` and ``reasoning`` were redacted already (a checkpoint's
    ``RedactedText``) and are not scanned again.
    """
    data = message.to_json()
    attachments = data.pop("attachments", None)
    texts = {
        key: data.pop(key) for key in ("content", "reasoning") if text_redacted and key in data
    }
    data = _redact_strings(data)
    data.update(texts)
    if attachments:
        data["attachments"] = [_redact_attachment(a) for a in attachments]
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def _redact_strings(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, list):
        return [_redact_strings(item) for item in value]
    if isinstance(value, dict):
        return {key: _redact_strings(item) for key, item in value.items()}
    return value


def _redact_attachment(attachment: dict[str, Any]) -> dict[str, Any]:
    """Text attachments are redacted inside their base64; other kinds are kept as sent."""
    kept = dict(attachment)
    kept["name"] = redact(kept["name"])
    media_type = str(kept.get("media_type", ""))
    if media_type.startswith("text/") or media_type.endswith(("json", "xml", "yaml")):
        try:
            text = base64.b64decode(kept["data"], validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            return kept
        cleaned = redact(text)
        if cleaned != text:
            kept["data"] = base64.b64encode(cleaned.encode("utf-8")).decode("ascii")
    return kept


def _message(body: str, streaming: bool) -> Message:
    message = Message.from_json(json.loads(body))
    if streaming:  # the kernel that streamed it ended before it finished
        message.finish_reason = "interrupted"
    return message


# -- the database -------------------------------------------------------------------------


class ChatStore:
    """One SQLite file shared by every kernel. Raises ``HistoryUnavailable`` when unusable.

    Writes happen in short ``BEGIN IMMEDIATE`` transactions (``write``); reads use their own
    connection, so a reader never waits for the writer thread (WAL).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self._prepare_file()
            self._writer = self._connect()
            self._migrate()
            self._reader = self._connect()
        except (sqlite3.Error, OSError) as exc:
            raise HistoryUnavailable(_reason(self.path, exc)) from None
        self._read_lock = threading.Lock()
        self._protect()

    def _prepare_file(self) -> None:
        directory = self.path.parent
        if not directory.exists():
            directory.mkdir(mode=DIR_MODE, parents=True)
            os.chmod(directory, DIR_MODE)
        if not self.path.exists():
            os.close(os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, FILE_MODE))

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(
            self.path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None, check_same_thread=False
        )
        return connection

    def _migrate(self) -> None:
        """Bring the schema to ``SCHEMA_VERSION``; a newer file is left alone."""
        db = self._writer
        version = _schema_version(db)  # reads the header: a non-database fails here
        if version > SCHEMA_VERSION:
            raise HistoryUnavailable(
                f"{self.path} was written by a newer jupyter-deltachat (schema {version}, "
                f"this one knows {SCHEMA_VERSION})"
            )
        if db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("BEGIN IMMEDIATE")  # a file another process keeps locked fails here
        try:
            version = _schema_version(db)  # another kernel may have migrated meanwhile
            if version == 0:
                db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            for number in range(version, SCHEMA_VERSION):
                for statement in _MIGRATIONS[number].split(";"):
                    if statement.strip():
                        db.execute(statement)
            if version != SCHEMA_VERSION:
                db.execute("DELETE FROM schema_version")
                db.execute("INSERT INTO schema_version VALUES (?)", (SCHEMA_VERSION,))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def _protect(self) -> None:
        """0600 for the database and its side files (only once it proved to be ours)."""
        os.chmod(self.path, FILE_MODE)
        for suffix in ("-wal", "-shm"):
            side = self.path.with_name(self.path.name + suffix)
            if side.exists():
                os.chmod(side, FILE_MODE)

    def close(self) -> None:
        self._writer.close()
        self._reader.close()

    # -- writing (the writer thread) ---------------------------------------------------

    @contextmanager
    def write(self) -> Iterator[StoreWriter]:
        """One transaction; sqlite3 errors propagate (the caller decides to retry or stop)."""
        db = self._writer
        db.execute("BEGIN IMMEDIATE")
        writer = StoreWriter(db)
        try:
            yield writer
            writer.count_messages()
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    # -- reading -----------------------------------------------------------------------

    def _read(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._read_lock:
            return self._reader.execute(sql, args).fetchall()

    def chats(self, path: str | None) -> list[StoredChat]:
        """The chats of notebook ``path`` (None: of every notebook), without messages."""
        columns = "path, chat_id, title, auto_title, updated, message_count"
        if path is None:
            rows = self._read(f"SELECT {columns} FROM chats")
        else:
            rows = self._read(f"SELECT {columns} FROM chats WHERE path = ?", (path,))
        return [StoredChat(*row) for row in rows]

    def paths_of(self, chat_id: str) -> list[str]:
        return [
            row[0] for row in self._read("SELECT path FROM chats WHERE chat_id = ?", (chat_id,))
        ]

    def load(self, path: str, chat_id: str) -> StoredChat | None:
        """One chat with its messages in order, or None."""
        with self._read_lock:
            db = self._reader
            db.execute("BEGIN")
            try:
                row = db.execute(
                    "SELECT id, path, chat_id, title, auto_title, updated, message_count "
                    "FROM chats WHERE path = ? AND chat_id = ?",
                    (path, chat_id),
                ).fetchone()
                if row is None:
                    return None
                bodies = db.execute(
                    "SELECT body, streaming FROM messages WHERE chat = ? ORDER BY position",
                    (row[0],),
                ).fetchall()
            finally:
                db.execute("COMMIT")
        chat = StoredChat(*row[1:])
        chat.messages = [_message(body, bool(streaming)) for body, streaming in bodies]
        return chat

    def load_notebook(self, path: str) -> list[StoredChat]:
        """Every chat of notebook ``path`` with its messages."""
        loaded = (self.load(path, info.chat_id) for info in self.chats(path))
        return [chat for chat in loaded if chat is not None]


class StoreWriter:
    """The statements of one write transaction."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        self._touched: set[int] = set()

    def chat_row(self, path: str, chat_id: str, updated: str | None = None) -> int:
        """The chat's row id, created when new; ``updated`` moves its time."""
        stamp = updated or now_iso()
        row = self.db.execute(
            "INSERT INTO chats (path, chat_id, created, updated) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (path, chat_id) DO UPDATE SET updated = "
            "CASE WHEN ? IS NULL THEN chats.updated ELSE excluded.updated END "
            "RETURNING id",
            (path, chat_id, stamp, stamp, updated),
        ).fetchone()
        return int(row[0])

    def put(
        self,
        path: str,
        chat_id: str,
        message: Message,
        *,
        streaming: bool = False,
        text_redacted: bool = False,
    ) -> None:
        """Insert or update one message; a new one goes after the chat's last.

        ``text_redacted``: as in ``redacted_json`` (a streaming reply's checkpoint)."""
        chat = self.chat_row(path, chat_id, now_iso())
        self.db.execute(
            "INSERT INTO messages (chat, message_id, position, streaming, body) VALUES "
            "(?, ?, (SELECT COALESCE(MAX(position), 0) + 1 FROM messages WHERE chat = ?), ?, ?) "
            "ON CONFLICT (chat, message_id) DO UPDATE SET "
            "streaming = excluded.streaming, body = excluded.body",
            (
                chat,
                message.id,
                chat,
                int(streaming),
                redacted_json(message, text_redacted=text_redacted),
            ),
        )
        if message.role == "user":
            title = redact(message.content)
            self.db.execute(
                "UPDATE chats SET auto_title = ? WHERE id = ? AND auto_title IS NULL",
                (title[:1000], chat),
            )
        self._touched.add(chat)

    def keep_only(self, path: str, chat_id: str, keep: set[str], messages: list[Message]) -> None:
        """Delete the chat's messages whose ids are not in ``keep``; add ``messages`` it lacks
        (a snapshot after clear or regenerate)."""
        chat = self.chat_row(path, chat_id, now_iso())
        stored = {
            row[0]
            for row in self.db.execute("SELECT message_id FROM messages WHERE chat = ?", (chat,))
        }
        self.db.executemany(
            "DELETE FROM messages WHERE chat = ? AND message_id = ?",
            [(chat, gone) for gone in stored - keep],
        )
        for message in messages:
            if message.id not in stored:
                self.put(path, chat_id, message)
        if not keep:
            self.db.execute("UPDATE chats SET auto_title = NULL WHERE id = ?", (chat,))
        self._touched.add(chat)

    def delete(self, path: str, chat_id: str) -> None:
        row = self.db.execute(
            "DELETE FROM chats WHERE path = ? AND chat_id = ? RETURNING id", (path, chat_id)
        ).fetchone()
        if row is not None:
            self.db.execute("DELETE FROM messages WHERE chat = ?", (row[0],))
            self._touched.discard(row[0])

    def rename(self, path: str, chat_id: str, title: str) -> None:
        chat = self.chat_row(path, chat_id)
        self.db.execute("UPDATE chats SET title = ? WHERE id = ?", (redact(title), chat))

    def count_messages(self) -> None:
        self.db.executemany(
            "UPDATE chats SET message_count = (SELECT COUNT(*) FROM messages WHERE chat = ?) "
            "WHERE id = ?",
            [(chat, chat) for chat in self._touched],
        )


def _schema_version(db: sqlite3.Connection) -> int:
    exists = db.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
    ).fetchone()
    if exists is None:
        return 0
    row = db.execute("SELECT MAX(version) FROM schema_version").fetchone()
    return int(row[0] or 0)


def _reason(path: Path, exc: BaseException) -> str:
    if isinstance(exc, HistoryUnavailable):
        return str(exc)
    text = str(exc)
    if "locked" in text or "busy" in text:
        return f"{path} is locked by another process ({text})"
    if isinstance(exc, sqlite3.DatabaseError):
        return f"{path} is not a usable chat database ({text}); it is left as it is"
    return f"{path} cannot be opened ({type(exc).__name__}: {text})"


# -- the kernel's writer ------------------------------------------------------------------

_NAMED_SECRET_MARKS = frozenset(":=\"'")  # what joins a secret's name to its value
_SETTLE_CANDIDATES = 8  # line breaks tried, from the end, when settling
_SETTLE_CHUNK = 4_096  # characters after the settle point that make the writer settle


class RedactedText:
    """A streaming text that grows by deltas, redacted as it grows.

    Redacting the whole reply at every checkpoint made each checkpoint cost its full length
    (a 1 MB reply: about 0.1 s of regex per checkpoint, holding the GIL against the
    streaming thread). Here the text up to a *settle point* is redacted once and kept; each
    checkpoint redacts only what came after it. A settle point is a line break that no
    secret pattern of ``redact`` can reach across: key shapes, bearer tokens and URL
    passwords never hold white space, and a ``name: value`` pair can span a line break
    only next to its ``:``/``=`` or a quote, so a line break is a settle point when the
    last non-blank character before it and the first one after it are none of those (the
    characters after it must have arrived). Secrets the process remembers are single-line
    values (keys, URLs). When ``redact`` learns a new secret, everything is redone. So
    ``redacted()`` always equals ``redact(the whole text)``.

    The writer feeds it ``_SETTLE_CHUNK`` characters at a time and it settles after each,
    so the text since the last checkpoint is redacted in small steps, between which the
    GIL is free for the kernel's other threads; the finished message reuses it.
    """

    def __init__(self) -> None:
        self._raw: list[str] = []  # the settled part, as it came
        self._settled: list[str] = []  # the settled part, redacted
        self._tail: list[str] = []  # deltas after the settle point
        self._tail_size = 0
        self._version = secrets_version()

    def append(self, text: str) -> None:
        self._tail.append(text)
        self._tail_size += len(text)
        if self._tail_size >= _SETTLE_CHUNK:
            self._settle()

    def __bool__(self) -> bool:
        return bool(self._raw or any(self._tail))

    def text(self) -> str:
        """The whole text as it came."""
        return "".join(self._raw) + "".join(self._tail)

    def redacted(self) -> str:
        tail = self._settle()
        return "".join(self._settled) + redact(tail)

    def _settle(self) -> str:
        """Redact up to the last settle point; the rest (raw) is returned and kept."""
        version = secrets_version()
        if version != self._version:
            self._tail[:0] = self._raw
            self._raw, self._settled, self._version = [], [], version
        tail = "".join(self._tail)
        cut = _settle_point(tail)
        if cut:
            self._raw.append(tail[:cut])
            self._settled.append(redact(tail[:cut]))
            tail = tail[cut:]
        self._tail = [tail] if tail else []
        self._tail_size = len(tail)
        return tail


def _as_streamed(message: Message, stream: _Streaming) -> bool:
    """Give the finished ``message`` the redacted text its deltas built, when it is exactly
    what was streamed (then only the last few KB are scanned); False: redact it whole."""
    reasoning = message.reasoning or ""
    if message.content != stream.content.text() or reasoning != stream.reasoning.text():
        return False
    message.content = stream.content.redacted()
    message.reasoning = stream.reasoning.redacted() if message.reasoning else message.reasoning
    return True


def _settle_point(text: str) -> int:
    """The end of the last line break (of the last few) that no secret spans; 0: none."""
    end = len(text)
    for _ in range(_SETTLE_CANDIDATES):
        newline = text.rfind("\n", 0, end)
        if newline < 0:
            return 0
        before = newline - 1
        while before >= 0 and text[before].isspace():
            before -= 1
        after = newline + 1
        while after < len(text) and text[after].isspace():
            after += 1
        joins_after = after == len(text) or text[after] in _NAMED_SECRET_MARKS
        joins_before = before >= 0 and text[before] in _NAMED_SECRET_MARKS
        if not joins_after and not joins_before:
            return newline + 1
        end = newline
    return 0


@dataclass
class _Streaming:
    """A reply being streamed, as far as the writer has read it from the service's
    ``Stream`` (whose delta lists only grow) and written it."""

    path: str
    chat_id: str
    message: Message
    source: Stream
    content: RedactedText = field(default_factory=RedactedText)
    reasoning: RedactedText = field(default_factory=RedactedText)
    content_read: int = 0  # deltas of ``source.content`` taken so far
    reasoning_read: int = 0
    tool_calls: list[ToolCall] = field(default_factory=list)  # as last read
    written: float = 0.0  # time.monotonic() of the last checkpoint
    checkpointed: bool = False  # whether a first checkpoint was written

    def catch_up(self) -> bool:
        """Take what the stream gained since the last call; whether anything changed.

        A list slice and a dict copy are atomic under the GIL, so the streaming thread
        never waits; the new text is redacted ``_SETTLE_CHUNK`` characters at a time.
        """
        content = self.source.content[self.content_read :]
        reasoning = self.source.reasoning[self.reasoning_read :]
        calls = list(self.source.tool_calls.values())
        self.content_read += len(content)
        self.reasoning_read += len(reasoning)
        for deltas, text in ((content, self.content), (reasoning, self.reasoning)):
            added = "".join(deltas)
            for start in range(0, len(added), _SETTLE_CHUNK):
                text.append(added[start : start + _SETTLE_CHUNK])
        changed = bool(content or reasoning) or calls != self.tool_calls
        self.tool_calls = calls
        return changed


Operation = Callable[[StoreWriter], None]


class History:
    """The kernel's history: a ``ChatService`` subscriber that writes from its own thread.

    ``path`` None means history is off. When the file cannot be used, ``problem`` says why
    (logged once) and nothing is written: chats stay in memory.
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.problem: str | None = None
        self.store: ChatStore | None = None
        self._service: ChatService | None = None
        self._queue: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        self._streams: dict[str, _Streaming] = {}
        self._pending: list[Operation] = []
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._warned_locked = False

    @property
    def usable(self) -> bool:
        return self.open() is not None

    def open(self) -> ChatStore | None:
        """The store, opened on first use; None when off or unusable (warned once)."""
        with self._lock:
            if self.store is not None or self.path is None or self.problem is not None:
                return self.store
            try:
                self.store = ChatStore(self.path)
            except HistoryUnavailable as exc:
                self._give_up(str(exc))
                return None
            self._thread = threading.Thread(target=self._run, name="deltachat-history", daemon=True)
            self._thread.start()
            atexit.register(self.flush)
            return self.store

    def _give_up(self, reason: str) -> None:
        self.problem = reason
        kernel_log(f"chat history is off in this kernel: {reason}; chats are kept in memory only")

    def attach(self, service: ChatService) -> None:
        """Record ``service``'s chats from now on."""
        self._service = service
        service.persistence = self
        service.subscribe(self._on_event)

    # -- what the service asks for -----------------------------------------------------

    def save(self, path: str, chat_id: str, messages: list[Message]) -> None:
        """Append a whole chat held in memory (a kernel that just learned its notebook)."""

        def save(writer: StoreWriter) -> None:
            for message in messages:
                writer.put(path, chat_id, message)

        self._submit(save)

    def delete(self, path: str, chat_id: str) -> None:
        if self.open() is not None:
            self._queue.put(("delete", (path, chat_id)))

    def rename(self, path: str, chat_id: str, title: str) -> None:
        self._submit(lambda w: w.rename(path, chat_id, title))

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything submitted so far is written (or given up on)."""
        if self._thread is None or not self._thread.is_alive():
            return True
        written = threading.Event()
        self._queue.put(("flush", written))
        return written.wait(timeout)

    def _submit(self, operation: Operation) -> None:
        if self.open() is not None:
            self._queue.put(("op", operation))

    # -- events (called on the streaming path: deltas and tool updates cost nothing) ----

    def _on_event(self, event: Event) -> None:
        if self.store is None:
            return
        if isinstance(event, (MessageAdded, Start, Snapshot)):
            path = self._service.path_of(event.chat_id) if self._service else None
            if path is not None:
                self._queue.put(("event", (path, event)))
        elif isinstance(event, Done):
            self._queue.put(("done", event))

    # -- the writer thread -------------------------------------------------------------

    def _run(self) -> None:
        while True:
            items = self._gather()
            flushed: list[threading.Event] = []
            for item in items:
                if item is None:
                    continue
                kind, payload = item
                if kind == "flush":
                    flushed.append(payload)
                else:
                    self._apply(kind, payload)
            self._checkpoint(force=bool(flushed))
            self._write()
            for event in flushed:
                event.set()
            if self.problem is not None and self.store is None:
                return

    def _gather(self) -> list[tuple[str, Any] | None]:
        """The next items: the first (None when a checkpoint is due), then all that come
        within ``GATHER_SECONDS`` of it or before a flush, then whatever is queued."""
        items = [self._next(self._due())]
        deadline = time.monotonic() + GATHER_SECONDS
        while items[0] is not None and items[-1] is not None and items[-1][0] != "flush":
            items.append(self._next(max(0.0, deadline - time.monotonic())))
        while True:
            try:
                items.append(self._queue.get_nowait())
            except queue.Empty:
                return items

    def _next(self, timeout: float | None) -> tuple[str, Any] | None:
        try:
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            return None

    def _due(self) -> float | None:
        """Seconds until the next checkpoint or retry is due; None: nothing to do."""
        if self._pending:
            return LOCKED_RETRY_SECONDS
        if not self._streams:
            return None
        last = min(s.written for s in self._streams.values())
        return max(0.0, last + CHECKPOINT_SECONDS - time.monotonic())

    def _apply(self, kind: str, payload: Any) -> None:
        service = self._service
        if kind == "op":
            self._pending.append(payload)
        elif kind == "delete":
            path, chat_id = payload
            self._forget_streams(path, chat_id, keep=set())
            self._pending.append(lambda w: w.delete(path, chat_id))
        elif kind == "done":
            stream = self._streams.pop(payload.message_id, None)
            found = service.stored_message(payload.chat_id, payload.message_id) if service else None
            if found is not None:
                path, message = found
                if stream is not None:
                    stream.catch_up()
                streamed = stream is not None and _as_streamed(message, stream)
                self._pending.append(
                    lambda w: w.put(path, payload.chat_id, message, text_redacted=streamed)
                )
        else:
            path, event = payload
            if isinstance(event, MessageAdded):
                message = event.message
                self._pending.append(lambda w: w.put(path, event.chat_id, message))
            elif isinstance(event, Start):
                found = service and service.streaming_reply(event.chat_id, event.message_id)
                if found:
                    _, message, source = found
                    self._streams[event.message_id] = _Streaming(
                        path, event.chat_id, message, source
                    )
            elif isinstance(event, Snapshot):
                held = {m.id for m in event.messages}
                self._forget_streams(path, event.chat_id, keep=held)  # cleared or replaced
                finished = [m for m in event.messages if m.id not in self._streams]
                if event.streaming is not None:
                    finished = [m for m in finished if m.id != event.streaming.message_id]
                self._pending.append(lambda w: w.keep_only(path, event.chat_id, held, finished))

    def _forget_streams(self, path: str, chat_id: str, keep: set[str]) -> None:
        """Stop following the chat's replies whose message ids are not in ``keep``."""
        for key, stream in list(self._streams.items()):
            if (stream.path, stream.chat_id) == (path, chat_id) and key not in keep:
                del self._streams[key]

    def _checkpoint(self, *, force: bool) -> None:
        """Queue a write of every streaming reply whose checkpoint is due and that changed
        (the first one always: a reply killed at once still comes back, interrupted)."""
        now = time.monotonic()
        for stream in self._streams.values():
            if not force and now - stream.written < CHECKPOINT_SECONDS:
                continue
            stream.written = now
            if not stream.catch_up() and stream.checkpointed:
                continue
            stream.checkpointed = True
            stream.message.content = stream.content.redacted()
            stream.message.reasoning = stream.reasoning.redacted() if stream.reasoning else None
            stream.message.tool_calls = list(stream.tool_calls)
            partial = Message.from_json(stream.message.to_json())
            self._pending.append(
                lambda w, s=stream, m=partial: w.put(
                    s.path, s.chat_id, m, streaming=True, text_redacted=True
                )
            )

    def _write(self) -> None:
        """Run the pending operations in one transaction; keep them when the file is busy."""
        store = self.store
        if not self._pending or store is None:
            return
        try:
            with store.write() as writer:
                for operation in self._pending:
                    operation(writer)
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                if not self._warned_locked:
                    self._warned_locked = True
                    kernel_log(f"chat history: {self.path} is locked; retrying ({exc})")
                return
            self._stop_writing(exc)
            return
        except sqlite3.Error as exc:
            self._stop_writing(exc)
            return
        self._pending = []

    def _stop_writing(self, exc: BaseException) -> None:
        with self._lock:
            self._give_up(_reason(self.path or Path(), exc))
            if self.store is not None:
                self.store.close()
            self.store = None
            self._pending = []
            self._streams.clear()
