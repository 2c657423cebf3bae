"""What the browser tests do with JupyterLab and the chat panel, by accessible names."""

from __future__ import annotations

import json
from typing import Any

PANEL = "#jupyter-deltachat-panel"
CHAT_SESSION_PATH = ".deltachat/chat"  # labextension/src/kernels.ts
CHAT_KERNELS_API = "deltachat/api/kernels"  # the chat kernel's own: jupyter_deltachat/server
LAB_LOAD_TIMEOUT = 60_000
KERNEL_TIMEOUT = 60_000
STREAM_TIMEOUT = 60_000


def open_lab(page: Any, server: Any, query: str = "reset") -> None:
    """Open JupyterLab, open the chat panel, wait until it is attached to a kernel."""
    page.goto(server.lab_url(query), timeout=LAB_LOAD_TIMEOUT)
    page.wait_for_selector("#jp-main-dock-panel", timeout=LAB_LOAD_TIMEOUT)
    open_panel(page)


def open_panel(page: Any) -> None:
    tab = page.locator('.jp-SideBar li[data-id="jupyter-deltachat-panel"]')
    tab.wait_for(timeout=LAB_LOAD_TIMEOUT)
    page.locator("#jupyterlab-splash").wait_for(state="detached", timeout=LAB_LOAD_TIMEOUT)
    if "lm-mod-current" not in (tab.get_attribute("class") or ""):
        tab.click()
    wait_attached(page)


def wait_attached(page: Any, timeout: int = KERNEL_TIMEOUT) -> None:
    page.locator(f"{PANEL} .jp-DeltaChat-status[data-state='ready']").wait_for(timeout=timeout)
    page.locator(f"{PANEL} select[aria-label='Model'] option").first.wait_for(
        state="attached", timeout=timeout
    )


def panel(page: Any) -> Any:
    return page.locator(PANEL)


def send(page: Any, text: str, model: str | None = None) -> None:
    if model is not None:
        panel(page).get_by_label("Model", exact=True).select_option(model)
    box = panel(page).get_by_label("Message", exact=True)
    box.fill(text)
    panel(page).get_by_role("button", name="Send", exact=True).click()


def assistant_messages(page: Any) -> Any:
    return panel(page).locator("[data-role='assistant']")


def wait_streaming(page: Any) -> Any:
    message = panel(page).locator("[data-role='assistant'][data-streaming='true']")
    message.wait_for(timeout=STREAM_TIMEOUT)
    return message


FINISHED_REPLY = (
    "[data-role='assistant']:last-child:not([data-streaming])[data-finish-reason]"
    "[data-rendered='true']:not(:has([data-math-pending]))"
)


def wait_finished(page: Any, count: int | None = None, after: str | None = None) -> Any:
    """The last assistant message once it has finished, its rendering caught up and all its
    math is typeset (math out of view is typeset in idle time after `data-rendered`).

    ``after`` is the text of the user's message the reply must follow: a chat restored from
    history already ends in a finished reply, which would otherwise satisfy the wait before
    the new reply has started."""
    messages = assistant_messages(page)
    if count is not None:
        messages.nth(count - 1).wait_for(timeout=STREAM_TIMEOUT)
    last = messages.last
    selector = FINISHED_REPLY
    if after is not None:
        selector = f"[data-role='user']:has-text({json.dumps(after)}) ~ {FINISHED_REPLY}"
    panel(page).locator(selector).wait_for(timeout=STREAM_TIMEOUT)
    return last


def copied_text(page: Any, button: Any) -> str:
    """Click a Copy button and return the text it put on the clipboard."""
    page.evaluate(
        """() => { window.__copied = null;
        window.addEventListener('copy', e => {
          window.__copied = e.clipboardData.getData('text');
        }, { once: true }); }"""
    )
    button.click()
    page.wait_for_function("() => window.__copied !== null")
    return page.evaluate("() => window.__copied")


def message_text(page: Any, message: Any) -> str:
    return message.locator(".jp-DeltaChat-markdown, .jp-DeltaChat-plain").first.inner_text()


def new_notebook(page: Any) -> None:
    """Open a new Python notebook from the launcher; the panel follows it to its kernel."""
    page.locator(".jp-Launcher-section:has-text('Notebook') .jp-LauncherCard").first.click()
    page.locator(".jp-NotebookPanel .jp-Notebook .jp-Cell").first.wait_for(timeout=KERNEL_TIMEOUT)
    page.locator(".jp-NotebookPanel [data-status='idle']").first.wait_for(
        state="attached", timeout=KERNEL_TIMEOUT
    )
    panel(page).locator(".jp-DeltaChat-status[data-state='ready']", has_text=".ipynb").wait_for(
        timeout=KERNEL_TIMEOUT
    )


def start_cell(page: Any, code: str) -> Any:
    """Type `code` into the last cell and run it; returns that cell."""
    cells = page.locator(".jp-NotebookPanel:visible .jp-Notebook .jp-Cell")
    index = cells.count() - 1
    cell = cells.nth(index)
    cell.locator(".cm-content").click()
    page.keyboard.insert_text(code)
    page.keyboard.press("Shift+Enter")
    page.wait_for_function(
        """cell => /\\[(\\*|\\d+)\\]/.test(cell.querySelector('.jp-InputPrompt').textContent)""",
        arg=cell.element_handle(),
        timeout=KERNEL_TIMEOUT,
    )
    return cell


