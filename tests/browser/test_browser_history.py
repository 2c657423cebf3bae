"""The chat list in the browser (issue 13 item 3): a notebook's chats survive a kernel
restart, a reload of JupyterLab and a restart of the whole server; another notebook's chat
opens from "All chats" with its exact content, and another notebook's `default` opens its
notebook instead; rename, delete (after a confirmation) and export reach the kernel and the
file system; an open list follows a reply started by `%chat` in a cell and one streaming
from the panel. The module has its own JupyterLab with its own history file, so the lists hold
only what these tests wrote; the tests run in order and build on each other's chats."""

from __future__ import annotations

import ast
import json
import re
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from lab_helpers import (
    KERNEL_TIMEOUT,
    LAB_LOAD_TIMEOUT,
    open_panel,
    panel,
    run_cell,
    send,
    start_cell,
    use_theme,
    wait_finished,
    wait_model_listed,
    wait_status,
)
from lab_server import LabServer, start_lab, stop_lab
from test_browser_flows import RECORD_STATES
from test_browser_panel import screenshot_dir

NOTEBOOK_A = "history_a.ipynb"
NOTEBOOK_B = "history_b.ipynb"
FIRST = "What is kept when the kernel restarts?"
SECOND = "And after a reload of the page?"
OTHER = "Where do chats live?"
RENAMED = "Plans: Q3/Q4"
RENAMED_FILE = "Plans- Q3-Q4"  # the title as a file name (no ':' or '/')


@pytest.fixture(scope="module")
def lab_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    """This module's JupyterLab, whose kernels keep their chats in a history file of its own."""
    base = tmp_path_factory.mktemp("history-lab")
    server = start_lab(base, extra_env={"JUPYTER_DELTACHAT_HISTORY": str(base / "chats.sqlite3")})
    try:
        yield server
    finally:
        for session in api(server, "GET", "api/sessions"):
            if session["path"] in (NOTEBOOK_A, NOTEBOOK_B, f"{RENAMED_FILE}.ipynb"):
                api(server, "DELETE", f"api/sessions/{session['id']}")
        stop_lab(server)


