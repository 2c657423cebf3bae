"""Every built-in provider through its real SDK against a local fake server: text,
reasoning, usage, finish, errors by status, cuts, error events, stop, credentials."""

from __future__ import annotations

import json
import socket
import time
from typing import Any

import pytest
from fakes.cases import CASES, ProviderCase
from fakes.fixtures import *  # noqa: F403 - the fixtures
from fakes.fixtures import EngineRun, after_delta, drain
from fakes.script import ERROR_BODIES, Script
from fakes.server import FakeServer
from fakes.sse_wires import OpenAIChatWire

from jupyter_deltachat.credentials import CredentialStore
from jupyter_deltachat.errors import (
    AuthError,
    ConnectionFailedError,
    ProviderError,
    RateLimitError,
    TruncatedError,
)
from jupyter_deltachat.types import Finish, Reasoning, Usage

TEXT = ["Hel", "lo", ", wor", "ld!"]
LABELS = {
    "openai": "OpenAI",
    "openai_chat": "OpenAI",
    "anthropic": "Anthropic",
    "google": "Google Gemini",
    "groq": "Groq",
    "bedrock": "Amazon Bedrock",
    "ollama": "Ollama",
}
REASON = "prompt is too long: 210000 tokens > 200000 maximum"
STREAM_ERRORS = [
    pytest.param(case, shape, id=f"{case.id}-{shape}")
    for case in CASES
    for shape in (("error.message", "error") if isinstance(case.wire, OpenAIChatWire) else ("",))
]
"""Each provider's error event inside a stream; chat-completions streams in both shapes."""


