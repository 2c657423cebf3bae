"""The one streaming loop every built-in provider shares.

A provider module only says how to build its client and request and how to read one
chunk; ``ProviderModel`` does the rest the same way for all of them: credentials resolved
at call time, clients reused, the stream opened and read, a stop that shuts the HTTP
socket down even while a read is blocked on a silent server, truncation detected by the
missing final event, and SDK exceptions mapped to the protocol's error codes by status.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import importlib.util
import socket
import threading
from collections.abc import Iterable, Iterator
from typing import Any, ClassVar

from ..errors import (
    AuthError,
    BadRequestError,
    ConnectionFailedError,
    DeltaChatError,
    MissingDependencyError,
    ProviderError,
    RateLimitError,
    TruncatedError,
)
from ..redact import redact
from ..stop import on_stop, stop_requested
from ..types import Attachment, ChatConfig, Finish, Message, Reasoning, Usage

Delta = str | Reasoning
IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
TEXT_TYPES = frozenset({"application/json", "application/xml", "application/x-yaml"})
DEFAULT_MAX_RETRIES = 2
_CLIENT_CACHE_SIZE = 16


class StreamState:
    """What the chunks said so far beyond text: the final event, the finish, the usage."""

    __slots__ = ("complete", "events", "finish", "input_tokens", "output_tokens")

    def __init__(self) -> None:
        self.complete = False
        self.events = 0
        self.finish: str = "stop"
        self.input_tokens: int | None = None
        self.output_tokens: int | None = None


class SocketAbort:
    """The sockets of the HTTP stream in flight; ``fire`` shuts them down (from any thread).

    Closing an SDK stream from another thread does not end a read blocked on a silent
    server; ``shutdown(SHUT_RDWR)`` on the socket does, in every SDK, and the server sees
    the connection close.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._fired = False
        self._closed = False

    def add(self, sock: socket.socket) -> None:
        with self._lock:
            if self._closed:
                return
            if self._fired:
                _shutdown(sock)
            else:
                self._sockets.append(sock)

    def fire(self) -> None:
        with self._lock:
            self._fired = True
            for sock in self._sockets:
                _shutdown(sock)

    def close(self) -> None:
        """The stream is over: its socket may go back to a pool, so never touch it again."""
        with self._lock:
            self._closed = True
            self._sockets.clear()


