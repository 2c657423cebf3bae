"""Protocol v1 over Jupyter comms (docs/protocol.md): one ``CommServer`` per kernel.

Each open comm is a ``Peer``. Chat events go to every peer; answers to a request go to
its sender. A peer sends from a copy of the context of its own latest message, so its
frames carry its own parent header: ipykernel 7 routes a comm's next incoming message to
the subshell of the last message sent on it, and stops must not drift to a busy shell.
"""

from __future__ import annotations

import contextvars
import logging
import threading
from dataclasses import dataclass
from typing import Any

from .._version import __version__
from ..errors import DeltaChatError, ProtocolVersionError
from ..models.registry import ModelRegistry
from ..redact import redact
from .chats import ChatService, Event
from .validate import Request, parse_request, request_id_of

log = logging.getLogger(__name__)

TARGET = "jupyter_deltachat"
PROTOCOL = 1
MODEL_POLL_SECONDS = 2.0


@dataclass
class Peer:
    comm: Any
    context: contextvars.Context

    def send(self, event: Event) -> bool:
        """Send on this comm with its own parent; False if the comm is gone."""
        try:
            self.context.copy().run(self.comm.send, event)
        except Exception as exc:  # noqa: BLE001 - a dead comm must not break a stream
            log.debug("dropping comm %s: %s", getattr(self.comm, "comm_id", "?"), redact(str(exc)))
            return False
        return True


class CommServer:
    """Speaks protocol v1 on every comm opened on target ``jupyter_deltachat``."""

    def __init__(self, service: ChatService, registry: ModelRegistry) -> None:
        self.service = service
        self.registry = registry
        self._lock = threading.Lock()
        self._peers: dict[str, Peer] = {}
        self._last_models: Any = None
        self._poller: threading.Thread | None = None
        service.subscribe(self.broadcast)
        registry.subscribe(self.broadcast_models)

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
        peer.context = contextvars.copy_context()
        self._handle(peer, msg.get("content", {}).get("data"))

    def _forget(self, comm_id: str) -> None:
        with self._lock:
            self._peers.pop(comm_id, None)

    # -- sending -------------------------------------------------------------------------

    def broadcast(self, event: Event) -> None:
        with self._lock:
            peers = list(self._peers.items())
        for comm_id, peer in peers:
            if not peer.send(event):
                self._forget(comm_id)

    def models_event(self) -> Event:
        infos = self.registry.models()
        return {
            "type": "models",
            "models": [info.to_json() for info in infos],
            "default_model": self.registry.default_model(infos),
        }

    def broadcast_models(self) -> None:
        event = self.models_event()
        self._last_models = event
        self.broadcast(event)

    def _start_model_poller(self) -> None:
        """Watch for providers becoming configured (a key saved in the panel's dialog)."""
        with self._lock:
            if self._poller is not None:
                return
            self._poller = threading.Thread(
                target=self._poll_models, name="deltachat-models", daemon=True
            )
        self._last_models = self.models_event()
        self._poller.start()

    def _poll_models(self) -> None:
        stop = threading.Event()
        while not stop.wait(MODEL_POLL_SECONDS):
            with self._lock:
                if not self._peers:
                    continue
            try:
                event = self.models_event()
            except Exception as exc:  # noqa: BLE001 - keep watching; say why once in the log
                log.debug("model list unavailable: %s", redact(str(exc)))
                continue
            if event != self._last_models:
                self._last_models = event
                self.broadcast(event)

    # -- requests ------------------------------------------------------------------------

    def _handle(self, peer: Peer, data: Any) -> None:
        """Answer one message; nothing raised here may reach the kernel's stderr."""
        try:
            self._dispatch(peer, parse_request(data))
        except DeltaChatError as exc:
            peer.send(_error_event(data, exc))
        except Exception as exc:  # noqa: BLE001 - the protocol's `internal` error
            log.debug("internal error handling a comm message: %s", redact(repr(exc)))
            internal = DeltaChatError(f"internal error: {type(exc).__name__}: {exc}")
            peer.send(_error_event(data, internal))

    def _dispatch(self, peer: Peer, request: Request) -> None:
        kind, chat_id = request.type, request.chat_id
        if kind == "hello":
            if request.protocol != PROTOCOL:
                raise ProtocolVersionError(
                    f"this kernel speaks protocol {PROTOCOL}, not {request.protocol}; "
                    "update jupyter-deltachat on the side that is older"
                )
            models = self.models_event()
            peer.send(
                {
                    "type": "ready",
                    "protocol": PROTOCOL,
                    "version": __version__,
                    "models": models["models"],
                    "default_model": models["default_model"],
                    "chats": self.service.infos(),
                }
            )
        elif kind == "send":
            assert chat_id is not None
            self.service.send(
                chat_id,
                request.content,
                model=request.model,
                config=request.config,
                attachments=request.attachments,
                request_id=request.request_id,
            )
        elif kind == "regenerate":
            assert chat_id is not None
            self.service.regenerate(
                chat_id, model=request.model, config=request.config, request_id=request.request_id
            )
        elif kind == "stop":
            assert chat_id is not None
            self.service.stop(chat_id, request.message_id)
        elif kind == "sync":
            assert chat_id is not None
            self.service.snapshot(chat_id, peer.send)
        elif kind == "clear":
            assert chat_id is not None
            self.service.clear(chat_id)
        elif kind == "list_models":
            peer.send(self.models_event())


def _error_event(data: Any, error: DeltaChatError) -> Event:
    event: Event = {"type": "error"}
    request_id = request_id_of(data)
    if request_id is not None:
        event["request_id"] = request_id
    chat_id = data.get("chat_id") if isinstance(data, dict) else None
    if isinstance(chat_id, str) and chat_id:
        event["chat_id"] = chat_id
    event["error"] = error.to_json()
    return event
