"""Chat history through real kernels (protocol 1.1 section 3): restart restores, a killed
kernel loses at most ~2 s, concurrent kernels lose nothing, a corrupt or locked file is
left alone, ``off``, scoping by notebook, open / rename / delete / export, no secret and
exact file modes in what the store writes."""

from __future__ import annotations

import os
import signal
import sqlite3
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from kernel_client import CommClient, KernelHarness

from jupyter_deltachat.history import ChatStore

MODELS = r"""
import jupyter_deltachat as dc
import time
from jupyter_deltachat.stop import on_stop, pause

@dc.register("echo")
def echo(messages):
    return "echo: " + messages[-1].content

@dc.register("coder")
def coder(messages):
    return "Run this:\n\n```python\nprint('hi')\n```\n\nor this:\n\n```bash\nls\n```"

@dc.register("stuck")
def stuck(messages):
    on_stop(lambda: None)  # no KeyboardInterrupt: a stop abandons it after 0.6 s
    yield "started "
    time.sleep(5)

@dc.register("counting")
def counting(messages):
    for number in range(100_000):
        yield f"{number} "
        if pause(0.01):
            return
"""
PROBLEM = "__import__('jupyter_deltachat.kernel').kernel.HISTORY.problem"
FLUSH = "import jupyter_deltachat.kernel as _k; assert _k.HISTORY.flush()"
KEY = "sk-proj-" + "Q7x2" * 8
REMEMBERED = "hunter2-remembered-secret"


