"""Panel paths beyond a plain reply: inserting code, several chats, Retry, %chat, restarts."""

from __future__ import annotations

from lab_helpers import (
    assistant_messages,
    cell_source,
    copied_text,
    message_text,
    new_notebook,
    notebook_cells,
    panel,
    run_cell,
    send,
    start_cell,
    wait_finished,
    wait_model_listed,
    wait_status,
    wait_streaming,
)
from test_browser_panel import SLOW_MODEL, SLOW_TEXT

FLAKY_MODEL = """
import jupyter_deltachat as dc
_calls = []
@dc.register("flaky")
def flaky(messages):
    _calls.append(1)
    if len(_calls) == 1:
        raise RuntimeError("flaky failure number one")
    yield "recovered on retry"
"""


def test_insert_code_below_the_active_cell(page):
    new_notebook(page)
    run_cell(page, "first = 1")
    cells = notebook_cells(page)
    assert cells.count() == 2
    cells.nth(0).locator(".jp-InputPrompt").click()
    page.locator(".jp-NotebookPanel:visible .jp-Cell.jp-mod-active").first.wait_for()
    send(page, "Hello", model="demo")
    reply = wait_finished(page)
    code = reply.locator(".jp-DeltaChat-code").first
    expected = copied_text(page, code.get_by_role("button", name="Copy code"))
    code.get_by_role("button", name="Insert code below the active cell").click()
    page.wait_for_function(
        "() => document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell')"
        ".length === 3"
    )
    inserted = cells.nth(1)
    assert "jp-mod-active" in (inserted.get_attribute("class") or "")
    assert cell_source(inserted) == expected
    assert cell_source(cells.nth(0)) == "first = 1"
    assert cell_source(cells.nth(2)) == ""


def test_switching_between_chats(page):
    new_notebook(page)
    send(page, "question in the default chat", model="demo")
    wait_finished(page)
    chat = panel(page).get_by_role("button", name="Chat", exact=True)
    chat.filter(has_text="question in the default chat").wait_for()

    panel(page).get_by_role("button", name="New chat").click()
    chat.filter(has_text="New chat").wait_for()
    assert panel(page).locator("[data-role]").count() == 0
    send(page, "question in the new chat", model="demo")
    wait_finished(page)
    chat.filter(has_text="question in the new chat").wait_for()
    chat.click()
    own = panel(page).get_by_role("region", name="This notebook")
    rows = own.locator(".jp-DeltaChat-chatRow")
    own.get_by_role("button", name="Open chat question in the default chat").wait_for()
    assert rows.count() == 2
    assert rows.first.get_attribute("aria-current") == "true"  # newest first, current

    own.get_by_role("button", name="Open chat question in the default chat").click()
    users = panel(page).locator("[data-role='user']")
    users.filter(has_text="question in the default chat").wait_for()
    assert users.count() == 1
    assert assistant_messages(page).count() == 1

    chat.click()
    own.get_by_role("button", name="Open chat question in the new chat").click()
    users.filter(has_text="question in the new chat").wait_for()
    assert users.count() == 1
    assert message_text(page, users.first) == "question in the new chat"


def test_retry_on_an_inline_error(page):
    new_notebook(page)
    run_cell(page, FLAKY_MODEL)
    wait_model_listed(page, "flaky")
    send(page, "try", model="flaky")
    reply = wait_finished(page)
    assert reply.get_attribute("data-finish-reason") == "error"
    error = reply.get_by_role("alert")
    assert "The model raised an error." in error.inner_text()
    assert "flaky failure number one" in error.inner_text()
    error.get_by_role("button", name="Retry").click()
    panel(page).locator(
        "[data-role='assistant'][data-finish-reason='stop'][data-rendered='true']"
    ).wait_for()
    assert assistant_messages(page).count() == 1
    reply = assistant_messages(page).last
    assert message_text(page, reply) == "recovered on retry"
    assert not reply.locator(".jp-DeltaChat-error").is_visible()


