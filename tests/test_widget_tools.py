"""The ``Chat`` widget with ``tools=``: tool-call cards in place in the reply, and Run /
Deny / Always in this chat clicked the way a browser clicks them (a comm message to the
button's model), in a real kernel.

Kernel code waits on ``threading.Event``s set by ``.value`` and ``.tool_calls`` observers.
"""

from __future__ import annotations

import ast
from typing import Any

import pytest
from kernel_client import KernelHarness
from scripted_models import ANALYST

CODE = "print(x * 2)\nx + 1"

SETUP = (
    ANALYST
    + '''
import threading

def watch(chat, roles_done):
    """A threading.Event set once chat.value's roles are ``roles_done``."""
    done = threading.Event()
    def observer(change):
        if [m.role for m in change["new"]] == roles_done:
            done.set()
    chat.observe(observer, names="value")
    return done

def watch_calls(chat, status):
    """A threading.Event set when the latest call shows ``status``; the statuses seen."""
    shown, seen = threading.Event(), []
    def observer(change):
        for call in change["new"][-1:]:
            seen.append(call.status)
            if call.status == status:
                shown.set()
    chat.observe(observer, names="tool_calls")
    return shown, seen
'''
)


@pytest.fixture(scope="module", autouse=True)
def setup(kernel: KernelHarness) -> None:
    kernel.execute(SETUP)


def card(status: str, result: str | None = None) -> str:
    text = f"**tool `python`** · *{status}*\n\n```python\n{CODE}\n```"
    if result is not None:
        text += f"\n\nresult:\n\n```text\n{result}\n```"
    return text


def shown(kernel: KernelHarness, output: str) -> Any:
    return ast.literal_eval(kernel.evaluate(f"{output}.outputs"))[0]["data"]["text/markdown"]


def click(kernel: KernelHarness, button: str) -> None:
    """Click ``button`` as the browser does: a ``click`` message to its widget model."""
    model_id = ast.literal_eval(kernel.evaluate(f"{button}.model_id"))
    data = {"method": "custom", "content": {"event": "click"}}
    msg = kernel.client.session.msg("comm_msg", {"comm_id": model_id, "data": data})
    kernel.client.shell_channel.send(msg)


def ask(kernel: KernelHarness, name: str, prompt: str = "go") -> None:
    """Start a reply in the widget ``name`` and wait until its call awaits approval;
    ``card`` is then its card widget."""
    kernel.execute(
        f"""
asked, seen = watch_calls({name}, "awaiting_approval")
done = watch({name}, [m.role for m in {name}.value] + ["user", "assistant"])
{name}.send({prompt!r})
assert asked.wait(20)
card = {name}.messages_box.children[-1].children[2]
"""
    )


def test_a_call_waits_with_run_deny_always_and_run_runs_it(kernel: KernelHarness) -> None:
    kernel.execute("runner = dc.Chat(analyst, tools='all')")
    ask(kernel, "runner")
    assert kernel.evaluate("type(card).__name__") == "'ToolCallCard'"
    assert shown(kernel, "card.output") == card("awaiting approval")
    buttons = "[(b.description, b.tooltip, b.disabled) for b in card.buttons.children]"
    assert ast.literal_eval(kernel.evaluate(buttons)) == [
        ("Run", "Run tool", False),
        ("Deny", "Deny tool", False),
        ("Always in this chat", "Always allow tool", False),
    ]
    assert kernel.evaluate("card.buttons.layout.display") == "None"
    click(kernel, "card.run_button")
    kernel.execute("assert done.wait(20)")
    assert shown(kernel, "card.output") == card("done", "8\n5")
    assert kernel.evaluate("card.buttons.layout.display") == "'none'"
    assert kernel.evaluate("seen[0], seen[-1]") == "('awaiting_approval', 'done')"
    row = "runner.messages_box.children[-1].children"
    assert shown(kernel, f"{row}[1]") == "Let me compute. "
    assert shown(kernel, f"{row}[3]") == "Result: 8\n5"
    assert kernel.evaluate("[(m.role, m.content) for m in runner.value]") == str(
        [("user", "go"), ("assistant", "Let me compute. Result: 8\n5")]
    )


def test_deny_is_not_run_and_the_model_is_told(kernel: KernelHarness) -> None:
    kernel.execute("denier = dc.Chat(analyst, tools=['python'])")
    ask(kernel, "denier")
    click(kernel, "card.deny_button")
    kernel.execute("assert done.wait(20)")
    assert shown(kernel, "card.output") == card("denied", "the user denied this call")
    assert kernel.evaluate("card.buttons.layout.display") == "'none'"
    assert kernel.evaluate("denier.value[-1].content") == repr(
        "Let me compute. Result: the user denied this call"
    )


def test_always_runs_it_and_later_calls_in_the_chat_do_not_ask(kernel: KernelHarness) -> None:
    kernel.execute("trusting = dc.Chat(analyst, tools='all')")
    ask(kernel, "trusting")
    click(kernel, "card.always_button")
    kernel.execute("assert done.wait(20)")
    assert shown(kernel, "card.output") == card("done", "8\n5")
    kernel.execute(
        """
ran, seen = watch_calls(trusting, "done")
done = watch(trusting, ["user", "assistant", "user", "assistant"])
trusting.send("again")
assert done.wait(20) and ran.wait(20)
card = trusting.messages_box.children[-1].children[2]
"""
    )
    assert "awaiting_approval" not in ast.literal_eval(kernel.evaluate("seen"))
    assert shown(kernel, "card.output") == card("done", "8\n5")


def test_a_widget_on_the_chat_later_shows_the_calls_from_history(kernel: KernelHarness) -> None:
    kernel.execute("again = dc.Chat(analyst, chat_id=runner.chat_id)")
    row = "again.messages_box.children[-1].children"
    assert kernel.evaluate(f"[type(w).__name__ for w in {row}]") == str(
        ["HTML", "Output", "ToolCallCard", "Output"]
    )
    assert shown(kernel, f"{row}[2].output") == card("done", "8\n5")
    assert kernel.evaluate(f"{row}[2].buttons.layout.display") == "'none'"


def test_tools_are_off_unless_asked_and_unknown_names_fail_at_once(
    kernel: KernelHarness,
) -> None:
    kernel.execute(
        """
plain = dc.Chat(analyst)
done = watch(plain, ["user", "assistant"])
plain.send("go")
assert done.wait(20)
try:
    dc.Chat(analyst, tools=["python", "nope"])
except Exception as exc:
    refused = f"{type(exc).__name__}: {exc}"
"""
    )
    assert kernel.evaluate("plain.value[-1].tool_calls[0].status") == "'error'"
    assert kernel.evaluate("refused") == repr(
        "BadRequestError: unknown tool 'nope'; known: python, list_variables, inspect_variable"
    )


def test_a_disabled_chat_shows_the_buttons_locked(kernel: KernelHarness) -> None:
    kernel.execute("locked = dc.Chat(analyst, tools='all', disabled=True)")
    ask(kernel, "locked")
    states = "[b.disabled for b in card.buttons.children]"
    assert kernel.evaluate(states) == "[True, True, True]"
    click(kernel, "card.run_button")
    kernel.execute("locked.disabled = False")
    assert kernel.evaluate("locked.value[-1].role") == "'user'"  # the click did nothing
    assert kernel.evaluate(states) == "[False, False, False]"
    click(kernel, "card.run_button")
    kernel.execute("assert done.wait(20)")
    assert shown(kernel, "card.output") == card("done", "8\n5")