class Kernels:
    """Kernels started by one test, all shut down (or already killed) at its end."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.history = tmp_path / "store" / "chats.sqlite3"
        self.started: list[KernelHarness] = []

    def start(self, notebook: str | None = "/srv/nb/one.ipynb", **env: str) -> KernelHarness:
        settings = {
            "JUPYTER_DELTACHAT_CREDENTIALS": str(self.tmp_path / "credentials.json"),
            "JUPYTER_DELTACHAT_HISTORY": str(self.history),
            "JUPYTER_DATA_DIR": str(self.tmp_path / "data"),
        }
        if notebook is not None:
            settings["JPY_SESSION_NAME"] = notebook
        settings.update(env)
        kernel = KernelHarness(settings)
        self.started.append(kernel)
        kernel.execute(MODELS)
        return kernel

    def shutdown(self) -> None:
        for kernel in self.started:
            kernel.shutdown()


@pytest.fixture
def kernels(tmp_path: Path) -> Iterator[Kernels]:
    started = Kernels(tmp_path)
    try:
        yield started
    finally:
        started.shutdown()


def connect(kernel: KernelHarness, hello: dict[str, Any] | None = None) -> tuple[CommClient, dict]:
    client = CommClient(kernel)
    if hello is None:
        return client, client.open()
    client.open({"type": "hello", "protocol": 1, **hello})
    return client, client.next("ready")


def reply(client: CommClient, chat_id: str, content: str, model: str = "echo") -> dict:
    client.send(
        {
            "type": "send",
            "request_id": f"r-{time.monotonic_ns()}",
            "chat_id": chat_id,
            "content": content,
            "model": model,
        }
    )
    return client.stream().done


def snapshot(client: CommClient, chat_id: str) -> dict:
    return client.request({"type": "sync", "chat_id": chat_id}, "snapshot")


def stored(history: Path, notebook: str) -> dict[str, list[tuple[str, str]]]:
    """chat id -> (role, content) of each stored message, read from the file itself."""
    store = ChatStore(history)
    try:
        return {
            chat.chat_id: [(m.role, m.content) for m in chat.messages]
            for chat in store.load_notebook(notebook)
        }
    finally:
        store.close()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# -- restore -----------------------------------------------------------------------------


def test_a_restarted_kernel_restores_its_notebooks_chats(kernels: Kernels) -> None:
    first = kernels.start()
    client, ready = connect(first)
    assert ready["chats"] == []
    reply(client, "default", "one")
    reply(client, "default", "two")
    reply(client, "other", "three")
    before = {chat_id: snapshot(client, chat_id)["messages"] for chat_id in ("default", "other")}
    first.execute(FLUSH)
    first.shutdown()
    kernels.started.remove(first)

    second = kernels.start()
    client, ready = connect(second)
    chats = {info["chat_id"]: info for info in ready["chats"]}
    assert set(chats) == {"default", "other"}
    assert chats["default"]["title"] == "one"
    assert chats["default"]["message_count"] == 4
    assert chats["default"]["path"] == "/srv/nb/one.ipynb"
    assert chats["default"]["persisted"] is True
    for chat_id, messages in before.items():
        assert snapshot(client, chat_id)["messages"] == messages  # same ids, same content
    reply(client, "default", "three")  # it goes on where it was
    assert [m["content"] for m in snapshot(client, "default")["messages"]][-2:] == [
        "three",
        "echo: three",
    ]


def test_files_are_private_and_hold_no_secret(kernels: Kernels) -> None:
    kernel = kernels.start()
    kernel.execute(
        f"from jupyter_deltachat.redact import remember_secret\nremember_secret({REMEMBERED!r})"
    )
    client, _ = connect(kernel)
    reply(client, "default", f"my key is {KEY} and {REMEMBERED}")
    client.send({"type": "rename_chat", "chat_id": "default", "title": f"key {KEY}"})
    client.next("chats")
    kernel.execute(FLUSH)
    directory = kernels.history.parent
    files = sorted(p.name for p in directory.iterdir())
    assert files == ["chats.sqlite3", "chats.sqlite3-shm", "chats.sqlite3-wal"]
    assert mode(directory) == 0o700
    for name in files:
        assert mode(directory / name) == 0o600, name
        raw = (directory / name).read_bytes()
        assert KEY.encode() not in raw and REMEMBERED.encode() not in raw, name
        assert KEY[:16].encode() not in raw, name
    assert stored(kernels.history, "/srv/nb/one.ipynb")["default"][0] == (
        "user",
        "my key is [redacted] and [redacted]",
    )


# -- a killed kernel ---------------------------------------------------------------------


def test_a_killed_kernel_loses_at_most_about_two_seconds(kernels: Kernels) -> None:
    kernel = kernels.start()
    client, _ = connect(kernel)
    client.send(
        {
            "type": "send",
            "request_id": "r",
            "chat_id": "default",
            "content": "go",
            "model": "counting",
        }
    )
    start = client.next("start")
    received: list[tuple[float, str]] = []
    text = ""
    while not received or received[-1][0] - received[0][0] < 4.0:
        delta = client.next("delta")
        text += delta["text"]
        received.append((delta["_received"], text))
    os.kill(kernel.manager.provisioner.process.pid, signal.SIGKILL)
    killed = time.monotonic()
    kernel.manager.provisioner.process.wait()

    restarted = kernels.start()
    client, ready = connect(restarted)
    assert [info["message_count"] for info in ready["chats"]] == [2]
    kept = snapshot(client, "default")["messages"][-1]
    assert kept["id"] == start["message_id"]
    assert kept["finish_reason"] == "interrupted"
    assert text.startswith(kept["content"])
    older = [seen for at, seen in received if at <= killed - 2.5]
    assert older and kept["content"].startswith(older[-1]), "more than ~2 s was lost"


# -- many kernels, one file --------------------------------------------------------------


def test_three_kernels_writing_at_once_lose_nothing(kernels: Kernels) -> None:
    notebooks = [f"/srv/nb/k{n}.ipynb" for n in range(3)]
    started = [kernels.start(notebook) for notebook in notebooks]
    failures: list[BaseException] = []

    def chat(kernel: KernelHarness, label: str) -> None:
        try:
            client, _ = connect(kernel)
            for n in range(30):
                client.send(
                    {
                        "type": "send",
                        "request_id": f"r{n}",
                        "chat_id": f"c{n}",
                        "content": f"{label}-{n}",
                        "model": "echo",
                    }
                )
            dones = [client.next("done") for _ in range(30)]
            assert all(done["finish_reason"] == "stop" for done in dones)
            kernel.execute(FLUSH)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            failures.append(exc)

    threads = [
        threading.Thread(target=chat, args=(kernel, f"k{n}")) for n, kernel in enumerate(started)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    for n, notebook in enumerate(notebooks):
        assert stored(kernels.history, notebook) == {
            f"c{i}": [("user", f"k{n}-{i}"), ("assistant", f"echo: k{n}-{i}")] for i in range(30)
        }


# -- an unusable file --------------------------------------------------------------------


def test_a_corrupt_file_is_never_written(kernels: Kernels) -> None:
    kernels.history.parent.mkdir(mode=0o755)
    garbage = b"this is not a database\n" * 200
    kernels.history.write_bytes(garbage)
    kernel = kernels.start()
    client, ready = connect(kernel)
    assert reply(client, "default", "still works")["finish_reason"] == "stop"
    assert ready["chats"] == [] or not any(info["persisted"] for info in ready["chats"])
    listed = client.request({"type": "list_chats", "scope": "notebook"}, "chats")
    assert [(info["chat_id"], info["persisted"]) for info in listed["chats"]] == [
        ("default", False)
    ]
    problem = kernel.evaluate(PROBLEM)
    assert "not a usable chat database" in problem
    assert kernels.history.read_bytes() == garbage
    assert sorted(p.name for p in kernels.history.parent.iterdir()) == ["chats.sqlite3"]


def test_a_locked_file_is_left_alone(kernels: Kernels) -> None:
    ChatStore(kernels.history).close()
    before = kernels.history.read_bytes()
    holder = sqlite3.connect(kernels.history, isolation_level=None)
    holder.execute("PRAGMA locking_mode=EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")  # held until the end (reading the file would drop it)
    try:
        kernel = kernels.start()
        client, _ = connect(kernel)
        assert reply(client, "default", "in memory")["finish_reason"] == "stop"
        listed = client.request({"type": "list_chats", "scope": "notebook"}, "chats")
        assert [info["persisted"] for info in listed["chats"]] == [False]
        assert "is locked by another process" in kernel.evaluate(PROBLEM)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert kernels.history.read_bytes() == before
    assert sorted(p.name for p in kernels.history.parent.iterdir()) == ["chats.sqlite3"]


def test_off_keeps_nothing(kernels: Kernels) -> None:
    kernel = kernels.start(JUPYTER_DELTACHAT_HISTORY="off")
    client, _ = connect(kernel)
    reply(client, "default", "forget me")
    assert [
        i["persisted"]
        for i in client.request({"type": "list_chats", "scope": "all"}, "chats")["chats"]
    ] == [False]
    error = client.request({"type": "open_chat", "chat_id": "elsewhere"}, "error")
    assert error["error"]["code"] == "unknown_chat"
    assert "history is off" in error["error"]["message"]
    assert not kernels.history.exists()
    assert not (kernels.tmp_path / "data").exists()


def test_the_default_place_is_the_jupyter_data_dir(kernels: Kernels) -> None:
    kernel = kernels.start(JUPYTER_DELTACHAT_HISTORY="")
    client, _ = connect(kernel)
    reply(client, "default", "here")
    kernel.execute(FLUSH)
    default = kernels.tmp_path / "data" / "jupyter_deltachat" / "chats.sqlite3"
    assert stored(default, "/srv/nb/one.ipynb") == {
        "default": [("user", "here"), ("assistant", "echo: here")]
    }
    assert mode(default.parent) == 0o700 and mode(default) == 0o600


# -- scope, open, rename, delete ---------------------------------------------------------


def test_chats_are_scoped_by_notebook_and_open_across(kernels: Kernels) -> None:
    first = kernels.start("/srv/nb/a.ipynb")
    client_a, _ = connect(first)
    reply(client_a, "default", "in a")
    reply(client_a, "chat-a", "also in a")
    first.execute(FLUSH)

    second = kernels.start(None)  # no JPY_SESSION_NAME: the notebook comes with hello
    client_b, ready = connect(second, {"path": "/srv/nb/b.ipynb"})
    assert ready["chats"] == []
    watcher, _ = connect(second)
    reply(client_b, "default", "in b")
    client_b.drain()  # the lists the reply brought (sent before its done)
    listed = client_b.request({"type": "list_chats", "scope": "notebook"}, "chats")
    assert [(i["chat_id"], i["path"]) for i in listed["chats"]] == [("default", "/srv/nb/b.ipynb")]
    everything = client_b.request({"type": "list_chats", "scope": "all"}, "chats")
    assert everything["scope"] == "all"
    assert sorted((i["path"], i["chat_id"]) for i in everything["chats"]) == [
        ("/srv/nb/a.ipynb", "chat-a"),
        ("/srv/nb/a.ipynb", "default"),
        ("/srv/nb/b.ipynb", "default"),
    ]

    ambiguous = client_b.request(
        {"type": "open_chat", "chat_id": "default", "path": "/srv/nb/a.ipynb"}, "error"
    )
    assert ambiguous["error"]["code"] == "bad_request"
    assert "already open here" in ambiguous["error"]["message"]
    exported = client_b.request(
        {
            "type": "export",
            "request_id": "x",
            "chat_id": "default",
            "format": "markdown",
            "path": "/srv/nb/a.ipynb",
        },
        "exported",
    )
    assert "in a" in exported["content"] and "in b" not in exported["content"]
    client_b.send({"type": "open_chat", "chat_id": "chat-a"})
    for view in (client_b, watcher):  # every comm gets the snapshot
        opened = view.next("snapshot")
        assert [m["content"] for m in opened["messages"]] == ["also in a", "echo: also in a"]
    reply(client_b, "chat-a", "more from b")
    second.execute(FLUSH)
    assert stored(kernels.history, "/srv/nb/a.ipynb")["chat-a"][-1] == (
        "assistant",
        "echo: more from b",
    )
    assert "chat-a" not in stored(kernels.history, "/srv/nb/b.ipynb")

    unknown = client_b.request({"type": "open_chat", "chat_id": "nowhere"}, "error")
    assert (unknown["error"]["code"], unknown["chat_id"]) == ("unknown_chat", "nowhere")


def test_rename_and_delete(kernels: Kernels) -> None:
    kernel = kernels.start()
    client, _ = connect(kernel)
    watcher, _ = connect(kernel)
    reply(client, "default", "keep")
    reply(client, "doomed", "drop")
    client.drain()  # the lists the replies brought (each sent before its done)
    watcher.stream(), watcher.stream(), watcher.drain()
    client.send({"type": "rename_chat", "chat_id": "default", "title": "Kept chat"})
    for view in (client, watcher):
        chats = view.next("chats")
        assert chats["scope"] == "notebook"
        assert {i["chat_id"]: i["title"] for i in chats["chats"]} == {
            "default": "Kept chat",
            "doomed": "drop",
        }
    too_long = client.request(
        {"type": "rename_chat", "chat_id": "default", "title": "x" * 201}, "error"
    )
    assert too_long["error"]["message"] == (
        "rename_chat: 'title' has 201 code points; the limit is 200"
    )
    empty = client.request({"type": "rename_chat", "chat_id": "default", "title": " "}, "error")
    assert empty["error"]["code"] == "bad_request"

    client.send({"type": "delete_chat", "chat_id": "doomed"})
    for view in (client, watcher):
        emptied = view.next("snapshot")
        assert (emptied["chat_id"], emptied["messages"], emptied["streaming"]) == (
            "doomed",
            [],
            None,
        )
        assert [i["chat_id"] for i in view.next("chats")["chats"]] == ["default"]
    kernel.execute(FLUSH)
    assert set(stored(kernels.history, "/srv/nb/one.ipynb")) == {"default"}
    store = ChatStore(kernels.history)
    assert [c.title for c in store.chats("/srv/nb/one.ipynb")] == ["Kept chat"]
    store.close()
    gone = client.request({"type": "delete_chat", "chat_id": "doomed"}, "error")
    assert gone["error"]["code"] == "unknown_chat"


# -- export ------------------------------------------------------------------------------


def test_export_markdown_and_notebook(kernels: Kernels) -> None:
    kernel = kernels.start()
    client, _ = connect(kernel)
    reply(client, "default", "code: please / now?", model="coder")
    client.send({"type": "export", "request_id": "e1", "chat_id": "default", "format": "markdown"})
    exported = client.next("exported")
    assert (exported["request_id"], exported["format"]) == ("e1", "markdown")
    assert exported["filename"] == "code- please - now.md"
    assert exported["content"] == (
        "# code: please / now?\n\n## User\n\ncode: please / now?\n\n## Assistant (coder)\n\n"
        "Run this:\n\n```python\nprint('hi')\n```\n\nor this:\n\n```bash\nls\n```\n"
    )

    client.send({"type": "export", "request_id": "e2", "chat_id": "default", "format": "ipynb"})
    exported = client.next("exported")
    assert exported["filename"] == "code- please - now.ipynb"
    document = nbformat.reads(exported["content"], as_version=4)
    nbformat.validate(document)
    assert [(cell.cell_type, cell.source) for cell in document.cells] == [
        ("markdown", "# code: please / now?"),
        ("markdown", "**User**\n\ncode: please / now?"),
        (
            "markdown",
            "**Assistant (coder)**\n\nRun this:\n\n```python\nprint('hi')\n```\n\n"
            "or this:\n\n```bash\nls\n```",
        ),
        ("code", "print('hi')"),
    ]

    bad = client.request(
        {"type": "export", "request_id": "e3", "chat_id": "default", "format": "pdf"}, "error"
    )
    assert bad["error"]["code"] == "bad_request" and bad["request_id"] == "e3"
    unknown = client.request(
        {"type": "export", "request_id": "e4", "chat_id": "none", "format": "markdown"}, "error"
    )
    assert (unknown["error"]["code"], unknown["request_id"]) == ("unknown_chat", "e4")


def test_a_reply_cleared_while_streaming_is_not_written_back(kernels: Kernels) -> None:
    kernel = kernels.start()
    client, _ = connect(kernel)
    client.send(
        {"type": "send", "request_id": "r", "chat_id": "default", "content": "go", "model": "stuck"}
    )
    client.next("delta")
    client.send({"type": "clear", "chat_id": "default"})
    assert client.next("snapshot")["messages"] == []
    kernel.execute(FLUSH)  # forces a checkpoint of every reply the writer still follows
    assert client.next("done")["finish_reason"] == "cancelled"
    kernel.execute(FLUSH)
    assert stored(kernels.history, "/srv/nb/one.ipynb") == {"default": []}


def test_a_chat_deleted_while_streaming_stays_deleted(kernels: Kernels) -> None:
    kernel = kernels.start()
    client, _ = connect(kernel)
    reply(client, "default", "kept")
    client.send(
        {"type": "send", "request_id": "r", "chat_id": "doomed", "content": "go", "model": "stuck"}
    )
    client.next("delta")
    client.send({"type": "delete_chat", "chat_id": "doomed"})
    assert client.next("snapshot")["chat_id"] == "doomed"
    kernel.execute(FLUSH)  # forces a checkpoint of every reply the writer still follows
    assert client.next("done")["finish_reason"] == "cancelled"
    kernel.execute(FLUSH)
    assert set(stored(kernels.history, "/srv/nb/one.ipynb")) == {"default"}


# -- %chat history / open / export -------------------------------------------------------


def printed(outputs: list[dict[str, Any]]) -> str:
    return "".join(o["text"] for o in outputs if o["type"] == "stream")


def failure(outputs: list[dict[str, Any]]) -> str:
    (error,) = [o for o in outputs if o["type"] == "error"]
    return error["evalue"]


def table(outputs: list[dict[str, Any]]) -> list[list[str]]:
    """The rows of the Markdown table a cell displayed, the update times left out."""
    (shown,) = [o for o in outputs if o["type"] == "display_data"]
    lines = shown["data"]["text/markdown"].splitlines()
    rows = [[cell.strip() for cell in line.strip("|").split(" | ")] for line in lines]
    header = rows[0]
    return [
        [c for c, h in zip(row, header, strict=True) if h != "updated"]
        for row in rows[:1] + rows[2:]
    ]


def test_chat_magics_list_open_and_export(kernels: Kernels, tmp_path: Path) -> None:
    other = kernels.start("/srv/nb/two.ipynb")
    other.outputs("%chat -m echo --chat planning plan | the day")
    other.execute(FLUSH)

    kernel = kernels.start()
    kernel.outputs("%chat -m echo hello")
    assert table(kernel.outputs("%chat history")) == [
        ["chat", "title", "messages", "saved"],
        ["default (current)", "hello", "2", "yes"],
    ]
    assert table(kernel.outputs("%chat history --all")) == [
        ["chat", "notebook", "title", "messages", "saved"],
        ["default (current)", "/srv/nb/one.ipynb", "hello", "2", "yes"],
        ["planning", "/srv/nb/two.ipynb", "plan \\| the day", "2", "yes"],
    ]

    assert printed(kernel.outputs("%chat open planning")) == (
        "chat 'planning' (2 messages) is the current chat; back: %chat open default\n"
    )
    kernel.outputs("%chat -m echo and more")  # goes to the current chat
    kernel.execute(FLUSH)
    assert stored(kernels.history, "/srv/nb/two.ipynb")["planning"][-2:] == [
        ("user", "and more"),
        ("assistant", "echo: and more"),
    ]
    assert "planning" not in stored(kernels.history, "/srv/nb/one.ipynb")

    markdown = tmp_path / "plan.md"
    assert printed(kernel.outputs(f"%chat export {markdown}")) == (
        f"wrote chat 'planning' (4 messages) to {markdown}\n"
    )
    assert markdown.read_text() == (
        "# plan | the day\n\n## User\n\nplan | the day\n\n## Assistant (echo)\n\n"
        "echo: plan | the day\n\n## User\n\nand more\n\n## Assistant (echo)\n\necho: and more\n"
    )
    assert failure(kernel.outputs(f"%chat export {markdown}")) == (
        f"{markdown} exists; nothing was written (give another name)"
    )
    notebook = tmp_path / "hello.ipynb"
    kernel.outputs(f"%chat export {notebook} --chat default")
    nbformat.validate(nbformat.read(notebook, as_version=4))
    assert failure(kernel.outputs(f"%chat export {tmp_path}/x.txt")) == (
        "%chat export writes a .md or .ipynb file, not 'x.txt'"
    )
    assert failure(kernel.outputs("%chat open nowhere")) == (
        "no stored chat 'nowhere' (unknown_chat)"
    )


HELD_MODEL = r"""
import threading
release_held = threading.Event()

