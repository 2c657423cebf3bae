"""One ``ProviderCase`` per built-in provider: its wire, its credentials, how to point its
model at a fake server, and how its key shows up in a request."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from jupyter_deltachat.models import providers

from .bedrock_wire import BedrockWire
from .script import Wire
from .server import RecordedRequest
from .sse_wires import AnthropicWire, GoogleWire, GroqWire, OpenAIChatWire, OpenAIResponsesWire

KEYS = {
    "openai": "test-openai-key-5f2c9a71",
    "anthropic": "test-anthropic-key-0b7d3e55",
    "google": "test-google-key-a91c4f08",
    "groq": "test-groq-key-6e2b8d13",
}
AWS_ACCESS_KEY_ID = "AKIATESTFAKE00000001"
AWS_SECRET = "test-bedrock-secret-9d8e7f6a"
AWS_REGION = "eu-west-3"


@dataclass(frozen=True)
class ProviderCase:
    id: str
    store_id: str
    wire: Wire
    path: str
    model_name: str
    stored: Callable[[str], dict[str, str]]
    """The credential store entry for a fake server at this URL."""
    make: Callable[..., Any]
    """``make(url, **kwargs)``: the model pointed at the fake (what the store cannot hold)."""
    sent_key: Callable[[RecordedRequest], str | None]
    secret: str

    def model(self, url: str, **kwargs: Any) -> Any:
        return self.make(url, max_retries=0, **kwargs)


def _bearer(request: RecordedRequest) -> str | None:
    value = request.headers.get("authorization", "")
    return value.removeprefix("Bearer ") if value.startswith("Bearer ") else None


def _aws_access_key(request: RecordedRequest) -> str | None:
    value = request.headers.get("authorization", "")
    marker = "Credential="
    if marker not in value:
        return None
    return value.split(marker, 1)[1].split("/", 1)[0]


CASES = [
    ProviderCase(
        "openai",
        "openai",
        OpenAIResponsesWire(),
        "/v1/responses",
        "gpt-fake",
        lambda url: {"api_key": KEYS["openai"], "base_url": f"{url}/v1"},
        lambda url, **kw: providers.openai("gpt-fake", **kw),
        _bearer,
        KEYS["openai"],
    ),
    ProviderCase(
        "openai_chat",
        "openai",
        OpenAIChatWire(),
        "/v1/chat/completions",
        "gpt-fake",
        lambda url: {"api_key": KEYS["openai"], "base_url": f"{url}/v1"},
        lambda url, **kw: providers.openai("gpt-fake", api="chat", **kw),
        _bearer,
        KEYS["openai"],
    ),
    ProviderCase(
        "anthropic",
        "anthropic",
        AnthropicWire(),
        "/v1/messages",
        "claude-fake",
        lambda url: {"api_key": KEYS["anthropic"], "base_url": url},
        lambda url, **kw: providers.anthropic("claude-fake", **kw),
        lambda request: request.headers.get("x-api-key") or _bearer(request),
        KEYS["anthropic"],
    ),
    ProviderCase(
        "google",
        "google",
        GoogleWire(),
        "/v1/models/gemini-fake:streamGenerateContent?alt=sse",
        "gemini-fake",
        lambda url: {"api_key": KEYS["google"]},
        lambda url, **kw: providers.google("gemini-fake", base_url=url, **kw),
        lambda request: request.headers.get("x-goog-api-key"),
        KEYS["google"],
    ),
    ProviderCase(
        "groq",
        "groq",
        GroqWire(),
        "/openai/v1/chat/completions",
        "llama-fake",
        lambda url: {"api_key": KEYS["groq"], "base_url": url},
        lambda url, **kw: providers.groq("llama-fake", **kw),
        _bearer,
        KEYS["groq"],
    ),
    ProviderCase(
        "bedrock",
        "bedrock",
        BedrockWire(),
        "/model/amazon.nova-fake-v1%3A0/converse-stream",
        "amazon.nova-fake-v1:0",
        lambda url: {
            "region": AWS_REGION,
            "access_key_id": AWS_ACCESS_KEY_ID,
            "secret_access_key": AWS_SECRET,
        },
        lambda url, **kw: providers.bedrock("amazon.nova-fake-v1:0", endpoint_url=url, **kw),
        _aws_access_key,
        AWS_ACCESS_KEY_ID,
    ),
    ProviderCase(
        "ollama",
        "ollama",
        OpenAIChatWire(),
        "/v1/chat/completions",
        "llama3.2",
        lambda url: {"base_url": f"{url}/v1"},
        lambda url, **kw: providers.ollama("llama3.2", **kw),
        lambda request: "" if _bearer(request) == "not-needed" else _bearer(request),
        "",
    ),
]
CASE_IDS = [case.id for case in CASES]
