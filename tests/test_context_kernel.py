"""Context (protocol 1.1 section 1) through a real kernel: every ref kind rendered once into
items on the user message, bounds, slow and raising summaries, unknown names, redaction,
regenerate reusing the stored text, two comms, ``list_variables`` and ``ready``."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from kernel_client import CommClient, KernelHarness

KEY = "sk-proj-" + "Zz9Yy8Xx7Ww6Vv5Uu4Tt"

SETUP = r"""
import json, threading
import pandas as pd
import jupyter_deltachat as dc

class Slow: pass
class Broken: pass
class Huge: pass
RELEASE = threading.Event()

@dc.summarizer(Slow)
def _slow(obj):
    RELEASE.wait(60)
    return "late"

@dc.summarizer(Broken)
def _broken(obj):
    raise RuntimeError("cannot summarise this")

@dc.summarizer(Huge)
def _huge(obj):
    return "h" * 20_000

@dc.register("seen")
def seen(messages):
    last = messages[-1]
    return json.dumps({
        "content": last.content,
        "items": [[type(i).__name__, i.kind, i.label, i.text] for i in last.context],
        "attachments": [a.name for a in last.attachments],
    })

df = pd.DataFrame({"city": ["Oslo", "Lima", "Pune"], "temp": [3.5, 18.0, 31.25]})
cfg = {"api_key": "THE_KEY", "path": "/data"}
rows = [10, 20, 30]
class Settings: path = "/srv"
settings = Settings()
_private = 1
import os
""".replace("THE_KEY", KEY)


@pytest.fixture(scope="module", autouse=True)
def setup(kernel: KernelHarness) -> None:
    kernel.execute(SETUP)


def send(client: CommClient, context: list[dict[str, Any]], content: str = "what is it?"):
    chat = f"chat-{uuid.uuid4().hex[:8]}"
    request_id = uuid.uuid4().hex
    client.send(
        {
            "type": "send",
            "request_id": request_id,
            "chat_id": chat,
            "content": content,
            "model": "seen",
            "context": context,
        }
    )
    return chat, request_id


def sent(client: CommClient, context: list[dict[str, Any]]) -> tuple[dict, dict, str]:
    """The user message event, what the model saw, and the chat id."""
    chat, _ = send(client, context)
    message = client.next("message")["message"]
    stream = client.stream()
    assert stream.done["finish_reason"] == "stop", stream.errors
    return message, json.loads(stream.text()), chat


def test_ready_says_protocol_minor_1(kernel: KernelHarness) -> None:
    comm = CommClient(kernel)
    ready = comm.open()
    comm.close()
    assert (ready["protocol"], ready["protocol_minor"]) == (1, 1)


def test_a_variable_is_rendered_once_into_an_item_on_the_user_message(
    client: CommClient,
) -> None:
    message, model_saw, _ = sent(client, [{"kind": "variable", "name": "df"}])
    (item,) = message["context"]
    assert (item["kind"], item["label"], item["truncated"]) == ("variable", "df", False)
    assert item["text"].splitlines()[0] == (
        "pandas.DataFrame: 3 rows × 2 columns, memory 180 B (object contents not counted)"
    )
    assert item["text"].splitlines()[3:5] == ["  'city': str", "  'temp': float64"]
    assert item["chars"] == len(item["text"])
    assert model_saw == {
        "content": "what is it?",  # a custom model gets the items, not the block
        "items": [["ContextItem", "variable", "df", item["text"]]],
        "attachments": [],
    }


def test_attribute_and_index_steps_are_looked_up(client: CommClient) -> None:
    message, _, _ = sent(
        client,
        [{"kind": "variable", "name": "settings.path"}, {"kind": "variable", "name": "rows[1]"}],
    )
    assert [(i["label"], i["text"]) for i in message["context"]] == [
        ("settings.path", "str, 4 characters: '/srv'"),
        ("rows[1]", "int: 20"),
    ]


def test_an_unknown_name_is_bad_request_naming_it_and_nothing_is_added(
    client: CommClient,
) -> None:
    chat, request_id = send(
        client, [{"kind": "variable", "name": "df"}, {"kind": "variable", "name": "nope.x"}]
    )
    error = client.next("error")
    assert error["request_id"] == request_id and error["chat_id"] == chat
    assert error["error"]["code"] == "bad_request"
    assert error["error"]["message"] == "no variable 'nope' in the kernel's namespace"
    snapshot = client.request({"type": "sync", "chat_id": chat}, "snapshot")
    assert snapshot["messages"] == []
    chat, _ = send(client, [{"kind": "variable", "name": "rows[7]"}])
    assert client.next("error")["error"]["message"] == (
        "cannot look up 'rows[7]': IndexError: list index out of range"
    )


def test_the_last_error_with_the_users_frames(client: CommClient, kernel: KernelHarness) -> None:
    msg_id = kernel.start_execute("def ratio(a, b):\n    return a / b\nratio(1, 0)")
    assert kernel.wait_reply(msg_id)["content"]["status"] == "error"
    message, _, _ = sent(client, [{"kind": "error"}])
    (item,) = message["context"]
    assert (item["kind"], item["label"]) == ("error", "ZeroDivisionError")
    lines = item["text"].splitlines()
    assert lines[0] == "ZeroDivisionError: division by zero"
    assert lines[1] == "Traceback (the user's frames, most recent call last):"
    assert "in ratio" in item["text"] and "return a / b" in item["text"]
    assert "site-packages" not in item["text"]


def test_cell_notebook_and_text_refs(client: CommClient) -> None:
    cell = {
        "source": "1 / 0",
        "cell_type": "code",
        "execution_count": 4,
        "outputs": [
            {"output_type": "stream", "name": "stdout", "text": ["dividing\n"]},
            {
                "output_type": "error",
                "ename": "ZeroDivisionError",
                "evalue": "division by zero",
                "traceback": ["\x1b[0;31mZeroDivisionError\x1b[0m: division by zero"],
            },
            {"output_type": "display_data", "data": {"image/png": "iVBOR"}, "metadata": {}},
        ],
    }
    message, _, _ = sent(
        client,
        [
            {"kind": "cell", **cell},
            {
                "kind": "notebook",
                "path": "work/a.ipynb",
                "cells": [cell, {"source": "# Notes", "cell_type": "markdown"}],
            },
            {"kind": "text", "label": "selection", "text": "x = 1"},
        ],
    )
    cell_text = (
        "code cell [4]:\n1 / 0\noutputs:\ndividing\n\n"
        "ZeroDivisionError: division by zero\nZeroDivisionError: division by zero\n"
        "[image/png output]"
    )
    assert [(i["kind"], i["label"], i["text"]) for i in message["context"]] == [
        ("cell", "cell [4]", cell_text),
        ("notebook", "work/a.ipynb", cell_text + "\n\nmarkdown cell:\n# Notes"),
        ("text", "selection", "x = 1"),
    ]


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        (
            {"kind": "thing"},
            "send: context[0].kind must be one of variable, error, cell, notebook, text, "
            "got 'thing'",
        ),
        ({"kind": "variable"}, "send: context[0].name must be a non-empty string"),
        ({"kind": "text", "label": "a"}, "send: context[0].text must be a non-empty string"),
        (
            {"kind": "cell", "source": "x", "colour": 1},
            "send: context[0]: unknown field 'colour' for cell",
        ),
        (
            {"kind": "cell", "source": "x", "outputs": "no"},
            "send: context[0].outputs must be a list of nbformat output objects",
        ),
    ],
)
def test_malformed_refs_are_bad_request(client: CommClient, ref: dict, message: str) -> None:
    send(client, [ref])
    error = client.next("error")["error"]
    assert (error["code"], error["message"]) == ("bad_request", message)


def test_items_are_bounded_each_and_together(client: CommClient, kernel: KernelHarness) -> None:
    kernel.execute("huge = Huge()")
    message, _, _ = sent(client, [{"kind": "variable", "name": "huge"}] * 5)
    items = message["context"]
    assert [len(i["text"]) for i in items] == [8000, 8000, 8000, 8000, 0]
    assert all(i["truncated"] and i["chars"] == 20_000 for i in items)
    assert items[0]["text"].endswith("\n[… cut here: the full text has 20,000 characters]")


def test_slow_and_raising_summaries_give_items_saying_so(
    client: CommClient, kernel: KernelHarness
) -> None:
    kernel.execute("slow, broken = Slow(), Broken()")
    try:
        message, model_saw, _ = sent(
            client, [{"kind": "variable", "name": "slow"}, {"kind": "variable", "name": "broken"}]
        )
    finally:
        kernel.execute("RELEASE.set()")
    assert [i["text"] for i in message["context"]] == [
        "[no summary: summarising this __main__.Slow took longer than 2 s and was abandoned]",
        "[no summary: summarising this __main__.Broken raised RuntimeError: cannot summarise this]",
    ]
    assert len(model_saw["items"]) == 2


def test_item_text_is_redacted(client: CommClient) -> None:
    message, model_saw, _ = sent(client, [{"kind": "variable", "name": "cfg"}])
    assert KEY not in json.dumps(message) and KEY not in json.dumps(model_saw)
    assert "'api_key': '[redacted]'" in message["context"][0]["text"]


def test_regenerate_reuses_the_stored_text(client: CommClient, kernel: KernelHarness) -> None:
    kernel.execute("changing = 'before'")
    message, first, chat = sent(client, [{"kind": "variable", "name": "changing"}])
    kernel.execute("changing = 'after'")
    client.send({"type": "regenerate", "request_id": "r", "chat_id": chat})
    client.next("snapshot")
    again = json.loads(client.stream().text())
    assert (
        again["items"]
        == first["items"]
        == [["ContextItem", "variable", "changing", "str, 6 characters: 'before'"]]
    )
    snapshot = client.request({"type": "sync", "chat_id": chat}, "snapshot")
    assert snapshot["messages"][0]["context"] == message["context"]


def test_two_comms_see_the_same_items(client: CommClient, kernel: KernelHarness) -> None:
    other = CommClient(kernel)
    other.open()
    try:
        message, _, _ = sent(client, [{"kind": "variable", "name": "rows"}])
        seen_there = other.next("message")["message"]
        assert seen_there["context"] == message["context"]
        assert seen_there["context"][0]["text"].startswith("list, 3 items")
    finally:
        other.close()


def test_a_figure_brings_its_image_as_an_attachment(
    client: CommClient, kernel: KernelHarness
) -> None:
    kernel.execute(
        "import matplotlib; matplotlib.use('Agg'); import matplotlib.pyplot as plt\n"
        "fig, ax = plt.subplots(); ax.plot([1, 2]); ax.set_title('T')"
    )
    message, model_saw, _ = sent(client, [{"kind": "variable", "name": "fig"}])
    (attachment,) = message["attachments"]
    assert attachment["media_type"] == "image/png"
    assert model_saw["attachments"] == [attachment["name"]]
    assert message["context"][0]["text"].endswith(
        f"(the figure is attached as the image {attachment['name']})"
    )


def test_list_variables_gives_name_type_and_one_line(
    client: CommClient, kernel: KernelHarness
) -> None:
    variables = client.request({"type": "list_variables"}, "variables")
    assert variables["truncated"] is False
    by_name = {v["name"]: v for v in variables["variables"]}
    assert by_name["df"] == {"name": "df", "type": "pandas.DataFrame", "summary": "DataFrame 3 × 2"}
    assert by_name["rows"] == {"name": "rows", "type": "list", "summary": "list 3 items"}
    assert by_name["seen"]["summary"] == "function seen(messages)"
    names = [v["name"] for v in variables["variables"]]
    assert names == sorted(names)
    for left_out in ("_private", "os", "In", "Out", "get_ipython", "exit"):
        assert left_out not in by_name
