"""Every Markdown output the kernel makes from a reply is neutralised: ``%chat`` while it
streams and when it ends, ``%chat history``, and the ``Chat`` widget's output. A model
replies with the payload corpus (tests/security/payloads.json), one class per reply,
streamed in small pieces so updates cut the payloads at arbitrary places."""

from __future__ import annotations

import ast
from typing import Any

import nbformat
import pytest
from kernel_client import KernelHarness
from payload_corpus import PAYLOADS, payload_markdown, unsafe_parts
from test_magics import Run, run_notebook

from jupyter_deltachat.safe_markdown import neutralize

CLASSES = sorted({entry["class"] for entry in PAYLOADS})

MODEL = """
import json
import jupyter_deltachat as dc
from jupyter_deltachat.stop import pause

BEACON = "http://127.0.0.1:9"
_corpus = json.load(open("tests/security/payloads.json", encoding="utf-8"))["payloads"]
_markdown = {
    e["id"]: e["markdown"].replace("{{BEACON_HOST}}", "127.0.0.1:9").replace("{{BEACON}}", BEACON)
    for e in _corpus
}
REPLIES = {e["id"]: _markdown[e["id"]] for e in _corpus}
for e in _corpus:
    REPLIES.setdefault(e["class"], "")
    REPLIES[e["class"]] += _markdown[e["id"]] + "\\n\\n"

def payload(messages):
    text = REPLIES[messages[-1].content.strip()]
    step = max(1, len(text) // 25)
    for start in range(0, len(text), step):
        yield text[start : start + step]
        if pause(0.02):
            return

dc.register("payload", payload)
"""


def class_reply(name: str) -> str:
    return "".join(payload_markdown(e) + "\n\n" for e in PAYLOADS if e["class"] == name)


CELLS: list[tuple[str, str]] = [
    ("load", "%load_ext jupyter_deltachat"),
    ("define", MODEL),
    *[(name, f"%chat -m payload --chat sec --no-interpolate {name}") for name in CLASSES],
    ("history", "%chat history --chat sec"),
    *[
        (f"code:{e['id']}", f"%chat -m payload --chat c -f code --no-interpolate {e['id']}")
        for e in PAYLOADS
        if e["code"] is not None
    ],
]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    nb = nbformat.v4.new_notebook()
    for tag, source in CELLS:
        nb.cells.append(nbformat.v4.new_code_cell(source, metadata={"tags": [tag]}))
    client = run_notebook(nb, tmp_path_factory.mktemp("security"))
    found = Run(client, nb)
    found.index = {tag: i for i, (tag, _) in enumerate(CELLS)}
    return found


def shown_markdown(run: Run, tag: str) -> list[str]:
    """The Markdown of the cell's display and of every update of it, in order."""
    msgs = run.client.messages[run.index[tag]]
    kinds = ("display_data", "update_display_data")
    return [m["content"]["data"]["text/markdown"] for m in msgs if m["msg_type"] in kinds]


@pytest.mark.parametrize("name", CLASSES)
def test_chat_output_is_neutralised_live_and_final(run: Run, name: str) -> None:
    shown = shown_markdown(run, name)
    assert len(shown) >= 4, "the reply must stream"
    for markdown in shown:
        assert unsafe_parts(markdown) == []
    reply = class_reply(name)
    assert run.data(name) == {"text/markdown": neutralize(reply), "text/plain": reply}


def test_history_is_neutralised(run: Run) -> None:
    data = run.data("history")
    assert unsafe_parts(data["text/markdown"]) == []
    for name in CLASSES:
        assert class_reply(name).strip() in data["text/plain"]


@pytest.mark.parametrize("tag", [tag for tag, _ in CELLS if tag.startswith("code:")])
def test_format_code_takes_only_real_code_blocks(run: Run, tag: str) -> None:
    entry = next(e for e in PAYLOADS if e["id"] == tag.removeprefix("code:"))
    assert run.reply(tag)["payload"] == [
        {"source": "set_next_input", "text": entry["code"], "replace": False}
    ]


def widget_outputs(kernel: KernelHarness, model_id: str) -> list[dict[str, Any]]:
    return [
        output
        for msg in list(kernel.iopub)
        if msg["msg_type"] == "comm_msg" and msg["content"]["comm_id"] == model_id
        for output in msg["content"]["data"].get("state", {}).get("outputs", [])
    ]


@pytest.fixture(scope="module")
def widget_kernel(kernel: KernelHarness) -> KernelHarness:
    kernel.execute(MODEL)
    return kernel


@pytest.mark.parametrize("name", CLASSES)
def test_widget_output_is_neutralised(widget_kernel: KernelHarness, name: str) -> None:
    kernel = widget_kernel
    kernel.execute(
        f"""
import threading
done = threading.Event()
widget_chat = dc.Chat(payload)
widget_chat.observe(
    lambda change: [m.finish_reason for m in change["new"]][-1:] == ["stop"] and done.set(),
    names="value",
)
widget_chat.send({name!r})
assert done.wait(30)
rendered = widget_chat.messages_box.children[-1].children[1]
"""
    )
    model_id = ast.literal_eval(kernel.evaluate("rendered.model_id"))
    outputs = widget_outputs(kernel, model_id)
    assert len(outputs) >= 2
    for output in outputs:
        assert unsafe_parts(output["data"]["text/markdown"]) == []
    reply = class_reply(name)
    final = ast.literal_eval(kernel.evaluate("rendered.outputs"))[0]["data"]
    assert final == {"text/markdown": neutralize(reply), "text/plain": reply}
