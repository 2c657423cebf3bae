"""Models: the registry of ids, the offline demo, and the built-in providers."""

from .registry import REGISTRY, register, resolve, unregister

__all__ = ["REGISTRY", "register", "resolve", "unregister"]
