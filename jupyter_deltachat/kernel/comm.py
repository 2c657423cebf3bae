"""Protocol v1 over Jupyter comms (docs/protocol.md): one ``CommServer`` per kernel.

Each open comm is a ``Peer``. Chat events go to every peer; answers to a request go to
its sender. A peer sends from a copy of the context of its own latest message, so its
frames carry its own parent header: ipykernel 7 routes a comm's next incoming message to
the subshell of the last message sent on it, and stops must not drift to a busy shell.

Pages that went away without closing their comm would each receive a copy of every frame
for the kernel's lifetime (protocol 1.1 section 0): a ``hello`` naming a ``client_id`` drops
the older comm that declared it, and a comm that declared a ``heartbeat`` and fell silent
for ``HEARTBEAT_MISSES`` times that long is closed.
"""

from __future__ import annotations

import contextvars
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from .._version import __version__
from ..context.refs import render as render_context
from ..context.variables import list_variables
from ..credentials import default_store
from ..errors import DeltaChatError, ProtocolVersionError
from ..export import export_chat
from ..models.registry import ModelRegistry
from ..protocol import (
    PROTOCOL,
    Approve,
    Chats,
    Clear,
    DeleteChat,
    Event,
    Export,
    Exported,
    Hello,
    ListChats,
    ListModels,
    ListTools,
    ListVariables,
    Models,
    OpenChat,
    Ping,
    Ready,
    Regenerate,
    RenameChat,
    Request,
    Send,
    Stop,
    Sync,
    Tools,
    Variables,
    error_answer,
    parse_request,
)
from ..redact import redact
from ..tools import TOOLS, ToolRegistry
from ..tools.builtin import user_namespace
from .chats import ChatService

log = logging.getLogger(__name__)

TARGET = "jupyter_deltachat"
MODEL_POLL_SECONDS = 2.0  # also how often silent heartbeats are looked for
HEARTBEAT_MISSES = 3  # a comm silent for this many heartbeats is closed


def _shell() -> Any:
    from IPython import get_ipython

    return get_ipython()


@dataclass
class Peer:
    comm: Any
    context: contextvars.Context
    client_id: str | None = None
    heartbeat: float | None = None
    heard: float = field(default_factory=time.monotonic)  # when it last sent anything

    def silent_too_long(self, now: float) -> bool:
        return self.heartbeat is not None and now - self.heard > HEARTBEAT_MISSES * self.heartbeat

    def send(self, wire: dict[str, Any]) -> bool:
        """Send on this comm with its own parent; False if the comm is gone."""
        try:
            self.context.copy().run(self.comm.send, wire)
        except Exception as exc:  # noqa: BLE001 - a dead comm must not break a stream
            log.debug("dropping comm %s: %s", getattr(self.comm, "comm_id", "?"), redact(str(exc)))
            return False
        return True


