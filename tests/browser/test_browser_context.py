"""Context in the panel: the `@` completer with the keyboard, chips, what a sent message's
chip shows, "This cell", "Explain error" / "Fix error", "Replace active cell"."""

from __future__ import annotations

import ast
import re

from lab_helpers import (
    cell_source,
    copied_text,
    message_text,
    new_notebook,
    notebook_cells,
    panel,
    run_cell,
    use_theme,
    wait_finished,
    wait_model_listed,
    wait_status,
)
from test_browser_panel import screenshot_dir

ECHO_CONTEXT_MODEL = """
import jupyter_deltachat as dc
import pandas as pd
df = pd.DataFrame({"city": ["Oslo", "Lima"], "rain_mm": [763.0, 6.0]})
df2 = df.head(1)
@dc.register("context_echo")
def context_echo(messages, config):
    for item in messages[-1].context or []:
        yield f"{item.kind} {item.label} {len(item.text)} chars; "
"""

# The prompts of "Explain error" and "Fix error" (labextension/src/context.ts, docs/context.md).
EXPLAIN_PROMPT = (
    "Explain the error in this cell: what went wrong, where, and why. Keep it short and "
    "point at the line that causes it."
)
FIX_PROMPT = (
    "Fix the error in this cell. Reply with the whole corrected cell in one Python code "
    "block, then one or two sentences on what you changed and why."
)


def stored_user_message(page) -> dict:
    """The chat's last user message as the kernel stored it: content and context items."""
    text = run_cell(
        page,
        "from jupyter_deltachat.kernel import SERVICE as _s; "
        "_m = [m for m in _s.history('default') if m.role == 'user'][-1]; "
        "print(repr({'content': _m.content, 'context': "
        "[(i.kind, i.label, i.text) for i in _m.context or []]}))",
    )
    return ast.literal_eval(text.strip())


def stored_context_text(page, index: int) -> str:
    return stored_user_message(page)["context"][index][2]


def completer(page):
    return panel(page).get_by_role("listbox", name="Variables")


def test_at_completer_with_the_keyboard_makes_a_chip_that_send_carries(page):
    new_notebook(page)
    run_cell(page, ECHO_CONTEXT_MODEL)
    wait_model_listed(page, "context_echo")
    panel(page).get_by_label("Model", exact=True).select_option("context_echo")
    box = panel(page).get_by_label("Message", exact=True)
    box.click()
    page.keyboard.type("why is @df")
    options = completer(page).get_by_role("option")
    options.nth(1).wait_for()
    assert options.all_inner_texts()[0].split()[:1] == ["df"]
    assert [option.get_attribute("data-name") for option in options.all()] == ["df", "df2"]
    assert options.nth(0).get_attribute("aria-selected") == "true"
    assert "DataFrame" in options.nth(0).inner_text()
    page.keyboard.press("ArrowDown")
    assert options.nth(1).get_attribute("aria-selected") == "true"
    page.keyboard.press("Enter")
    completer(page).wait_for(state="hidden")
    assert box.input_value() == "why is @df2 "
    remove = panel(page).get_by_role("button", name="Remove context df2", exact=True)
    remove.wait_for()

    page.keyboard.type("and @d")
    options.first.wait_for()
    page.keyboard.press("Escape")
    completer(page).wait_for(state="hidden")
    assert box.input_value() == "why is @df2 and @d"
    assert panel(page).locator(".jp-DeltaChat-chips [role='listitem']").count() == 1

    page.keyboard.press("Enter")
    reply = wait_finished(page)
    stored = stored_context_text(page, 0)
    assert "DataFrame" in stored
    assert message_text(page, reply).strip() == f"variable df2 {len(stored)} chars;"
    assert remove.count() == 0

    user = panel(page).locator("[data-role='user']").last
    show = user.get_by_role("button", name="Show context df2", exact=True)
    shown = user.locator(".jp-DeltaChat-contextText")
    assert shown.is_hidden()
    show.click()
    assert show.get_attribute("aria-expanded") == "true"
    assert shown.text_content() == stored
    show.click()
    assert shown.is_hidden()


def test_this_cell_chip_sends_the_active_cell_with_its_outputs(page):
    new_notebook(page)
    run_cell(page, ECHO_CONTEXT_MODEL)
    wait_model_listed(page, "context_echo")
    run_cell(page, "print('forty' + 'two')")
    cells = notebook_cells(page)
    cells.nth(1).locator(".jp-InputPrompt").click()
    page.locator(".jp-NotebookPanel:visible .jp-Cell.jp-mod-active").first.wait_for()
    panel(page).get_by_role("button", name="Add this cell as context").click()
    remove = panel(page).get_by_role("button", name="Remove context cell [2]", exact=True)
    remove.wait_for()
    panel(page).get_by_label("Model", exact=True).select_option("context_echo")
    panel(page).get_by_label("Message", exact=True).fill("what does it print?")
    panel(page).get_by_role("button", name="Send", exact=True).click()
    reply = wait_finished(page)
    stored = stored_context_text(page, 0)
    assert "print('forty' + 'two')" in stored
    assert "fortytwo" in stored
    assert message_text(page, reply).strip() == f"cell cell [2] {len(stored)} chars;"

    remove_after = panel(page).get_by_role("button", name="Remove context cell [2]")
    assert remove_after.count() == 0
    panel(page).get_by_role("button", name="Add this notebook as context").click()
    chip = panel(page).get_by_role(
        "button", name=re.compile(r"^Remove context Untitled\d*\.ipynb$")
    )
    chip.wait_for()
    chip.click()
    assert chip.count() == 0


