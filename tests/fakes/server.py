"""A local HTTP server that plays back a scripted provider response, byte for byte.

Each provider's wire module (``tests/fakes/wire.py``) turns a ``Script`` into the body chunks
that provider really sends; this server records every request and writes those chunks with
chunked transfer encoding, so it can also cut a stream mid-way (no terminating chunk, socket
dropped: the case every SDK reports differently) or go silent until the client closes the
connection (which it timestamps, so a test can prove a stop closed the HTTP stream).
"""

from __future__ import annotations

import contextlib
import json
import select
import socket
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Plan:
    """What the server does with one request.

    ``status`` other than 200 sends ``body`` whole; otherwise ``chunks`` are streamed.
    ``cut_after=n`` sends n chunks and drops the connection; ``silent_after=n`` sends n
    chunks and then waits, sending nothing, until the client closes the connection.
    """

    chunks: list[bytes] = field(default_factory=list)
    status: int = 200
    body: bytes = b""
    content_type: str = "text/event-stream"
    headers: dict[str, str] = field(default_factory=dict)
    cut_after: int | None = None
    silent_after: int | None = None


class FakeServer:
    """One fake provider endpoint on 127.0.0.1 (a free port); ``close()`` stops it."""

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self.plans: deque[Plan] = deque()
        self.default_plan = Plan()
        self.went_silent = threading.Event()
        self.client_closed = threading.Event()
        self.closed_at: float | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        self._httpd = _HTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.fake = self
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def plan(self, *plans: Plan) -> None:
        """Answer the next requests with ``plans`` in order, then with ``default_plan``."""
        self.plans.extend(plans)

    def close(self) -> None:
        self._stopping.set()
        self._httpd.shutdown()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        self._httpd.server_close()
        self._thread.join(timeout=5)

    # -- the handler side ---------------------------------------------------------------

    def _track(self, connection: socket.socket, add: bool) -> None:
        with self._lock:
            if add:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def _handle(self, handler: _Handler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        headers = {name.lower(): value for name, value in handler.headers.items()}
        with self._lock:
            self.requests.append(RecordedRequest(handler.command, handler.path, headers, body))
            plan = self.plans.popleft() if self.plans else self.default_plan
        try:
            self._respond(handler, plan)
        except (BrokenPipeError, ConnectionResetError):
            handler.close_connection = True

    def _respond(self, handler: _Handler, plan: Plan) -> None:
        if plan.status != 200:
            handler.send_response(plan.status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(plan.body)))
            for name, value in plan.headers.items():
                handler.send_header(name, value)
            handler.end_headers()
            handler.wfile.write(plan.body)
            return
        handler.send_response(200)
        handler.send_header("Content-Type", plan.content_type)
        handler.send_header("Transfer-Encoding", "chunked")
        for name, value in plan.headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        for index in range(len(plan.chunks) + 1):
            if index == plan.cut_after:
                handler.wfile.flush()
                handler.connection.shutdown(socket.SHUT_RDWR)
                handler.close_connection = True
                return
            if index == plan.silent_after:
                handler.wfile.flush()
                self._wait_for_client_close(handler.connection)
                handler.close_connection = True
                return
            if index < len(plan.chunks):
                chunk = plan.chunks[index]
                handler.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        handler.wfile.write(b"0\r\n\r\n")
        handler.wfile.flush()

    def _wait_for_client_close(self, connection: socket.socket) -> None:
        self.went_silent.set()
        while not self._stopping.is_set():
            readable, _, _ = select.select([connection], [], [], 0.05)
            if not readable:
                continue
            try:
                data = connection.recv(4096)
            except OSError:
                data = b""
            if not data:
                self.closed_at = time.monotonic()
                self.client_closed.set()
                return


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client dropping its idle keep-alive connection is not an error worth a trace."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # each event goes out when written, as a server flushes it
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        self.server.fake._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.fake._track(self.connection, add=False)

    def do_POST(self) -> None:
        self.server.fake._handle(self)

    do_GET = do_POST

    def log_message(self, format: str, *args: Any) -> None:
        pass
