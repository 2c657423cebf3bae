"""Models: the registry of ids, the offline demo, and the built-in providers.

``jupyter_deltachat.models.openai("gpt-4o")`` and friends build provider models; the SDKs
are imported only when a model is first called.
"""

from .providers import anthropic, bedrock, google, groq, ollama, openai, openai_compatible
from .registry import REGISTRY, register, resolve, unregister

__all__ = [
    "REGISTRY",
    "anthropic",
    "bedrock",
    "google",
    "groq",
    "ollama",
    "openai",
    "openai_compatible",
    "register",
    "resolve",
    "unregister",
]
