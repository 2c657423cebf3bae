"""The one table of built-in providers: every fact about a provider, in one entry.

The credential schema (``credentials.py``), the model catalog (``registry.py``), the REST
``providers`` listing, the panel's group labels (``ModelInfo.provider_label``) and the table
in ``docs/providers.md`` all derive from ``PROVIDERS``. Adding a provider is one entry here
plus one module under ``jupyter_deltachat/models/`` whose factory is named after its id.

This module imports no provider module (they import it), so anything may import it.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

OLLAMA_DEFAULT_BASE_URL = "http://localhost:11434/v1"


@dataclass(frozen=True)
class Sdk:
    """A Python SDK a provider module drives: the module it imports, the pip package."""

    package: str
    pip_name: str


OPENAI_SDK = Sdk("openai", "openai")
ANTHROPIC_SDK = Sdk("anthropic", "anthropic")
GOOGLE_SDK = Sdk("google.genai", "google-genai")
GROQ_SDK = Sdk("groq", "groq")
BOTO3_SDK = Sdk("boto3", "boto3")


@dataclass(frozen=True)
class CredentialField:
    """One credential field a provider takes, and the environment variables that supply it
    (the first one set wins; the first one named is the one error messages suggest)."""

    name: str
    label: str
    secret: bool
    required: bool
    env: tuple[str, ...] = ()


@dataclass(frozen=True)
class ProviderSpec:
    """A built-in provider.

    ``credentials`` lists alternative sets of fields, any one of which (with every
    ``required`` field) makes the provider configured; ``hint_field`` is the secret whose
    last characters the server may show; ``defaults`` fill fields nothing else supplies.
    ``module`` is the module under ``jupyter_deltachat.models`` holding the factory named
    ``id``; ``extra`` is the pip extra that installs ``sdk``.
    """

    id: str
    label: str
    module: str
    sdk: Sdk
    extra: str
    fields: tuple[CredentialField, ...]
    default_models: tuple[str, ...]
    credentials: tuple[tuple[str, ...], ...] = ()
    hint_field: str | None = None
    defaults: dict[str, str] = field(default_factory=dict)

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(spec.name for spec in self.fields)

    @property
    def secret_fields(self) -> frozenset[str]:
        return frozenset(spec.name for spec in self.fields if spec.secret)

    def field(self, name: str) -> CredentialField | None:
        return next((entry for entry in self.fields if entry.name == name), None)

    def factory(self) -> Callable[..., Any]:
        """The public factory (``openai(model, ...)``), imported on first use."""
        module = importlib.import_module(f"{__package__}.{self.module}")
        return getattr(module, self.id)


def _api_key(*env: str) -> CredentialField:
    return CredentialField("api_key", "API key", secret=True, required=False, env=env)


def _base_url(*env: str) -> CredentialField:
    return CredentialField("base_url", "Base URL", secret=False, required=False, env=env)


def _keyed(
    provider_id: str,
    label: str,
    sdk: Sdk,
    default_models: tuple[str, ...],
    key_env: tuple[str, ...],
    base_url_env: tuple[str, ...] | None,
) -> ProviderSpec:
    """A provider configured by an API key (and optionally a base URL)."""
    fields = (_api_key(*key_env),)
    if base_url_env is not None:
        fields += (_base_url(*base_url_env),)
    return ProviderSpec(
        provider_id,
        label,
        module=provider_id,
        sdk=sdk,
        extra=provider_id,
        fields=fields,
        default_models=default_models,
        credentials=(("api_key",),),
        hint_field="api_key",
    )


PROVIDERS: dict[str, ProviderSpec] = {
    spec.id: spec
    for spec in (
        _keyed(
            "openai",
            "OpenAI",
            OPENAI_SDK,
            ("gpt-5.1", "gpt-5-mini", "gpt-4.1", "gpt-4o"),
            ("OPENAI_API_KEY",),
            ("OPENAI_BASE_URL",),
        ),
        _keyed(
            "anthropic",
            "Anthropic",
            ANTHROPIC_SDK,
            ("claude-sonnet-4-5", "claude-opus-4-5", "claude-haiku-4-5"),
            ("ANTHROPIC_API_KEY",),
            ("ANTHROPIC_BASE_URL",),
        ),
        _keyed(
            "google",
            "Google Gemini",
            GOOGLE_SDK,
            ("gemini-2.5-flash", "gemini-2.5-pro", "gemini-2.5-flash-lite"),
            ("GEMINI_API_KEY", "GOOGLE_API_KEY"),
            None,
        ),
        _keyed(
            "groq",
            "Groq",
            GROQ_SDK,
            ("llama-3.3-70b-versatile", "openai/gpt-oss-120b", "llama-3.1-8b-instant"),
            ("GROQ_API_KEY",),
            ("GROQ_BASE_URL",),
        ),
        ProviderSpec(
            "bedrock",
            "Amazon Bedrock",
            module="bedrock",
            sdk=BOTO3_SDK,
            extra="bedrock",
            fields=(
                CredentialField(
                    "region", "Region", False, True, ("AWS_DEFAULT_REGION", "AWS_REGION")
                ),
                CredentialField(
                    "access_key_id", "Access key ID", True, False, ("AWS_ACCESS_KEY_ID",)
                ),
                CredentialField(
                    "secret_access_key",
                    "Secret access key",
                    True,
                    False,
                    ("AWS_SECRET_ACCESS_KEY",),
                ),
                CredentialField(
                    "session_token", "Session token", True, False, ("AWS_SESSION_TOKEN",)
                ),
                CredentialField("profile", "Profile", False, False, ("AWS_PROFILE",)),
            ),
            default_models=(
                "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
                "amazon.nova-pro-v1:0",
                "amazon.nova-lite-v1:0",
            ),
            credentials=(("access_key_id", "secret_access_key"), ("profile",)),
            hint_field="access_key_id",
        ),
        ProviderSpec(
            "ollama",
            "Ollama",
            module="openai_compatible",
            sdk=OPENAI_SDK,
            extra="openai",
            fields=(_base_url("OLLAMA_BASE_URL"),),
            default_models=("llama3.2", "qwen3", "gemma3"),
            credentials=(("base_url",),),
            defaults={"base_url": OLLAMA_DEFAULT_BASE_URL},
        ),
    )
}


def env_names() -> tuple[str, ...]:
    """Every environment variable any provider reads its credentials from, sorted."""
    return tuple(
        sorted({name for spec in PROVIDERS.values() for entry in spec.fields for name in entry.env})
    )


def markdown_table() -> str:
    """The provider table of ``docs/providers.md`` (``tests/test_providers_requests.py``
    checks that the docs hold exactly this)."""
    rows = [
        "| id prefix | label | factory | SDK (extra) | credentials (environment) | picker lists |",
        "|---|---|---|---|---|---|",
    ]
    for spec in PROVIDERS.values():
        signature = inspect.signature(spec.factory())
        bare = signature.replace(
            parameters=[p.replace(annotation=p.empty) for p in signature.parameters.values()],
            return_annotation=signature.empty,
        )
        credentials = ", ".join(
            f"{entry.name} ({' / '.join(f'`{name}`' for name in entry.env)})"
            for entry in spec.fields
        )
        models = ", ".join(f"`{name}`" for name in spec.default_models)
        rows.append(
            f"| `{spec.id}:` | {spec.label} | `{spec.id}{bare}` in `models/{spec.module}.py` | "
            f"`{spec.sdk.pip_name}` (`[{spec.extra}]`) | {credentials} | {models} |"
        )
    return "\n".join(rows)
