"""Tools in the panel: the agent toggle, tool cards drawn in place in the reply, Run / Deny /
Always in this chat, Stop while a call awaits approval, figures, Insert code, reload."""

from __future__ import annotations

import os
from pathlib import Path

from lab_helpers import (
    LAB_LOAD_TIMEOUT,
    STREAM_TIMEOUT,
    cell_source,
    kernel_content,
    new_notebook,
    notebook_cells,
    open_lab,
    panel,
    run_cell,
    send,
    use_theme,
    wait_finished,
    wait_model_listed,
)

# A model scripted for these tests. It runs the user's message as `python` code (after
# text with a character outside the BMP, so a card placed by UTF-16 offsets would land one
# character early), answers from the tool's result, and says which tools it was given.
TOOL_MODEL = """
import threading
import jupyter_deltachat as dc
gate = threading.Event()
@dc.register("scripted")
def scripted(messages, config):
    last = messages[-1]
    if last.role == "tool":
        yield "Result was " + last.content + "."
        return
    if last.content == "which tools?":
        yield "tools: " + (",".join(sorted(t.name for t in config.tools)) or "none")
        return
    yield "Let me compute 𝑥 first:"
    yield dc.CallTool("python", {"code": last.content})
"""
BEFORE_CARD = "Let me compute 𝑥 first:"
GATED_CODE = "gate.wait(60)\ntotal = 6 * 7\ntotal"
FIGURE_CODE = (
    "import matplotlib\nmatplotlib.use('agg')\nimport matplotlib.pyplot as plt\n"
    "fig = plt.figure(figsize=(3, 2))\nfig.gca().plot([1, 3, 2])\n'drawn'"
)
ALL_TOOLS = "inspect_variable,list_variables,python"


