"""What each provider's request carries: model, history, system prompt, the ChatConfig
fields its API accepts (under its own names), attachments, and the stored key."""

from __future__ import annotations

import sys
import types
from pathlib import Path
from typing import Any

import pytest
from fakes.cases import AWS_REGION, CASES, ProviderCase
from fakes.fixtures import *  # noqa: F403 - the fixtures
from fakes.fixtures import drain
from fakes.script import Script
from fakes.server import FakeServer

from jupyter_deltachat.credentials import CredentialStore, provider_spec
from jupyter_deltachat.errors import BadRequestError, MissingDependencyError
from jupyter_deltachat.models import REGISTRY, resolve
from jupyter_deltachat.models.base import ProviderModel
from jupyter_deltachat.models.spec import PROVIDERS, CredentialField, ProviderSpec, markdown_table
from jupyter_deltachat.types import Attachment, ChatConfig, Message, Usage

DOCS = Path(__file__).resolve().parent.parent / "docs" / "providers.md"
PNG = "iVBORw0KGgo="
SYSTEM = "You are terse.\n\nBe brief."
CONFIG = ChatConfig(
    max_tokens=50,
    temperature=0.5,
    top_p=0.9,
    top_k=40,
    frequency_penalty=0.1,
    presence_penalty=0.2,
)
HISTORY = [
    Message("system", "Be brief."),
    Message("user", "Hi"),
    Message("assistant", "Hello!"),
    Message("assistant", ""),  # a reply that failed before any text: not sent
    Message(
        "user",
        "Look",
        attachments=[
            Attachment("a.png", "image/png", PNG),
            Attachment("notes.txt", "text/plain", "bm90ZXM="),
        ],
    ),
]
CHAT_MESSAGES = [
    {"role": "system", "content": SYSTEM},
    {"role": "user", "content": "Hi"},
    {"role": "assistant", "content": "Hello!"},
    {
        "role": "user",
        "content": [
            {"type": "text", "text": "Look"},
            {"type": "text", "text": "notes.txt:\nnotes"},
            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
        ],
    },
]
CHAT_CONFIG = {"temperature": 0.5, "top_p": 0.9, "frequency_penalty": 0.1, "presence_penalty": 0.2}
EXPECTED: dict[str, dict[str, Any]] = {
    "openai": {
        "model": "gpt-fake",
        "stream": True,
        "store": False,
        "instructions": SYSTEM,
        "input": [
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello!"},
            {
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "Look"},
                    {"type": "input_text", "text": "notes.txt:\nnotes"},
                    {"type": "input_image", "image_url": f"data:image/png;base64,{PNG}"},
                ],
            },
        ],
        "max_output_tokens": 50,
        "temperature": 0.5,
        "top_p": 0.9,
    },
    "openai_chat": {
        "model": "gpt-fake",
        "stream": True,
        "stream_options": {"include_usage": True},
        "messages": CHAT_MESSAGES,
        "max_completion_tokens": 50,
        **CHAT_CONFIG,
    },
    "ollama": {
        "model": "llama3.2",
        "stream": True,
        "stream_options": {"include_usage": True},
        "messages": CHAT_MESSAGES,
        "max_tokens": 50,
        **CHAT_CONFIG,
    },
    "groq": {
        "model": "llama-fake",
        "stream": True,
        "messages": CHAT_MESSAGES,
        "max_completion_tokens": 50,
        **CHAT_CONFIG,
    },
    "anthropic": {
        "model": "claude-fake",
        "stream": True,
        "max_tokens": 50,
        "system": SYSTEM,
        "messages": [
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello!"},
            {
                "role": "user",
                "content": [
                    {
                        "type": "image",
                        "source": {"type": "base64", "media_type": "image/png", "data": PNG},
                    },
                    {"type": "text", "text": "Look"},
                    {"type": "text", "text": "notes.txt:\nnotes"},
                ],
            },
        ],
    },
    "google": {
        "contents": [
            {"role": "user", "parts": [{"text": "Hi"}]},
            {"role": "model", "parts": [{"text": "Hello!"}]},
            {
                "role": "user",
                "parts": [
                    {"text": "Look"},
                    {"text": "notes.txt:\nnotes"},
                    {"inlineData": {"data": PNG, "mime_type": "image/png"}},
                ],
            },
        ],
        "systemInstruction": {"parts": [{"text": SYSTEM}], "role": "user"},
        "generationConfig": {
            "maxOutputTokens": 50,
            "temperature": 0.5,
            "topP": 0.9,
            "topK": 40.0,
            "frequencyPenalty": 0.1,
            "presencePenalty": 0.2,
        },
    },
    "bedrock": {
        "messages": [
            {"role": "user", "content": [{"text": "Hi"}]},
            {"role": "assistant", "content": [{"text": "Hello!"}]},
            {
                "role": "user",
                "content": [
                    {"image": {"format": "png", "source": {"bytes": PNG}}},
                    {"text": "Look"},
                    {"text": "notes.txt:\nnotes"},
                ],
            },
        ],
        "system": [{"text": SYSTEM}],
        "inferenceConfig": {"maxTokens": 50, "temperature": 0.5, "topP": 0.9},
    },
}


def test_the_request_carries_model_history_system_config_and_key(
    case: ProviderCase, fake: FakeServer, store: CredentialStore
):
    store.set(case.store_id, case.stored(fake.url))
    fake.plan(case.wire.stream(Script()))
    model = case.model(fake.url, system_message="You are terse.")
    assert drain(model, HISTORY, CONFIG) == (["Hel", "lo", ", wor", "ld!", Usage(11, 7)], None)
    [request] = fake.requests
    assert request.method == "POST"
    assert request.path == case.path
    assert request.json == EXPECTED[case.id]
    assert case.sent_key(request) == case.secret
    if case.id == "bedrock":
        scope = request.headers["authorization"].split("Credential=", 1)[1].split(",", 1)[0]
        assert scope.split("/")[2:] == [AWS_REGION, "bedrock", "aws4_request"]


