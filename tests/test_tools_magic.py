"""``%chat --tools`` in a real kernel: tool calls drawn in place in the cell's output and
approved at the cell's real input prompt (a jupyter_client stdin channel answers it).

Each test runs one cell and compares how its outputs end (every display in its last
state) and the exact prompts the kernel asked.
"""

from __future__ import annotations

from typing import Any

import pytest
from kernel_client import CommClient, KernelHarness
from scripted_models import ANALYST

QUESTION = "Run this code? [y]es / [n]o / [a]lways: "
CODE = "print(x * 2)\nx + 1"
ALLOW = {"decision": "allow"}

SETUP = (
    "%load_ext jupyter_deltachat\n"
    + ANALYST
    + """
@dc.register("plotter")
def plotter(messages, config):
    if messages[-1].role != "tool":
        yield dc.CallTool("python", {"code": "import matplotlib\\nmatplotlib.use('Agg')\\n"
            "import matplotlib.pyplot as plt\\nplt.plot([1, 2])\\nprint('drawn')"})

@dc.register("lister")
def lister(messages, config):
    yield ",".join(t.name for t in config.tools) + ". "
    if messages[-1].role != "tool":
        yield dc.CallTool("list_variables", {})
"""
)


@pytest.fixture(scope="module")
def kernel(kernel: KernelHarness) -> KernelHarness:
    kernel.execute(SETUP)
    return kernel