def test_explain_and_fix_error_send_the_failing_cell_with_its_traceback(page):
    new_notebook(page)
    run_cell(page, ECHO_CONTEXT_MODEL)
    wait_model_listed(page, "context_echo")
    panel(page).get_by_label("Model", exact=True).select_option("context_echo")
    assert "ZeroDivisionError" in run_cell(page, "rate = 1 / 0")
    explain = panel(page).get_by_role("button", name="Explain error", exact=True)
    assert explain.is_hidden()
    cells = notebook_cells(page)
    cells.nth(1).locator(".jp-InputPrompt").click()
    explain.wait_for()
    explain.click()
    reply = wait_finished(page)
    stored = stored_user_message(page)
    assert stored["content"] == EXPLAIN_PROMPT
    [(kind, label, text)] = stored["context"]
    assert (kind, label) == ("cell", "cell [2]")
    assert text.startswith(
        "code cell [2]:\nrate = 1 / 0\noutputs:\nZeroDivisionError: division by zero\n"
    )
    assert "ZeroDivisionError: division by zero" in text
    assert "\x1b[" not in text
    assert message_text(page, reply).strip() == f"cell cell [2] {len(text)} chars;"

    cells.nth(1).locator(".jp-InputPrompt").click(button="right")
    page.locator(".lm-Menu-item", has_text="Fix Error in Chat").click()
    wait_finished(page, count=2)
    stored = stored_user_message(page)
    assert stored["content"] == FIX_PROMPT
    assert [item[:2] for item in stored["context"]] == [("cell", "cell [2]")]


def test_replace_active_cell_takes_the_code_of_the_block(page):
    new_notebook(page)
    run_cell(page, "first = 1")
    cells = notebook_cells(page)
    cells.nth(0).locator(".jp-InputPrompt").click()
    page.locator(".jp-NotebookPanel:visible .jp-Cell.jp-mod-active").first.wait_for()
    wait_status(page, "ready")
    panel(page).get_by_label("Model", exact=True).select_option("demo")
    panel(page).get_by_label("Message", exact=True).fill("Hello")
    panel(page).get_by_role("button", name="Send", exact=True).click()
    reply = wait_finished(page)
    code = reply.locator(".jp-DeltaChat-code").first
    expected = copied_text(page, code.get_by_role("button", name="Copy code"))
    code.get_by_role("button", name="Replace active cell").click()
    page.wait_for_function(
        """expected => [...document.querySelectorAll(
          '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell')[0]
          .querySelectorAll('.cm-content .cm-line')]
          .map(line => line.textContent).join('\\n') === expected""",
        arg=expected,
    )
    assert cells.count() == 2
    assert cell_source(cells.nth(0)) == expected
    assert cell_source(cells.nth(1)) == ""


def test_completer_and_chips_in_light_and_dark(page, tmp_path):
    """Screenshots of the open completer and of chips at the default sidebar width; the
    completer follows the theme (its background is the theme's layout colour)."""
    shots = screenshot_dir(tmp_path)
    new_notebook(page)
    run_cell(page, ECHO_CONTEXT_MODEL)
    wait_model_listed(page, "context_echo")
    for theme, name in (("JupyterLab Light", "light"), ("JupyterLab Dark", "dark")):
        use_theme(page, theme)
        box = panel(page).get_by_label("Message", exact=True)
        box.fill("")
        box.click()
        page.keyboard.type("compare @d")
        options = completer(page).get_by_role("option")
        options.nth(1).wait_for()
        layout = page.evaluate(
            "() => getComputedStyle(document.body).getPropertyValue('--jp-layout-color1').trim()"
        )
        background = completer(page).evaluate("list => getComputedStyle(list).backgroundColor")
        probe = page.evaluate(
            """color => { const node = document.createElement('div');
              node.style.backgroundColor = color; document.body.append(node);
              const value = getComputedStyle(node).backgroundColor; node.remove();
              return value; }""",
            layout,
        )
        assert background == probe
        panel(page).screenshot(path=str(shots / f"context-completer-{name}.png"))
        page.keyboard.press("Enter")
        panel(page).get_by_role("button", name="Add this cell as context").click()
        panel(page).get_by_role("button", name="Remove context df", exact=True).wait_for()
        panel(page).screenshot(path=str(shots / f"context-chips-{name}.png"))
        removes = panel(page).get_by_role("button", name=re.compile("^Remove context "))
        while removes.count():
            removes.first.click()
    use_theme(page, "JupyterLab Light")


def test_this_cell_and_this_notebook_without_a_notebook_say_why(page):
    notice = panel(page).get_by_role("alert").filter(has_text="No notebook")
    panel(page).get_by_role("button", name="Add this cell as context").click()
    assert notice.inner_text() == ("No notebook cell is active: open a notebook and select a cell.")
    panel(page).get_by_role("button", name="Add this notebook as context").click()
    assert notice.inner_text() == "No notebook is open: open one to add it as context."
    assert panel(page).locator(".jp-DeltaChat-chips [role='listitem']").count() == 0