FAILS_TWICE_MODEL = """
import jupyter_deltachat as dc
_attempts = []
@dc.register("fails_twice")
def fails_twice(messages):
    _attempts.append(1)
    if len(_attempts) <= 2:
        raise RuntimeError(f"failure number {len(_attempts)}")
    yield "recovered: " + messages[-1].content
"""


def test_retry_is_offered_only_on_the_last_reply(page):
    """`regenerate` replaces the chat's last reply, so an older failed reply offers no Retry
    (it would regenerate another message) and the last one's Retry regenerates itself."""
    new_notebook(page)
    run_cell(page, FAILS_TWICE_MODEL)
    wait_model_listed(page, "fails_twice")
    send(page, "first", model="fails_twice")
    wait_finished(page)
    send(page, "second", model="fails_twice")
    wait_finished(page, count=2)
    older, last = assistant_messages(page).nth(0), assistant_messages(page).nth(1)
    assert "failure number 1" in older.get_by_role("alert").inner_text()
    assert older.get_by_role("button", name="Retry").count() == 0
    assert "failure number 2" in last.get_by_role("alert").inner_text()

    last.get_by_role("alert").get_by_role("button", name="Retry").click()
    panel(page).locator(
        "[data-role='assistant']:last-child[data-finish-reason='stop'][data-rendered='true']"
    ).wait_for()
    assert panel(page).locator("[data-role]").evaluate_all(
        "nodes => nodes.map(node => node.dataset.role)"
    ) == ["user", "assistant", "user", "assistant"]
    assert message_text(page, panel(page).locator("[data-role='user']").nth(1)) == "second"
    older, last = assistant_messages(page).nth(0), assistant_messages(page).nth(1)
    assert "failure number 1" in older.get_by_role("alert").inner_text()
    assert older.get_by_role("button", name="Retry").count() == 0
    assert message_text(page, last) == "recovered: second"
    assert not last.locator(".jp-DeltaChat-error").is_visible()


def test_chat_magic_exchange_appears_live(page):
    new_notebook(page)
    run_cell(page, SLOW_MODEL)
    wait_model_listed(page, "slow")
    cell = start_cell(page, "%chat -m slow asked from a cell")
    panel(page).locator("[data-role='user']", has_text="asked from a cell").wait_for()
    wait_streaming(page).locator("p", has_text="w10 ").wait_for()
    assert "[*]" in cell.locator(".jp-InputPrompt").inner_text(), "the cell is still running"
    reply = wait_finished(page)
    assert reply.get_attribute("data-finish-reason") == "stop"
    assert copied_text(page, reply.get_by_role("button", name="Copy message")) == SLOW_TEXT


RECORD_STATES = """() => {
  const status = document.querySelector('#jupyter-deltachat-panel .jp-DeltaChat-status');
  window.__states = [];
  new MutationObserver(() => window.__states.push(status.dataset.state))
    .observe(status, { attributes: true, attributeFilter: ['data-state'] });
}"""


def test_reconnects_after_a_kernel_restart(page):
    new_notebook(page)
    send(page, "before the restart", model="demo")
    wait_finished(page)
    page.evaluate(RECORD_STATES)
    page.locator(".lm-MenuBar-itemLabel", has_text="Kernel").click()
    page.locator(".lm-Menu-itemLabel", has_text="Restart Kernel…").first.click()
    page.locator(".jp-Dialog .jp-Dialog-button.jp-mod-accept").click()
    page.wait_for_function(
        "() => window.__states.includes('connecting') && window.__states.at(-1) === 'ready'",
        timeout=60_000,
    )
    wait_status(page, "ready")
    # The restarted kernel restored the notebook's chat from history (issue 13); the panel
    # shows what the kernel holds, and the conversation goes on from there.
    panel(page).locator("[data-role='user']", has_text="before the restart").wait_for()
    assert assistant_messages(page).count() == 1
    send(page, "after the restart", model="demo")
    reply = wait_finished(page, count=2)
    assert reply.get_attribute("data-finish-reason") == "stop"
    users = panel(page).locator("[data-role='user']").all_inner_texts()
    assert len(users) == 2
    assert "before the restart" in users[0] and "after the restart" in users[1]
