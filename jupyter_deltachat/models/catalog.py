"""The built-in providers: how an id like ``anthropic:claude-sonnet-4-5`` becomes a model.

Any model name works after the prefix; ``default_models`` are only what the picker lists.
Any other OpenAI-compatible server (vLLM, LM Studio...) is reached with an ``ollama:`` id
after pointing the Ollama base URL at it, or with ``providers.openai_compatible(...)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import providers


@dataclass(frozen=True)
class ProviderEntry:
    """A built-in provider: its id (as in credentials.PROVIDER_SPECS), label, default models
    for the picker, and the factory that builds a model callable from a model name."""

    id: str
    label: str
    default_models: tuple[str, ...]
    factory: Callable[..., Any]


PROVIDERS: dict[str, ProviderEntry] = {
    entry.id: entry
    for entry in (
        ProviderEntry(
            "openai", "OpenAI", ("gpt-5.1", "gpt-5-mini", "gpt-4.1", "gpt-4o"), providers.openai
        ),
        ProviderEntry(
            "anthropic",
            "Anthropic",
            ("claude-sonnet-4-5", "claude-opus-4-5", "claude-haiku-4-5"),
            providers.anthropic,
        ),
        ProviderEntry(
            "google",
            "Google Gemini",
            ("gemini-2.5-flash", "gemini-2.5-pro", "gemini-2.5-flash-lite"),
            providers.google,
        ),
        ProviderEntry(
            "groq",
            "Groq",
            ("llama-3.3-70b-versatile", "openai/gpt-oss-120b", "llama-3.1-8b-instant"),
            providers.groq,
        ),
        ProviderEntry(
            "bedrock",
            "Amazon Bedrock",
            (
                "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
                "amazon.nova-pro-v1:0",
                "amazon.nova-lite-v1:0",
            ),
            providers.bedrock,
        ),
        ProviderEntry("ollama", "Ollama", ("llama3.2", "qwen3", "gemma3"), providers.ollama),
    )
}
