"""A protocol v1 test client: a real ipykernel through jupyter_client, comms over its
shell channel, replies read from iopub by one router thread and queued per comm."""

from __future__ import annotations

import contextlib
import os
import queue
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from jupyter_client.manager import start_new_kernel

ROOT = Path(__file__).resolve().parent.parent
BOOTSTRAP = "import jupyter_deltachat.kernel as _dc; _dc.load(); del _dc"
TIMEOUT = 20.0


class KernelHarness:
    """One kernel, its client, and everything that arrived on iopub, sorted by comm."""

    def __init__(self, extra_env: dict[str, str] | None = None) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        env.update(extra_env or {})
        self.manager, self.client = start_new_kernel(
            kernel_name="python3", cwd=str(ROOT), env=env, startup_timeout=60
        )
        self._lock = threading.Lock()
        self._queues: dict[str, queue.Queue[dict[str, Any]]] = defaultdict(queue.Queue)
        self._replies: dict[str, queue.Queue[dict[str, Any]]] = defaultdict(queue.Queue)
        self.streams: list[dict[str, Any]] = []
        self.iopub: list[dict[str, Any]] = []
        self._running = True
        self._router = threading.Thread(target=self._route, daemon=True)
        self._router.start()
        self.execute(BOOTSTRAP, silent=True)

    def _route(self) -> None:
        while self._running:
            try:
                msg = self.client.get_iopub_msg(timeout=0.2)
            except queue.Empty:
                continue
            except Exception:  # the client is shutting down
                return
            kind = msg["msg_type"]
            msg["received"] = time.monotonic()
            msg["received_wall"] = time.time()  # comparable with time.time() in the kernel
            with self._lock:
                self.iopub.append(msg)
                if kind == "stream":
                    self.streams.append(msg["content"])
                if kind in ("comm_msg", "comm_open", "comm_close"):
                    self._queues[msg["content"]["comm_id"]].put(msg)
                parent_id = msg.get("parent_header", {}).get("msg_id")
                if parent_id:
                    self._replies[parent_id].put(msg)

    def comm_queue(self, comm_id: str) -> queue.Queue[dict[str, Any]]:
        with self._lock:
            return self._queues[comm_id]

    def stderr_text(self) -> str:
        with self._lock:
            return "".join(s["text"] for s in self.streams if s["name"] == "stderr")

    def execute(
        self,
        code: str,
        *,
        silent: bool = False,
        timeout: float = 60,
        subshell_id: str | None = None,
    ) -> dict[str, Any]:
        """Run ``code`` and return its ``execute_reply`` content; raise if it failed."""
        msg_id = self.start_execute(code, silent=silent, subshell_id=subshell_id)
        reply = self.wait_reply(msg_id, timeout)
        if reply["content"]["status"] != "ok":
            raise AssertionError(f"kernel code failed: {reply['content']}")
        return reply["content"]

    def outputs(
        self, code: str, timeout: float = 60, answer: Callable[[str], str | None] | None = None
    ) -> list[dict[str, Any]]:
        """Run ``code``; its iopub outputs (``stream``, ``display_data``, ``error``, …) in
        order, each as its content with ``type`` added, up to the kernel's idle status.

        With ``answer`` the code may call ``input()``: each prompt goes to ``answer``, whose
        string is typed in; ``None`` interrupts the kernel instead of answering."""
        answering = self._answering(answer) if answer else contextlib.nullcontext()
        with answering:
            msg_id = self.start_execute(code, allow_stdin=answer is not None)
            self.wait_reply(msg_id, timeout)
        with self._lock:
            replies = self._replies[msg_id]
        outputs = []
        while True:
            msg = replies.get(timeout=timeout)
            kind = msg["msg_type"]
            if kind == "status" and msg["content"]["execution_state"] == "idle":
                with self._lock:
                    self._replies.pop(msg_id, None)
                return outputs
            if kind not in ("status", "execute_input"):
                outputs.append({"type": kind, **msg["content"]})

    @contextlib.contextmanager
    def _answering(self, answer: Callable[[str], str | None]) -> Iterator[None]:
        """Answer the kernel's input requests with ``answer`` while the block runs."""
        running = threading.Event()
        running.set()

        def serve() -> None:
            while running.is_set():
                try:
                    request = self.client.get_stdin_msg(timeout=0.2)
                except queue.Empty:
                    continue
                reply = answer(request["content"]["prompt"])
                if reply is None:
                    self.manager.interrupt_kernel()
                else:
                    self.client.input(reply)

        server = threading.Thread(target=serve, daemon=True)
        server.start()
        try:
            yield
        finally:
            running.clear()
            server.join(timeout=5)

    def start_execute(
        self,
        code: str,
        *,
        silent: bool = False,
        subshell_id: str | None = None,
        allow_stdin: bool = False,
    ) -> str:
        content = {
            "code": code,
            "silent": silent,
            "store_history": not silent,
            "user_expressions": {},
            "allow_stdin": allow_stdin,
        }
        msg = self.client.session.msg("execute_request", content)
        if subshell_id is not None:
            msg["header"]["subshell_id"] = subshell_id
        self.client.shell_channel.send(msg)
        return msg["header"]["msg_id"]

    def wait_reply(self, msg_id: str, timeout: float = TIMEOUT) -> dict[str, Any]:
        """The shell reply to ``msg_id`` (other shell replies are set aside)."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no reply to {msg_id} within {timeout}s")
            reply = self.client.get_shell_msg(timeout=remaining)
            if reply["parent_header"].get("msg_id") == msg_id:
                return reply

    def evaluate(self, expression: str) -> str:
        """The repr of ``expression`` evaluated in the kernel's namespace."""
        content = self.client.session.msg(
            "execute_request",
            {
                "code": "",
                "silent": True,
                "store_history": False,
                "user_expressions": {"value": expression},
                "allow_stdin": False,
            },
        )
        self.client.shell_channel.send(content)
        reply = self.wait_reply(content["header"]["msg_id"])
        value = reply["content"]["user_expressions"]["value"]
        if value["status"] != "ok":
            raise AssertionError(f"{expression!r} failed: {value}")
        return value["data"]["text/plain"]

    def create_subshell(self) -> str:
        msg = self.client.session.msg("create_subshell_request", {})
        self.client.control_channel.send(msg)
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            reply = self.client.control_channel.get_msg(timeout=TIMEOUT)
            if reply["parent_header"].get("msg_id") == msg["header"]["msg_id"]:
                return reply["content"]["subshell_id"]
        raise TimeoutError("no create_subshell_reply")

    def shutdown(self) -> None:
        self._running = False
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)
        self._router.join(timeout=5)