def _shutdown(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


_local = threading.local()


def capture_socket(response: Any) -> None:
    """An httpx/httpx2 ``response`` event hook: hands the connection's socket to the
    running stream's ``SocketAbort`` (the hook runs in the thread reading the stream)."""
    abort: SocketAbort | None = getattr(_local, "abort", None)
    network_stream = response.extensions.get("network_stream")
    if abort is not None and network_stream is not None:
        sock = network_stream.get_extra_info("socket")
        if sock is not None:
            abort.add(sock)


class ProviderModel:
    """A built-in model: callable as ``(messages, config)``, returning a delta generator.

    Subclasses set the class attributes and implement ``make_client``, ``build_request``,
    ``open_stream`` and ``read_chunk``; ``read_chunk`` yields text deltas and records
    usage, finish and the final event on the ``StreamState``.
    """

    provider: ClassVar[str]
    """The id in ``credentials.PROVIDER_SPECS`` (None: explicit arguments only)."""
    credentials_id: ClassVar[str | None]
    label: ClassVar[str]
    package: ClassVar[str]
    pip_name: ClassVar[str]
    extra: ClassVar[str]
    final_event: ClassVar[str]

    _clients: ClassVar[dict[tuple[Any, ...], Any]] = {}
    _clients_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(
        self,
        model: str,
        system_message: str | None = None,
        *,
        credentials: dict[str, str | None] | None = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
        **params: Any,
    ) -> None:
        self.model = model
        self.system_message = system_message
        self.credentials = {k: v for k, v in (credentials or {}).items() if v}
        self.max_retries = max_retries
        self.params = params
        self.client_options: tuple[Any, ...] = ()
        self.check_installed()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.model!r})"

    @classmethod
    def check_installed(cls) -> None:
        try:
            found = importlib.util.find_spec(cls.package) is not None
        except ModuleNotFoundError:
            found = False
        if not found:
            raise MissingDependencyError(cls.pip_name, cls.extra)

    # -- what a provider module implements ------------------------------------------------

    def make_client(self, credentials: dict[str, str]) -> Any:
        raise NotImplementedError

    def build_request(self, messages: list[Message], config: ChatConfig) -> dict[str, Any]:
        raise NotImplementedError

    def open_stream(self, client: Any, request: dict[str, Any]) -> Iterable[Any]:
        raise NotImplementedError

    def read_chunk(self, chunk: Any, state: StreamState) -> Iterable[Delta]:
        raise NotImplementedError

    def stream_socket(self, stream: Any) -> socket.socket | None:
        """The stream's socket, for SDKs whose HTTP client has no response hook."""
        return None

    def transport_errors(self) -> tuple[type[BaseException], ...]:
        """The SDK's exceptions for a failed or broken connection."""
        return ()

    def sdk_errors(self) -> tuple[type[BaseException], ...]:
        """The SDK's base exception classes (anything else propagates as a bug)."""
        return ()

    def credential_errors(self) -> tuple[type[BaseException], ...]:
        """The SDK's exceptions for credentials it could not find (no HTTP status)."""
        return ()

    # -- the one streaming loop ---------------------------------------------------------

    def __call__(self, messages: list[Message], config: ChatConfig) -> Iterator[Any]:
        return self._stream(messages, config)

    def _stream(self, messages: list[Message], config: ChatConfig) -> Iterator[Any]:
        request = self.build_request(messages, config)
        state = StreamState()
        abort = SocketAbort()
        outer_abort = getattr(_local, "abort", None)
        _local.abort = abort
        unregister = on_stop(abort.fire)
        stream: Any = None
        try:
            try:
                stream = self.open_stream(self.client(), request)
                sock = self.stream_socket(stream)
                if sock is not None:
                    abort.add(sock)
                read = self.read_chunk
                for chunk in stream:
                    state.events += 1
                    yield from read(chunk, state)
            except DeltaChatError:
                raise
            except Exception as exc:
                if stop_requested():
                    return
                raise self.map_error(exc, state) from exc
            if not state.complete:
                raise TruncatedError(
                    f"the {self.label} stream ended after {state.events} events without its "
                    f"final event ({self.final_event}); the reply is incomplete",
                    provider=self.provider,
                )
            if state.input_tokens is not None or state.output_tokens is not None:
                yield Usage(state.input_tokens or 0, state.output_tokens or 0)
            if state.finish == "length":
                yield Finish("length")
        finally:
            unregister()
            abort.close()
            _local.abort = outer_abort
            close = getattr(stream, "close", None)
            if close is not None:
                with contextlib.suppress(Exception):  # a broken stream may fail to close
                    close()

    def client(self) -> Any:
        """The SDK client for the credentials as they are now (a pasted key works at once);
        one client per distinct set of credentials, reused across calls."""
        credentials = self.resolve_credentials()
        key = (
            type(self),
            self.max_retries,
            self.client_options,
            tuple(sorted(credentials.items())),
        )
        with self._clients_lock:
            client = self._clients.get(key)
        if client is None:
            client = self.make_client(credentials)
            with self._clients_lock:
                client = self._clients.setdefault(key, client)
                while len(self._clients) > _CLIENT_CACHE_SIZE:
                    self._clients.pop(next(iter(self._clients)))
        return client

    def resolve_credentials(self) -> dict[str, str]:
        if self.credentials_id is None:
            return dict(self.credentials)  # type: ignore[arg-type]
        from ..credentials import default_store

        return default_store().resolve(self.credentials_id, **self.credentials)

    def require_key(self, credentials: dict[str, str], env_name: str) -> str:
        key = credentials.get("api_key")
        if not key:
            raise AuthError(
                f"no {self.label} API key: add one with the key button in the deltachat "
                f"panel, or set {env_name}",
                provider=self.provider,
            )
        return key

    def map_error(self, exc: Exception, state: StreamState) -> DeltaChatError:
        """The protocol error for an SDK exception: by HTTP status where there is one."""
        detail = redact(f"{type(exc).__name__}: {exc}")
        provider = self.provider
        if isinstance(exc, self.transport_errors() + (OSError,)):
            if state.events:
                return TruncatedError(
                    f"the connection to {self.label} broke after {state.events} events, "
                    f"before the final event ({detail})",
                    provider=provider,
                )
            return ConnectionFailedError(
                f"could not reach {self.label} ({detail})", provider=provider
            )
        if isinstance(exc, self.credential_errors()):
            return AuthError(f"{self.label} credentials are missing ({detail})", provider=provider)
        if not isinstance(exc, self.sdk_errors()):
            raise exc
        status = http_status(exc)
        if status in (401, 403):
            return AuthError(
                f"{self.label} refused the credentials ({detail})", provider=provider, status=status
            )
        if status == 429:
            return RateLimitError(
                f"{self.label} rate limit reached ({detail})", provider=provider, status=status
            )
        if status is not None and status >= 400:
            return ProviderError(f"{self.label} error ({detail})", provider=provider, status=status)
        return ProviderError(
            f"{self.label} reported an error mid-stream ({detail})", provider=provider
        )

    # -- request helpers ----------------------------------------------------------------

    def system_text(self, messages: list[Message]) -> str | None:
        """The model's own system message, then the chat's system messages, as one text."""
        parts = [self.system_message] if self.system_message else []
        parts += [m.content for m in messages if m.role == "system" and m.content]
        return "\n\n".join(parts) or None

    def options(self, config: ChatConfig, names: dict[str, str]) -> dict[str, Any]:
        """``params`` given to the factory, overridden by the ``config`` fields this API
        accepts (``names`` maps ChatConfig field to API name)."""
        options = dict(self.params)
        for field, api_name in names.items():
            value = getattr(config, field)
            if value is not None:
                options[api_name] = value
        return options


