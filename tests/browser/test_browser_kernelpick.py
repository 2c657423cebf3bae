"""The panel among notebooks: its chat kernel stays out of their kernel pickers, and the chat
it shows is always the followed notebook's (issue 15 item 6)."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from lab_helpers import (
    CHAT_KERNELS_API,
    KERNEL_TIMEOUT,
    new_notebook,
    panel,
    send,
    wait_finished,
)


def chat_kernel_ids(server: Any) -> list[str]:
    request = urllib.request.Request(
        f"{server.url}{CHAT_KERNELS_API}", headers={"Authorization": f"token {server.token}"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return [kernel["id"] for kernel in json.loads(response.read())]


def test_the_chat_kernel_is_not_offered_in_a_notebooks_kernel_selector(
    page: Any, lab_server: Any
) -> None:
    panel(page).locator(
        ".jp-DeltaChat-status[data-state='ready']", has_text="Chat kernel"
    ).wait_for()
    [chat_kernel] = chat_kernel_ids(lab_server)
    new_notebook(page)

    page.locator(".lm-MenuBar-itemLabel", has_text="Kernel").click()
    page.locator(".lm-Menu-itemLabel", has_text="Change Kernel…").click()
    select = page.locator(".jp-Dialog select")
    select.wait_for(timeout=KERNEL_TIMEOUT)
    options = select.locator("option").evaluate_all(
        "options => options.map(o => ({label: o.textContent, value: o.value}))"
    )
    page.locator(".jp-Dialog").get_by_role("button", name="Cancel").click()

    assert options, "the kernel selector lists nothing"
    offered = [o for o in options if chat_kernel in o["value"] or "Chat" in o["label"]]
    assert offered == [], f"the chat kernel is offered: {offered}"
    assert chat_kernel_ids(lab_server) == [chat_kernel]  # still running, for the panel


def open_another_notebook(page: Any, first: str) -> str:
    """A new notebook from a new launcher, beside notebook ``first``; once the panel follows
    it, its name."""
    page.locator(".lm-MenuBar-itemLabel", has_text="File").click()
    page.locator(".lm-Menu-itemLabel", has_text="New Launcher").click()
    page.locator(".jp-Launcher-section:has-text('Notebook') .jp-LauncherCard").first.click()
    page.wait_for_function(
        """first => {
          const tab = document.querySelector(
            '#jp-main-dock-panel .lm-TabBar-tab.lm-mod-current .lm-TabBar-tabLabel');
          return tab && tab.textContent.endsWith('.ipynb') && tab.textContent !== first;
        }""",
        arg=first,
        timeout=KERNEL_TIMEOUT,
    )
    second = current_tab(page).inner_text()
    panel(page).locator(".jp-DeltaChat-status[data-state='ready']", has_text=second).wait_for(
        timeout=KERNEL_TIMEOUT
    )
    return second


def current_tab(page: Any) -> Any:
    return page.locator("#jp-main-dock-panel .lm-TabBar-tab.lm-mod-current .lm-TabBar-tabLabel")


def show_notebook(page: Any, name: str, question: str) -> str:
    """Bring notebook ``name`` to the front; once the panel shows its chat, the title the
    chat button shows."""
    page.locator("#jp-main-dock-panel .lm-TabBar-tabLabel", has_text=name).click()
    panel(page).locator(".jp-DeltaChat-status[data-state='ready']", has_text=name).wait_for(
        timeout=KERNEL_TIMEOUT
    )
    panel(page).locator("[data-role='user']", has_text=question).wait_for(timeout=KERNEL_TIMEOUT)
    return panel(page).get_by_role("button", name="Chat", exact=True).inner_text()


def test_the_chat_title_follows_the_notebook(page: Any) -> None:
    chat = panel(page).get_by_role("button", name="Chat", exact=True)
    new_notebook(page)
    first = current_tab(page).inner_text()
    send(page, "alpha question", model="demo")
    wait_finished(page)
    chat.filter(has_text="alpha question").wait_for()

    second = open_another_notebook(page, first)
    chat.filter(has_text="New chat").wait_for()
    send(page, "beta question", model="demo")
    wait_finished(page)
    chat.filter(has_text="beta question").wait_for()

    for _ in range(2):
        assert show_notebook(page, first, "alpha question") == "alpha question"
        assert show_notebook(page, second, "beta question") == "beta question"


LABEL_FIT = """select => {
  // A <select>'s scrollWidth does not grow with its label, so measure the label's text in
  // the select's own font against the room its padding leaves.
  const style = getComputedStyle(select);
  const context = document.createElement('canvas').getContext('2d');
  context.font = `${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
  const label = select.options[select.selectedIndex].textContent;
  return {
    label,
    text: context.measureText(label).width,
    room: select.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight),
  };
}"""


def test_the_model_picker_shows_the_models_whole_name_at_the_default_width(page: Any) -> None:
    assert panel(page).bounding_box()["width"] <= 260  # JupyterLab's default sidebar
    picker = panel(page).get_by_label("Model", exact=True)
    picker.select_option("demo")
    fit = picker.evaluate(LABEL_FIT)
    assert fit["label"] == "Demo (offline)"
    assert fit["text"] <= fit["room"], fit
    tools = panel(page).get_by_role("button", name="Use tools")
    assert tools.is_visible()
