"""Incremental rendering ends exactly where a one-shot render of the whole reply does."""

from __future__ import annotations

from lab_helpers import (
    kernel_content,
    new_notebook,
    open_lab,
    panel,
    rendered_html,
    run_cell,
    send,
    wait_finished,
    wait_model_listed,
    wait_streaming,
)

DOC = r"""# Render check

An intro with **bold**, `code`, a [link](https://jupyter.org) and math $e^{i\pi} + 1 = 0$.

- a loose list, item one

- item two, with $x^2$

- item three

1. ordered, loose

2. second

$$
\int_0^1 x^2 \, dx = \frac{1}{3}
$$

```python
def square(x):
    return x ** 2
```

> a quote with $\alpha$

| a | b |
|---|---|
| 1 | 2 |

## Second heading

    indented code

Last paragraph, $\beta + \gamma$ and a display formula:

$$\sum_{i=1}^{n} i = \frac{n(n+1)}{2}$$

```
plain code, no language
```
"""

STREAMING_MODEL = """
import time, jupyter_deltachat as dc
_doc = open("render_check.md", encoding="utf-8").read()
@dc.register("doc")
def doc(messages):
    for i in range(0, len(_doc), 6):
        yield _doc[i:i + 6]
        time.sleep(0.02)
"""


def test_incremental_render_equals_a_one_shot_render(page, lab_server):
    (lab_server.root / "render_check.md").write_text(DOC, encoding="utf-8")
    new_notebook(page)
    run_cell(page, STREAMING_MODEL)
    wait_model_listed(page, "doc")
    send(page, "go", model="doc")
    wait_streaming(page)
    reply = wait_finished(page)
    assert kernel_content(page) == DOC
    incremental = rendered_html(reply)
    assert reply.locator(".jp-DeltaChat-block").count() > 3, "rendered in kept blocks"
    assert reply.locator("ul").count() == 1, "a loose list split into blocks is still one list"
    assert reply.locator("ul > li").count() == 3
    assert reply.locator("ol > li").count() == 2
    assert reply.locator("mjx-container").count() == 6, "all math typeset, tail included"
    assert reply.locator(".jp-DeltaChat-code").count() == 3
    assert "$" not in reply.locator(".jp-DeltaChat-markdown").inner_text()

    # The same message, reloaded and rendered in one go (the benchmark's naive renderer:
    # one rendermime render of the whole text, then typeset, as a notebook would).
    page.evaluate("() => localStorage.setItem('jupyter-deltachat:render-mode', 'naive')")
    open_lab(page, lab_server, query="")
    panel(page).locator(".jp-DeltaChat-status[data-state='ready']", has_text=".ipynb").wait_for()
    one_shot_reply = wait_finished(page)
    assert one_shot_reply.locator(".jp-DeltaChat-block").count() == 1
    one_shot = rendered_html(one_shot_reply)
    assert len(incremental) == len(one_shot)
    for got, want in zip(incremental, one_shot, strict=True):
        assert got == want