def conversation(messages: list[Message]) -> list[Message]:
    """The user and assistant turns worth sending (an empty failed reply is left out)."""
    return [m for m in messages if m.role != "system" and (m.content or m.attachments)]


def http_status(exc: BaseException) -> int | None:
    """The HTTP status an SDK exception carries, whichever attribute the SDK uses."""
    for name in ("status_code", "code"):
        value = getattr(exc, name, None)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return status if isinstance(status, int) else None
    return None


def split_attachments(
    message: Message, provider: str, label: str
) -> tuple[list[str], list[Attachment]]:
    """The message's text attachments (decoded, with their names) and its images.

    Anything else is refused with a clear error rather than dropped in silence.
    """
    texts: list[str] = []
    images: list[Attachment] = []
    for attachment in message.attachments:
        media_type = attachment.media_type.lower()
        if media_type in IMAGE_TYPES:
            images.append(attachment)
        elif media_type.startswith("text/") or media_type in TEXT_TYPES:
            texts.append(f"{attachment.name}:\n{decode(attachment).decode('utf-8', 'replace')}")
        else:
            raise BadRequestError(
                f"{label} models here take images (PNG, JPEG, GIF, WebP) and text files; "
                f"{attachment.name!r} is {attachment.media_type}",
                provider=provider,
            )
    return texts, images


def decode(attachment: Attachment) -> bytes:
    try:
        return base64.b64decode(attachment.data, validate=True)
    except (binascii.Error, ValueError):
        raise BadRequestError(f"attachment {attachment.name!r} is not valid base64") from None


def data_url(attachment: Attachment) -> str:
    return f"data:{attachment.media_type};base64,{attachment.data}"
