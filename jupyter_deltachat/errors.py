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


class BadRequestError(DeltaChatError):
    code = "bad_request"


class UnknownChatError(DeltaChatError):
    """A history request names a chat that neither this kernel nor the store holds."""

    code = "unknown_chat"


class UnknownModelError(DeltaChatError):
    code = "unknown_model"


class BusyError(DeltaChatError):
    code = "busy"
    retryable_default = True


class ProtocolVersionError(DeltaChatError):
    code = "protocol_version"


class AuthError(DeltaChatError):
    """401/403 from a provider, or no credentials at all."""

    code = "auth"


class RateLimitError(DeltaChatError):
    code = "rate_limit"
    retryable_default = True


class ProviderError(DeltaChatError):
    """Any other HTTP error, or an error event inside the stream."""

    code = "provider"


class ConnectionFailedError(DeltaChatError):
    code = "connection"
    retryable_default = True


class TruncatedError(DeltaChatError):
    """The provider's stream ended without its final event."""

    code = "truncated"
    retryable_default = True


class ModelError(DeltaChatError):
    """A custom model raised, or yielded something that is not a str."""

    code = "model_error"


class MissingDependencyError(DeltaChatError):
    """A provider SDK is not installed; the message names the extra to install."""

    code = "unknown_model"

    def __init__(self, package: str, extra: str) -> None:
        super().__init__(
            f"The {package!r} package is not installed in this kernel's environment. "
            f'Install it with: pip install "jupyter-deltachat[{extra}]"'
        )
