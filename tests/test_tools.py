"""Tools in-process: the schema a function gives the model, the ``python`` tool's results,
and the bounds every result passes (the loop itself runs through a kernel in
``test_tools_kernel.py``)."""

from __future__ import annotations

from typing import Literal

import pytest

from jupyter_deltachat.errors import BadRequestError
from jupyter_deltachat.protocol import parse_request
from jupyter_deltachat.redact import remember_secret
from jupyter_deltachat.tools import ToolRegistry, make_tool
from jupyter_deltachat.tools.builtin import python, user_namespace
from jupyter_deltachat.tools.run import MAX_RESULT_CODE_POINTS, bounded


def top_rows(table: str, n: int = 5, order: Literal["asc", "desc"] = "desc") -> str:
    """Show the first rows of a table.

    The rows come sorted.

    Args:
        table: the table's variable name.
        n: how many rows;
            at most 100.
        order: the sort order.
    """
    return table


def test_the_schema_comes_from_signature_hints_and_docstring() -> None:
    tool = make_tool(top_rows)
    assert tool.info.description == "Show the first rows of a table."
    assert tool.info.approval == "ask" and tool.info.source == "kernel"
    assert tool.info.parameters == {
        "type": "object",
        "properties": {
            "table": {"type": "string", "description": "the table's variable name."},
            "n": {"type": "integer", "description": "how many rows; at most 100.", "default": 5},
            "order": {"enum": ["asc", "desc"], "description": "the sort order.", "default": "desc"},
        },
        "required": ["table"],
    }


def test_unhinted_optional_and_container_parameters() -> None:
    def f(a, b: list[int] | None = None, c: dict[str, float] | None = None) -> None:  # type: ignore[no-untyped-def]
        pass

    properties = make_tool(f).info.parameters["properties"]
    assert properties == {
        "a": {},
        "b": {
            "anyOf": [{"type": "array", "items": {"type": "integer"}}, {"type": "null"}],
            "default": None,
        },
        "c": {"anyOf": [{"type": "object"}, {"type": "null"}], "default": None},
    }
    assert make_tool(f).info.description == ""


def test_bad_tools_are_refused_with_a_reason() -> None:
    def star(*args: int) -> None:
        pass

    with pytest.raises(ValueError, match=r"\*args cannot be described to a model"):
        make_tool(star)
    with pytest.raises(ValueError, match="approval must be 'ask' or 'never', got 'maybe'"):
        make_tool(top_rows, approval="maybe")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="a tool name must be a Python identifier"):
        make_tool(top_rows, name="two words")


def test_selecting_tools() -> None:
    registry = ToolRegistry()
    registry.add(make_tool(top_rows))
    assert registry.select(None) == registry.select("none") == []
    assert [t.info.name for t in registry.select("all")] == ["top_rows"]
    with pytest.raises(BadRequestError, match="unknown tool 'nope'; known: top_rows"):
        registry.select(["nope"])


def test_python_prints_then_the_last_expression_in_the_user_namespace() -> None:
    user_namespace()["tool_test_value"] = 20
    result = python("print('hi')\ntool_test_value + 1")
    assert (result.text, result.is_error, result.outputs) == ("hi\n21", False, [])
    python("tool_test_defined = 7")
    assert user_namespace()["tool_test_defined"] == 7


def test_python_errors_are_the_user_code_s_traceback() -> None:
    result = python("print('before')\n1 / 0")
    assert result.is_error
    lines = result.text.splitlines()
    assert lines[0] == "before"
    assert lines[1] == "Traceback (most recent call last):"
    assert (
        "1 / 0" in result.text and "engine" not in result.text and "builtin.py" not in result.text
    )
    assert lines[-1] == "ZeroDivisionError: division by zero"
    syntax = python("def (")
    assert syntax.is_error and syntax.text.splitlines()[-1].startswith("SyntaxError")


def test_python_figures_become_png_outputs() -> None:
    pyplot = pytest.importorskip("matplotlib.pyplot")
    pyplot.switch_backend("agg")
    result = python("import matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\nNone")
    assert [(o.name, o.media_type) for o in result.outputs] == [("figure-1.png", "image/png")]
    assert result.outputs[0].data.startswith("iVBORw0KGgo")  # PNG magic, base64
    assert pyplot.get_fignums() == []


def test_results_are_redacted_and_bounded() -> None:
    remember_secret("sk-tool-secret-value-0123456789")
    text, truncated = bounded("key: sk-tool-secret-value-0123456789")
    assert "sk-tool-secret" not in text and not truncated
    text, truncated = bounded("x" * (MAX_RESULT_CODE_POINTS + 1))
    assert truncated and len(text) == MAX_RESULT_CODE_POINTS


def test_the_protocol_fields_of_tools() -> None:
    send = parse_request(
        {
            "type": "send",
            "request_id": "r",
            "chat_id": "c",
            "content": "",
            "tools": ["python"],
            "config": {"max_steps": 2},
        }
    )
    assert send.tools == ["python"] and send.config is not None and send.config.max_steps == 2
    with pytest.raises(BadRequestError, match="config.max_steps must be positive, got 0"):
        parse_request(
            {"type": "regenerate", "request_id": "r", "chat_id": "c", "config": {"max_steps": 0}}
        )
    with pytest.raises(BadRequestError, match=r"send: tools\[0\] must be a tool name"):
        parse_request(
            {"type": "send", "request_id": "r", "chat_id": "c", "content": "", "tools": [1]}
        )