def unused_url() -> tuple[str, int]:
    """A URL on 127.0.0.1 where nothing listens."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}", port


def test_streams_the_exact_deltas_then_usage(model: Any, fake: FakeServer, case: ProviderCase):
    fake.plan(case.wire.stream(Script()))
    items, error = drain(model)
    assert error is None
    assert items == [*TEXT, Usage(11, 7)]
    assert all(type(item) is str for item in items[:4])
    assert fake.requests[0].path == case.path


def test_reasoning_deltas_come_on_the_reasoning_channel(
    model: Any, fake: FakeServer, case: ProviderCase
):
    fake.plan(case.wire.stream(Script(reasoning=["Thinking ", "hard."])))
    items, error = drain(model)
    assert error is None
    assert items == ["Thinking ", "hard.", *TEXT, Usage(11, 7)]
    assert [type(item) for item in items[:3]] == [Reasoning, Reasoning, str]


def test_a_reply_cut_by_max_tokens_finishes_with_length(
    model: Any, fake: FakeServer, case: ProviderCase
):
    fake.plan(case.wire.stream(Script(finish="length", output_tokens=4)))
    items, error = drain(model)
    assert error is None
    assert items == [*TEXT, Usage(11, 4), Finish("length")]


@pytest.mark.parametrize(
    ("status", "error_class", "code", "retryable"),
    [
        (401, AuthError, "auth", False),
        (429, RateLimitError, "rate_limit", True),
        (500, ProviderError, "provider", False),
    ],
)
def test_http_errors_map_to_protocol_codes_without_the_key(
    model: Any,
    fake: FakeServer,
    case: ProviderCase,
    status: int,
    error_class: type,
    code: str,
    retryable: bool,
):
    fake.plan(case.wire.http_error(status, f"Incorrect API key provided: {case.secret or 'x'}"))
    items, error = drain(model)
    assert items == []
    assert type(error) is error_class
    data = error.to_json()
    assert (data["code"], data["retryable"], data["status"], data["provider"]) == (
        code,
        retryable,
        status,
        case.store_id,
    )
    if case.secret:
        assert case.secret not in str(error)
        assert case.secret not in json.dumps(data)
    assert len(fake.requests) == 1


def test_a_stream_cut_mid_way_keeps_the_partial_text(
    model: Any, fake: FakeServer, case: ProviderCase
):
    plan = case.wire.stream(Script())
    plan.cut_after = after_delta(plan, "lo")
    fake.plan(plan)
    items, error = drain(model)
    assert type(error) is TruncatedError  # every SDK's cut exception, mapped the same way
    assert error.to_json()["retryable"] is True
    assert error.provider == case.store_id
    assert items == ["Hel", "lo"]


def test_through_the_engine_a_cut_keeps_the_partial_text(
    model: Any, fake: FakeServer, case: ProviderCase
):
    plan = case.wire.stream(Script())
    plan.cut_after = after_delta(plan, "lo")
    fake.plan(plan)
    reply = EngineRun(model).wait()
    assert reply.finish_reason == "error"
    assert reply.message.content == "Hello"
    assert reply.error is not None and reply.error.to_json()["code"] == "truncated"


def test_a_stream_that_ends_without_its_final_event_is_truncated(
    model: Any, fake: FakeServer, case: ProviderCase
):
    fake.plan(case.wire.stream(Script(final=False)))
    items, error = drain(model)
    assert type(error) is TruncatedError
    assert error.to_json()["code"] == "truncated"
    assert "".join(items) == "Hello, world!"


def test_an_error_event_mid_stream_is_a_provider_error(
    model: Any, fake: FakeServer, case: ProviderCase
):
    fake.plan(case.wire.stream(Script(error_after=2, error_message="the model is overloaded")))
    items, error = drain(model)
    assert items == ["Hel", "lo"]
    assert type(error) is ProviderError
    assert error.to_json()["code"] == "provider"
    assert "the model is overloaded" in error.message


def test_an_unreachable_server_is_a_connection_error(case: ProviderCase, store: CredentialStore):
    url, _ = unused_url()
    store.set(case.store_id, case.stored(url))
    items, error = drain(case.model(url))
    assert items == []
    assert type(error) is ConnectionFailedError
    assert error.to_json()["code"] == "connection"


def test_a_connection_error_names_the_host_and_port_it_tried(
    case: ProviderCase, store: CredentialStore
):
    url, port = unused_url()
    store.set(case.store_id, case.stored(url))
    _, error = drain(case.model(url))
    assert error is not None
    assert error.message == (
        f"could not reach {LABELS[case.id]} at 127.0.0.1:{port} (Connection refused)"
    )


@pytest.mark.parametrize(
    ("status", "error_class", "words"),
    [
        (400, ProviderError, "error"),
        (401, AuthError, "refused the credentials"),
        (429, RateLimitError, "rate limit reached"),
    ],
)
def test_an_http_error_carries_the_servers_own_reason(
    model: Any, fake: FakeServer, case: ProviderCase, status: int, error_class: type, words: str
):
    fake.plan(case.wire.http_error(status, REASON))
    _, error = drain(model)
    assert type(error) is error_class
    assert error.message == f"{LABELS[case.id]} {words} ({status}: {REASON})"


@pytest.mark.parametrize(("case", "shape"), STREAM_ERRORS)
def test_an_error_event_mid_stream_keeps_the_servers_text(
    model: Any, fake: FakeServer, case: ProviderCase, shape: str
):
    script = Script(error_after=2, error_message=REASON)
    if shape:
        script.error_shape = shape
    fake.plan(case.wire.stream(script))
    items, error = drain(model)
    assert items == ["Hel", "lo"]
    assert type(error) is ProviderError
    if case.id == "google":  # Gemini's stream error carries an HTTP code
        assert (error.message, error.status) == (f"Google Gemini error (500: {REASON})", 500)
    else:
        assert error.message == f"{LABELS[case.id]} reported an error mid-stream: {REASON}"


@pytest.mark.parametrize("shape", list(ERROR_BODIES))
def test_an_openai_compatible_servers_error_body_of_any_shape_keeps_its_reason(
    fake: FakeServer, store: CredentialStore, shape: str
):
    from jupyter_deltachat.models.providers import openai_compatible

    key = "vllm-key-4c1d9e7a"
    fake.plan(
        OpenAIChatWire().http_error(400, "model 'qwen3' is not loaded", shape),
        OpenAIChatWire().http_error(401, f"invalid key {key}", shape),
    )
    model = openai_compatible("qwen3", base_url=f"{fake.url}/v1", api_key=key, max_retries=0)
    _, error = drain(model)
    assert (type(error), error.status) == (ProviderError, 400)
    assert error.message == "OpenAI-compatible server error (400: model 'qwen3' is not loaded)"
    _, error = drain(model)
    assert type(error) is AuthError
    assert error.message == (
        "OpenAI-compatible server refused the credentials (401: invalid key [redacted])"
    )


def test_stop_closes_the_connection_while_the_server_is_silent(
    model: Any, fake: FakeServer, case: ProviderCase
):
    plan = case.wire.stream(Script())
    plan.silent_after = after_delta(plan, "lo")
    fake.plan(plan)
    run = EngineRun(model)
    assert fake.went_silent.wait(10)
    run.wait_for_text("Hello")
    stopped_at = time.monotonic()
    run.reply.stop()
    assert fake.client_closed.wait(0.2), "the HTTP connection was still open 200 ms after stop"
    assert fake.closed_at is not None and fake.closed_at - stopped_at < 0.2
    reply = run.wait()
    assert reply.finish_reason == "cancelled"
    assert reply.error is None
    assert reply.message.content == "".join(frame.text for frame in run.frames) == "Hello"


def test_through_the_engine_an_error_becomes_the_replys_error(
    model: Any, fake: FakeServer, case: ProviderCase
):
    fake.plan(case.wire.http_error(429, "slow down"))
    reply = EngineRun(model).wait()
    assert reply.finish_reason == "error"
    assert reply.error is not None
    assert reply.message.error == reply.error.to_json()
    assert reply.error.to_json()["code"] == "rate_limit"


def test_through_the_engine_text_usage_and_reasoning_arrive(
    model: Any, fake: FakeServer, case: ProviderCase
):
    fake.plan(case.wire.stream(Script(reasoning=["Hmm."])))
    run = EngineRun(model)
    reply = run.wait()
    assert reply.finish_reason == "stop"
    assert reply.message.content == "Hello, world!"
    assert reply.message.reasoning == "Hmm."
    assert reply.usage == Usage(11, 7)


def test_the_key_is_read_at_call_time_and_the_client_reused(
    case: ProviderCase, fake: FakeServer, store: CredentialStore
):
    if not case.secret:
        pytest.skip(f"{case.id} needs no key")
    stored = case.stored(fake.url)
    store.set(case.store_id, {k: v for k, v in stored.items() if k in ("base_url", "region")})
    chat_model = case.model(fake.url)
    items, error = drain(chat_model)
    assert items == [] and type(error) is AuthError
    assert fake.requests == []
    store.set(case.store_id, stored)
    fake.plan(case.wire.stream(Script()), case.wire.stream(Script()))
    assert drain(chat_model) == ([*TEXT, Usage(11, 7)], None)
    first_client = chat_model.client()
    assert drain(chat_model) == ([*TEXT, Usage(11, 7)], None)
    assert chat_model.client() is first_client
    assert [case.sent_key(request) for request in fake.requests] == [case.secret] * 2
