"""The one credential store: read by the kernel at call time, written only by the server.

STUB: the interface every other part codes against. The credentials work fills it in.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Source = Literal["env", "store"]


@dataclass(frozen=True)
class FieldSpec:
    """One credential field a provider takes (``api_key``, ``base_url``, ``region``...)."""

    name: str
    label: str
    secret: bool
    required: bool


@dataclass(frozen=True)
class ProviderSpec:
    """What a provider needs, and which environment variables supply each field."""

    id: str
    label: str
    fields: tuple[FieldSpec, ...]
    env: dict[str, tuple[str, ...]]


PROVIDER_SPECS: dict[str, ProviderSpec] = {}


class CredentialStore:
    def __init__(self, path: str | Path | None = None) -> None:
        raise NotImplementedError

    def get(self, provider: str) -> dict[str, str]:
        """The fields stored for ``provider`` (empty when none)."""
        raise NotImplementedError

    def set(self, provider: str, fields: dict[str, str]) -> None:
        """Replace what is stored for ``provider``."""
        raise NotImplementedError

    def delete(self, provider: str) -> None:
        raise NotImplementedError

    def resolve(self, provider: str, **explicit: str | None) -> dict[str, str]:
        """Per field: the explicit argument, else the environment, else the store."""
        raise NotImplementedError

    def status(self, provider: str) -> tuple[bool, Source | None]:
        """Whether ``provider`` is configured and from where; never the secret itself."""
        raise NotImplementedError


def default_store() -> CredentialStore:
    """The store at ``$JUPYTER_DELTACHAT_CREDENTIALS`` or the default path, read at call time."""
    raise NotImplementedError
