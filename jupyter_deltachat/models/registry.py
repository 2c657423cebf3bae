"""Which models exist in this kernel, and how an id becomes a callable.

Ids are ``provider:model`` for built-in providers (``anthropic:claude-sonnet-4-5``), the
name a notebook function was registered under, or ``demo``. The registry tells its
listeners when the list changes, so open panels see a model a cell just registered.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, overload

from ..errors import DeltaChatError, UnknownModelError
from ..listeners import Listeners
from ..redact import redact
from ..types import ModelInfo
from .demo import demo_model
from .spec import PROVIDERS

log = logging.getLogger(__name__)

DEMO_ID = "demo"
DEMO_GROUP = "Built in"
KERNEL_GROUP = "Kernel"
ModelFn = Callable[..., Any]


class ModelRegistry:
    """Kernel-registered models, built-in provider models, and the default choice."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._kernel_models: dict[str, ModelFn] = {}
        self._builtin_cache: dict[str, ModelFn] = {}
        self._listeners: Listeners[[]] = Listeners()
        self._chosen_default: str | None = None

    def register(self, name: str, fn: ModelFn) -> None:
        if not isinstance(name, str) or not name.strip():
            raise ValueError("a model name must be a non-empty string")
        if ":" in name:
            raise ValueError(f"{name!r}: ':' is reserved for provider ids like 'openai:gpt-4o'")
        if not callable(fn):
            raise TypeError(f"a model must be callable, not {type(fn).__name__}")
        with self._lock:
            self._kernel_models[name] = fn
        self._changed()

    def unregister(self, name: str) -> None:
        with self._lock:
            removed = self._kernel_models.pop(name, None) is not None
        if removed:
            self._changed()

    def resolve(self, model_id: str) -> ModelFn:
        """The callable for ``model_id``; ``UnknownModelError`` says what exists."""
        with self._lock:
            if model_id in self._kernel_models:
                return self._kernel_models[model_id]
            if model_id == DEMO_ID:
                return demo_model
            if model_id in self._builtin_cache:
                return self._builtin_cache[model_id]
        provider, sep, name = model_id.partition(":")
        spec = PROVIDERS.get(provider)
        if not sep or not name or spec is None:
            known = ", ".join(sorted([DEMO_ID, *self._kernel_models])) or DEMO_ID
            providers = ", ".join(f"{p}:<model>" for p in PROVIDERS)
            raise UnknownModelError(
                f"unknown model {model_id!r}; known: {known}"
                + (f"; or a provider id: {providers}" if providers else "")
            )
        model = spec.factory()(name)
        with self._lock:
            return self._builtin_cache.setdefault(model_id, model)

    def models(self) -> list[ModelInfo]:
        """What the picker lists: demo, the kernel's own models, then each provider's."""
        infos = [ModelInfo(DEMO_ID, "demo", "Demo (offline)", True, "builtin", DEMO_GROUP)]
        with self._lock:
            kernel_names = list(self._kernel_models)
        infos += [
            ModelInfo(name, "kernel", name, True, "kernel", KERNEL_GROUP) for name in kernel_names
        ]
        for spec in PROVIDERS.values():
            configured = provider_configured(spec.id)
            asks_for = None if configured else ("key" if spec.secret_fields else "url")
            infos += [
                ModelInfo(f"{spec.id}:{m}", spec.id, m, configured, "builtin", spec.label, asks_for)
                for m in spec.default_models
            ]
        return infos

    def default_model(self, infos: list[ModelInfo] | None = None) -> str:
        """The chosen default, else the first configured provider's first model, else demo."""
        infos = self.models() if infos is None else infos
        with self._lock:
            chosen = self._chosen_default
        if chosen is not None:
            return chosen
        for info in infos:
            if info.source == "builtin" and info.provider != "demo" and info.configured:
                return info.id
        return DEMO_ID

    def set_default(self, model_id: str | None) -> None:
        """Make ``model_id`` the kernel's default (``None``: back to the automatic choice)."""
        if model_id is not None:
            self.resolve(model_id)
        with self._lock:
            self._chosen_default = model_id
        self._changed()

    def subscribe(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener`` whenever the model list or the default changes."""
        return self._listeners.subscribe(listener)

    def _changed(self) -> None:
        self._listeners.notify()


def provider_configured(provider_id: str) -> bool:
    """Whether credentials for ``provider_id`` are available; a broken store says no."""
    from ..credentials import default_store

    try:
        configured, _source = default_store().status(provider_id)
    except (NotImplementedError, DeltaChatError, OSError, ValueError) as exc:
        log.debug("credentials for %s unavailable: %s", provider_id, redact(str(exc)))
        return False
    return configured


REGISTRY = ModelRegistry()


@overload
def register(name: str, fn: ModelFn) -> ModelFn: ...
@overload
def register(name: str) -> Callable[[ModelFn], ModelFn]: ...
@overload
def register(name: ModelFn) -> ModelFn: ...
def register(name: str | ModelFn, fn: ModelFn | None = None) -> Any:
    """Make a notebook function a model: ``register("name", fn)``, ``@register("name")``
    or bare ``@register`` (the function's own name)."""
    if callable(name) and fn is None:
        REGISTRY.register(name.__name__, name)
        return name
    if fn is not None:
        REGISTRY.register(name, fn)  # type: ignore[arg-type]
        return fn

    def decorator(function: ModelFn) -> ModelFn:
        REGISTRY.register(name, function)  # type: ignore[arg-type]
        return function

    return decorator


def unregister(name: str) -> None:
    REGISTRY.unregister(name)


def resolve(model_id: str) -> ModelFn:
    return REGISTRY.resolve(model_id)
