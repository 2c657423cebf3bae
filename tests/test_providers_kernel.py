"""Every provider through a real kernel and the comm protocol: ids resolve from the
credential store, configured providers are listed as configured, text, reasoning and
usage arrive in frames, and a stop closes the provider's HTTP connection."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator

import pytest
from fakes.cases import CASES, ProviderCase
from fakes.fixtures import after_delta, clean_sdk_environment
from fakes.native import NATIVE, Returned, Sent
from fakes.script import Script, ScriptCall
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


TOOL_CASES = [case for case in KERNEL_CASES if case.id in NATIVE]


@pytest.mark.parametrize("case", TOOL_CASES, ids=[c.id for c in TOOL_CASES])
def test_a_question_about_the_user_s_data_leads_to_an_approved_python_call(
    comm: CommClient,
    provider_kernel: KernelHarness,
    fakes: dict[str, FakeServer],
    case: ProviderCase,
):
    """Issue 12's "done when", per provider: the model's native call of ``python`` on the
    user's own variable is shown, runs once approved, and its result goes back to the
    provider in its native form."""
    provider_kernel.execute("orders = {'late': 3, 'total': 12}")
    fake = fakes[case.id]
    code = "orders['late'] / orders['total']"
    call_id = f"call_{case.id}"
    python_call = ScriptCall("python", json.dumps({"code": code}), id=call_id)
    fake.plan(
        case.wire.stream(Script(content=["Let me compute. "], tool_calls=[python_call])),
        case.wire.stream(Script(content=["A quarter ", "shipped late."])),
    )
    chat = f"chat-{uuid.uuid4().hex[:8]}"
    comm.send(
        {
            "type": "send",
            "request_id": uuid.uuid4().hex,
            "chat_id": chat,
            "content": "What share shipped late?",
            "model": model_id(case),
            "tools": ["python"],
        }
    )
    asked = comm.next("tool", timeout=60)["call"]  # the first use imports the SDK: slow when loaded
    assert asked == {
        "id": call_id,
        "name": "python",
        "arguments": {"code": code},
        "status": "awaiting_approval",
        "at": len("Let me compute. "),
        "provider": case.store_id,
    }
    comm.send({"type": "approve", "chat_id": chat, "call_id": call_id, "decision": "allow"})
    assert comm.next("tool")["call"]["status"] == "running"
    ran = comm.next("tool")["call"]
    assert (ran["status"], ran["result"]) == ("done", "0.25")
    stream = comm.stream()
    assert stream.errors == []
    assert stream.text() == "Let me compute. A quarter shipped late."
    assert stream.done["finish_reason"] == "stop"
    native = NATIVE[case.id]
    assert fake.requests[-1].json[native.history_key] == [
        *native.user("What share shipped late?"),
        *native.step("Let me compute. ", [Sent(call_id, "python", json.dumps({"code": code}))]),
        *native.results([Returned(call_id, "python", "0.25")]),
    ]
