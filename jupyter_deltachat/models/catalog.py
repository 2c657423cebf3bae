"""The built-in providers: how an id like ``anthropic:claude-sonnet-4-5`` becomes a model.

STUB: filled in by the providers work.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ProviderEntry:
    """A built-in provider: its id (as in credentials.PROVIDER_SPECS), label, default models
    for the picker, and the factory that builds a model callable from a model name."""

    id: str
    label: str
    default_models: tuple[str, ...]
    factory: Callable[..., Any]


PROVIDERS: dict[str, ProviderEntry] = {}
