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
import importlib
import importlib.util
import socket
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, ClassVar, TypeVar
from urllib.parse import urlsplit

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
from ..redact import redact, remember_secret
from ..stop import on_stop, stop_requested
from ..types import (
    Attachment,
    CallTool,
    ChatConfig,
    Finish,
    Message,
    Reasoning,
    ToolCall,
    Usage,
)
from .spec import ProviderSpec, Sdk
from .tool_history import AssistantTurn, PendingCalls

Delta = str | Reasoning | CallTool
IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
TEXT_TYPES = frozenset({"application/json", "application/xml", "application/x-yaml"})
DEFAULT_MAX_RETRIES = 2
MAX_REASON = 1000
"""Code points of a server's error reason kept in a message."""
DEFAULT_PORTS = {"http": 80, "https": 443}
_CLIENT_CACHE_SIZE = 16


class StreamState:
    """What the chunks said so far beyond text: the final event, the finish, the usage, the
    tool calls still streaming."""

    __slots__ = ("calls", "complete", "events", "finish", "input_tokens", "output_tokens", "signed")

    def __init__(self) -> None:
        self.calls = PendingCalls()
        self.signed: dict[int, SignedReasoning] = {}
        """Reasoning blocks of this step so far, by block index: some APIs want the signed
        ones back, unchanged, before the step's calls (``completed_calls``)."""
        self.complete = False
        self.events = 0
        self.finish: str = "stop"
        self.input_tokens: int | None = None
        self.output_tokens: int | None = None


class SignedReasoning:
    """One reasoning block as the API streamed it: its text and signature, or the opaque
    data of a redacted block. The API checks it when it comes back, so it is kept whole."""

    __slots__ = ("redacted", "signature", "text")

    def __init__(self, redacted: Any = None) -> None:
        self.text: list[str] = []
        self.signature: str | None = None
        self.redacted = redacted

    @property
    def signed(self) -> bool:
        """Whether the API can take it back (an unsigned block it would refuse)."""
        return self.redacted is not None or bool(self.signature)


