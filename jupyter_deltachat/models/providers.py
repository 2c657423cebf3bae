"""The public factories of the built-in providers, one import away:
``from jupyter_deltachat.models.providers import openai, anthropic, ...``."""

from __future__ import annotations

from .anthropic import anthropic
from .bedrock import bedrock
from .google import google
from .groq import groq
from .openai import openai
from .openai_compatible import ollama, openai_compatible

__all__ = ["anthropic", "bedrock", "google", "groq", "ollama", "openai", "openai_compatible"]
