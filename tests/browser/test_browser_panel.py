"""The sidebar chat panel in a real JupyterLab, driven through headless Chromium."""

from __future__ import annotations

import os
import time
from pathlib import Path

from lab_helpers import (
    SCREENSHOT_CELL,
    assistant_messages,
    copied_text,
    docs_screenshot,
    kernel_content,
    message_text,
    new_notebook,
    open_lab,
    panel,
    run_cell,
    send,
    start_cell,
    wait_finished,
    wait_model_listed,
    wait_streaming,
)

from jupyter_deltachat.models.demo import WELCOME

SLOW_MODEL = """
import time, jupyter_deltachat as dc
@dc.register("slow")
def slow(messages, config):
    for i in range(400):
        yield f"w{i} "
        time.sleep(0.025)
"""
SLOW_TEXT = "".join(f"w{i} " for i in range(400))


def screenshot_dir(tmp_path: Path) -> Path:
    """docs/images when DELTACHAT_SCREENSHOTS=docs (to refresh the README's pictures)."""
    if os.environ.get("DELTACHAT_SCREENSHOTS") == "docs":
        return Path(__file__).resolve().parents[2] / "docs" / "images"
    return tmp_path


def test_demo_reply_renders_the_kernels_content(page, tmp_path):
    assert panel(page).get_by_role("button", name="Clear chat").is_visible()
    new_notebook(page)
    run_cell(page, SCREENSHOT_CELL)
    send(page, "Hello", model="demo")
    user = panel(page).locator("[data-role='user']").last
    assert user.get_attribute("data-message-id")
    assert message_text(page, user) == "Hello"
    wait_streaming(page)
    reply = wait_finished(page)
    assert reply.get_attribute("data-finish-reason") == "stop"
    assert copied_text(page, reply.get_by_role("button", name="Copy message")) == WELCOME
    assert reply.locator("h2").first.inner_text() == "Welcome to deltachat"
    assert reply.locator("mjx-container, .MathJax").count() >= 2
    code = reply.locator(".jp-DeltaChat-code").first
    assert code.get_by_role("button", name="Copy code").is_visible()
    assert code.get_by_role("button", name="Insert code below the active cell").is_visible()
    assert copied_text(page, code.get_by_role("button", name="Copy code")).startswith(
        "import jupyter_deltachat as dc"
    )
    assert panel(page).get_by_role("button", name="Regenerate").is_visible()
    docs_screenshot(page, screenshot_dir(tmp_path) / "panel-light.png")


def test_notebook_model_reply_equals_kernel_content(page):
    new_notebook(page)
    run_cell(
        page,
        "import jupyter_deltachat as dc\n@dc.register\ndef echo(messages):\n"
        '    for word in messages[-1].content.split():\n        yield word + "|"',
    )
    wait_model_listed(page, "echo")
    send(page, "alpha beta  gamma ünïcode 🙂", model="echo")
    reply = wait_finished(page)
    expected = "alpha|beta|gamma|ünïcode|🙂|"
    assert message_text(page, reply) == expected
    assert copied_text(page, reply.get_by_role("button", name="Copy message")) == expected
    assert kernel_content(page) == expected


def test_stop_keeps_the_partial_reply(page):
    new_notebook(page)
    run_cell(page, SLOW_MODEL)
    wait_model_listed(page, "slow")
    send(page, "go", model="slow")
    streaming = wait_streaming(page)
    streaming.locator("p", has_text="w20 ").wait_for()
    panel(page).get_by_role("button", name="Stop", exact=True).click()
    reply = wait_finished(page)
    assert reply.get_attribute("data-finish-reason") == "cancelled"
    partial = copied_text(page, reply.get_by_role("button", name="Copy message"))
    assert partial and SLOW_TEXT.startswith(partial) and len(partial) < len(SLOW_TEXT)
    assert kernel_content(page) == partial
    assert panel(page).get_by_role("button", name="Send", exact=True).is_visible()


def test_reload_mid_stream_resumes_and_finishes(page, lab_server):
    new_notebook(page)
    run_cell(page, SLOW_MODEL)
    wait_model_listed(page, "slow")
    send(page, "go", model="slow")
    wait_streaming(page).locator("p", has_text="w5 ").wait_for()
    open_lab(page, lab_server, query="")
    panel(page).locator(".jp-DeltaChat-status[data-state='ready']", has_text=".ipynb").wait_for()
    assert message_text(page, panel(page).locator("[data-role='user']").last) == "go"
    reply = wait_finished(page)
    assert reply.get_attribute("data-finish-reason") == "stop"
    assert copied_text(page, reply.get_by_role("button", name="Copy message")) == SLOW_TEXT
    assert kernel_content(page) == SLOW_TEXT
    assert assistant_messages(page).count() == 1


def test_stop_during_a_running_cell_takes_effect_within_a_second(page):
    new_notebook(page)
    run_cell(page, SLOW_MODEL)
    wait_model_listed(page, "slow")
    assert "(subshell)" in panel(page).locator(".jp-DeltaChat-status").inner_text()
    send(page, "go", model="slow")
    wait_streaming(page).locator("p", has_text="w3 ").wait_for()
    start_cell(page, "import time; time.sleep(10)")
    stop = panel(page).get_by_role("button", name="Stop", exact=True)
    started = time.monotonic()
    stop.click()
    panel(page).locator("[data-role='assistant'][data-finish-reason='cancelled']").wait_for(
        timeout=5000
    )
    elapsed = time.monotonic() - started
    assert elapsed < 1.0, f"stop took {elapsed:.2f} s while a cell was running"
    running = page.locator(".jp-NotebookPanel:visible .jp-Cell .jp-InputPrompt", has_text="[*]")
    assert running.count() == 1, "the sleep cell should still be running"
