"""The payload corpus (tests/security/payloads.json) as model replies in real JupyterLab:
``%chat`` cells while they stream and when they end, the ``Chat`` widget, and the saved
notebook reopened (trusted) after the server restarted. Nothing may run (``top.__pwned``
stays unset, no dialog opens), nothing may load from another origin (a local beacon
server sees no request and the page requests nothing outside the Jupyter server), and no
element from a reply may keep a class, a style, or be active content."""

from __future__ import annotations

import json
import shutil
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import security_helpers
from lab_helpers import KERNEL_TIMEOUT, new_notebook, open_lab, run_cell
from lab_server import LabServer, start_lab, stop_lab
from payload_corpus import CORPUS_PATH, PAYLOADS
from security_helpers import Beacon

CLASSES = sorted({entry["class"] for entry in PAYLOADS})
SENTINEL = "All payloads sent."

MODEL = """
import json
import jupyter_deltachat as dc
from jupyter_deltachat.stop import pause

_corpus = json.load(open({corpus!r}, encoding="utf-8"))["payloads"]
REPLIES = {{"sentinel": {sentinel!r}}}
for _e in _corpus:
    _text = _e["markdown"].replace("{{{{BEACON_HOST}}}}", {host!r})
    REPLIES[_e["class"]] = REPLIES.get(_e["class"], "") + _text.replace(
        "{{{{BEACON}}}}", {origin!r}
    ) + "\\n\\n"

def payload(messages):
    text = REPLIES[messages[-1].content.strip()]
    step = max(1, len(text) // 25)
    for start in range(0, len(text), step):
        yield text[start : start + step]
        if pause(0.02):
            return

dc.register("payload", payload)
"""

WIDGET = """
widget_chat = dc.Chat(payload)
display(widget_chat)
for _name in {names!r}:
    assert widget_chat.send(_name).wait(60)
"""

# Elements a reply must never produce in a rendered Markdown output, and the checks of
# images, links, classes and styles (MathJax's own output, mjx-*, is left alone).
FINDINGS = """() => {
  const found = [];
  const active = 'script,iframe,frame,object,embed,form,input,button,textarea,select,'
    + 'option,style,link,meta,base,video,audio,source,track,details,summary,dialog,'
    + 'noscript,template,xmp,noembed,svg,math,marquee,portal';
  for (const out of document.querySelectorAll('.jp-NotebookPanel .jp-RenderedMarkdown')) {
    for (const el of out.querySelectorAll('*')) {
      if (el.closest('mjx-container')) continue;
      const html = el.outerHTML.slice(0, 160);
      if (el.matches(active)) found.push('element ' + html);
      if (el.hasAttribute('style')) found.push('style ' + html);
      for (const name of el.getAttributeNames()) {
        if (/^on/i.test(name)) found.push('handler ' + html);
      }
      const classes = [...el.classList].filter(c => /^jp-(DeltaChat|Dialog)/.test(c));
      if (classes.length) found.push('class ' + html);
      if (el.tagName === 'IMG' && !/^data:image\\/(png|jpeg|gif|webp)[;,]/.test(
          el.getAttribute('src') || '')) found.push('image ' + html);
      const href = el.tagName === 'A' ? (el.getAttribute('href') || '') : '';
      if (/^\\s*[a-z][a-z0-9+.-]*:/i.test(href) && !/^\\s*(https?|mailto):/i.test(href)) {
        found.push('link ' + html);
      }
    }
  }
  return found;
}"""


class Watched(security_helpers.Watched):
    def assert_nothing_ran_or_loaded(self, beacon: Beacon) -> None:
        super().assert_nothing_ran_or_loaded(beacon)
        assert self.page.evaluate(FINDINGS) == []


def start_security_lab(base: Path) -> LabServer:
    """A lab of this module's own (it is restarted), saving without the rename dialog."""
    server = start_lab(base)
    settings = base / "settings" / "@jupyterlab" / "docmanager-extension"
    settings.mkdir(parents=True)
    (settings / "plugin.jupyterlab-settings").write_text('{"renameUntitledFileOnSave": false}')
    return server


def open_page(browser: Any, server: LabServer) -> Watched:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    watched = Watched(context.new_page(), server)
    open_lab(watched.page, server)
    return watched