class CommClient:
    """One frontend connection: a comm on target ``jupyter_deltachat``."""

    def __init__(self, harness: KernelHarness, subshell_id: str | None = None) -> None:
        self.harness = harness
        self.comm_id = uuid.uuid4().hex
        self.subshell_id = subshell_id
        self.inbox = harness.comm_queue(self.comm_id)
        self._held: list[dict[str, Any]] = []

    def open(
        self, data: dict[str, Any] | None = None, target: str = "jupyter_deltachat"
    ) -> dict[str, Any]:
        """Open the comm with ``hello`` and return the ``ready`` answer."""
        hello = {"type": "hello", "protocol": 1, "client": "tests/1"} if data is None else data
        self._send_shell(
            "comm_open", {"comm_id": self.comm_id, "target_name": target, "data": hello}
        )
        return self.next("ready") if data is None else {}

    def send(self, data: Any) -> None:
        self._send_shell("comm_msg", {"comm_id": self.comm_id, "data": data})

    def close(self) -> None:
        self._send_shell("comm_close", {"comm_id": self.comm_id, "data": {}})

    def _send_shell(self, msg_type: str, content: dict[str, Any]) -> None:
        msg = self.harness.client.session.msg(msg_type, content)
        if self.subshell_id is not None:
            msg["header"]["subshell_id"] = self.subshell_id
        self.harness.client.shell_channel.send(msg)

    def next(self, *types: str, timeout: float = TIMEOUT) -> dict[str, Any]:
        """The next event (of one of ``types``, if given); others are kept for later.
        The kernel closing the comm is the event ``{"type": "comm_close"}``."""
        for index, event in enumerate(self._held):
            if not types or event["type"] in types:
                return self._held.pop(index)
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no {types or 'event'} on comm within {timeout}s")
            msg = self.inbox.get(timeout=remaining)
            closed = msg["msg_type"] == "comm_close"
            event = {"type": "comm_close"} if closed else msg["content"]["data"]
            event["_received"] = msg["received"]
            event["_received_wall"] = msg["received_wall"]
            event["_received_envelope"] = envelope(msg)
            if not types or event["type"] in types:
                return event
            self._held.append(event)

    def request(self, data: dict[str, Any], *types: str) -> dict[str, Any]:
        self.send(data)
        return self.next(*types)

    def drain(self) -> list[dict[str, Any]]:
        """Every event received so far, without waiting."""
        events, self._held = self._held, []
        while True:
            try:
                events.append(self.inbox.get_nowait()["content"]["data"])
            except queue.Empty:
                return events

    def stream(
        self, message_id: str | None = None, timeout: float = TIMEOUT, first: Any = None
    ) -> Stream:
        """Collect one reply's frames up to and including its ``done``; ``first``: its
        first delta, when the caller took it already."""
        stream = Stream()
        if first is not None:
            stream.add(first)
        while True:
            event = self.next("delta", "done", "error", "start", timeout=timeout)
            if message_id is None and event["type"] == "start":
                message_id = event["message_id"]
            if event.get("message_id") != message_id:
                continue
            stream.add(event)
            if event["type"] == "done":
                return stream


class Stream:
    """The frames of one reply, checked as a frontend would apply them."""

    def __init__(self) -> None:
        self.start: dict[str, Any] | None = None
        self.deltas: list[dict[str, Any]] = []
        self.errors: list[dict[str, Any]] = []
        self.done: dict[str, Any] = {}

    def add(self, event: dict[str, Any]) -> None:
        kind = event["type"]
        if kind == "start":
            self.start = event
        elif kind == "delta":
            expected = len(self.deltas) + 1
            assert event["seq"] == expected, f"seq {event['seq']} where {expected} was due"
            self.deltas.append(event)
        elif kind == "error":
            self.errors.append(event)
        else:
            self.done = event

    def text(self, channel: str = "content") -> str:
        return "".join(d["text"] for d in self.deltas if d.get("channel", "content") == channel)


def envelope(msg: dict[str, Any]) -> dict[str, Any]:
    """A received message's envelope as the wire carries it (dates as ISO strings), so an
    event stays JSON like the data it came in (benchmarks measure whole messages with it)."""

    def iso(value: Any) -> Any:
        return value.isoformat().replace("+00:00", "Z") if hasattr(value, "isoformat") else value

    return {
        "msg_type": msg["msg_type"],
        "header": {key: iso(value) for key, value in msg["header"].items()},
        "parent_header": {key: iso(value) for key, value in msg["parent_header"].items()},
        "metadata": msg["metadata"],
        "content": {key: value for key, value in msg["content"].items() if key != "data"},
    }
