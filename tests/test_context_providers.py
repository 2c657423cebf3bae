"""Every built-in provider sends a message's context as the same block at the start of the
user turn (``context.block``), against the fake servers."""

from __future__ import annotations

from typing import Any

from fakes.cases import ProviderCase
from fakes.fixtures import *  # noqa: F403 - the fixtures
from fakes.fixtures import drain
from fakes.script import Script
from fakes.server import FakeServer

from jupyter_deltachat.context.block import context_block
from jupyter_deltachat.credentials import CredentialStore
from jupyter_deltachat.types import ChatConfig, ContextItem, Message

ITEMS = [
    ContextItem("variable", "df", "pandas.DataFrame: 3 rows × 2 columns", 36, False),
    ContextItem("text", 'a "quoted" <label>', "x = 1", 5, False),
]
BLOCK = (
    "<context>\n"
    "The user attached these items from the Jupyter kernel and notebook.\n"
    '<item kind="variable" label="df">\n'
    "pandas.DataFrame: 3 rows × 2 columns\n"
    "</item>\n"
    '<item kind="text" label="a &quot;quoted&quot; &lt;label&gt;">\n'
    "x = 1\n"
    "</item>\n"
    "</context>\n\n"
)


def last_user_text(case_id: str, body: dict[str, Any]) -> str:
    if case_id == "openai":
        return body["input"][-1]["content"]
    if case_id == "google":
        return body["contents"][-1]["parts"][0]["text"]
    if case_id == "bedrock":
        return body["messages"][-1]["content"][0]["text"]
    return body["messages"][-1]["content"]


def test_the_block_format() -> None:
    assert context_block(ITEMS) == BLOCK
    assert context_block([]) == ""


def test_each_provider_sends_the_block_first_in_the_user_turn(
    case: ProviderCase, fake: FakeServer, store: CredentialStore
) -> None:
    store.set(case.store_id, case.stored(fake.url))
    fake.plan(case.wire.stream(Script()))
    history = [
        Message("user", "Hi", context=[ITEMS[1]]),
        Message("assistant", "Hello!"),
        Message("user", "why?", context=ITEMS),
    ]
    drain(case.model(fake.url), history, ChatConfig())
    [request] = fake.requests
    assert last_user_text(case.id, request.json) == BLOCK + "why?"
    assert str(request.json).count("<context>") == 2  # earlier turns keep their own items