def wait_rendered_text(page: Any, text: str, count: int = 1) -> None:
    page.wait_for_function(
        """([text, count]) => [...document.querySelectorAll(
             '.jp-NotebookPanel .jp-RenderedMarkdown')].filter(
             el => el.textContent.includes(text)).length >= count""",
        arg=[text, count],
        timeout=KERNEL_TIMEOUT,
    )


def save_notebook(page: Any) -> None:
    tab = "#jp-main-dock-panel .lm-TabBar-tab.lm-mod-current"
    page.locator(f"{tab}.jp-mod-dirty").wait_for(timeout=KERNEL_TIMEOUT)
    page.keyboard.press("Control+s")
    page.locator(f"{tab}:not(.jp-mod-dirty)").wait_for(timeout=KERNEL_TIMEOUT)


def trusted_cells(server: LabServer, path: str) -> list[bool]:
    """The server's view: is each output cell of the saved notebook trusted?"""
    url = f"{server.url}api/contents/{path}?content=1&token={server.token}"
    with urllib.request.urlopen(url, timeout=30) as response:
        cells = json.load(response)["content"]["cells"]
    return [cell["metadata"].get("trusted") is True for cell in cells if cell.get("outputs")]


def test_replies_run_nothing_and_load_nothing_live_in_the_widget_and_reopened(
    browser: Any, beacon: Beacon, tmp_path_factory: pytest.TempPathFactory
) -> None:
    first = start_security_lab(tmp_path_factory.mktemp("security-lab"))
    try:
        watched = open_page(browser, first)
        page = watched.page
        new_notebook(page)
        host = beacon.origin.split("://", 1)[1]
        model = MODEL.format(
            corpus=str(CORPUS_PATH), sentinel=SENTINEL, host=host, origin=beacon.origin
        )
        run_cell(page, model)
        for name in CLASSES:
            run_cell(page, f"%chat -m payload --chat sec --no-interpolate {name}")
        run_cell(page, "%chat -m payload --chat sec sentinel")
        wait_rendered_text(page, SENTINEL)
        watched.assert_nothing_ran_or_loaded(beacon)
        image = page.locator(".jp-RenderedMarkdown a", has_text=f"image: chart ({host})")
        assert image.first.get_attribute("href") == f"{beacon.origin}/chart.png"
        assert page.locator(".jp-RenderedMarkdown mjx-container").count() > 0

        run_cell(page, WIDGET.format(names=[*CLASSES, "sentinel"]))
        wait_rendered_text(page, SENTINEL, count=2)
        assert page.locator(".widget-output .jp-RenderedMarkdown").count() >= 2 * len(CLASSES)
        watched.assert_nothing_ran_or_loaded(beacon)
        save_notebook(page)
        page.context.close()
    finally:
        stop_lab(first)

    second = start_security_lab(tmp_path_factory.mktemp("security-lab-restarted"))
    try:
        saved = first.root / "Untitled.ipynb"
        assert SENTINEL in saved.read_text()
        shutil.copy(saved, second.root / "Untitled.ipynb")
        assert all(trusted_cells(second, "Untitled.ipynb"))
        watched = open_page(browser, second)
        page = watched.page
        page.goto(f"{second.url}lab/tree/Untitled.ipynb?token={second.token}")
        wait_rendered_text(page, SENTINEL)
        assert page.locator(".jp-RenderedMarkdown mjx-container").count() > 0
        watched.assert_nothing_ran_or_loaded(beacon)
        page.context.close()
    finally:
        stop_lab(second)


def test_the_checks_catch_a_reply_that_is_not_neutralised(
    browser: Any, beacon: Beacon, lab_server: LabServer
) -> None:
    """The same checks see a raw payload displayed as trusted Markdown from a cell."""
    watched = open_page(browser, lab_server)
    page = watched.page
    new_notebook(page)
    raw = f'<img src="{beacon.origin}/raw.png" onerror="top.__pwned=1"> raw'
    run_cell(page, f"from IPython.display import Markdown; Markdown({raw!r})")
    wait_rendered_text(page, "raw")
    page.wait_for_function("() => window.top.__pwned === 1", timeout=KERNEL_TIMEOUT)
    assert beacon.hits == ["/raw.png"]
    beacon.hits.clear()
    findings = page.evaluate(FINDINGS)
    assert [finding.split(" ", 1)[0] for finding in findings] == ["handler", "image"]
    page.context.close()