class CommServer:
    """Speaks protocol v1 on every comm opened on target ``jupyter_deltachat``.

    While a comm is open, one poller thread watches the credential store's fingerprint
    (one ``stat``) and sends ``models`` when a change alters the list, and closes comms
    whose heartbeat stopped; it ends when the last comm closes.
    """

    def __init__(
        self, service: ChatService, registry: ModelRegistry, tools: ToolRegistry = TOOLS
    ) -> None:
        self.service = service
        self.registry = registry
        self.tools = tools
        self._lock = threading.Lock()
        self._peers: dict[str, Peer] = {}
        self._last_models: Models | None = None
        self._poller_stop: threading.Event | None = None
        service.subscribe(self.broadcast)
        registry.subscribe(self.broadcast_models)
        tools.subscribe(lambda: self.broadcast(self.tools_event()))

    # -- comm callbacks ------------------------------------------------------------------

    def open(self, comm: Any, open_msg: dict[str, Any]) -> None:
        """The comm target's callback: keep the peer, answer a ``hello`` sent with the open."""
        peer = Peer(comm, contextvars.copy_context())
        with self._lock:
            self._peers[comm.comm_id] = peer
        comm.on_msg(lambda msg: self._on_msg(peer, msg))
        comm.on_close(lambda _msg: self._forget(comm.comm_id))
        self._start_model_poller()
        data = open_msg.get("content", {}).get("data")
        if data:
            self._handle(peer, data)

    def _on_msg(self, peer: Peer, msg: dict[str, Any]) -> None:
        with self._lock:
            if self._peers.get(peer.comm.comm_id) is not peer:
                return  # dropped for a newer comm of its client: nothing is sent to it
        peer.context = contextvars.copy_context()
        peer.heard = time.monotonic()
        self._handle(peer, msg.get("content", {}).get("data"))

    def _forget(self, comm_id: str) -> None:
        with self._lock:
            self._peers.pop(comm_id, None)
            if self._peers or self._poller_stop is None:
                return
            self._poller_stop.set()
            self._poller_stop = None

    # -- sending -------------------------------------------------------------------------

    def broadcast(self, event: Event) -> None:
        wire = event.to_wire()
        with self._lock:
            peers = list(self._peers.items())
        for comm_id, peer in peers:
            if not peer.send(wire):
                self._forget(comm_id)

    def models_event(self) -> Models:
        infos = self.registry.models()
        return Models(models=infos, default_model=self.registry.default_model(infos))

    def tools_event(self) -> Tools:
        return Tools(tools=self.tools.infos())

    def broadcast_models(self) -> None:
        event = self.models_event()
        with self._lock:
            self._last_models = event
        self.broadcast(event)

    def _declare(self, peer: Peer, hello: Hello) -> None:
        """Note what a ``hello`` declared; drop an older comm of the same client."""
        with self._lock:
            peer.client_id = hello.client_id
            peer.heartbeat = hello.heartbeat
            if hello.client_id is None:
                return
            older = [
                comm_id
                for comm_id, other in self._peers.items()
                if other is not peer and other.client_id == hello.client_id
            ]
            for comm_id in older:
                del self._peers[comm_id]
        for comm_id in older:
            log.debug("comm %s replaced by %s (same client_id)", comm_id, peer.comm.comm_id)

    def _close_silent(self) -> None:
        """Close the comms that declared a heartbeat and missed it ``HEARTBEAT_MISSES`` times."""
        now = time.monotonic()
        with self._lock:
            silent = [
                (comm_id, peer)
                for comm_id, peer in self._peers.items()
                if peer.silent_too_long(now)
            ]
        for comm_id, peer in silent:
            self._forget(comm_id)
            try:
                peer.comm.close()
            except Exception as exc:  # noqa: BLE001 - the frontend is gone already
                log.debug("closing silent comm %s: %s", comm_id, redact(str(exc)))

    def _start_model_poller(self) -> None:
        """Watch for providers becoming configured (a key saved in the panel's dialog)."""
        with self._lock:
            if self._poller_stop is not None:
                return
            stop = self._poller_stop = threading.Event()
        threading.Thread(
            target=self._poll_models, args=(stop,), name="deltachat-models", daemon=True
        ).start()

    def _poll_models(self, stop: threading.Event) -> None:
        fingerprint = None
        while True:
            try:
                seen = default_store().fingerprint()
                if seen != fingerprint:
                    self._note_models(announce=fingerprint is not None)
                    fingerprint = seen
            except Exception as exc:  # noqa: BLE001 - keep watching; say why in the log
                log.debug("model list unavailable: %s", redact(str(exc)))
            self._close_silent()
            if stop.wait(MODEL_POLL_SECONDS):
                return

    def _note_models(self, *, announce: bool) -> None:
        """Rebuild the model list; send it to every comm if ``announce`` and it changed."""
        event = self.models_event()
        with self._lock:
            changed = event != self._last_models
            self._last_models = event
        if announce and changed:
            self.broadcast(event)

    # -- requests ------------------------------------------------------------------------

    def _handle(self, peer: Peer, data: Any) -> None:
        """Answer one message; nothing raised here may reach the kernel's stderr."""
        try:
            self._dispatch(peer, parse_request(data))
        except DeltaChatError as exc:
            peer.send(error_answer(data, exc).to_wire())
        except Exception as exc:  # noqa: BLE001 - the protocol's `internal` error
            log.debug("internal error handling a comm message: %s", redact(repr(exc)))
            internal = DeltaChatError(f"internal error: {type(exc).__name__}: {exc}")
            peer.send(error_answer(data, internal).to_wire())

    def _dispatch(self, peer: Peer, request: Request) -> None:
        def answer(event: Event) -> None:
            peer.send(event.to_wire())

        match request:
            case Hello(protocol=version):
                if version != PROTOCOL:
                    raise ProtocolVersionError(
                        f"this kernel speaks protocol {PROTOCOL}, not {version}; "
                        "update jupyter-deltachat on the side that is older"
                    )
                self._declare(peer, request)
                if request.path is not None:
                    self.service.use_path(request.path)
                models = self.models_event()
                answer(
                    Ready(
                        protocol=PROTOCOL,
                        version=__version__,
                        models=models.models,
                        default_model=models.default_model,
                        chats=self.service.infos(),
                        tools=self.tools.infos(),
                    )
                )
            case Send():
                rendered = render_context(request.context, user_namespace())
                self.service.send(
                    request.chat_id,
                    request.content,
                    model=request.model,
                    config=request.config,
                    attachments=[*request.attachments, *rendered.attachments],
                    context=rendered.items,
                    tools=request.tools,
                    request_id=request.request_id,
                )
            case Regenerate():
                self.service.regenerate(
                    request.chat_id,
                    model=request.model,
                    config=request.config,
                    tools=request.tools,
                    request_id=request.request_id,
                )
            case Stop():
                self.service.stop(request.chat_id, request.message_id)
            case Sync():
                self.service.snapshot(request.chat_id, answer)
            case Clear():
                self.service.clear(request.chat_id)
            case ListModels():
                answer(self.models_event())
            case ListVariables():
                shell = _shell()
                hidden = getattr(shell, "user_ns_hidden", None)
                variables, truncated = list_variables(user_namespace(), hidden)
                answer(Variables(variables=variables, truncated=truncated))
            case ListChats(scope=scope):
                answer(Chats(chats=self.service.chat_list(scope), scope=scope))
            case OpenChat():
                self.service.open_chat(request.chat_id, request.path)
            case RenameChat():
                self.service.rename_chat(request.chat_id, request.title, request.path)
            case DeleteChat():
                self.service.delete_chat(request.chat_id, request.path)
            case Export():
                title, messages = self.service.export_source(request.chat_id, request.path)
                filename, content = export_chat(title, messages, request.format)
                answer(
                    Exported(
                        request_id=request.request_id,
                        chat_id=request.chat_id,
                        format=request.format,
                        filename=filename,
                        content=content,
                    )
                )
            case Ping():
                pass  # hearing from the comm was the point
            case ListTools():
                answer(self.tools_event())
            case Approve():
                self.service.approve(request.chat_id, request.call_id, request.decision)
