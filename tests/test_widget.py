"""The ``Chat`` widget in a real kernel: ``.value``, observers, streaming, Stop, Clear,
prompt suggestions, and the same conversation seen from a protocol comm.

Kernel code waits on ``threading.Event``s with timeouts set by ``.value`` observers.
"""

from __future__ import annotations

import ast
from datetime import datetime
from typing import Any

import pytest
from kernel_client import CommClient, KernelHarness

from jupyter_deltachat.kernel.magics import STOPPED_MARK

SETUP = '''
import threading
import jupyter_deltachat as dc
from jupyter_deltachat.stop import pause
from jupyter_deltachat.kernel import SERVICE

def echo(messages):
    for word in ("you said: " + messages[-1].content).split(" "):
        yield word if word == "you" else " " + word

def paced(messages):
    for i in range(30):
        yield f"w{i} "
        pause(0.03)

def slow(messages):
    for i in range(2000):
        yield f"w{i} "
        if pause(0.05):
            return

def broken(messages):
    raise RuntimeError("no luck with sk-abcdefghijklmnopqrstuvwx")

def verbose(messages):
    yield "so much to say"
    yield dc.Finish("length")

dc.register("echo", echo)

def watch(chat, roles_done):
    """A threading.Event set once chat.value's roles are ``roles_done``; records changes."""
    done, changes = threading.Event(), []
    def observer(change):
        roles = [m.role for m in change["new"]]
        changes.append(roles)
        if roles == roles_done:
            done.set()
    chat.observe(observer, names="value")
    return done, changes
'''


@pytest.fixture(scope="module", autouse=True)
def setup(kernel: KernelHarness) -> None:
    kernel.execute(SETUP)


def value(kernel: KernelHarness, chat: str) -> list[tuple[str, str, str | None]]:
    return ast.literal_eval(
        kernel.evaluate(f"[(m.role, m.content, m.finish_reason) for m in {chat}.value]")
    )


def output_updates(kernel: KernelHarness, model_id: str) -> list[dict[str, Any]]:
    return [
        msg
        for msg in list(kernel.iopub)
        if msg["msg_type"] == "comm_msg"
        and msg["content"]["comm_id"] == model_id
        and "outputs" in msg["content"]["data"].get("state", {})
    ]


def test_value_after_send_and_observers_fire(kernel: KernelHarness) -> None:
    kernel.execute(
        """
seen = []
chat = dc.Chat(echo, system_message="Be brief.", on_message=seen.append)
done, changes = watch(chat, ["system", "user", "assistant"])
reply = chat.send("hello there")
assert done.wait(20)
"""
    )
    assert value(kernel, "chat") == [
        ("system", "Be brief.", None),
        ("user", "hello there", None),
        ("assistant", "you said: hello there", "stop"),
    ]
    assert kernel.evaluate("changes") == str([["system", "user"], ["system", "user", "assistant"]])
    assert kernel.evaluate("[(m.role, m.content) for m in seen]") == str(
        [("user", "hello there"), ("assistant", "you said: hello there")]
    )
    assert kernel.evaluate("[m.content for m in SERVICE.history(chat.chat_id)]") == str(
        ["Be brief.", "hello there", "you said: hello there"]
    )


def test_streams_with_throttled_updates_and_ends_with_the_reply(kernel: KernelHarness) -> None:
    kernel.execute(
        """
paced_chat = dc.Chat(paced)
done, _ = watch(paced_chat, ["user", "assistant"])
paced_chat.send("go")
assert done.wait(20)
rendered = paced_chat.messages_box.children[-1].children[1]
"""
    )
    expected = "".join(f"w{i} " for i in range(30))
    assert value(kernel, "paced_chat")[-1] == ("assistant", expected, "stop")
    model_id = ast.literal_eval(kernel.evaluate("rendered.model_id"))
    assert ast.literal_eval(kernel.evaluate("rendered.outputs"))[0]["data"] == {
        "text/markdown": expected,
        "text/plain": expected,
    }
    updates = output_updates(kernel, model_id)
    texts = [u["content"]["data"]["state"]["outputs"][0]["data"]["text/markdown"] for u in updates]
    assert texts[-1] == expected
    streamed = texts[1:-1]
    assert len(streamed) >= 3, texts
    assert all(expected.startswith(t) for t in streamed)
    times: list[datetime] = [u["header"]["date"] for u in updates[1:-1]]
    gaps = [(b - a).total_seconds() for a, b in zip(times, times[1:], strict=False)]
    assert min(gaps) >= 0.095, gaps


