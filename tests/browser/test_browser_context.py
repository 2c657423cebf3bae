"""Context in the panel: the `@` completer with the keyboard, chips, what a sent message's
chip shows, "This cell"."""

from __future__ import annotations

import ast
import re

from lab_helpers import (
    message_text,
    new_notebook,
    notebook_cells,
    panel,
    run_cell,
    wait_finished,
    wait_model_listed,
)

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


def stored_context_text(page, index: int) -> str:
    """The text of context item `index` of the chat's user message, as the kernel stored it."""
    text = run_cell(
        page,
        "from jupyter_deltachat.kernel import SERVICE as _s; "
        "print(repr([m for m in _s.history('default') if m.role == 'user'][-1]"
        f".context[{index}].text))",
    )
    return ast.literal_eval(text.strip())


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