def api(server: LabServer, method: str, path: str, body: Any = None) -> Any:
    """A call to the Jupyter server's REST API; the parsed JSON answer (None when empty)."""
    request = urllib.request.Request(
        f"{server.url}{path}",
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"token {server.token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        text = response.read()
    return json.loads(text) if text else None


def file_content(server: LabServer, path: str) -> Any:
    """A file's content through the contents API (a notebook's as parsed JSON)."""
    return api(server, "GET", f"api/contents/{urllib.request.quote(path)}?content=1")["content"]


def file_exists(server: LabServer, path: str) -> bool:
    listing = api(server, "GET", "api/contents?content=1")["content"]
    return any(entry["path"] == path for entry in listing)


def cells(notebook: dict[str, Any]) -> list[tuple[str, str]]:
    """(type, source) of each cell."""
    return [(cell["cell_type"], cell["source"]) for cell in notebook["cells"]]


def open_notebook(page: Any, server: LabServer, path: str) -> None:
    """Open notebook `path` (created with a Python kernel when missing) on a freshly loaded
    JupyterLab, and wait until the panel is attached to its kernel."""
    if not file_exists(server, path):
        api(
            server,
            "PUT",
            f"api/contents/{path}",
            {
                "type": "notebook",
                "format": "json",
                "content": {
                    "cells": [],
                    "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}},
                    "nbformat": 4,
                    "nbformat_minor": 5,
                },
            },
        )
    page.goto(f"{server.url}lab/tree/{path}?reset&token={server.token}", timeout=LAB_LOAD_TIMEOUT)
    page.wait_for_selector("#jp-main-dock-panel", timeout=LAB_LOAD_TIMEOUT)
    open_panel(page)
    panel(page).locator(".jp-DeltaChat-status[data-state='ready']", has_text=path).wait_for(
        timeout=KERNEL_TIMEOUT
    )


def messages(page: Any) -> list[tuple[str, str]]:
    """(role, rendered text) of each message the panel shows; textContent, as blocks
    scrolled out of view are skipped by innerText (content-visibility: auto)."""
    return panel(page).evaluate(
        """panel => [...panel.querySelectorAll('[data-role]')].map(item => [
          item.dataset.role,
          item.querySelector('.jp-DeltaChat-markdown, .jp-DeltaChat-plain').textContent
        ])"""
    )


def trigger(page: Any) -> Any:
    return panel(page).get_by_role("button", name="Chat", exact=True)


def open_list(page: Any) -> Any:
    trigger(page).click()
    chats = panel(page).get_by_role("dialog", name="Chats")
    chats.wait_for()
    return chats


def section(page: Any, name: str) -> Any:
    return panel(page).get_by_role("region", name=name)


def probe(page: Any, expression: str) -> Any:
    """The value of a Python expression in the notebook's kernel (SERVICE is the chats)."""
    text = run_cell(
        page, f"from jupyter_deltachat.kernel import SERVICE as _s; print(repr({expression}))"
    )
    return ast.literal_eval(text.strip())


def titles(page: Any) -> list[tuple[str, str, str | None]]:
    """(chat id, title, notebook) of every stored or held chat, as the kernel lists them."""
    return probe(page, "[(i.chat_id, i.title, i.path) for i in _s.chat_list('all')]")


def test_a_notebooks_chat_survives_a_kernel_restart_and_a_reload(page, lab_server):
    open_notebook(page, lab_server, NOTEBOOK_A)
    send(page, FIRST, model="demo")
    wait_finished(page, count=1)
    send(page, SECOND, model="demo")
    wait_finished(page, count=2)
    before = messages(page)
    assert [role for role, _ in before] == ["user", "assistant", "user", "assistant"]

    page.evaluate(RECORD_STATES)
    page.locator(".lm-MenuBar-itemLabel", has_text="Kernel").click()
    page.locator(".lm-Menu-itemLabel", has_text="Restart Kernel…").first.click()
    page.locator(".jp-Dialog .jp-Dialog-button.jp-mod-accept").click()
    page.wait_for_function(
        "() => window.__states.includes('connecting') && window.__states.at(-1) === 'ready'",
        timeout=KERNEL_TIMEOUT,
    )
    open_notebook(page, lab_server, NOTEBOOK_A)

    wait_finished(page, count=2)
    assert messages(page) == before
    assert trigger(page).inner_text() == FIRST
    open_list(page)
    row = section(page, "This notebook").locator(".jp-DeltaChat-chatRow")
    assert row.count() == 1
    assert row.get_attribute("aria-current") == "true"
    assert row.locator(".jp-DeltaChat-chatTitle").inner_text() == FIRST
    assert re.fullmatch(r"just now|\d+ min ago", row.locator(".jp-DeltaChat-chatDate").inner_text())


def test_another_notebooks_chat_opens_from_all_chats(page, lab_server):
    open_notebook(page, lab_server, NOTEBOOK_A)
    panel(page).get_by_role("button", name="New chat").click()
    send(page, OTHER, model="demo")
    wait_finished(page, count=1)
    shown_in_a = messages(page)
    trigger(page).filter(has_text=OTHER).wait_for()

    open_notebook(page, lab_server, NOTEBOOK_B)
    open_list(page)
    others = section(page, "All chats")
    group = others.get_by_role("list", name=NOTEBOOK_A)
    group.get_by_role("button", name=f"Open chat {OTHER}").wait_for()
    # A's `default`: this kernel has its own, so the row opens notebook A instead.
    elsewhere = group.locator(".jp-DeltaChat-chatRow", has_text=FIRST)
    assert elsewhere.get_by_role("button").count() == 1  # no Rename or Delete: both fail
    assert elsewhere.locator(".jp-DeltaChat-chatDate").inner_text() == "Open notebook"
    assert elsewhere.get_by_role("button").get_attribute("aria-label") == (
        f"Open {NOTEBOOK_A} to continue chat {FIRST}"
    )

    search = panel(page).get_by_role("searchbox", name="Search chats")
    search.fill("chats LIVE")
    elsewhere.wait_for(state="detached")
    assert others.locator(".jp-DeltaChat-chatOpen").count() == 1
    chat_id = group.locator(".jp-DeltaChat-chatRow").get_attribute("data-chat-id")
    group.get_by_role("button", name=f"Open chat {OTHER}").click()

    trigger(page).filter(has_text=OTHER).wait_for()
    wait_finished(page, count=1)
    assert messages(page) == shown_in_a
    path, contents = probe(
        page, f"(_s.path_of({chat_id!r}), [m.content for m in _s.history({chat_id!r})])"
    )
    assert path == str(lab_server.root / NOTEBOOK_A)  # kernels know the absolute path
    assert len(contents) == 2 and contents[0] == OTHER


def test_rename_delete_and_export(page, lab_server):
    open_notebook(page, lab_server, NOTEBOOK_A)
    chats = open_list(page)
    own = section(page, "This notebook")
    own.get_by_role("button", name=f"Open chat {OTHER}").click()
    trigger(page).filter(has_text=OTHER).wait_for()
    chat_id = next(cid for cid, title, _ in titles(page) if title == OTHER)

    # Rename: Escape keeps the old title, Enter sends the new one.
    open_list(page)
    own.get_by_role("button", name=f"Rename chat {OTHER}").click()
    box = own.get_by_role("textbox", name="Chat title")
    box.fill("not this")
    box.press("Escape")
    own.get_by_role("button", name=f"Open chat {OTHER}").wait_for()
    own.get_by_role("button", name=f"Rename chat {OTHER}").click()
    box.fill(RENAMED)
    box.press("Enter")
    own.get_by_role("button", name=f"Open chat {RENAMED}").wait_for()
    chats.press("Escape")
    trigger(page).filter(has_text=RENAMED).wait_for()
    assert (chat_id, RENAMED, str(lab_server.root / NOTEBOOK_A)) in titles(page)
    assert not any(title == "not this" for _, title, _ in titles(page))

    # Export: a file of that name exists already and is left alone.
    api(
        lab_server,
        "PUT",
        f"api/contents/{urllib.request.quote(RENAMED_FILE)}.md",
        {"type": "file", "format": "text", "content": "keep me"},
    )
    expected = {
        fmt: probe(
            page,
            "__import__('jupyter_deltachat.export').export.export_chat("
            f"*_s.export_source({chat_id!r}), {fmt!r})",
        )
        for fmt in ("markdown", "ipynb")
    }
    open_list(page)
    panel(page).get_by_role("button", name="Export chat as Markdown").click()
    tab = page.locator(".lm-DockPanel-tabBar .lm-TabBar-tabLabel")
    tab.filter(has_text=f"{RENAMED_FILE} (2).md").wait_for(timeout=KERNEL_TIMEOUT)
    assert file_content(lab_server, f"{RENAMED_FILE}.md") == "keep me"
    assert expected["markdown"][0] == f"{RENAMED_FILE}.md"
    assert file_content(lab_server, f"{RENAMED_FILE} (2).md") == expected["markdown"][1]
    assert expected["markdown"][1].startswith(f"# {RENAMED}\n")

    open_list(page)
    panel(page).get_by_role("button", name="Export chat as notebook").click()
    tab.filter(has_text=f"{RENAMED_FILE}.ipynb").wait_for(timeout=KERNEL_TIMEOUT)
    saved, wanted = (
        file_content(lab_server, f"{RENAMED_FILE}.ipynb"),
        json.loads(expected["ipynb"][1]),
    )
    assert cells(saved) == cells(wanted)  # cell ids are new per export
    assert saved["metadata"] == wanted["metadata"]
    assert len(saved["cells"]) >= 4 and saved["cells"][0]["source"] == f"# {RENAMED}"
    page.locator(".jp-NotebookPanel:visible .jp-Cell").first.wait_for(timeout=KERNEL_TIMEOUT)

    # Delete: Cancel keeps the chat; Delete removes it from the list and the kernel, and the
    # panel shows the notebook's other chat.
    page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab", has_text=NOTEBOOK_A).click()
    wait_status(page, "ready")
    open_list(page)
    own.get_by_role("button", name=f"Delete chat {RENAMED}").click()
    dialog = page.locator(".jp-Dialog")
    assert f"“{RENAMED}” and its 2 messages" in dialog.inner_text()
    dialog.get_by_role("button", name="Cancel").click()
    dialog.wait_for(state="detached")
    assert (chat_id, RENAMED, str(lab_server.root / NOTEBOOK_A)) in titles(page)

    open_list(page)
    own.get_by_role("button", name=f"Delete chat {RENAMED}").click()
    dialog.get_by_role("button", name="Delete").click()
    trigger(page).filter(has_text=FIRST).wait_for()
    wait_finished(page, count=2)
    assert [text for _, text in messages(page)][::2] == [FIRST, SECOND]
    assert chat_id not in [cid for cid, _, _ in titles(page)]
    open_list(page)
    own.get_by_role("button", name=f"Open chat {FIRST}").wait_for()
    assert own.locator(".jp-DeltaChat-chatRow").count() == 1


GATED_MODEL = """
import os, time
import jupyter_deltachat as dc

@dc.register("gated")
def gated(messages):
    gate = messages[-1].content.split()[-1] + ".released"
    yield "waiting for " + gate
    while not os.path.exists(gate):  # the test creates it once it has seen the list
        time.sleep(0.05)
    yield ", released"
"""
IN_CELL = "From a cell gate1"
IN_PANEL = "From the panel gate2"


def release(server: LabServer, gate: str) -> None:
    api(server, "PUT", f"api/contents/{gate}.released", {"type": "file", "format": "text"})


def wait_rows(page: Any, titles: list[str], first_date: str | None = None) -> None:
    """Wait until the open list's own rows have these titles, in order, and the first row
    this date text (when given)."""
    page.wait_for_function(
        """([titles, date]) => {
          const rows = [...document.querySelectorAll(
            '#jupyter-deltachat-panel section[aria-label="This notebook"] .jp-DeltaChat-chatRow')];
          const shown = rows.map(r => r.querySelector('.jp-DeltaChat-chatTitle').textContent);
          return JSON.stringify(shown) === JSON.stringify(titles) &&
            (date === null || rows[0].querySelector('.jp-DeltaChat-chatDate').textContent === date);
        }""",
        arg=[titles, first_date],
        timeout=KERNEL_TIMEOUT,
    )


def shoot(page: Any, tmp_path: Any, name: str) -> None:
    """The open list in the light and the dark theme (the sidebar at its default width)."""
    shots = screenshot_dir(tmp_path)
    for theme, suffix in (("JupyterLab Light", "light"), ("JupyterLab Dark", "dark")):
        if page.locator(f"body[data-jp-theme-name='{theme}']").count() == 0:
            use_theme(page, theme)
            open_list(page)
        panel(page).screenshot(path=str(shots / f"{name}-{suffix}.png"))
    use_theme(page, "JupyterLab Light")
    open_list(page)


def test_the_open_list_follows_a_cell_and_a_streaming_reply(page, lab_server, tmp_path):
    open_notebook(page, lab_server, NOTEBOOK_A)
    run_cell(page, GATED_MODEL)
    start_cell(page, f"%chat -m gated --chat from-cell {IN_CELL}")
    open_list(page)  # the cell keeps the shell busy: the list comes from the kernel's events
    wait_rows(page, [IN_CELL, FIRST], "replying…")
    shoot(page, tmp_path, "list-streaming")
    release(lab_server, "gate1")
    wait_rows(page, [IN_CELL, FIRST], "just now")

    panel(page).get_by_role("button", name="New chat").click()
    wait_model_listed(page, "gated")
    send(page, IN_PANEL, model="gated")
    open_list(page)
    wait_rows(page, [IN_PANEL, IN_CELL, FIRST], "replying…")
    release(lab_server, "gate2")
    wait_rows(page, [IN_PANEL, IN_CELL, FIRST], "just now")
    assert trigger(page).inner_text() == IN_PANEL


def test_another_notebooks_default_chat_opens_its_notebook(page, lab_server, tmp_path):
    open_notebook(page, lab_server, NOTEBOOK_B)
    open_list(page)
    group = section(page, "All chats").get_by_role("list", name=NOTEBOOK_A)
    row = group.locator(".jp-DeltaChat-chatRow", has_text=FIRST)
    row.wait_for()
    assert row.get_by_role("button").count() == 1  # no Rename or Delete: both would fail
    shoot(page, tmp_path, "list-elsewhere")
    row.get_by_role("button", name=f"Open {NOTEBOOK_A} to continue chat {FIRST}").click()
    current_tab = page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab.lm-mod-current")
    current_tab.filter(has_text=NOTEBOOK_A).wait_for(timeout=KERNEL_TIMEOUT)
    panel(page).locator(".jp-DeltaChat-status[data-state='ready']", has_text=NOTEBOOK_A).wait_for(
        timeout=KERNEL_TIMEOUT
    )
    trigger(page).filter(has_text=FIRST).wait_for()
    wait_finished(page, count=2)
    assert [text for _, text in messages(page)][::2] == [FIRST, SECOND]


def test_a_whole_server_restart_keeps_the_notebooks_chats(page, lab_server):
    open_notebook(page, lab_server, NOTEBOOK_A)
    wait_finished(page, count=2)
    before = messages(page)
    stop_lab(lab_server)  # the server and every kernel it started
    restarted = start_lab(
        lab_server.root.parent,
        extra_env={"JUPYTER_DELTACHAT_HISTORY": str(lab_server.root.parent / "chats.sqlite3")},
    )
    vars(lab_server).update(vars(restarted))  # the module's fixture stops the new one
    open_notebook(page, lab_server, NOTEBOOK_A)
    wait_finished(page, count=2)
    assert messages(page) == before
    open_list(page)
    wait_rows(page, [IN_PANEL, IN_CELL, FIRST])
