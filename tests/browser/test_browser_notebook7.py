"""The chat in Jupyter Notebook 7, which loads the same prebuilt extension: the panel fits a
1,400 px window, attaches to the open notebook's kernel, streams and stops."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lab_helpers import (
    KERNEL_TIMEOUT,
    LAB_LOAD_TIMEOUT,
    panel,
    run_cell,
    send,
    shut_down_kernels,
    wait_attached,
    wait_finished,
    wait_model_listed,
    wait_streaming,
)
from lab_server import LabServer, start_lab, stop_lab

NOTEBOOK = "chat-in-notebook7.ipynb"

SLOW_MODEL = """
import jupyter_deltachat as dc
from jupyter_deltachat.stop import pause

@dc.register("slow")
def slow(messages, config):
    for i in range(400):
        yield f"w{i} "
        if pause(0.025):
            return
"""


@pytest.fixture(scope="module")
def notebook_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    server = start_lab(
        tmp_path_factory.mktemp("notebook7"), command=(sys.executable, "-m", "notebook")
    )
    cells = [
        {"cell_type": "code", "metadata": {}, "source": "", "outputs": [], "execution_count": None}
    ]
    notebook = {
        "cells": cells,
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    Path(server.root / NOTEBOOK).write_text(json.dumps(notebook))
    try:
        yield server
    finally:
        shut_down_kernels(server, keep_chat_kernel=False)
        stop_lab(server)


def test_chat_in_notebook7_attaches_streams_and_stops(
    browser: Any, notebook_server: LabServer
) -> None:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    try:
        server = notebook_server
        page.goto(f"{server.url}tree?token={server.token}", timeout=LAB_LOAD_TIMEOUT)
        page.locator(".jp-DirListing-item", has_text=NOTEBOOK).wait_for(timeout=LAB_LOAD_TIMEOUT)
        page.goto(f"{server.url}notebooks/{NOTEBOOK}", timeout=LAB_LOAD_TIMEOUT)
        page.locator(".jp-NotebookPanel .jp-Cell").first.wait_for(timeout=LAB_LOAD_TIMEOUT)
        page.locator(".jp-NotebookPanel [data-status='idle']").first.wait_for(
            state="attached", timeout=KERNEL_TIMEOUT
        )

        page.locator(".lm-MenuBar-itemLabel", has_text="View").click()
        page.locator(".lm-Menu-itemLabel", has_text="Right Sidebar").hover()
        page.locator(".lm-Menu-itemLabel", has_text="Show Chat with language models").click()
        wait_attached(page)
        status = panel(page).locator(".jp-DeltaChat-status[data-state='ready']")
        assert status.inner_text().startswith(NOTEBOOK)

        send_button = panel(page).get_by_role("button", name="Send", exact=True)
        area = send_button.bounding_box()
        assert area is not None
        assert area["x"] >= 0 and area["x"] + area["width"] <= 1400, area
        assert area["y"] + area["height"] <= 900, area
        window = panel(page).bounding_box()
        assert window is not None and window["x"] + window["width"] <= 1400, window

        run_cell(page, SLOW_MODEL)
        wait_model_listed(page, "slow")
        send(page, "go", model="slow")
        wait_streaming(page)
        panel(page).get_by_role("button", name="Stop", exact=True).click()
        reply = wait_finished(page)
        assert reply.get_attribute("data-finish-reason") == "cancelled"
        assert reply.locator(".jp-DeltaChat-ending").inner_text() == "Stopped"
    finally:
        context.close()
