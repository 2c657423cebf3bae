"""The kernel's read path: a key saved to the store (as the server does) changes what open
panels see, without a restart: ``models`` arrives unasked, the provider's models are
``configured``, and ``default_model`` becomes that provider's first model."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from kernel_client import CommClient, KernelHarness

from jupyter_deltachat.credentials import CredentialStore

SECRET = "sk-kerneltest-0123456789abcdefghij"


@pytest.fixture(scope="module")
def store_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("store") / "credentials.json"


@pytest.fixture(scope="module")
def kernel(store_path: Path) -> Iterator[KernelHarness]:
    env = {"JUPYTER_DELTACHAT_CREDENTIALS": str(store_path)}
    for name in (
        "OPENAI_API_KEY",
        "ANTHROPIC_API_KEY",
        "GEMINI_API_KEY",
        "GOOGLE_API_KEY",
        "GROQ_API_KEY",
        "AWS_ACCESS_KEY_ID",
        "AWS_PROFILE",
        "OLLAMA_BASE_URL",
    ):
        env[name] = ""
    harness = KernelHarness(env)
    try:
        yield harness
    finally:
        harness.shutdown()


def test_a_saved_key_reaches_open_comms_and_the_default_model(
    kernel: KernelHarness, store_path: Path
) -> None:
    comm = CommClient(kernel)
    ready = comm.open()
    by_id = {m["id"]: m for m in ready["models"]}
    assert ready["default_model"] == "demo"
    assert by_id["openai:gpt-5.1"]["configured"] is False
    assert by_id["openai:gpt-5.1"]["asks_for"] == "key"
    assert [m["asks_for"] for m in ready["models"] if m["provider"] == "ollama"] == ["url"] * len(
        [m for m in ready["models"] if m["provider"] == "ollama"]
    )
    assert "asks_for" not in by_id["demo"]

    CredentialStore(store_path).set("openai", {"api_key": SECRET})
    models = comm.next("models", timeout=15)

    by_id = {m["id"]: m for m in models["models"]}
    assert models["default_model"] == "openai:gpt-5.1"
    assert by_id["openai:gpt-5.1"] == {
        "id": "openai:gpt-5.1",
        "provider": "openai",
        "provider_label": "OpenAI",
        "label": "gpt-5.1",
        "configured": True,
        "source": "builtin",
    }
    assert by_id["anthropic:claude-sonnet-4-5"]["configured"] is False
    assert SECRET not in json.dumps(models)
    assert comm.request({"type": "hello", "protocol": 1}, "ready")["default_model"] == (
        "openai:gpt-5.1"
    )

    CredentialStore(store_path).delete("openai")
    assert comm.next("models", timeout=15)["default_model"] == "demo"
    assert SECRET not in json.dumps([m["content"] for m in kernel.iopub])
    comm.close()


def test_the_model_poller_ends_with_the_last_comm(kernel: KernelHarness) -> None:
    pollers = "[t for t in threading.enumerate() if t.name == 'deltachat-models']"
    kernel.execute("import threading")
    first, second = CommClient(kernel), CommClient(kernel)
    first.open(), second.open()
    first.close()
    assert kernel.evaluate(f"any(t.is_alive() for t in {pollers})") == "True"
    second.close()
    kernel.execute(f"for poller in {pollers}:\n    poller.join(10)")
    assert kernel.evaluate(f"any(t.is_alive() for t in {pollers})") == "False"
    third = CommClient(kernel)
    third.open()
    assert kernel.evaluate(f"any(t.is_alive() for t in {pollers})") == "True"
    third.close()
