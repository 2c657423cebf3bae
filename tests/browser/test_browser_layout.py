"""The panel's layout at the default sidebar width: a toolbar that keeps its height, a
readable status line, the empty state, long pasted messages, Send, the tab icon, the keys
dialog as a compact list, and the model a chat picked kept across reloads."""

from __future__ import annotations

from typing import Any

from lab_helpers import (
    LAB_LOAD_TIMEOUT,
    STREAM_TIMEOUT,
    new_notebook,
    open_panel,
    panel,
    run_cell,
    send,
    wait_finished,
    wait_model_listed,
)

LONG_MODEL = """
import jupyter_deltachat as dc

@dc.register("long")
def long(messages, config):
    for i in range(80):
        yield f"Line {i} of a long answer.\\n\\n"
"""

EXAMPLE_PROMPTS = [
    "Explain the difference between a list and a tuple in Python",
    "Write a function that reads a CSV file and plots one of its columns",
    "How do I find out which line of my code is slow?",
]


def box(locator: Any) -> dict[str, float]:
    area = locator.bounding_box()
    assert area is not None, f"{locator} is not laid out"
    return area


def test_toolbar_keeps_its_height_when_the_chat_outgrows_the_panel(page: Any) -> None:
    new_notebook(page)
    bar = panel(page).get_by_role("toolbar", name="Chat toolbar")
    status = panel(page).locator(".jp-DeltaChat-status")
    bar_before, status_before = box(bar), box(status)
    run_cell(page, LONG_MODEL)
    wait_model_listed(page, "long")
    send(page, "go", model="long")
    wait_finished(page)
    messages = panel(page).get_by_role("log", name="Messages")
    assert messages.evaluate("list => list.scrollHeight > 2 * list.clientHeight")
    bar_after, status_after = box(bar), box(status)
    assert bar_after["height"] == bar_before["height"]
    assert status_after["height"] == status_before["height"]
    assert box(messages)["y"] >= bar_after["y"] + bar_after["height"]
    send_button = panel(page).get_by_role("button", name="Send", exact=True)
    assert (
        box(send_button)["y"] + box(send_button)["height"]
        <= box(panel(page))["y"] + box(panel(page))["height"]
    )


def test_status_line_shows_all_of_the_kernel_at_the_default_width(page: Any) -> None:
    new_notebook(page)
    text = panel(page).locator(".jp-DeltaChat-statusText")
    clipped = text.evaluate("t => t.scrollWidth > t.clientWidth || t.scrollHeight > t.clientHeight")
    assert not clipped, f"status text clipped: {text.inner_text()!r}"
    assert text.inner_text().startswith("Untitled")
    assert box(text)["x"] + box(text)["width"] <= box(panel(page))["x"] + box(panel(page))["width"]
    assert text.inner_text() in (
        panel(page).locator(".jp-DeltaChat-status").get_attribute("title") or ""
    )


def test_empty_chat_says_what_to_do(page: Any) -> None:
    empty = panel(page).locator(".jp-DeltaChat-empty")
    empty.wait_for()
    assert empty.locator(".jp-DeltaChat-emptyModel").inner_text() == (
        "Replies come from Demo (offline)."
    )
    prompts = empty.get_by_role("group", name="Example prompts").get_by_role("button")
    assert prompts.all_inner_texts() == EXAMPLE_PROMPTS
    keys = empty.get_by_role("button", name="Add an API key")
    assert keys.is_visible()
    keys.click()
    page.locator(".jp-DeltaChat-keysDialog .jp-DeltaChat-keys[data-loaded='true']").wait_for()
    page.locator(".jp-DeltaChat-keysDialog").get_by_role("button", name="Close").click()

    box_ = panel(page).get_by_label("Message", exact=True)
    send_button = panel(page).get_by_role("button", name="Send", exact=True)
    assert send_button.is_disabled()
    box_.fill("   \n ")
    assert send_button.is_disabled()
    prompts.nth(1).click()
    assert box_.input_value() == EXAMPLE_PROMPTS[1]
    assert box_.evaluate("input => document.activeElement === input")
    assert send_button.is_enabled()
    send_button.click()
    empty.wait_for(state="hidden")
    assert send_button.is_disabled()
    wait_finished(page)