class CallMemory:
    """What an API wants back with a call its model made that the chat does not keep —
    Gemini's thought signature, Claude's signed thinking — by call id, in this process and
    bounded: enough for the steps of a reply and the later turns of this kernel."""

    def __init__(self, size: int = 1000) -> None:
        self._lock = threading.Lock()
        self._size = size
        self._by_call: OrderedDict[str, Any] = OrderedDict()

    def keep(self, call_id: str, value: Any) -> None:
        with self._lock:
            self._by_call[call_id] = value
            while len(self._by_call) > self._size:
                self._by_call.popitem(last=False)

    def get(self, call_id: str) -> Any:
        with self._lock:
            return self._by_call.get(call_id)


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

    Subclasses name their entry of the provider table (``class M(ProviderModel,
    spec=PROVIDERS["x"])``, which sets ``provider``, ``label``, ``sdk``...) and implement
    ``make_client``, ``build_request``, ``open_stream`` and ``read_chunk``; ``read_chunk``
    yields text deltas and completed tool calls (``CallTool``) and records usage, finish
    and the final event on the ``StreamState``.
    """

    spec: ClassVar[ProviderSpec | None] = None
    provider: ClassVar[str]
    credentials_id: ClassVar[str | None]
    """The provider whose stored credentials apply (None: explicit arguments only)."""
    label: ClassVar[str]
    sdk: ClassVar[Sdk]
    extra: ClassVar[str]
    final_event: ClassVar[str]

    _clients: ClassVar[dict[tuple[Any, ...], Any]] = {}
    _clients_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init_subclass__(cls, spec: ProviderSpec | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if spec is not None:
            cls.spec = spec
            cls.provider = cls.credentials_id = spec.id
            cls.label = spec.label
            cls.sdk = spec.sdk
            cls.extra = spec.extra

    def __init__(
        self,
        model: str,
        system_message: str | None = None,
        *,
        credentials: dict[str, str | None] | None = None,
        endpoint: str | None = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
        **params: Any,
    ) -> None:
        """``endpoint``: a URL the SDK is pointed at that the credential store does not hold
        (Google's ``base_url``, Bedrock's ``endpoint_url``)."""
        self.model = model
        self.system_message = system_message
        self.credentials = {k: v for k, v in (credentials or {}).items() if v}
        self.endpoint = endpoint
        self.max_retries = max_retries
        self.params = params
        self.check_installed()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.model!r})"

    @classmethod
    def check_installed(cls) -> None:
        try:
            found = importlib.util.find_spec(cls.sdk.package) is not None
        except ModuleNotFoundError:
            found = False
        if not found:
            raise MissingDependencyError(cls.sdk.pip_name, cls.extra)

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

    def error_body(self, exc: BaseException) -> object:
        """Where the SDK keeps the server's parsed error body (``exc.body`` by default)."""
        return getattr(exc, "body", None)

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
        key = (type(self), self.max_retries, self.endpoint, tuple(sorted(credentials.items())))
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
            remember_secret(self.credentials.get("api_key"))
            return dict(self.credentials)  # type: ignore[arg-type]
        from ..credentials import default_store

        return default_store().resolve(self.credentials_id, **self.credentials)

    def require_field(self, credentials: dict[str, str], name: str) -> str:
        """The credential field ``name``, or an ``auth`` error saying how to supply it."""
        value = credentials.get(name)
        if value:
            return value
        entry = self.spec.field(name) if self.spec is not None else None
        label = entry.label if entry is not None else name
        where = f", or set {entry.env[0]}" if entry is not None and entry.env else ""
        raise AuthError(
            f"no {self.label} {label}: add one with the key button in the deltachat panel{where}",
            provider=self.provider,
        )

    def map_error(self, exc: Exception, state: StreamState) -> DeltaChatError:
        """The protocol error for an SDK exception: by HTTP status where there is one, with
        the server's own reason (whatever its body's shape) or the address it could not
        reach."""
        provider = self.provider
        if isinstance(exc, self.transport_errors() + (OSError,)):
            address = tried_address(exc)
            where = f"{self.label} at {address}" if address else self.label
            cause = redact(root_cause(exc))
            if state.events:
                return TruncatedError(
                    f"the connection to {where} broke after {state.events} events, "
                    f"before the final event ({cause})",
                    provider=provider,
                )
            return ConnectionFailedError(f"could not reach {where} ({cause})", provider=provider)
        detail = redact(server_reason(self.error_body(exc)) or f"{type(exc).__name__}: {exc}")
        if isinstance(exc, self.credential_errors()):
            return AuthError(f"{self.label} credentials are missing ({detail})", provider=provider)
        if not isinstance(exc, self.sdk_errors()):
            raise exc
        status = http_status(exc)
        if status in (401, 403):
            return AuthError(
                f"{self.label} refused the credentials ({status}: {detail})",
                provider=provider,
                status=status,
            )
        if status == 429:
            return RateLimitError(
                f"{self.label} rate limit reached ({status}: {detail})",
                provider=provider,
                status=status,
            )
        if status is not None and status >= 400:
            return ProviderError(
                f"{self.label} error ({status}: {detail})", provider=provider, status=status
            )
        return self.stream_error(detail)

    def completed_calls(self, state: StreamState, memory: CallMemory) -> list[CallTool]:
        """The calls whose blocks just ended. The step's signed reasoning is kept in
        ``memory`` under the first call's id: the API wants it back before the calls."""
        calls = state.calls.complete(self.provider)
        if state.signed and calls[0].id:
            signed = [block for _, block in sorted(state.signed.items()) if block.signed]
            memory.keep(calls[0].id, signed)
            state.signed.clear()
        return calls

    def stream_error(self, reason: str) -> ProviderError:
        """An error event inside the stream (no HTTP status), with the server's reason."""
        return ProviderError(
            f"{self.label} reported an error mid-stream: {redact(reason)}", provider=self.provider
        )

    # -- request helpers ----------------------------------------------------------------

    def system_text(self, messages: list[Message]) -> str | None:
        """The model's own system message, then the chat's system messages, as one text."""
        parts = [self.system_message] if self.system_message else []
        parts += [m.content for m in messages if m.role == "system" and m.content]
        return "\n\n".join(parts) or None

    def message_parts(
        self,
        message: Message,
        text: Callable[[str], Any],
        image: Callable[[Attachment], Any],
        images_first: bool = False,
    ) -> list[Any]:
        """A user message as the API's list of parts: its text, its text attachments
        (inlined with their names) and its images, each in the API's own form."""
        texts, images = split_attachments(message, self.provider, self.label)
        text_parts = [text(part) for part in [message.content, *texts] if part]
        image_parts = [image(attachment) for attachment in images]
        return image_parts + text_parts if images_first else text_parts + image_parts

    def text_or_parts(
        self,
        message: Message,
        text: Callable[[str], Any],
        image: Callable[[Attachment], Any],
        images_first: bool = False,
    ) -> str | list[Any]:
        """The plain text for a message without attachments (APIs that take either),
        else ``message_parts``."""
        if not message.attachments:
            return message.content
        return self.message_parts(message, text, image, images_first)

    def call_turn_blocks(
        self,
        turn: AssistantTurn,
        memory: CallMemory,
        reasoning: Callable[[SignedReasoning], Any],
        text: Callable[[str], Any],
        call: Callable[[ToolCall], Any],
    ) -> list[Any]:
        """An assistant turn that made calls as the API's content blocks, each in the API's
        own form: the signed reasoning kept for its first call (``completed_calls``), its
        text unless blank (such APIs refuse a blank text block), then its calls."""
        signed = memory.get(turn.calls[0].id) if turn.calls else None
        blocks = [reasoning(block) for block in signed or ()]
        if turn.text.strip():
            blocks.append(text(turn.text))
        return blocks + [call(item) for item in turn.calls]

    def options(self, config: ChatConfig, names: dict[str, str]) -> dict[str, Any]:
        """``params`` given to the factory, overridden by the ``config`` fields this API
        accepts (``names`` maps ChatConfig field to API name)."""
        options = dict(self.params)
        for field, api_name in names.items():
            value = getattr(config, field)
            if value is not None:
                options[api_name] = value
        return options