def test_stop_keeps_the_partial_reply(kernel: KernelHarness) -> None:
    kernel.execute(
        """
slow_chat = dc.Chat(slow)
first = threading.Event()
unsubscribe = SERVICE.subscribe(
    lambda e: e.type == "delta" and e.chat_id == slow_chat.chat_id and first.set()
)
done, _ = watch(slow_chat, ["user", "assistant"])
slow_chat.send("go")
assert first.wait(20)
slow_chat.stop_button.click()
assert done.wait(20)
unsubscribe()
rendered = slow_chat.messages_box.children[-1].children[1]
"""
    )
    role, content, finish = value(kernel, "slow_chat")[-1]
    assert (role, finish) == ("assistant", "cancelled")
    words = content.split(" ")
    assert words[-1] == "" and words[:-1] == [f"w{i}" for i in range(len(words) - 1)]
    assert 1 <= len(words) - 1 < 2000
    data = ast.literal_eval(kernel.evaluate("rendered.outputs"))[0]["data"]
    assert data["text/markdown"] == f"{content}\n\n*stopped*" == f"{content}\n\n{STOPPED_MARK}"
    assert kernel.evaluate("slow_chat.stop_button.disabled") == "True"
    assert kernel.evaluate("slow_chat.send_button.disabled") == "False"


def test_a_reply_cut_at_the_token_limit_says_so(kernel: KernelHarness) -> None:
    kernel.execute(
        """
cut_chat = dc.Chat(verbose)
done, _ = watch(cut_chat, ["user", "assistant"])
cut_chat.send("go")
assert done.wait(20)
rendered = cut_chat.messages_box.children[-1].children[1]
"""
    )
    assert value(kernel, "cut_chat")[-1] == ("assistant", "so much to say", "length")
    data = ast.literal_eval(kernel.evaluate("rendered.outputs"))[0]["data"]
    assert data["text/markdown"] == "so much to say\n\n*… cut off at the token limit*"


def test_clear_keeps_the_system_message(kernel: KernelHarness) -> None:
    kernel.execute(
        """
cleared, _ = watch(chat, ["system"])
chat.clear_button.click()
assert cleared.wait(20)
"""
    )
    assert value(kernel, "chat") == [("system", "Be brief.", None)]
    assert kernel.evaluate("len(chat.messages_box.children)") == "1"


def test_prompt_suggestions_send_and_then_hide(kernel: KernelHarness) -> None:
    kernel.execute(
        """
suggesting = dc.Chat("echo", prompts=["Say hi", "Explain this"])
shown_before = suggesting.suggestions.layout.display
done, _ = watch(suggesting, ["user", "assistant"])
suggesting.prompt_buttons[1].click()
assert done.wait(20)
"""
    )
    assert kernel.evaluate("[b.description for b in suggesting.prompt_buttons]") == str(
        ["Say hi", "Explain this"]
    )
    assert kernel.evaluate("shown_before") == "None"
    assert value(kernel, "suggesting") == [
        ("user", "Explain this", None),
        ("assistant", "you said: Explain this", "stop"),
    ]
    assert kernel.evaluate("suggesting.suggestions.layout.display") == "'none'"


def test_a_send_from_a_comm_shows_up_in_the_widget(
    kernel: KernelHarness, client: CommClient
) -> None:
    kernel.execute(
        """
shared = dc.Chat("echo")
done, _ = watch(shared, ["user", "assistant"])
"""
    )
    chat_id = ast.literal_eval(kernel.evaluate("shared.chat_id"))
    client.send(
        {"type": "send", "request_id": "r1", "chat_id": chat_id, "content": "from the panel"}
        | {"model": "echo"}
    )
    assert client.stream().text() == "you said: from the panel"
    kernel.execute("assert done.wait(20)")
    assert value(kernel, "shared") == [
        ("user", "from the panel", None),
        ("assistant", "you said: from the panel", "stop"),
    ]


def test_model_errors_show_one_redacted_line(kernel: KernelHarness) -> None:
    kernel.execute(
        """
failing = dc.Chat(broken)
done, _ = watch(failing, ["user", "assistant"])
failing.send("hi")
assert done.wait(20)
"""
    )
    assert value(kernel, "failing")[-1] == ("assistant", "", "error")
    assert kernel.evaluate("failing.status.value") == repr(
        '<span style="color: var(--jp-error-color1, #d32f2f)">'
        "RuntimeError: no luck with [redacted]</span>"
    )


def test_disabled_and_max_height(kernel: KernelHarness) -> None:
    kernel.execute("locked = dc.Chat('echo', disabled=True, max_height=300)")
    states = "[w.disabled for w in (locked.input, locked.send_button, locked.clear_button)]"
    assert kernel.evaluate(states) == "[True, True, True]"
    assert kernel.evaluate("locked.messages_box.layout.max_height") == "'300px'"
    kernel.execute("locked.disabled = False")
    assert kernel.evaluate(states) == "[False, False, False]"