def test_factory_params_go_into_the_request_and_config_overrides_them(
    fake: FakeServer, store: CredentialStore
):
    [case] = [c for c in CASES if c.id == "anthropic"]
    store.set("anthropic", case.stored(fake.url))
    fake.plan(case.wire.stream(Script()))
    thinking = {"type": "enabled", "budget_tokens": 1024}
    model = case.model(fake.url, thinking=thinking, max_tokens=4000)
    drain(model, [Message("user", "Hi")], ChatConfig(max_tokens=3000))
    body = fake.requests[0].json
    assert (body["thinking"], body["max_tokens"]) == (thinking, 3000)


def test_an_attachment_the_api_cannot_take_is_refused_not_dropped(
    case: ProviderCase, fake: FakeServer, store: CredentialStore
):
    store.set(case.store_id, case.stored(fake.url))
    pdf = Attachment("paper.pdf", "application/pdf", "JVBERi0=")
    items, error = drain(case.model(fake.url), [Message("user", "Read", attachments=[pdf])])
    assert items == []
    assert type(error) is BadRequestError
    assert "'paper.pdf' is application/pdf" in error.message
    assert fake.requests == []


def test_ids_resolve_to_each_provider_and_every_provider_lists_models():
    assert set(PROVIDERS) == {"openai", "anthropic", "google", "groq", "bedrock", "ollama"}
    for provider_id, entry in PROVIDERS.items():
        assert len(entry.default_models) >= 3
        model = resolve(f"{provider_id}:{entry.default_models[0]}")
        assert isinstance(model, ProviderModel)
        assert (model.provider, model.model) == (provider_id, entry.default_models[0])
    bedrock = resolve("bedrock:amazon.nova-lite-v1:0")
    assert bedrock.model == "amazon.nova-lite-v1:0"


def test_a_missing_sdk_names_the_install_command(monkeypatch: pytest.MonkeyPatch):
    from jupyter_deltachat.models.anthropic import AnthropicModel
    from jupyter_deltachat.models.spec import Sdk

    monkeypatch.setattr(AnthropicModel, "sdk", Sdk("anthropic_not_installed_here", "anthropic"))
    with pytest.raises(MissingDependencyError) as raised:
        AnthropicModel("claude-sonnet-4-5")
    assert 'pip install "jupyter-deltachat[anthropic]"' in raised.value.message


def test_openai_compatible_takes_its_url_and_key_as_arguments_only(
    fake: FakeServer, store: CredentialStore
):
    from fakes.sse_wires import OpenAIChatWire

    from jupyter_deltachat.models.providers import openai_compatible

    fake.plan(OpenAIChatWire().stream(Script(reasoning=["Hm."])))
    model = openai_compatible(
        "qwen3", base_url=f"{fake.url}/v1", api_key="vllm-key-4c1d9e", max_retries=0
    )
    assert drain(model) == (["Hm.", "Hel", "lo", ", wor", "ld!", Usage(11, 7)], None)
    [request] = fake.requests
    assert (request.path, request.json["model"]) == ("/v1/chat/completions", "qwen3")
    assert request.headers["authorization"] == "Bearer vllm-key-4c1d9e"
    with pytest.raises(ValueError, match="base_url"):
        openai_compatible("qwen3")


def test_the_docs_provider_table_is_the_one_the_spec_generates():
    docs = DOCS.read_text(encoding="utf-8")
    start = docs.index("\n", docs.index("<!-- provider table:")) + 1
    table = docs[start : docs.index("\n<!-- end of provider table -->")]
    assert table == markdown_table(), (
        "docs/providers.md's provider table is stale: paste markdown_table() from "
        "jupyter_deltachat/models/spec.py"
    )


def test_a_provider_is_one_spec_entry_plus_one_module(
    monkeypatch: pytest.MonkeyPatch, store: CredentialStore
):
    """A new entry (and its module) is all the store, the model list and ids need."""
    module = types.ModuleType("jupyter_deltachat.models.acme")
    module.acme = lambda model: f"acme model {model}"  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, module.__name__, module)
    field = CredentialField("api_key", "API key", True, False, ("ACME_API_KEY",))
    spec = ProviderSpec(
        "acme",
        "Acme AI",
        "acme",
        PROVIDERS["openai"].sdk,
        "acme",
        (field,),
        ("rocket-1",),
        credentials=(("api_key",),),
    )
    monkeypatch.setitem(PROVIDERS, "acme", spec)
    assert provider_spec("acme") is spec
    assert store.status("acme") == (False, None)
    monkeypatch.setenv("ACME_API_KEY", "acme-key-0123456789")
    assert store.status("acme") == (True, "env")
    [info] = [info for info in REGISTRY.models() if info.provider == "acme"]
    assert (info.id, info.provider_label, info.configured) == ("acme:rocket-1", "Acme AI", True)
    assert REGISTRY.resolve("acme:rocket-2") == "acme model rocket-2"
    assert "| `acme:` | Acme AI | `acme(model)` in `models/acme.py` |" in markdown_table()


def test_each_model_class_takes_its_facts_from_its_spec_entry():
    for spec in PROVIDERS.values():
        model = resolve(f"{spec.id}:{spec.default_models[0]}")
        assert type(model).spec is spec
        assert (model.provider, model.label, model.sdk, model.extra) == (
            spec.id,
            spec.label,
            spec.sdk,
            spec.extra,
        )
