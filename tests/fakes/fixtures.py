"""Fixtures for the provider tests: a clean SDK environment, a temp credential store, a
fake server per test, and helpers that drain a model directly or through the engine."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jupyter_deltachat.credentials import ENV_PATH, CredentialStore
from jupyter_deltachat.engine import DeltaFrame, Reply, ReplyDone, ReplyEvent, ToolUpdate
from jupyter_deltachat.errors import DeltaChatError
from jupyter_deltachat.tools import Tool
from jupyter_deltachat.types import ChatConfig, Message, ToolCall

from .cases import CASE_IDS, CASES, ProviderCase
from .server import FakeServer, Plan

__all__ = ["case", "fake", "model", "store"]
"""The fixtures; a test module takes them with ``from fakes.fixtures import *``."""

WAIT = 30.0
"""Seconds a test waits for an event: generous, since two cores serve many test runs."""
SDK_ENV = {
    "OPENAI_BASE_URL",
    "OPENAI_API_KEY",
    "ANTHROPIC_BASE_URL",
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_AUTH_TOKEN",
    "GROQ_BASE_URL",
    "GROQ_API_KEY",
    "GOOGLE_GEMINI_BASE_URL",
    "GOOGLE_GENAI_USE_VERTEXAI",
    "GOOGLE_GENAI_API_VERSION",
    "GOOGLE_CLOUD_PROJECT",
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
    "OLLAMA_BASE_URL",
}


def clean_sdk_environment(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    """No SDK environment variable leaks in; boto3 reads no real AWS files."""
    for name in list(os.environ):
        if name in SDK_ENV or name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(home / "aws-config-absent"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(home / "aws-credentials-absent"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CredentialStore:
    clean_sdk_environment(monkeypatch, tmp_path)
    path = tmp_path / "store" / "credentials.json"
    monkeypatch.setenv(ENV_PATH, str(path))
    return CredentialStore(path)


@pytest.fixture
def fake() -> Iterator[FakeServer]:
    server = FakeServer()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(params=CASES, ids=CASE_IDS)
def case(request: pytest.FixtureRequest) -> ProviderCase:
    return request.param


@pytest.fixture
def model(case: ProviderCase, fake: FakeServer, store: CredentialStore) -> Any:
    """The case's model, its credentials (and base URL) in the temp store."""
    store.set(case.store_id, case.stored(fake.url))
    return case.model(fake.url)


def after_delta(plan: Plan, delta: str) -> int:
    """The number of body chunks up to and including the one carrying ``delta``."""
    marker = json.dumps(delta).encode()
    return next(i for i, chunk in enumerate(plan.chunks) if marker in chunk) + 1


def ask(text: str = "Say hello") -> list[Message]:
    return [Message("user", text)]


def drain(
    model: Any, messages: list[Message] | None = None, config: ChatConfig | None = None
) -> tuple[list[Any], DeltaChatError | None]:
    """Everything the model yields, and the error that ended it (if one did)."""
    items: list[Any] = []
    try:
        for item in model(messages or ask(), config or ChatConfig()):
            items.append(item)
    except DeltaChatError as error:
        return items, error
    return items, None


class EngineRun:
    """A model driven by the real engine, with its frames, tool updates and done to wait on.

    ``tools`` are the tools enabled for the reply (none: tools off).
    """

    def __init__(
        self,
        model: Any,
        messages: list[Message] | None = None,
        tools: list[Tool] | None = None,
        config: ChatConfig | None = None,
    ) -> None:
        self.frames: list[DeltaFrame] = []
        self.updates: list[ToolCall] = []
        self.frame_arrived = threading.Condition()
        self.first_frame = threading.Event()
        self.done = threading.Event()
        self.reply = Reply(
            model, messages or ask(), config or ChatConfig(), self._on_event, tools=tools
        )
        self.reply.start()

    def _on_event(self, event: ReplyEvent) -> None:
        if isinstance(event, ReplyDone):
            self.done.set()
            return
        with self.frame_arrived:
            if isinstance(event, ToolUpdate):
                self.updates.append(event.call)
            else:
                self.frames.append(event)
                self.first_frame.set()
            self.frame_arrived.notify_all()

    def wait_for_call(self, status: str) -> ToolCall:
        """The first call update with ``status`` (waiting for it)."""
        with self.frame_arrived:
            if not self.frame_arrived.wait_for(
                lambda: any(c.status == status for c in self.updates), WAIT
            ):
                self.reply.stop()
                raise AssertionError(f"no call became {status}: {self.updates}")
            return next(c for c in self.updates if c.status == status)

    def text(self) -> str:
        return "".join(frame.text for frame in self.frames if frame.channel == "content")

    def wait_for_text(self, text: str) -> None:
        with self.frame_arrived:
            assert self.frame_arrived.wait_for(lambda: self.text() == text, WAIT), self.text()

    def wait(self) -> Reply:
        if not self.done.wait(WAIT):
            self.reply.stop()  # so it sends nothing to a later test's server on a reused port
            raise AssertionError("the reply never finished")
        return self.reply
