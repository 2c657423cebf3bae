"""Incremental rendering ends exactly where a one-shot render of the whole reply does.

The reply streams in pieces of 1, 2, 3, 5, 7, 11 and 13 characters in turn, so its blocks,
fences, table rows, list markers and math delimiters are cut at many different places.
"""

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
A link in math: $\href{https://jupyter.org/math}{\pi}$.

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
>
> > a nested quote, `code` and $\delta$
> >
> > - a list in it

- a tight list
  - nested, with $y_1$
- back out

~~~
a tilde fence with \alpha and <b>raw</b>
~~~

| a | b |
|---|---|
| 1 | $z$ |
| `x < y` | **2** |

## Second heading

    indented code

Last paragraph, $\beta + \gamma$ and a display formula:

$$\sum_{i=1}^{n} i = \frac{n(n+1)}{2}$$

```
plain code, no language
```
"""

STREAMING_MODEL = """
import itertools, time, jupyter_deltachat as dc
_doc = open("render_check.md", encoding="utf-8").read()
@dc.register("doc")
def doc(messages):
    i = 0
    for size in itertools.cycle((1, 2, 3, 5, 7, 11, 13)):
        if i >= len(_doc):
            return
        yield _doc[i:i + size]
        i += size
        time.sleep(0.01)
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
    assert reply.locator(".jp-DeltaChat-block > ul").count() == 2, "a loose list stays one"
    assert reply.locator(".jp-DeltaChat-block > ul > li").count() == 5
    assert reply.locator("ol > li").count() == 2
    assert reply.locator("blockquote blockquote li").count() == 1
    assert reply.locator("mjx-container").count() == 10, "all math typeset, tail included"
    # Math in view is typeset by one MathJax render for all its blocks, not by JupyterLab's
    # `typeset`; its links still get what that gives them: no opener, a new tab.
    math_link = reply.locator("mjx-container a")
    assert math_link.count() == 1
    assert math_link.get_attribute("href") == "https://jupyter.org/math"
    assert "noopener" in (math_link.get_attribute("rel") or "").split()
    assert math_link.get_attribute("target") == "_blank"
    assert reply.locator(".jp-DeltaChat-code").count() == 4
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


GATED_MODEL = """
import os, time, jupyter_deltachat as dc
@dc.register("gated")
def gated(messages):
    yield "Before the code:\\n\\n```python\\ndef square(x):\\n"
    yield "    return x ** 2\\n"
    while not os.path.exists("release_the_reply"):
        time.sleep(0.02)
    yield "```\\n\\nAfter the code.\\n"
"""


def test_a_code_block_is_highlighted_once_it_closes(page, lab_server):
    """While a fenced block grows, the tail shows it as plain text (highlighting it on every
    render of the tail costs time in its length); once it closes, it is highlighted."""
    new_notebook(page)
    run_cell(page, GATED_MODEL)
    wait_model_listed(page, "gated")
    send(page, "go", model="gated")
    reply = wait_streaming(page)
    code = reply.locator("pre code", has_text="return x ** 2")
    code.wait_for()
    assert reply.get_attribute("data-streaming") == "true"
    assert code.locator("span").count() == 0, code.inner_html()
    assert code.inner_text() == "def square(x):\n    return x ** 2\n"

    (lab_server.root / "release_the_reply").write_text("")
    reply = wait_finished(page)
    highlighted = reply.locator("pre code.language-python")
    assert highlighted.inner_text() == "def square(x):\n    return x ** 2"
    assert highlighted.locator("span[class]").count() >= 3, highlighted.inner_html()
    assert reply.locator(".jp-DeltaChat-code").count() == 1
    assert reply.locator("p", has_text="After the code.").count() == 1
