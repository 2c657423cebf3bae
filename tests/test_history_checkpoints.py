"""The history store in process (history.py): checkpoints of a streaming reply carry the
tool calls made so far and redact incrementally (each checkpoint scans only the text since
the last settle point) without ever writing what ``redact`` of the whole text would remove;
the writer reads a reply's text at checkpoints, never per delta; messages come back whole;
a newer schema is left alone."""

from __future__ import annotations

import json
import queue
import random
import sqlite3
import threading
from pathlib import Path
from typing import Any

from jupyter_deltachat.engine import FramePacing
from jupyter_deltachat.history import ChatStore, History, RedactedText
from jupyter_deltachat.kernel.chats import ChatService
from jupyter_deltachat.models.registry import ModelRegistry
from jupyter_deltachat.protocol import Delta, Event
from jupyter_deltachat.redact import redact, remember_secret
from jupyter_deltachat.tools import ToolRegistry, make_tool
from jupyter_deltachat.types import CallTool, ContextItem, Message, ToolCall

NOTEBOOK = "/work/notebook.ipynb"
KEY = "sk-proj-" + "A1b2C3d4E5f6G7h8I9j0" * 2

# Each piece of text redact removes, next to line breaks, quotes and ':'/'=' that a settle
# point must not split.
SECRET_LINES = [
    f"the key is {KEY} ok",
    f"Authorization: Bearer {KEY[8:]}",
    "api_key:\n  'hunter2hunter2'",
    'password = "correct horse battery"',
    'x-api-key\n= "abcdefgh12345678"',
    "postgres://admin:s3cr3tpassw0rd@db.example.com/x",
    "client_secret=\n\nzyxwvutsrqponmlk",
    "AKIAABCDEFGHIJKLMNOP and ASIAABCDEFGHIJKLMNOP",
    "plain words with a colon:",
    ": a line that starts with a colon",
    "",
    "gsk_0123456789abcdefXYZ",
]


def test_incremental_redaction_always_equals_redacting_the_whole_text() -> None:
    chooser = random.Random(13)
    for _ in range(200):
        lines = [chooser.choice(SECRET_LINES) for _ in range(chooser.randint(1, 12))]
        text = "\n".join(lines) + chooser.choice(["", "\n", " tail"])
        streamed = RedactedText()
        sent = 0
        while sent < len(text):
            size = chooser.randint(1, 9)
            streamed.append(text[sent : sent + size])
            sent += size
            if chooser.random() < 0.4:  # a checkpoint
                assert streamed.redacted() == redact(text[:sent]), text[:sent]
        assert streamed.redacted() == redact(text)


def test_a_long_reply_settles_as_it_streams_and_still_equals_the_whole() -> None:
    chooser = random.Random(7)
    text = "\n".join(chooser.choice(SECRET_LINES) for _ in range(4000))
    streamed = RedactedText()
    for start in range(0, len(text), 10):
        streamed.append(text[start : start + 10])
        if start == len(text) // 2 // 10 * 10:
            assert streamed.redacted() == redact(text[: start + 10])
    assert streamed.text() == text
    assert streamed.redacted() == redact(text)


def test_a_key_split_across_checkpoints_is_redacted() -> None:
    streamed = RedactedText()
    streamed.append("Settled lines first.\nAnd more.\nHere it is: \n" + KEY[:12])
    first = streamed.redacted()
    assert first == redact("Settled lines first.\nAnd more.\nHere it is: \n" + KEY[:12])
    streamed.append(KEY[12:] + " and after it\nmore text\n")
    second = streamed.redacted()
    assert KEY[12:20] not in second and KEY[:12] not in second
    assert second.endswith("Here it is: \n[redacted] and after it\nmore text\n")


def test_a_secret_learnt_mid_stream_is_removed_from_the_settled_text() -> None:
    secret = "learnt-mid-stream-" + str(random.Random().getrandbits(64))
    streamed = RedactedText()
    streamed.append(f"line one {secret}\nline two\nline three")
    assert secret in streamed.redacted()  # not a secret yet: kept, as redact keeps it
    remember_secret(secret)
    streamed.append(" goes on\n")
    assert secret not in streamed.redacted()
    assert streamed.redacted() == redact(f"line one {secret}\nline two\nline three goes on\n")


def stored_bodies(path: Path) -> list[dict[str, Any]]:
    store = ChatStore(path)
    try:
        rows = store._read("SELECT body FROM messages ORDER BY position")
    finally:
        store.close()
    return [json.loads(body) for (body,) in rows]