def test_long_pasted_message_is_collapsed(page: Any) -> None:
    text = "A pasted line of a long log file, repeated many times over.\n" * 3400
    assert len(text) > 200_000
    users = panel(page).locator("[data-role='user']")
    before = users.count()  # the chat kernel, and its default chat, outlive a test
    # What a paste does: the whole value at once, one input event. (Playwright's fill types
    # it through Chromium's insertText, which takes minutes for thousands of lines.)
    panel(page).get_by_label("Message", exact=True).evaluate(
        """(input, text) => {
          input.value = text;
          const paste = { bubbles: true, inputType: 'insertFromPaste' };
          input.dispatchEvent(new InputEvent('input', paste));
        }""",
        text,
    )
    panel(page).get_by_role("button", name="Send", exact=True).click()
    message = users.nth(before)
    message.wait_for(timeout=STREAM_TIMEOUT)
    wait_finished(page, before + 1)
    assert box(message)["height"] < 400
    more = message.locator("button.jp-DeltaChat-more")
    assert more.inner_text() == "Show more"
    assert more.get_attribute("aria-expanded") == "false"
    more.click()
    assert box(message)["height"] > 10_000
    assert more.inner_text() == "Show less"
    assert more.get_attribute("aria-expanded") == "true"
    more.click()
    assert box(message)["height"] < 400

    panel(page).get_by_label("Message", exact=True).fill("short")
    panel(page).get_by_role("button", name="Send", exact=True).click()
    wait_finished(page, before + 2)
    short = users.nth(before + 1)
    assert short.get_by_role("button", name="Show more").count() == 0


def test_sidebar_tab_has_an_icon_and_the_caption(page: Any) -> None:
    tab = page.locator('.jp-SideBar li[data-id="jupyter-deltachat-panel"]')
    assert tab.locator("svg").count() == 1
    assert tab.get_attribute("title") == "Chat with language models"
    icons = page.locator(".jp-SideBar.jp-mod-right li")
    widths = {round(box(icon.locator("svg").first)["width"]) for icon in icons.all()}
    assert len(widths) == 1, f"tab icons of different sizes: {widths}"


def test_keys_dialog_is_a_compact_list_opening_one_form_at_a_time(page: Any) -> None:
    panel(page).get_by_role("button", name="API keys").click()
    dialog = page.locator(".jp-DeltaChat-keysDialog")
    dialog.locator(".jp-DeltaChat-keys[data-loaded='true']").wait_for()
    assert dialog.locator("input:visible").count() == 0
    rows = dialog.locator("form[data-provider]")
    assert rows.count() >= 6
    for row in rows.all():
        assert box(row)["height"] < 48, row.get_attribute("data-provider")
    openai = dialog.locator("form[data-provider='openai']")
    openai.get_by_role("button", name="Edit OpenAI").click()
    assert openai.get_by_label("OpenAI API key").is_visible()
    assert openai.get_by_role("button", name="Edit OpenAI").get_attribute("aria-expanded") == "true"
    assert openai.get_by_label("OpenAI API key").evaluate("i => document.activeElement === i")
    anthropic = dialog.locator("form[data-provider='anthropic']")
    anthropic.get_by_role("button", name="Edit Anthropic").click()
    assert anthropic.get_by_label("Anthropic API key").is_visible()
    assert openai.get_by_label("OpenAI API key").is_hidden()
    assert dialog.locator("input:visible").count() == 2
    anthropic.get_by_role("button", name="Edit Anthropic").click()
    assert dialog.locator("input:visible").count() == 0
    dialog.get_by_role("button", name="Close").click()


def test_a_picked_model_stays_picked_when_a_provider_is_configured(
    page: Any, lab_server: Any
) -> None:
    picker = panel(page).get_by_label("Model", exact=True)
    notice = panel(page).locator(".jp-DeltaChat-notice")
    picker.select_option("demo")
    headers = {"Authorization": f"token {lab_server.token}"}
    url = f"{lab_server.url}deltachat/api/credentials/openai"
    response = page.request.put(url, headers=headers, data={"api_key": "sk-layout-test-0000"})
    assert response.ok, response.text()
    try:
        notice.filter(has_text="The default model is now").wait_for(timeout=STREAM_TIMEOUT)
        assert notice.inner_text() == (
            "The default model is now gpt-5.1 (OpenAI). Chats where you picked a model keep it."
        )
        assert picker.input_value() == "demo"
        panel(page).get_by_role("button", name="New chat").click()
        assert picker.input_value() == "openai:gpt-5.1"

        page.reload(timeout=LAB_LOAD_TIMEOUT)
        page.wait_for_selector("#jp-main-dock-panel", timeout=LAB_LOAD_TIMEOUT)
        open_panel(page)
        panel(page).locator(
            "select[aria-label='Model'] option[value='openai:gpt-5.1']:enabled"
        ).wait_for(state="attached")
        assert picker.input_value() == "demo"
        assert notice.is_hidden()
        panel(page).get_by_role("button", name="New chat").click()
        assert picker.input_value() == "openai:gpt-5.1"
    finally:
        assert page.request.delete(url, headers=headers).ok
