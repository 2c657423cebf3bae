"""``%chat -c/--context``, ``--error`` and ``%chat explain`` in a notebook run by nbclient on
a real kernel: the model gets the items, the saved output names them, bad names are one
line."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from test_magics import Run, error_line, markdown, run_notebook

from jupyter_deltachat.kernel.magics import EXPLAIN_PROMPT

SETUP = r"""
import pandas as pd
import jupyter_deltachat as dc

@dc.register
def seen(messages):
    last = messages[-1]
    items = [f"{i.kind}:{i.label}:{i.text.splitlines()[0]}" for i in last.context]
    return " | ".join(items) + " || " + last.content

df = pd.DataFrame({"city": ["Oslo", "Lima", "Pune"], "temp": [3.5, 18.0, 31.25]})
rows = [10, 20, 30]
class Settings: path = "/srv"
settings = Settings()
"""
CELLS: list[tuple[str, str]] = [
    ("load", "%load_ext jupyter_deltachat"),
    ("define", SETUP),
    ("context", "%chat -m seen --chat c1 -c df,rows -c settings.path what is in there?"),
    ("text", "%chat -m seen --chat c2 -f text --context rows hi"),
    ("unknown", "%chat -m seen --chat c3 -c rows,nope hi"),
    ("fail", "def ratio(a, b):\n    return a / b\nratio(1, 0)"),
    ("error", "%chat -m seen --chat c4 --error why?"),
    ("use", "%chat use seen"),
    ("explain", "%chat explain"),
    ("history", "%chat history --chat c3"),
]
DF_LINE = "pandas.DataFrame: 3 rows × 2 columns, memory 180 B (object contents not counted)"
ERROR = "error:ZeroDivisionError:ZeroDivisionError: division by zero"


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    nb = nbformat.v4.new_notebook()
    for tag, source in CELLS:
        nb.cells.append(nbformat.v4.new_code_cell(source, metadata={"tags": [tag]}))
    client = run_notebook(nb, Path(tmp_path_factory.mktemp("context_magics")))
    ran = Run(client, nb)
    ran.index = {tag: i for i, (tag, _) in enumerate(CELLS)}
    return ran


def test_context_variables_reach_the_model_and_the_output_names_them(run: Run) -> None:
    reply = (
        f"variable:df:{DF_LINE} | variable:rows:list, 3 items | "
        "variable:settings.path:str, 4 characters: '/srv' || what is in there?"
    )
    assert run.data("context") == markdown("*context:* `df`, `rows`, `settings.path`\n\n" + reply)


def test_plain_text_output_names_the_context_too(run: Run) -> None:
    assert run.data("text") == {"text/plain": "context: rows\n\nvariable:rows:list, 3 items || hi"}


def test_an_unknown_name_is_one_line_and_nothing_is_sent(run: Run) -> None:
    message = "no variable 'nope' in the kernel's namespace (bad_request)"
    assert run.error("unknown") == ("ChatError", message, error_line(message))
    assert [o["output_type"] for o in run.outputs("unknown")] == ["error"]
    assert "chat 'c3' is empty" in "".join(o.get("text", "") for o in run.outputs("history"))


def test_error_sends_the_last_exception(run: Run) -> None:
    assert run.data("error") == markdown(f"*context:* `ZeroDivisionError`\n\n{ERROR} || why?")


def test_explain_explains_the_last_error(run: Run) -> None:
    assert run.data("explain") == markdown(
        f"*context:* `ZeroDivisionError`\n\n{ERROR} || {EXPLAIN_PROMPT}"
    )
