"""The error classes: one per protocol ``error.code`` that code can raise.

Every error that reaches a frontend is a ``DeltaChatError``; ``to_json()`` gives the
protocol's ``error`` object. Messages pass through ``redact`` so no secret leaves.
"""

from __future__ import annotations

from typing import Any, ClassVar


class DeltaChatError(Exception):
    """Base class. ``code`` is the protocol's ``error.code``."""

    code: ClassVar[str] = "internal"
    retryable_default: ClassVar[bool] = False

    def __init_subclass__(cls, *, code: str, retryable: bool = False, **kwargs: Any) -> None:
        """``class BusyError(DeltaChatError, code="busy", retryable=True)``: the error's
        ``error.code`` and whether a retry may help, unless the raiser says otherwise."""
        super().__init_subclass__(**kwargs)
        cls.code = code
        cls.retryable_default = retryable

    def __init__(
        self,
        message: str,
        *,
        provider: str | None = None,
        status: int | None = None,
        retryable: bool | None = None,
        traceback: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.traceback = traceback
        self.provider = provider
        self.status = status
        self.retryable = self.retryable_default if retryable is None else retryable

    def to_json(self) -> dict[str, Any]:
        from .redact import redact

        data: dict[str, Any] = {
            "code": self.code,
            "message": redact(self.message),
            "retryable": self.retryable,
        }
        if self.provider is not None:
            data["provider"] = self.provider
        if self.status is not None:
            data["status"] = self.status
        if self.traceback is not None:
            data["traceback"] = redact(self.traceback)
        return data


class BadRequestError(DeltaChatError, code="bad_request"):
    """A malformed request: which field is wrong and why."""


class UnknownChatError(DeltaChatError, code="unknown_chat"):
    """A history request names a chat that neither this kernel nor the store holds."""


class UnknownModelError(DeltaChatError, code="unknown_model"):
    """No model of that name is registered or configured."""


class BusyError(DeltaChatError, code="busy", retryable=True):
    """The chat is already streaming a reply."""


class ProtocolVersionError(DeltaChatError, code="protocol_version"):
    """The frontend speaks a protocol major version this kernel does not."""


class AuthError(DeltaChatError, code="auth"):
    """401/403 from a provider, or no credentials at all."""


class RateLimitError(DeltaChatError, code="rate_limit", retryable=True):
    """429, or the provider's own rate-limit error."""


class ProviderError(DeltaChatError, code="provider"):
    """Any other HTTP error, or an error event inside the stream."""


class ConnectionFailedError(DeltaChatError, code="connection", retryable=True):
    """The provider could not be reached (the message names the host and port tried)."""


class TruncatedError(DeltaChatError, code="truncated", retryable=True):
    """The provider's stream ended without its final event."""


class ModelError(DeltaChatError, code="model_error"):
    """A custom model raised, or yielded something that is not a str."""


class MissingDependencyError(DeltaChatError, code="unknown_model"):
    """A provider SDK is not installed; the message names the extra to install."""

    def __init__(self, package: str, extra: str) -> None:
        super().__init__(
            f"The {package!r} package is not installed in this kernel's environment. "
            f'Install it with: pip install "jupyter-deltachat[{extra}]"'
        )
