"""The keys dialog round trip, and the panel in the dark theme."""

from __future__ import annotations

import json

from lab_helpers import (
    SCREENSHOT_CELL,
    docs_screenshot,
    new_notebook,
    panel,
    run_cell,
    send,
    use_theme,
    wait_finished,
)
from test_browser_panel import screenshot_dir

SECRET = "sk-test-deltachat-7f3a9c21e5b8d4aa"


def heap_contains(page, needle: str) -> bool:
    """Search a V8 heap snapshot of the page (after a GC) for a string."""
    cdp = page.context.new_cdp_session(page)
    chunks: list[str] = []
    cdp.on("HeapProfiler.addHeapSnapshotChunk", lambda event: chunks.append(event["chunk"]))
    cdp.send("HeapProfiler.enable")
    cdp.send("HeapProfiler.collectGarbage")
    cdp.send("HeapProfiler.takeHeapSnapshot", {"reportProgress": False})
    cdp.detach()
    return needle in "".join(chunks)


def test_keys_dialog_round_trip_leaves_no_key_behind(page, lab_server):
    panel(page).get_by_role("button", name="API keys").click()
    dialog = page.locator(".jp-DeltaChat-keysDialog")
    form = dialog.locator("form[data-provider='openai']")
    form.wait_for()
    assert form.get_attribute("data-configured") == "false"
    form.get_by_role("button", name="Edit OpenAI").click()
    key_input = form.get_by_label("OpenAI API key")
    assert key_input.get_attribute("type") == "password"
    key_input.fill(SECRET)
    form.get_by_role("button", name="Save OpenAI key").click()
    dialog.locator("form[data-provider='openai'][data-configured='true']").wait_for()
    status = dialog.locator("form[data-provider='openai'] .jp-DeltaChat-providerStatus")
    assert SECRET[-4:] in status.inner_text()
    assert SECRET not in status.inner_text()

    stored = json.loads(lab_server.credentials.read_text())
    assert SECRET in json.dumps(stored), "the server stored the key"
    assert SECRET not in page.content()
    values = page.evaluate("() => [...document.querySelectorAll('input')].map(i => i.value)")
    assert all(SECRET not in value for value in values)
    storage = page.evaluate(
        "() => JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage)])"
    )
    assert SECRET not in storage
    assert not heap_contains(page, SECRET), "the key is still in the page's JS heap"

    dialog.locator("form[data-provider='openai']").get_by_role(
        "button", name="Remove OpenAI key"
    ).click()
    dialog.locator("form[data-provider='openai'][data-configured='false']").wait_for()
    assert SECRET not in lab_server.credentials.read_text()
    dialog.get_by_role("button", name="Close").click()


def test_keys_dialog_asks_ollama_for_a_url_not_a_key(page, lab_server):
    panel(page).get_by_role("button", name="API keys").click()
    dialog = page.locator(".jp-DeltaChat-keysDialog")
    message = dialog.locator(".jp-DeltaChat-keysMessage")
    ollama = dialog.locator("form[data-provider='ollama']")
    ollama.wait_for()
    assert ollama.locator(".jp-DeltaChat-providerStatus").inner_text() == "No URL"
    openai = dialog.locator("form[data-provider='openai']")
    assert openai.locator(".jp-DeltaChat-providerStatus").inner_text() == "No key"
    ollama.get_by_role("button", name="Edit Ollama").click()

    ollama.get_by_role("button", name="Save Ollama URL").click()
    assert message.inner_text() == "Nothing to save for Ollama: enter its URL first."
    ollama.get_by_label("Ollama Base URL").fill("http://127.0.0.1:11434/v1")
    ollama.get_by_role("button", name="Save Ollama URL").click()
    dialog.locator("form[data-provider='ollama'][data-configured='true']").wait_for()
    assert message.inner_text() == "Saved the Ollama URL."
    assert json.loads(lab_server.credentials.read_text())["providers"]["ollama"] == {
        "base_url": "http://127.0.0.1:11434/v1"
    }
    dialog.locator("form[data-provider='ollama']").get_by_role(
        "button", name="Remove Ollama URL"
    ).click()
    dialog.locator("form[data-provider='ollama'][data-configured='false']").wait_for()
    assert message.inner_text() == "Removed the Ollama URL."
    dialog.get_by_role("button", name="Close").click()


def test_keys_dialog_says_when_a_new_url_removed_the_stored_key(page, lab_server):
    panel(page).get_by_role("button", name="API keys").click()
    dialog = page.locator(".jp-DeltaChat-keysDialog")
    openai = dialog.locator("form[data-provider='openai']")
    openai.get_by_role("button", name="Edit OpenAI").click()
    openai.get_by_label("OpenAI API key").fill(SECRET)
    openai.get_by_role("button", name="Save OpenAI key").click()
    dialog.locator("form[data-provider='openai'][data-configured='true']").wait_for()

    openai = dialog.locator("form[data-provider='openai']")
    openai.get_by_label("OpenAI Base URL").fill("http://127.0.0.1:9/v1")
    openai.get_by_role("button", name="Save OpenAI key").click()
    dialog.locator("form[data-provider='openai'][data-configured='false']").wait_for()
    assert dialog.locator(".jp-DeltaChat-keysMessage").inner_text() == (
        "Saved. The stored OpenAI key was for the old URL and has been removed: "
        "enter the key for the new URL."
    )
    assert SECRET not in lab_server.credentials.read_text()
    dialog.locator("form[data-provider='openai']").get_by_role(
        "button", name="Remove OpenAI key"
    ).click()
    dialog.locator(".jp-DeltaChat-keysMessage", has_text="Removed the OpenAI key.").wait_for()
    dialog.get_by_role("button", name="Close").click()


def test_dark_theme_screenshot(page, tmp_path):
    use_theme(page, "JupyterLab Dark")
    try:
        new_notebook(page)
        run_cell(page, SCREENSHOT_CELL)
        send(page, "Hello", model="demo")
        wait_finished(page)
        background = page.evaluate(
            """() => getComputedStyle(document.querySelector('#jupyter-deltachat-panel'))
                .backgroundColor"""
        )
        red, green, blue = (
            int(x) for x in background[background.index("(") + 1 : -1].split(",")[:3]
        )
        assert red + green + blue < 3 * 96, f"panel background {background} is not dark"
        docs_screenshot(page, screenshot_dir(tmp_path) / "panel-dark.png")
    finally:
        use_theme(page, "JupyterLab Light")