def test_a_checkpoint_keeps_the_tool_calls_made_so_far(tmp_path: Path) -> None:
    def double(n: int) -> int:
        """Twice n."""
        return 2 * n

    tools = ToolRegistry()
    tools.add(make_tool(double, approval="never"))
    called, release = threading.Event(), threading.Event()

    def model(messages: list[Message], config: Any) -> Any:
        if messages[-1].role == "user":
            yield f"Calling it with {KEY}.\n"
            yield CallTool("double", {"n": 21})
        else:
            yield "It is 42. "
            called.set()
            release.wait(10)
            yield "Done."

    history = History(tmp_path / "chats.sqlite3")
    service = ChatService(ModelRegistry(), tools=tools)
    history.attach(service)
    service.use_path(NOTEBOOK)
    reply = service.send("c", "double 21", model=model, tools="all")
    try:
        assert called.wait(10)
        assert history.flush()  # a checkpoint of the streaming reply
        user, partial = stored_bodies(tmp_path / "chats.sqlite3")
        assert user["content"] == "double 21"
        assert KEY not in json.dumps(partial)
        assert partial["content"].startswith("Calling it with [redacted].\n")
        calls = partial["tool_calls"]
        assert [(c["name"], c["arguments"], c["result"]) for c in calls] == [
            ("double", {"n": 21}, "42")
        ]
    finally:
        release.set()
        reply.wait(10)
    assert history.flush()
    final = stored_bodies(tmp_path / "chats.sqlite3")[1]
    assert KEY not in json.dumps(final)
    assert final["content"].startswith("Calling it with [redacted].\n")
    assert final["content"].endswith("It is 42. Done.")
    assert len(final["tool_calls"]) == 1


class RecordingQueue(queue.SimpleQueue[tuple[str, Any]]):
    """The writer's queue, recording the kind of each item put on it."""

    def __init__(self) -> None:
        super().__init__()
        self.kinds: list[str] = []

    def put(self, item: tuple[str, Any], block: bool = True, timeout: float | None = None) -> None:
        self.kinds.append(item[0])
        super().put(item, block, timeout)


def test_the_streaming_path_hands_the_writer_nothing_per_delta(tmp_path: Path) -> None:
    """The writer reads the reply's text at each checkpoint: a reply of 3,000 frames puts
    only its start and its end on the writer's queue, and a checkpoint holds exactly the
    text streamed so far."""
    half = [f"line {n}\n" for n in range(1500)]
    halfway, release = threading.Event(), threading.Event()

    def model(messages: list[Message], config: Any) -> Any:
        yield from half
        halfway.set()
        release.wait(10)
        yield from half

    history = History(tmp_path / "chats.sqlite3")
    recorded = RecordingQueue()
    history._queue = recorded
    service = ChatService(ModelRegistry(), pacing=FramePacing(shortest=0, longest=0))
    frames: list[Delta] = []

    def on_event(event: Event) -> None:
        if isinstance(event, Delta):
            frames.append(event)

    service.subscribe(on_event)
    history.attach(service)
    service.use_path(NOTEBOOK)
    reply = service.send("c", "count", model=model)
    try:
        assert halfway.wait(10)
        streamed_so_far = "".join(frame.text for frame in list(frames))
        assert history.flush()
        partial = stored_bodies(tmp_path / "chats.sqlite3")[1]
        assert streamed_so_far and partial["content"].startswith(streamed_so_far)
        assert partial["content"] == "".join(half)[: len(partial["content"])]
    finally:
        release.set()
        reply.wait(10)
    assert history.flush()
    assert len(frames) > 1000  # a frame per few deltas: the writer would have had as many
    assert recorded.kinds == ["event", "event", "flush", "done", "flush"]
    assert stored_bodies(tmp_path / "chats.sqlite3")[1]["content"] == "".join(half) * 2


def test_context_items_and_tool_calls_come_back_as_they_were(tmp_path: Path) -> None:
    """What a restart restores is each message as it was: context items, tool calls, model."""
    question = Message(
        role="user",
        content="What is in df?",
        context=[ContextItem("variable", "df", "df: DataFrame (3 x 2)", 21, False)],
    )
    answer = Message(
        role="assistant",
        content="It has three rows.",
        model="demo",
        finish_reason="stop",
        tool_calls=[ToolCall("c1", "python", {"code": "len(df)"}, "done", 0, result="3")],
    )
    history = History(tmp_path / "chats.sqlite3")
    service = ChatService(ModelRegistry())
    history.attach(service)
    service.use_path(NOTEBOOK)
    service.add_message("kept", question)
    service.add_message("kept", answer)
    assert history.flush()

    restored = ChatService(ModelRegistry())
    History(tmp_path / "chats.sqlite3").attach(restored)
    restored.use_path(NOTEBOOK)
    assert [m.to_json() for m in restored.history("kept")] == [
        question.to_json(),
        answer.to_json(),
    ]


def test_a_file_of_a_newer_schema_is_left_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "chats.sqlite3"
    ChatStore(path).close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE schema_version SET version = version + 1")
    db.close()
    before = path.read_bytes()
    history = History(path)
    assert history.open() is None
    assert history.problem is not None and "newer jupyter-deltachat" in history.problem
    assert path.read_bytes() == before
