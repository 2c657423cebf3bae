"""The summaries the model is given (jupyter_deltachat.context), in this process: each
built-in summariser, the bounds, the time limit, raising summarisers, redaction and the
users' own summarisers."""

from __future__ import annotations

import base64
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import polars as pl
import pytest
import xarray as xr

import jupyter_deltachat
from jupyter_deltachat.context import (
    LIMITS,
    MAX_ITEM_CHARS,
    MAX_MESSAGE_CHARS,
    Summary,
    brief,
    make_item,
    summarize,
    summarizer,
    unregister_summarizer,
    within_message,
)
from jupyter_deltachat.context.refs import render
from jupyter_deltachat.context.variables import MAX_VARIABLES, list_variables
from jupyter_deltachat.errors import BadRequestError
from jupyter_deltachat.protocol import ContextRef, VariableInfo
from jupyter_deltachat.types import ContextItem

matplotlib.use("Agg")
KEY = "sk-proj-" + "A1b2C3d4E5f6G7h8J9k0"


def text_of(obj: object, label: str = "x") -> str:
    item, _ = summarize(obj, label)
    assert item.kind == "variable" and item.label == label and not item.truncated
    return item.text


class Opaque:
    def __repr__(self) -> str:
        return "Opaque()"


@pytest.fixture
def opaque_summarizer() -> Iterator[None]:
    yield
    unregister_summarizer(Opaque)


# -- pandas, polars, numpy, xarray, matplotlib -------------------------------------------


def test_dataframe_gives_shape_dtypes_memory_head_and_describe() -> None:
    df = pd.DataFrame({"a": [1, 2, 3, 4], "b": ["w", "x", "y", None], "c": [0.5, 1.5, 2.5, 3.5]})
    text = text_of(df, "df")
    lines = text.splitlines()
    assert lines[0] == (
        "pandas.DataFrame: 4 rows × 3 columns, memory 228 B (object contents not counted)"
    )
    assert lines[1] == "index: RangeIndex [0, 1, 2] …"
    assert lines[2:6] == ["columns (dtype):", "  'a': int64", "  'b': str", "  'c': float64"]
    assert lines[6:12] == [
        "head(5):",
        "   a    b    c",
        "0  1    w  0.5",
        "1  2    x  1.5",
        "2  3    y  2.5",
        "3  4  NaN  3.5",
    ]
    assert lines[12:15] == [
        "describe():",
        "               a    b         c",
        "count   4.000000    3  4.000000",
    ]


