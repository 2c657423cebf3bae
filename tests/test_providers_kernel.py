"""Every provider through a real kernel and the comm protocol: ids resolve from the
credential store, configured providers are listed as configured, text, reasoning and
usage arrive in frames, and a stop closes the provider's HTTP connection."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
from fakes.cases import CASES, ProviderCase
from fakes.fixtures import after_delta, clean_sdk_environment
from fakes.script import Script
from fakes.server import FakeServer
from kernel_client import CommClient, KernelHarness

from jupyter_deltachat.credentials import CredentialStore
from jupyter_deltachat.models.spec import PROVIDERS

KERNEL_CASES = [case for case in CASES if case.id != "openai_chat"]


@pytest.fixture(scope="module")
def fakes() -> Iterator[dict[str, FakeServer]]:
    servers = {case.id: FakeServer() for case in KERNEL_CASES}
    try:
        yield servers
    finally:
        for server in servers.values():
            server.close()


@pytest.fixture(scope="module")
def provider_kernel(
    fakes: dict[str, FakeServer], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[KernelHarness]:
    """A kernel whose credential store points every provider at its fake; Google and
    Bedrock, whose store entries hold no URL, get theirs from the SDKs' own variables."""
    home = tmp_path_factory.mktemp("provider-kernel")
    store = CredentialStore(home / "credentials.json")
    for case in KERNEL_CASES:
        store.set(case.store_id, case.stored(fakes[case.id].url))
    with pytest.MonkeyPatch.context() as monkeypatch:
        clean_sdk_environment(monkeypatch, home)
        harness = KernelHarness(
            {
                "JUPYTER_DELTACHAT_CREDENTIALS": str(store.path),
                "GOOGLE_GEMINI_BASE_URL": fakes["google"].url,
                "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": fakes["bedrock"].url,
            }
        )
    try:
        yield harness
    finally:
        harness.shutdown()


@pytest.fixture
def comm(provider_kernel: KernelHarness) -> Iterator[CommClient]:
    client = CommClient(provider_kernel)
    client.open()
    try:
        yield client
    finally:
        client.close()


def send(comm: CommClient, model_id: str) -> str:
    chat = f"chat-{uuid.uuid4().hex[:8]}"
    comm.send(
        {
            "type": "send",
            "request_id": uuid.uuid4().hex,
            "chat_id": chat,
            "content": "Say hello",
            "model": model_id,
        }
    )
    return chat


def model_id(case: ProviderCase) -> str:
    return f"{case.store_id}:{case.model_name}"


def test_configured_providers_are_listed_as_configured(comm: CommClient):
    models = {m["id"]: m for m in comm.request({"type": "list_models"}, "models")["models"]}
    for provider_id, entry in PROVIDERS.items():
        for name in entry.default_models:
            info = models[f"{provider_id}:{name}"]
            assert (info["provider"], info["configured"], info["source"]) == (
                provider_id,
                True,
                "builtin",
            )


@pytest.mark.parametrize("case", KERNEL_CASES, ids=[c.id for c in KERNEL_CASES])
def test_a_reply_streams_through_the_comm(
    comm: CommClient, fakes: dict[str, FakeServer], case: ProviderCase
):
    fake = fakes[case.id]
    fake.plan(case.wire.stream(Script(reasoning=["Hmm, ", "hello."])))
    send(comm, model_id(case))
    stream = comm.stream()
    assert stream.start is not None and stream.start["model"] == model_id(case)
    assert stream.errors == []
    assert stream.text() == "Hello, world!"
    assert stream.text("reasoning") == "Hmm, hello."
    assert stream.done["finish_reason"] == "stop"
    assert stream.done["length"] == len("Hello, world!")
    assert stream.done["usage"] == {"input_tokens": 11, "output_tokens": 7}
    request = fake.requests[-1]
    assert request.path == case.path
    assert case.sent_key(request) == case.secret


@pytest.mark.parametrize("case", KERNEL_CASES, ids=[c.id for c in KERNEL_CASES])
def test_stop_through_the_comm_closes_the_http_stream(
    comm: CommClient, fakes: dict[str, FakeServer], case: ProviderCase
):
    fake = fakes[case.id]
    fake.went_silent.clear()
    fake.client_closed.clear()
    plan = case.wire.stream(Script())
    plan.silent_after = after_delta(plan, "lo")
    fake.plan(plan)
    chat = send(comm, model_id(case))
    text = ""
    while text != "Hello":
        event = comm.next("delta")
        text += event["text"]
    assert fake.went_silent.wait(10)
    stopped_at = time.monotonic()
    comm.send({"type": "stop", "chat_id": chat})
    assert fake.client_closed.wait(2), "the HTTP connection stayed open after stop"
    assert fake.closed_at is not None
    print(f"{case.id}: closed {1000 * (fake.closed_at - stopped_at):.0f} ms after the stop")
    done = comm.next("done")
    assert (done["finish_reason"], done["length"]) == ("cancelled", 5)


def test_a_provider_error_reaches_the_comm_as_its_code(
    comm: CommClient, fakes: dict[str, FakeServer]
):
    [case] = [c for c in KERNEL_CASES if c.id == "anthropic"]
    fakes["anthropic"].plan(case.wire.http_error(401, "invalid x-api-key"))
    send(comm, model_id(case))
    stream = comm.stream()
    [error] = stream.errors
    assert error["error"]["code"] == "auth"
    assert (error["error"]["provider"], error["error"]["status"]) == ("anthropic", 401)
    assert case.secret not in str(error)
    assert stream.done["finish_reason"] == "error"


def test_a_compatible_servers_reason_reaches_the_comm(
    comm: CommClient, fakes: dict[str, FakeServer]
):
    [case] = [c for c in KERNEL_CASES if c.id == "ollama"]
    fakes["ollama"].plan(case.wire.http_error(400, "model 'llama3.2' not found", "detail"))
    send(comm, model_id(case))
    [error] = comm.stream().errors
    assert error["error"] == {
        "code": "provider",
        "message": "Ollama error (400: model 'llama3.2' not found)",
        "provider": "ollama",
        "status": 400,
        "retryable": False,
    }