def screens(tmp_path: Path) -> Path:
    """Screenshots go to $DELTACHAT_SCREENS_DIR when set (the review's folder), else tmp."""
    folder = Path(os.environ.get("DELTACHAT_SCREENS_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def toggle(page):
    return panel(page).get_by_role("button", name="Use tools", exact=True)


def start(page, tools: bool = True) -> None:
    """A notebook whose kernel has the scripted model, picked; tools on unless told."""
    new_notebook(page)
    run_cell(page, TOOL_MODEL)
    wait_model_listed(page, "scripted")
    panel(page).get_by_label("Model", exact=True).select_option("scripted")
    if tools:
        toggle(page).click()
        assert toggle(page).get_attribute("aria-pressed") == "true"


def card_with(page, status: str, index: int = -1):
    """The card at `index` (the last by default) once its status is `status`."""
    cards = panel(page).locator(".jp-DeltaChat-toolCard")
    card = cards.nth(index) if index >= 0 else cards.last
    card.and_(page.locator(f"[data-status='{status}']")).wait_for(timeout=STREAM_TIMEOUT)
    return card


def status_word(card) -> str:
    return card.locator(".jp-DeltaChat-toolStatus").inner_text()


def shown_code(card) -> str:
    return card.locator(".jp-DeltaChat-toolCode pre").inner_text().rstrip("\n")


def segments(reply) -> list[str]:
    """The reply's parts in order: text of each Markdown segment, `[card NAME]` for a card."""
    return reply.evaluate(
        """reply => [...reply.querySelector('.jp-DeltaChat-reply').children]
          .filter(node => !node.hidden)
          .map(node => node.classList.contains('jp-DeltaChat-toolCard')
            ? `[card ${node.dataset.tool}]` : node.innerText.trim())"""
    )


def result_text(card) -> str:
    details = card.locator(".jp-DeltaChat-toolResult")
    if details.get_attribute("open") is None:
        details.locator("summary").click()
    return details.locator("pre").inner_text()


def test_run_shows_the_code_then_the_result_and_the_answer_goes_on_after_the_card(page, lab_server):
    start(page)
    send(page, GATED_CODE)
    card = card_with(page, "awaiting_approval")
    assert card.get_attribute("data-tool") == "python"
    assert status_word(card) == "Awaiting approval"
    assert shown_code(card) == GATED_CODE
    assert card.locator(".jp-DeltaChat-toolCode pre span").count() > 0  # highlighted
    page.wait_for_function(
        "() => document.activeElement?.getAttribute('aria-label') === 'Run tool'"
    )
    for name in ("Run tool", "Deny tool", "Always allow tool"):
        assert card.get_by_role("button", name=name, exact=True).is_enabled()
    page.keyboard.press("Enter")  # the focused Run button
    card = card_with(page, "running")
    assert status_word(card) == "Running…"
    assert card.get_by_role("button", name="Run tool").is_hidden()
    run_cell(page, "gate.set()")
    card = card_with(page, "done")
    reply = wait_finished(page)
    assert status_word(card) == "Done"
    assert result_text(card) == "42"
    assert segments(reply) == [BEFORE_CARD, "[card python]", "Result was 42."]
    assert kernel_content(page) == f"{BEFORE_CARD}Result was 42."

    # Reload: the cards come back from the snapshot, and the toggle is still on.
    open_lab(page, lab_server, query="")
    panel(page).locator(".jp-DeltaChat-status[data-state='ready']", has_text=".ipynb").wait_for(
        timeout=LAB_LOAD_TIMEOUT
    )
    reply = wait_finished(page)
    card = card_with(page, "done")
    assert segments(reply) == [BEFORE_CARD, "[card python]", "Result was 42."]
    assert shown_code(card) == GATED_CODE
    assert result_text(card) == "42"
    assert toggle(page).get_attribute("aria-pressed") == "true"


def test_deny_runs_nothing_and_the_model_is_told(page):
    start(page)
    send(page, "denied_ran = True")
    card = card_with(page, "awaiting_approval")
    card.get_by_role("button", name="Deny tool", exact=True).click()
    card = card_with(page, "denied")
    reply = wait_finished(page)
    assert status_word(card) == "Denied"
    assert card.locator(".jp-DeltaChat-toolDecision").is_hidden()
    assert segments(reply) == [
        BEFORE_CARD,
        "[card python]",
        "Result was the user denied this call.",
    ]
    assert run_cell(page, "print('denied_ran' in globals())").strip() == "False"


def test_always_allow_runs_later_calls_of_the_tool_without_asking(page):
    start(page)
    send(page, "calls = 1\ncalls")
    card = card_with(page, "awaiting_approval")
    card.get_by_role("button", name="Always allow tool", exact=True).click()
    card_with(page, "done")
    wait_finished(page, count=1)
    send(page, "calls = 2\ncalls")
    # The kernel would wait for a decision if it asked; it runs at once instead.
    card = card_with(page, "done", index=1)
    reply = wait_finished(page, count=2)
    assert segments(reply) == [BEFORE_CARD, "[card python]", "Result was 2."]
    assert result_text(card) == "2"


def test_stop_while_awaiting_approval_cancels_the_call_and_frees_the_chat(page):
    start(page)
    send(page, "stopped_ran = True")
    card_with(page, "awaiting_approval")
    panel(page).get_by_role("button", name="Stop", exact=True).click()
    card = card_with(page, "cancelled")
    reply = wait_finished(page)
    assert status_word(card) == "Cancelled"
    assert reply.get_attribute("data-finish-reason") == "cancelled"
    assert card.locator(".jp-DeltaChat-toolDecision").is_hidden()
    assert panel(page).get_by_role("button", name="Send", exact=True).is_visible()
    send(page, "which tools?")
    reply = wait_finished(page, count=2)
    assert segments(reply) == [f"tools: {ALL_TOOLS}"]
    assert run_cell(page, "print('stopped_ran' in globals())").strip() == "False"


def test_stop_while_a_call_runs_frees_the_chat_and_the_card_says_so(page):
    """The user approved code that blocks (a 10-minute sleep, in C, where no interrupt
    reaches it): Stop still ends the reply at once, the card says the call was cancelled
    by the user, and the chat takes the next message while the sleep goes on."""
    start(page)
    send(page, "import time\ntime.sleep(600)")
    card_with(page, "awaiting_approval").get_by_role("button", name="Run tool").click()
    card_with(page, "running")
    panel(page).get_by_role("button", name="Stop", exact=True).click()
    reply = wait_finished(page)
    card = card_with(page, "cancelled")
    assert status_word(card) == "Cancelled"
    assert reply.get_attribute("data-finish-reason") == "cancelled"
    assert card.get_by_role("button", name="Run tool").is_hidden()
    send(page, "which tools?")
    reply = wait_finished(page, count=2)
    assert segments(reply) == [f"tools: {ALL_TOOLS}"]


def test_a_figure_the_code_draws_is_shown_on_the_card(page):
    start(page)
    send(page, FIGURE_CODE)
    card = card_with(page, "awaiting_approval")
    card.get_by_role("button", name="Run tool", exact=True).click()
    card = card_with(page, "done")
    wait_finished(page)
    image = card.locator(".jp-DeltaChat-toolFigures img")
    assert image.get_attribute("src").startswith("data:image/png;base64,iVBOR")
    assert image.get_attribute("alt") == "figure-1.png"
    page.wait_for_function(
        "image => image.complete && image.naturalWidth > 100", arg=image.element_handle()
    )
    assert result_text(card) == "'drawn'"


def test_insert_code_puts_the_calls_code_into_the_notebook(page):
    start(page)
    cells = notebook_cells(page)
    before = cells.count()
    send(page, "inserted = 3\ninserted * 2")
    card = card_with(page, "awaiting_approval")
    card.get_by_role("button", name="Insert code below the active cell").click()
    page.wait_for_function(
        "count => document.querySelectorAll("
        "'.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell').length === count",
        arg=before + 1,
    )
    assert "inserted = 3\ninserted * 2" in [cell_source(cells.nth(i)) for i in range(before + 1)]
    card.get_by_role("button", name="Deny tool", exact=True).click()
    wait_finished(page)


def test_toggle_is_remembered_per_chat_and_off_sends_no_tools(page, lab_server):
    start(page, tools=False)
    assert toggle(page).get_attribute("aria-pressed") == "false"
    assert "python" in toggle(page).get_attribute("title")
    send(page, "which tools?")
    assert segments(wait_finished(page, count=1)) == ["tools: none"]
    toggle(page).focus()
    page.keyboard.press("Enter")  # keyboard reachable
    assert toggle(page).get_attribute("aria-pressed") == "true"
    send(page, "which tools?")
    assert segments(wait_finished(page, count=2)) == [f"tools: {ALL_TOOLS}"]

    open_lab(page, lab_server, query="")
    panel(page).locator(".jp-DeltaChat-status[data-state='ready']", has_text=".ipynb").wait_for(
        timeout=LAB_LOAD_TIMEOUT
    )
    assert toggle(page).get_attribute("aria-pressed") == "true"
    toggle(page).click()
    assert toggle(page).get_attribute("aria-pressed") == "false"
    wait_model_listed(page, "scripted")
    send(page, "which tools?", model="scripted")
    assert segments(wait_finished(page, count=3)) == ["tools: none"]
    # A new chat starts with tools off.
    toggle(page).click()
    panel(page).get_by_role("button", name="New chat").click()
    assert toggle(page).get_attribute("aria-pressed") == "false"


def test_cards_in_light_and_dark(page, tmp_path):
    """Screenshots at the default sidebar width: awaiting approval, done with the result
    open, a figure, denied, the toggle on and off."""
    start(page)
    shots = screens(tmp_path)
    send(page, "rows = [3, 1, 2]\nsorted(rows)")
    card_with(page, "awaiting_approval").get_by_role("button", name="Run tool").click()
    result_text(card_with(page, "done"))
    wait_finished(page, count=1)
    send(page, FIGURE_CODE)
    card_with(page, "awaiting_approval", index=1).get_by_role("button", name="Run tool").click()
    card_with(page, "done", index=1)
    wait_finished(page, count=2)
    send(page, "import os\nos.remove('data.csv')")
    card_with(page, "awaiting_approval", index=2)
    cards = panel(page).locator(".jp-DeltaChat-toolCard")
    themes = (("JupyterLab Light", "light"), ("JupyterLab Dark", "dark"))
    for theme, name in themes:
        use_theme(page, theme)
        cards.nth(2).scroll_into_view_if_needed()
        panel(page).screenshot(path=str(shots / f"tools-awaiting-{name}.png"))
    cards.nth(2).get_by_role("button", name="Deny tool").click()
    card_with(page, "denied", index=2)
    wait_finished(page, count=3)
    for theme, name in themes:
        use_theme(page, theme)
        cards.nth(2).scroll_into_view_if_needed()
        panel(page).screenshot(path=str(shots / f"tools-denied-toggle-on-{name}.png"))
        cards.nth(1).scroll_into_view_if_needed()
        panel(page).screenshot(path=str(shots / f"tools-figure-{name}.png"))
        cards.nth(0).scroll_into_view_if_needed()
        panel(page).screenshot(path=str(shots / f"tools-done-{name}.png"))
        toggle(page).click()
        assert toggle(page).get_attribute("aria-pressed") == "false"
        panel(page).locator(".jp-DeltaChat-actions").screenshot(
            path=str(shots / f"tools-toggle-off-{name}.png")
        )
        toggle(page).click()
        panel(page).locator(".jp-DeltaChat-actions").screenshot(
            path=str(shots / f"tools-toggle-on-{name}.png")
        )
    use_theme(page, "JupyterLab Light")
