"""Tool calls in a notebook in JupyterLab: ``%chat --tools`` asks at the cell's real input
box, and the ``Chat`` widget's Run / Deny buttons, in the light and the dark theme
(screenshots under DELTACHAT_SCREENSHOTS_DIR when it is set)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from lab_helpers import (
    KERNEL_TIMEOUT,
    new_notebook,
    run_cell,
    start_cell,
    use_theme,
)
from scripted_models import ANALYST


def shoot(page: Any, name: str) -> None:
    folder = os.environ.get("DELTACHAT_SCREENSHOTS_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / name))


def answer_at_the_prompt(page: Any, cell: Any, theme: str, answer: str) -> None:
    """Wait for the cell's input box, check what it shows, screenshot, type ``answer``."""
    stdin = cell.locator(".jp-Stdin-input")
    stdin.wait_for(timeout=KERNEL_TIMEOUT)
    prompt = cell.locator(".jp-Stdin-prompt").inner_text()
    assert prompt.rstrip() == "print(x * 2)\nx + 1\nRun this code? [y]es / [n]o / [a]lways:"
    cell.locator(".jp-RenderedMarkdown", has_text="awaiting approval").wait_for()
    cell.scroll_into_view_if_needed()
    shoot(page, f"cell-asking-{theme}.png")
    stdin.fill(answer)
    stdin.press("Enter")


def finished(page: Any, cell: Any) -> None:
    page.wait_for_function(
        """cell => /\\[\\d+\\]/.test(cell.querySelector('.jp-InputPrompt').textContent)""",
        arg=cell.element_handle(),
        timeout=KERNEL_TIMEOUT,
    )


def test_chat_tools_in_a_cell_and_the_widget_buttons(page: Any, lab_server: Any) -> None:
    try:
        new_notebook(page)
        run_cell(page, ANALYST)
        for theme, answer, status in (("light", "y", "done"), ("dark", "n", "denied")):
            if theme == "dark":
                use_theme(page, "JupyterLab Dark")
            cell = start_cell(page, f"%chat -m analyst --chat {theme} --tools what is x?")
            answer_at_the_prompt(page, cell, theme, answer)
            finished(page, cell)
            card = cell.locator(".jp-RenderedMarkdown", has_text="tool python")
            assert card.inner_text().splitlines()[0] == f"tool python · {status}"
            result = "8 5" if status == "done" else "the user denied this call"
            outputs = cell.locator(".jp-RenderedMarkdown")
            assert outputs.last.inner_text().strip() == f"Result: {result}"
            shoot(page, f"cell-{status}-{theme}.png")

            widget_cell = start_cell(
                page, f"w_{theme} = dc.Chat(analyst, tools='all')\nw_{theme}.send('go'); w_{theme}"
            )
            run = widget_cell.get_by_title("Run tool")
            run.wait_for(timeout=KERNEL_TIMEOUT)
            assert run.inner_text().strip() == "Run"
            assert widget_cell.get_by_title("Always allow tool").inner_text() == (
                "Always in this chat"
            )
            run.scroll_into_view_if_needed()
            shoot(page, f"widget-asking-{theme}.png")
            (run if answer == "y" else widget_cell.get_by_title("Deny tool")).click()
            widget_cell.get_by_text(f"Result: {result}", exact=True).wait_for(
                timeout=KERNEL_TIMEOUT
            )
            widget_card = widget_cell.locator(".jp-RenderedMarkdown", has_text="tool python")
            assert widget_card.inner_text().splitlines()[0] == f"tool python · {status}"
            assert not run.is_visible()
            shoot(page, f"widget-{status}-{theme}.png")
    finally:
        use_theme(page, "JupyterLab Light")