def run_cell(page: Any, code: str) -> str:
    """Run `code` in a new cell, wait for it to finish, return its output text."""
    cell = start_cell(page, code)
    page.wait_for_function(
        """cell => /\\[\\d+\\]/.test(cell.querySelector('.jp-InputPrompt').textContent)""",
        arg=cell.element_handle(),
        timeout=KERNEL_TIMEOUT,
    )
    output = cell.locator(".jp-OutputArea-output")
    if output.count() == 0:
        return ""
    return output.first.inner_text()


def kernel_content(page: Any, chat_id: str = "default") -> str:
    """The last message's content as the kernel holds it, read through a notebook cell."""
    text = run_cell(
        page,
        "from jupyter_deltachat.kernel import SERVICE as _s; "
        f"print(repr(_s.history({chat_id!r})[-1].content))",
    )
    import ast

    return ast.literal_eval(text.strip())


def wait_model_listed(page: Any, model: str) -> None:
    panel(page).locator(f"select[aria-label='Model'] option[value='{model}']").wait_for(
        state="attached", timeout=KERNEL_TIMEOUT
    )


def notebook_cells(page: Any) -> Any:
    return page.locator(".jp-NotebookPanel:visible .jp-Notebook .jp-Cell")


def use_theme(page: Any, name: str) -> None:
    """Pick a theme from Settings > Theme; returns once JupyterLab has applied it."""
    page.locator(".lm-MenuBar-itemLabel", has_text="Settings").click()
    page.locator(".lm-Menu-itemLabel").get_by_text("Theme", exact=True).hover()
    page.locator(".lm-Menu-itemLabel").get_by_text(name, exact=True).click()
    page.locator(f"body[data-jp-theme-name='{name}']").wait_for(
        state="attached", timeout=LAB_LOAD_TIMEOUT
    )


def wait_status(page: Any, state: str, timeout: int = KERNEL_TIMEOUT) -> Any:
    status = panel(page).locator(f".jp-DeltaChat-status[data-state='{state}']")
    status.wait_for(timeout=timeout)
    return status


RENDERED_HTML = """message => {
  // The rendered HTML of a reply, block by block, without whitespace between elements.
  const out = [];
  for (const block of message.querySelectorAll('.jp-DeltaChat-markdown > .jp-DeltaChat-block')) {
    for (const child of block.childNodes) {
      if (child.nodeType === Node.TEXT_NODE && !child.textContent.trim()) continue;
      out.push(child.nodeType === Node.ELEMENT_NODE ? child.outerHTML : child.textContent);
    }
  }
  return out;
}"""


def rendered_html(message: Any) -> list[str]:
    """Top-level rendered nodes of a reply, in order, as HTML (blocks flattened)."""
    return message.evaluate(RENDERED_HTML)


def cell_source(cell: Any) -> str:
    """A cell's source as CodeMirror shows it, one `.cm-line` per line."""
    return cell.evaluate(
        "cell => [...cell.querySelectorAll('.cm-content .cm-line')]"
        ".map(line => line.textContent).join('\\n')"
    )


SCREENSHOT_CELL = (
    "import jupyter_deltachat as dc\n\n"
    "@dc.register\n"
    "def shout(messages, config):\n"
    "    for word in messages[-1].content.split():\n"
    '        yield word.upper() + " "'
)


def docs_screenshot(page: Any, path: Any) -> None:
    """The whole JupyterLab window at 1280x800, the reply scrolled so that its heading,
    list, code block and formula show; no hover effects."""
    page.set_viewport_size({"width": 1280, "height": 800})
    page.wait_for_timeout(300)
    left = page.evaluate(
        "() => document.querySelector('#jp-right-stack').getBoundingClientRect().left"
    )
    page.mouse.move(left - 2, 400)
    page.mouse.down()
    page.mouse.move(left - 140, 400, steps=5)
    page.mouse.up()
    page.mouse.move(640, 5)
    page.wait_for_timeout(400)
    page.evaluate(
        """() => {
          const list = document.querySelector('#jupyter-deltachat-panel .jp-DeltaChat-messages');
          const user = [...list.querySelectorAll("[data-role='user']")].pop();
          list.scrollTop = Math.max(0, user.offsetTop - list.offsetTop - 8);
        }"""
    )
    page.wait_for_timeout(400)
    page.screenshot(path=str(path))


def shut_down_kernels(server: Any, keep_chat_kernel: bool = True) -> list[str]:
    """Shut down the sessions (and their kernels) of the notebooks a test opened; the panel's
    chat kernel (not a session: the extension's own, at ``CHAT_KERNELS_API``) is shared by
    the tests and stays unless ``keep_chat_kernel`` is false. Returns the paths of the
    sessions ended (``CHAT_SESSION_PATH`` for the chat kernel). Tests that leave kernels
    running slow every later test on a 2-core machine (each idle ipykernel still polls)."""
    import json
    import urllib.request

    def call(method: str, path: str) -> bytes:
        request = urllib.request.Request(
            f"{server.url}{path}",
            method=method,
            headers={"Authorization": f"token {server.token}"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.read()

    ended = []
    for session in json.loads(call("GET", "api/sessions")):
        call("DELETE", f"api/sessions/{session['id']}")
        ended.append(session["path"])
    if not keep_chat_kernel:
        for kernel in json.loads(call("GET", CHAT_KERNELS_API)):
            call("DELETE", f"{CHAT_KERNELS_API}/{kernel['id']}")
            ended.append(CHAT_SESSION_PATH)
    return ended