def final(outputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The cell's outputs as they end: each display in its last state, in the order the
    displays were made; streams and errors as they came."""
    shown: list[dict[str, Any]] = []
    where: dict[str, int] = {}
    for output in outputs:
        kind = output["type"]
        if kind == "display_data":
            where[output["transient"]["display_id"]] = len(shown)
            shown.append(output["data"])
        elif kind == "update_display_data":
            shown[where[output["transient"]["display_id"]]] = output["data"]
        elif kind == "stream":
            shown.append({output["name"]: output["text"]})
        elif kind == "error":
            shown.append({"error": f"{output['ename']}: {output['evalue']}"})
    return shown


def markdown(outputs: list[dict[str, Any]]) -> list[str]:
    return [o.get("text/markdown", str(o)) for o in final(outputs)]


class Answers:
    """Types the given answers at the input prompts, in order; records each prompt."""

    def __init__(self, *answers: str | None) -> None:
        self.answers = list(answers)
        self.prompts: list[str] = []

    def __call__(self, prompt: str) -> str | None:
        self.prompts.append(prompt)
        return self.answers.pop(0)


def card(status: str, result: str | None = None, note: str = "") -> str:
    text = f"**tool `python`** · *{status}*\n\n```python\n{CODE}\n```"
    if result is not None:
        text += f"\n\nresult:\n\n```text\n{result}\n```"
    if note:
        text += f"\n\n*{note}*"
    return text


def test_yes_at_the_prompt_runs_the_shown_code_and_the_reply_goes_on(
    kernel: KernelHarness,
) -> None:
    answers = Answers("y")
    outputs = kernel.outputs("%chat -m analyst --chat y1 --tools what is x?", answer=answers)
    assert answers.prompts == [f"{CODE}\n{QUESTION}"]
    assert markdown(outputs) == ["Let me compute. ", card("done", "8\n5"), "Result: 8\n5"]
    card_states = [
        o["data"]["text/markdown"]
        for o in outputs
        if o["type"] in ("display_data", "update_display_data")
        and o["data"]["text/markdown"].startswith("**tool")
    ]
    assert card_states[0] == card("awaiting approval")


def test_no_at_the_prompt_denies_the_call_and_the_model_is_told(kernel: KernelHarness) -> None:
    answers = Answers("n")
    outputs = kernel.outputs("%chat -m analyst --chat n1 --tools python go", answer=answers)
    assert answers.prompts == [f"{CODE}\n{QUESTION}"]
    assert markdown(outputs) == [
        "Let me compute. ",
        card("denied", "the user denied this call"),
        "Result: the user denied this call",
    ]


def test_always_runs_this_call_and_later_ones_in_the_chat_without_asking(
    kernel: KernelHarness,
) -> None:
    answers = Answers("a")
    first = kernel.outputs("%chat -m analyst --chat a1 --tools go", answer=answers)
    assert answers.prompts == [f"{CODE}\n{QUESTION}"]
    assert markdown(first)[1] == card("done", "8\n5")
    again = Answers()
    second = kernel.outputs("%chat -m analyst --chat a1 --tools again", answer=again)
    assert again.prompts == []
    assert markdown(second) == ["Let me compute. ", card("done", "8\n5"), "Result: 8\n5"]


def test_any_other_answer_asks_again(kernel: KernelHarness) -> None:
    answers = Answers("sure", "", "Y")
    outputs = kernel.outputs("%chat -m analyst --chat g1 --tools go", answer=answers)
    again = f"Please answer y, n or a. {QUESTION}"
    assert answers.prompts == [f"{CODE}\n{QUESTION}", again, again]
    assert markdown(outputs)[1:] == [card("done", "8\n5"), "Result: 8\n5"]


def test_yes_option_runs_every_call_without_asking(kernel: KernelHarness) -> None:
    answers = Answers()
    outputs = kernel.outputs("%chat -m analyst --chat yes1 --tools --yes go", answer=answers)
    assert answers.prompts == []
    assert markdown(outputs) == ["Let me compute. ", card("done", "8\n5"), "Result: 8\n5"]


def test_without_an_input_prompt_the_call_is_denied_never_run(kernel: KernelHarness) -> None:
    outputs = kernel.outputs("%chat -m analyst --chat s1 --tools go")
    note = (
        "not run: this frontend has no input prompt to ask you; "
        "use %chat --tools --yes, or the chat panel"
    )
    assert markdown(outputs) == [
        "Let me compute. ",
        card("denied", "the user denied this call", note),
        "Result: the user denied this call",
    ]


def test_an_interrupt_while_asking_cancels_the_call_and_frees_the_chat(
    kernel: KernelHarness,
) -> None:
    answers = Answers(None)
    outputs = kernel.outputs("%chat -m analyst --chat i1 --tools go", answer=answers)
    assert answers.prompts == [f"{CODE}\n{QUESTION}"]
    assert markdown(outputs) == [
        "Let me compute. ",
        card("cancelled"),
        "*stopped*",
        str({"error": "ChatError: stopped; the partial reply is kept in chat 'i1'"}),
    ]
    after = kernel.outputs("%chat -m analyst --chat i1 --tools --yes again")
    assert markdown(after)[1:] == [card("done", "8\n5"), "Result: 8\n5"]


def test_unknown_tool_names_are_a_usage_error_listing_the_tools(kernel: KernelHarness) -> None:
    outputs = kernel.outputs("%chat -m analyst --chat u1 --tools python,pyhton,nope go")
    assert final(outputs) == [
        {
            "error": "ChatError: unknown tools 'pyhton', 'nope' in --tools; available: python, "
            "list_variables, inspect_variable (or --tools alone for all)"
        }
    ]
    assert kernel.evaluate("len(dc.kernel.SERVICE.history('u1'))") == "0"
    outputs = kernel.outputs("%chat -m analyst --chat u1 --yes go")
    assert final(outputs) == [
        {"error": "ChatError: --yes approves tool calls: use it with --tools"}
    ]


def test_only_the_named_tools_are_enabled_and_never_tools_do_not_ask(
    kernel: KernelHarness,
) -> None:
    answers = Answers()
    outputs = kernel.outputs(
        "%chat -m lister --chat l1 --tools list_variables,inspect_variable go", answer=answers
    )
    assert answers.prompts == []
    shown = markdown(outputs)
    assert shown[0] == "list_variables,inspect_variable. "
    assert shown[1].startswith("**tool `list_variables`** · *done*\n\n```json\n{}\n```\n\nresult:")
    assert "\nx: int = int 4\n" in shown[1]


def test_figures_of_a_call_are_image_outputs_after_its_card(kernel: KernelHarness) -> None:
    outputs = kernel.outputs("%chat -m plotter --chat f1 --tools --yes draw")
    shown = final(outputs)
    assert shown[0]["text/markdown"].startswith("**tool `python`** · *done*")
    assert shown[0]["text/markdown"].endswith("result:\n\n```text\ndrawn\n```")
    assert set(shown[1]) == {"image/png", "text/plain"}
    assert shown[1]["image/png"].startswith("iVBORw0KGgo")  # a PNG, base64
    assert len(shown) == 2  # the model said nothing after the call


def test_a_call_approved_in_the_panel_while_the_cell_asks_runs_once(
    kernel: KernelHarness,
) -> None:
    client = CommClient(kernel, subshell_id=kernel.create_subshell())  # as the panel does
    client.open()
    try:
        check_panel_approval(kernel, client)
    finally:
        client.close()


def check_panel_approval(kernel: KernelHarness, client: CommClient) -> None:
    def approve_in_the_panel_then_answer(prompt: str) -> str:
        call = client.next("tool")["call"]
        assert call["status"] == "awaiting_approval"
        client.send({"type": "approve", "chat_id": "p1", "call_id": call["id"]} | ALLOW)
        while client.next("tool")["call"]["status"] != "done":
            pass
        return "y"

    outputs = kernel.outputs(
        "%chat -m analyst --chat p1 --tools go", answer=approve_in_the_panel_then_answer
    )
    assert markdown(outputs) == ["Let me compute. ", card("done", "8\n5"), "Result: 8\n5"]
    assert kernel.evaluate(
        "[c.status for c in dc.kernel.SERVICE.history('p1')[-1].tool_calls]"
    ) == ("['done']")


def test_plain_text_cards_with_format_text(kernel: KernelHarness) -> None:
    outputs = kernel.outputs("%chat -m analyst --chat t1 -f text --tools --yes go")
    assert final(outputs) == [
        {"text/plain": "Let me compute. "},
        {"text/plain": "[tool python] done\n    print(x * 2)\n    x + 1\nresult:\n    8\n    5"},
        {"text/plain": "Result: 8\n5"},
    ]