class StainlessSdkModel(ProviderModel):
    """A provider whose SDK is generated by Stainless (openai, anthropic, groq): the same
    client constructor, the same connection error class, the parsed body in ``exc.body``;
    the SDKs differ only in the names below."""

    client_class: ClassVar[str]
    base_error: ClassVar[str]
    http_package: ClassVar[str] = "httpx2"
    """The httpx fork the SDK is built on (its transport errors escape unwrapped)."""
    placeholder_key: ClassVar[str | None] = None
    """Sent when no key is configured (servers that need none); None: a key is required."""

    def make_client(self, credentials: dict[str, str]) -> Any:
        sdk = importlib.import_module(self.sdk.package)
        key = credentials.get("api_key") or self.placeholder_key
        return getattr(sdk, self.client_class)(
            api_key=key or self.require_field(credentials, "api_key"),
            base_url=credentials.get("base_url") or None,
            max_retries=self.max_retries,
            http_client=sdk.DefaultHttpxClient(event_hooks={"response": [capture_socket]}),
        )

    def transport_errors(self) -> tuple[type[BaseException], ...]:
        sdk = importlib.import_module(self.sdk.package)
        http = importlib.import_module(self.http_package)
        return (sdk.APIConnectionError, http.TransportError)

    def sdk_errors(self) -> tuple[type[BaseException], ...]:
        return (getattr(importlib.import_module(self.sdk.package), self.base_error),)


KeyedModel = TypeVar("KeyedModel", bound=ProviderModel)


def keyed_factory(model_class: type[KeyedModel], doc: str) -> Callable[..., KeyedModel]:
    """The public factory of a provider configured by an API key and maybe a base URL,
    named after its id: ``anthropic(model, system_message, api_key, base_url, **params)``.
    ``base_url`` is a credential where the provider's spec has that field (so the store may
    supply it), else the SDK's ``endpoint`` (Google)."""
    spec = model_class.spec
    assert spec is not None, f"{model_class.__name__} names no provider spec"
    stored_base_url = spec.field("base_url") is not None

    def factory(
        model: str,
        system_message: str | None = None,
        api_key: str | None = None,
        base_url: str | None = None,
        **params: Any,
    ) -> KeyedModel:
        credentials = {"api_key": api_key}
        endpoint = None
        if stored_base_url:
            credentials["base_url"] = base_url
        else:
            endpoint = base_url
        return model_class(
            model, system_message, credentials=credentials, endpoint=endpoint, **params
        )

    factory.__name__ = factory.__qualname__ = spec.id
    factory.__module__ = model_class.__module__
    factory.__doc__ = doc
    factory.__annotations__["return"] = model_class.__name__
    return factory


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


def server_reason(body: object) -> str | None:
    """The server's own words in an error body, whatever its shape: ``{"error": {"message":
    …}}`` (OpenAI, vLLM, Anthropic, Google), ``{"error": "…"}`` (Ollama, an SSE error event),
    ``{"detail": "…"}`` or FastAPI's ``{"detail": [{"msg": …}]}``, ``{"message": "…"}``
    (Bedrock, others), botocore's ``{"Message": …}``, or the SDK's already unwrapped body."""
    if isinstance(body, str):
        text = body.strip()
        return text[:MAX_REASON] + "\u2026" if len(text) > MAX_REASON else text or None
    if isinstance(body, Mapping):
        for key in ("message", "error", "detail", "Message", "msg"):
            reason = server_reason(body.get(key))
            if reason:
                return reason
        return None
    if isinstance(body, list):
        reasons = [reason for item in body if (reason := server_reason(item))]
        return server_reason("; ".join(reasons))
    return None


def tried_address(exc: BaseException) -> str | None:
    """``host:port`` of the URL a failed connection was for, from the exception chain
    (httpx/httpx2 keep the request, botocore the endpoint URL)."""
    for link in exception_chain(exc):
        kwargs = getattr(link, "kwargs", None)
        url: object = kwargs.get("endpoint_url") if isinstance(kwargs, dict) else None
        if url is None:
            try:
                url = getattr(getattr(link, "request", None), "url", None)
            except RuntimeError:  # httpx: "The .request property has not been set."
                url = None
        if url is not None:
            parts = urlsplit(str(url))
            port = parts.port or DEFAULT_PORTS.get(parts.scheme)
            if parts.hostname and port:
                host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
                return f"{host}:{port}"
    return None


def root_cause(exc: BaseException) -> str:
    """What finally went wrong under the SDK's wrappers (``Connection refused``)."""
    *_, root = exception_chain(exc)
    if isinstance(root, OSError) and root.strerror:
        return root.strerror
    return f"{type(root).__name__}: {root}"


def exception_chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and the exceptions it was raised from or during, outermost first."""
    chain = [exc]
    while (cause := chain[-1].__cause__ or chain[-1].__context__) is not None:
        if cause in chain:
            break
        chain.append(cause)
    return chain


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