def test_a_large_dataframe_is_described_on_a_random_sample() -> None:
    rows = 1_000_000
    df = pd.DataFrame({"n": np.arange(rows), "s": pd.Categorical(["p", "q"] * (rows // 2))})
    text = text_of(df, "big")
    assert text.startswith("pandas.DataFrame: 1,000,000 rows × 2 columns, memory 8.6 MiB")
    described = text.split("describe() (on 9,946 rows sampled at random of 1,000,000):\n")[1]
    lines = described.splitlines()
    assert lines[1].split() == ["count", "9946.000000", "9946"]
    assert lines[2].split() == ["unique", "NaN", "2"]  # a strided sample would alias to 1


def test_series_and_index() -> None:
    series = pd.Series([1.0, 2.0, None], name="price")
    text = text_of(series)
    assert text.splitlines()[0] == "pandas.Series 'price': 3 values, dtype float64, memory 156 B"
    assert "count    2.0" in text
    index = pd.Index(range(100, 130), name="id")
    assert text_of(index) == (
        "pandas.RangeIndex: 30 entries, dtype int64, name 'id'\n"
        "first 20: [100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 111, 112, 113, 114, "
        "115, 116, 117, 118, 119] …"
    )


def test_polars_dataframe_and_series() -> None:
    df = pl.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]})
    text = text_of(df)
    assert text.splitlines()[:4] == [
        "polars.DataFrame: 3 rows × 2 columns, estimated size 27 B",
        "schema:",
        "  'a': Int64",
        "  'b': String",
    ]
    assert "head(5):" in text and "describe():" in text
    series_text = text_of(pl.Series("v", [1, 2, 3]))
    assert series_text.splitlines()[:3] == [
        "polars.Series 'v': 3 values, dtype Int64",
        "head(5):",
        "[1, 2, 3]",
    ]


def test_array_gives_shape_dtype_statistics_on_a_sample_and_shortened_values() -> None:
    array = np.arange(1_000_000, dtype=np.float64).reshape(1000, 1000)
    array[::2] = np.nan
    text = text_of(array)
    lines = text.splitlines()
    assert lines[0] == (
        "numpy.ndarray: shape (1000, 1000), dtype float64, 1,000,000 elements, 7.6 MiB"
    )
    assert lines[1] == (
        "statistics (on 95,057 elements sampled at random of 1,000,000): min 1038, "
        "max 999996, mean 500330.12, std 288773.39, 47,488 NaN/inf"
    )
    assert lines[2] == "values:"
    assert lines[3] == "[[    nan     nan     nan ...     nan     nan     nan]"
    assert "..." in text and len(lines) == 10
    small = text_of(np.array([1, 2, 3]))
    assert small == (
        "numpy.ndarray: shape (3,), dtype int64, 3 elements, 24 B\n"
        "statistics: min 1, max 3, mean 2, std 0.81649658\nvalues:\n[1 2 3]"
    )


def test_xarray_uses_its_own_shortened_repr() -> None:
    data = xr.DataArray(np.zeros((200, 300)), dims=("y", "x"), name="t")
    text = text_of(data)
    assert text.startswith("xarray.DataArray:\n<xarray.DataArray 't' (y: 200, x: 300)")
    assert "..." in text and len(text) < 2000


def test_figure_gives_its_axes_and_a_png_attachment() -> None:
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots()
    axes.plot([1, 2, 3], label="growth")
    axes.set_title("Growth")
    axes.set_xlabel("year")
    item, attachments = summarize(figure, "fig")
    plt.close(figure)
    assert item.text.splitlines()[1].startswith("axes 1: title 'Growth'; x 'year'")
    assert "1 lines ['growth']" in item.text
    assert item.text.endswith(f"(the figure is attached as the image {attachments[0].name})")
    assert attachments[0].media_type == "image/png"
    assert base64.b64decode(attachments[0].data).startswith(b"\x89PNG")


# -- plain Python -----------------------------------------------------------------------


def test_exception_gives_type_message_and_the_users_frames() -> None:
    def fail() -> None:
        raise ValueError("column 'x' is empty")

    try:
        fail()
    except ValueError as exc:
        error = exc
    text = text_of(error)
    assert text.splitlines()[0] == "ValueError: column 'x' is empty"
    assert "in fail" in text and 'raise ValueError("column' in text
    assert "site-packages" not in text


def test_strings_and_containers_show_length_and_a_bounded_sample() -> None:
    assert text_of("hello") == "str, 5 characters: 'hello'"
    long = text_of("ab" * 10_000)
    assert long.startswith("str, 20,000 characters: 'abab") and len(long) < 300
    big = {f"k{i}": i for i in range(1_000_000)}
    lines = text_of(big).splitlines()
    assert lines[:3] == ["dict, 1,000,000 items", "first 20:", "  'k0': 0"]
    assert lines[-1] == "  … and 999,980 more"
    assert text_of([1, "a", 2.5]) == (
        "list, 3 items\nitem types among the first 3: float, int, str\nfirst 3: [1, 'a', 2.5]"
    )


def test_functions_give_signature_and_docstring_and_classes_their_members() -> None:
    def scale(values: list[float], factor: float = 2.0) -> list[float]:
        """Multiply every value by factor."""
        return [v * factor for v in values]

    lines = text_of(scale).splitlines()
    assert lines[0].startswith(
        "function test_functions_give_signature_and_docstring_and_classes_their_members."
        "<locals>.scale(values: 'list[float]', factor: 'float' = 2.0) -> 'list[float]' "
        f"(defined in {__file__}:"
    )
    assert lines[1] == '"""Multiply every value by factor."""'

    class Point:
        """A point."""

        dims = 2

        def norm(self, p: int = 2) -> float:
            return 0.0

    line = Point.norm.__code__.co_firstlineno - 5
    assert text_of(Point) == (
        "class test_functions_give_signature_and_docstring_and_classes_their_members.<locals>."
        f'Point() (defined in {__file__}:{line})\n"""A point."""\n  dims = 2\n'
        "  def norm(self, p: 'int' = 2) -> 'float'"
    )


def test_other_objects_give_type_and_a_bounded_repr() -> None:
    assert text_of(Opaque()) == "test_context.Opaque: Opaque()"
    assert text_of(3.5) == "float: 3.5"


# -- bounds, time, failures, secrets ----------------------------------------------------


def test_an_item_is_cut_at_the_bound_with_a_visible_marker() -> None:
    item = make_item("text", "notes", "x" * 20_000)
    assert len(item.text) == MAX_ITEM_CHARS
    assert item.text.endswith("\n[… cut here: the full text has 20,000 characters]")
    assert (item.chars, item.truncated) == (20_000, True)
    assert make_item("text", "n", "short") == ContextItem("text", "n", "short", 5, False)


def test_the_items_of_one_message_share_one_bound() -> None:
    items = [make_item("text", str(i), "y" * 7_000) for i in range(6)]
    bounded = within_message(items)
    assert sum(len(item.text) for item in bounded) <= MAX_MESSAGE_CHARS
    assert [item.truncated for item in bounded] == [False] * 4 + [True, True]
    assert bounded[4].text.endswith("characters]") and bounded[5].text == ""


def test_a_users_summarizer_applies_to_the_type_and_its_subclasses(
    opaque_summarizer: None,
) -> None:
    @jupyter_deltachat.summarizer(Opaque)
    def opaque(obj: Opaque) -> str:
        return f"an opaque thing of type {type(obj).__name__}"

    class Sub(Opaque):
        pass

    assert text_of(Opaque()) == "an opaque thing of type Opaque"
    assert text_of(Sub()) == "an opaque thing of type Sub"
    with pytest.raises(TypeError, match="summarizer\\(\\) takes a type"):
        summarizer("Opaque")  # type: ignore[arg-type]


def test_a_users_summarizer_may_replace_a_builtin_one() -> None:
    @summarizer(pd.DataFrame)
    def frame(df: pd.DataFrame) -> Summary:
        return Summary(f"{len(df)} rows")

    try:
        assert text_of(pd.DataFrame({"a": [1]})) == "1 rows"
    finally:
        unregister_summarizer(pd.DataFrame)
    assert text_of(pd.DataFrame({"a": [1]})).startswith("pandas.DataFrame: 1 rows")


def test_a_raising_summary_gives_an_item_saying_so(opaque_summarizer: None) -> None:
    @summarizer(Opaque)
    def broken(obj: Opaque) -> str:
        raise RuntimeError("no luck")

    assert text_of(Opaque()) == (
        "[no summary: summarising this test_context.Opaque raised RuntimeError: no luck]"
    )

    @summarizer(Opaque)
    def wrong(obj: Opaque) -> str:
        return 42  # type: ignore[return-value]

    assert text_of(Opaque()) == (
        "[no summary: summarising this test_context.Opaque raised TypeError: a summariser "
        "must return str or Summary, not int]"
    )


def test_a_slow_summary_is_abandoned_with_an_item_saying_so(opaque_summarizer: None) -> None:
    release = threading.Event()

    @summarizer(Opaque)
    def slow(obj: Opaque) -> str:
        release.wait(30)
        return "late"

    try:
        item, attachments = summarize(Opaque(), "o", time_limit=0.2)
    finally:
        release.set()
    assert item.text == (
        "[no summary: summarising this test_context.Opaque took longer than 0.2 s and was "
        "abandoned]"
    )
    assert attachments == []


def test_item_text_and_label_are_redacted() -> None:
    config = {"api_key": KEY, "model": "gpt"}
    item, _ = summarize(config, f"cfg {KEY}")
    assert KEY not in item.text and KEY not in item.label
    assert "'api_key': '[redacted]'" in item.text
    cut_item = make_item("text", "t", "z" * (MAX_ITEM_CHARS - 10) + KEY)
    assert KEY[:12] not in cut_item.text


# -- the one-line summaries of list_variables ---------------------------------------------


def test_brief_is_one_cheap_line() -> None:
    assert brief(pd.DataFrame(np.zeros((1000, 12)))) == "DataFrame 1,000 × 12"
    assert brief(np.zeros((3, 224, 224))) == "ndarray float64 (3, 224, 224)"
    assert brief(pd.Series([1, 2])) == "Series int64 2"
    assert brief([1, 2, 3]) == "list 3 items"
    assert brief(len) == "function len(obj, /)"
    assert brief(7) == "int 7"
    assert brief("x" * 500) == "str 500: '" + "x" * 50 + "'"
    assert len(brief(type("A" * 200, (), {}))) == 80
    assert brief(pl.DataFrame({"a": [1, 2]})) == "DataFrame 2 × 1"
    assert brief(pl.Series("v", [1.0])) == "Series Float64 1"
    assert brief(xr.DataArray(np.zeros((2, 3)), dims=("y", "x"))) == (
        "DataArray float64 {'y': 2, 'x': 3}"
    )
    assert brief(xr.Dataset({"t": (("y",), [1, 2])})) == "Dataset {'y': 2}"


def test_list_variables_leaves_out_private_names_modules_and_ipythons_own() -> None:
    namespace = {f"v{i:05}": i for i in range(MAX_VARIABLES + 1)}
    namespace |= {"_hidden": 1, "sys": sys, "In": [], "mine": "x"}
    listed, truncated = list_variables(namespace, hidden={"In": namespace["In"]})
    assert truncated is True and len(listed) == MAX_VARIABLES
    assert listed[0] == VariableInfo(name="mine", type="str", summary="str 1: 'x'")
    assert listed[1].name == "v00000" and listed[-1].name == f"v{MAX_VARIABLES - 2:05}"


def test_importing_the_context_package_imports_no_data_library() -> None:
    code = (
        "import sys, jupyter_deltachat.context; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'pandas', 'numpy', 'polars', 'xarray', 'matplotlib'}))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "[]", result.stderr


def test_the_kernel_may_change_the_bounds() -> None:
    text = ContextRef(kind="text", label="notes", text="x" * 500)
    LIMITS.item_chars, LIMITS.message_chars = 100, 150
    try:
        rendered = render([text, text], {})
    finally:
        LIMITS.item_chars, LIMITS.message_chars = MAX_ITEM_CHARS, MAX_MESSAGE_CHARS
    assert [(len(i.text), i.chars, i.truncated) for i in rendered.items] == [
        (100, 500, True),
        (50, 500, True),
    ]
    assert rendered.items[0].text.endswith("\n[… cut here: the full text has 500 characters]")


def test_an_error_ref_without_a_last_error_is_bad_request(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("last_exc", "last_value", "last_type", "last_traceback"):
        monkeypatch.delattr(sys, name, raising=False)
    with pytest.raises(BadRequestError, match="^there is no last error: no cell has raised"):
        render([ContextRef(kind="error")], {})


def test_a_failing_part_of_a_summary_leaves_the_rest() -> None:
    assert text_of(pd.DataFrame(index=range(3))) == (
        "pandas.DataFrame: 3 rows × 0 columns, memory 132 B (object contents not counted)\n"
        "index: RangeIndex [0, 1, 2]\ncolumns (dtype):"
    )

    class Unprintable:
        def __repr__(self) -> str:
            raise RuntimeError("no repr")

        __str__ = __repr__

    text = text_of(pd.DataFrame({"a": [Unprintable()]}))
    assert text.splitlines()[-1] == "describe(): failed (RuntimeError: no repr)"
    assert "head(5): failed (RuntimeError: no repr)" in text


def test_a_stored_message_keeps_its_context(tmp_path: Path) -> None:
    from jupyter_deltachat.history import ChatStore
    from jupyter_deltachat.types import Message

    item, _ = summarize({"api_key": KEY, "rows": 3}, "cfg")
    message = Message("user", "why?", context=[item, make_item("text", "notes", "x = 1")])
    store = ChatStore(tmp_path / "chats.sqlite3")
    try:
        with store.write() as writer:
            writer.put("a.ipynb", "default", message)
        stored = store.load("a.ipynb", "default")
    finally:
        store.close()
    assert stored is not None and stored.messages[0].context == message.context
    assert KEY not in (tmp_path / "chats.sqlite3").read_bytes().decode("utf-8", "replace")