@dc.register("held")
def held(messages):
    yield "part one "
    release_held.wait(60)
    yield "part two"
"""


def listing(event: dict[str, Any]) -> list[tuple[str, str, bool, int]]:
    return [(i["chat_id"], i["title"], i["streaming"], i["message_count"]) for i in event["chats"]]


TRACE_READS = r"""
import threading, jupyter_deltachat.kernel as _k
store_reads = []
_k.HISTORY.open()._reader.set_trace_callback(
    lambda sql: store_reads.append((threading.current_thread().name, sql.split()[0]))
)
"""


def test_a_reply_pushes_its_chat_list_twice_without_reading_the_store(kernels: Kernels) -> None:
    """The ``chats`` list a reply pushes (after ``start``, and before ``done``) is built
    from memory: a turn reads nothing from the database, so its ``done`` never waits on a
    read (nor on another request's ``list_chats all`` holding the reader)."""
    kernel = kernels.start()
    view, _ = connect(kernel, {})
    reply(view, "older", "an older chat")
    kernel.execute(FLUSH)
    view.drain()
    kernel.execute(TRACE_READS)
    view.send(
        {"type": "send", "request_id": "r", "chat_id": "new", "content": "hi", "model": "echo"}
    )
    turn = [view.next("start", "chats", "done")]
    while turn[-1]["type"] != "done":
        turn.append(view.next("start", "chats", "done"))
    assert [event["type"] for event in turn] == ["start", "chats", "chats", "done"]
    assert [listing(event) for event in turn[1:3]] == [
        [("new", "hi", True, 2), ("older", "an older chat", False, 2)],
        [("new", "hi", False, 2), ("older", "an older chat", False, 2)],
    ]
    assert kernel.evaluate("store_reads") == "[]"
    view.request({"type": "list_chats", "scope": "notebook"}, "chats")
    assert "'SELECT'" in kernel.evaluate("store_reads")  # the trace sees the reader's reads


def test_views_follow_the_chat_list_while_a_cell_streams(kernels: Kernels) -> None:
    """A reply started by ``%chat`` in a cell (the shell stays busy until it ends) reaches
    every view's list as the kernel's ``chats`` events, with no request: the new chat
    first, titled and streaming; then, before its ``done``, finished."""
    kernel = kernels.start()
    kernel.execute(HELD_MODEL)
    view, _ = connect(kernel, {})
    reply(view, "older", "an older chat")
    view.drain()  # the lists that reply brought
    kernel.start_execute("%chat -m held --chat cell What streams here?")
    assert listing(view.next("chats")) == [
        ("cell", "What streams here?", True, 2),
        ("older", "an older chat", False, 2),
    ]
    view.next("delta")
    kernel.execute("release_held.set()", subshell_id=kernel.create_subshell())
    finished = view.next("chats", "done")
    assert finished["type"] == "chats"
    assert listing(finished) == [
        ("cell", "What streams here?", False, 2),
        ("older", "an older chat", False, 2),
    ]
    assert view.next("done")["length"] == len("part one part two")
