"""The built-in summaries: what the model is told about each kind of object.

Every summary here costs time and space independent of the object's size, or bounded by a
sample: a DataFrame's ``describe()`` runs on at most ``SAMPLE_ROWS`` rows drawn at random
(``sample_positions``: random positions, sorted; neither a permutation of the whole index
nor a strided slice, which would alias with periodic data), an array's statistics on at
most ``SAMPLE_ELEMENTS`` such elements, a container shows its first ``SAMPLE_ITEMS`` items
(``itertools.islice``: ``reprlib`` sorts whole dicts and sets).
"""

from __future__ import annotations

import base64
import collections
import functools
import inspect
import io
import itertools
import reprlib
import traceback
import types
from collections.abc import Callable, Mapping, Sequence, Set
from typing import Any

from ..types import Attachment
from .registry import Summary, builtin

SAMPLE_ROWS = 10_000
SAMPLE_ELEMENTS = 100_000
SAMPLE_ITEMS = 20
HEAD_ROWS = 5
MAX_COLUMNS_LISTED = 100
FIGURE_DPI = 72

_repr = reprlib.Repr()
_repr.maxstring = 200
_repr.maxother = 200
_repr.maxlist = _repr.maxtuple = _repr.maxset = _repr.maxdict = SAMPLE_ITEMS
_repr.maxlevel = 3


def short_repr(obj: Any) -> str:
    """A ``reprlib``-bounded repr (nested containers and long strings cut)."""
    return _repr.repr(obj)


def qualified_type(obj: Any) -> str:
    cls = type(obj)
    module = cls.__module__.partition(".")[0]
    return cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"


def _count(n: int) -> str:
    return f"{n:,}"


def _bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    return f"{n} B"  # pragma: no cover


# -- pandas -----------------------------------------------------------------------------


def sample_positions(size: int, count: int) -> Any:
    """About ``count`` distinct positions below ``size``, drawn at random (fixed seed, so a
    summary is reproducible), sorted: O(count log count) whatever ``size`` is."""
    import numpy as np

    drawn = np.sort(np.random.default_rng(0).integers(0, size, count))
    return drawn[np.concatenate(([True], drawn[1:] != drawn[:-1]))]  # np.unique: 50× slower


def _sample_note(sample_size: int, size: int, unit: str = "rows") -> str:
    return f" (on {_count(sample_size)} {unit} sampled at random of {_count(size)})"


def _pandas_sample(obj: Any) -> tuple[Any, str]:
    """``obj`` itself when small, else at most SAMPLE_ROWS random rows (and a note)."""
    rows = len(obj)
    if rows <= SAMPLE_ROWS:
        return obj, ""
    sample = obj.iloc[sample_positions(rows, SAMPLE_ROWS)]
    return sample, _sample_note(len(sample), rows)


@builtin("pandas.DataFrame")
def pandas_dataframe(df: Any) -> str:
    import pandas as pd

    rows, columns = df.shape
    memory = int(df.memory_usage(index=True, deep=False).sum())
    lines = [
        f"pandas.DataFrame: {_count(rows)} rows × {_count(columns)} columns, "
        f"memory {_bytes(memory)} (object contents not counted)",
        f"index: {type(df.index).__name__} {short_repr(df.index[:3].tolist())}"
        + (" …" if rows > 3 else ""),
        "columns (dtype):",
    ]
    dtypes = df.dtypes
    for name, dtype in itertools.islice(dtypes.items(), MAX_COLUMNS_LISTED):
        lines.append(f"  {short_repr(name)}: {dtype}")
    if columns > MAX_COLUMNS_LISTED:
        lines.append(f"  … and {_count(columns - MAX_COLUMNS_LISTED)} more columns")
    with pd.option_context(
        "display.max_columns", 30, "display.width", 200, "display.max_colwidth", 40
    ):
        if rows and columns:
            lines += part(
                f"head({HEAD_ROWS})",
                lambda: df.head(HEAD_ROWS).to_string(max_cols=30, max_colwidth=40),
            )
            sample, note = _pandas_sample(df)
            lines += part(
                f"describe(){note}",
                lambda: (
                    sample.iloc[:, :30]
                    .describe(include="all")
                    .to_string(max_cols=30, max_colwidth=40)
                ),
            )
    return "\n".join(lines)


def part(title: str, make: Callable[[], str]) -> list[str]:
    """A titled part of a summary; one that fails says so and the rest of it stays."""
    try:
        return [f"{title}:", make()]
    except Exception as exc:  # noqa: BLE001 - e.g. describe() of unhashable values
        return [f"{title}: failed ({type(exc).__name__}: {exc})"]


@builtin("pandas.Series")
def pandas_series(series: Any) -> str:
    import pandas as pd

    rows = len(series)
    lines = [
        f"pandas.Series {short_repr(series.name)}: {_count(rows)} values, dtype {series.dtype}, "
        f"memory {_bytes(int(series.memory_usage(index=True, deep=False)))}",
    ]
    with pd.option_context("display.max_colwidth", 60):
        if rows:
            lines += part(f"head({HEAD_ROWS})", lambda: series.head(HEAD_ROWS).to_string())
            sample, note = _pandas_sample(series)
            lines += part(f"describe(){note}", lambda: sample.describe().to_string())
    return "\n".join(lines)


@builtin("pandas.Index")
def pandas_index(index: Any) -> str:
    size = len(index)
    first = index[:SAMPLE_ITEMS].tolist()
    more = " …" if size > SAMPLE_ITEMS else ""
    return (
        f"pandas.{type(index).__name__}: {_count(size)} entries, dtype {index.dtype}, "
        f"name {short_repr(index.name)}\nfirst {len(first)}: {short_repr(first)}{more}"
    )


# -- polars -----------------------------------------------------------------------------


def _polars_sample(obj: Any) -> tuple[Any, str]:
    rows = len(obj)
    if rows <= SAMPLE_ROWS:
        return obj, ""
    sample = obj[sample_positions(rows, SAMPLE_ROWS)]
    return sample, _sample_note(len(sample), rows)


@builtin("polars.DataFrame")
def polars_dataframe(df: Any) -> str:
    import polars as pl

    rows, columns = df.shape
    lines = [
        f"polars.DataFrame: {_count(rows)} rows × {_count(columns)} columns, "
        f"estimated size {_bytes(df.estimated_size())}",
        "schema:",
    ]
    for name, dtype in itertools.islice(df.schema.items(), MAX_COLUMNS_LISTED):
        lines.append(f"  {short_repr(name)}: {dtype}")
    if columns > MAX_COLUMNS_LISTED:
        lines.append(f"  … and {_count(columns - MAX_COLUMNS_LISTED)} more columns")
    with pl.Config(tbl_cols=30, tbl_width_chars=200, fmt_str_lengths=40):
        if rows and columns:
            lines += part(f"head({HEAD_ROWS})", lambda: str(df.head(HEAD_ROWS)))
            sample, note = _polars_sample(df[:, :30] if columns > 30 else df)
            lines += part(f"describe(){note}", lambda: str(sample.describe()))
    return "\n".join(lines)


@builtin("polars.Series")
def polars_series(series: Any) -> str:
    rows = len(series)
    lines = [f"polars.Series {series.name!r}: {_count(rows)} values, dtype {series.dtype}"]
    if rows:
        lines += part(f"head({HEAD_ROWS})", lambda: short_repr(series.head(HEAD_ROWS).to_list()))
        sample, note = _polars_sample(series)
        lines += part(f"describe(){note}", lambda: str(sample.describe()))
    return "\n".join(lines)


# -- numpy ------------------------------------------------------------------------------


@builtin("numpy.ndarray")
def numpy_array(array: Any) -> str:
    import numpy as np

    lines = [
        f"numpy.ndarray: shape {array.shape}, dtype {array.dtype}, {_count(array.size)} "
        f"elements, {_bytes(array.nbytes)}"
    ]
    if array.size and (np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_):
        if array.size > SAMPLE_ELEMENTS:
            sample = array.flat[sample_positions(array.size, SAMPLE_ELEMENTS)]
            note = _sample_note(sample.size, array.size, "elements")
        else:
            sample, note = array.ravel(), ""
        if np.issubdtype(array.dtype, np.complexfloating) or array.dtype == np.bool_:
            lines.append(f"mean{note}: {_number(sample.mean())}")
        else:
            finite = sample[np.isfinite(sample)] if sample.dtype.kind == "f" else sample
            missing = sample.size - finite.size
            if finite.size:
                lines.append(
                    f"statistics{note}: min {_number(finite.min())}, max "
                    f"{_number(finite.max())}, mean {_number(finite.mean())}, std "
                    f"{_number(finite.std())}" + (f", {_count(missing)} NaN/inf" if missing else "")
                )
    with np.printoptions(threshold=60, edgeitems=3, linewidth=120, precision=6):
        lines += ["values:", np.array2string(array)]
    return "\n".join(lines)


def _number(value: Any) -> str:
    """A numpy scalar as a plain number (8 significant digits for floats)."""
    plain = value.item() if hasattr(value, "item") else value
    return f"{plain:.8g}" if isinstance(plain, float) else repr(plain)


# -- xarray -----------------------------------------------------------------------------


@builtin("xarray.DataArray", "xarray.Dataset")
def xarray_object(obj: Any) -> str:
    """xarray's own text repr: dimensions, coordinates, variables and attributes, with
    array values already shortened by numpy's summarisation (dask arrays not computed)."""
    import numpy as np

    with np.printoptions(threshold=60, edgeitems=3, linewidth=120, precision=6):
        return f"xarray.{type(obj).__name__}:\n{obj!r}"


# -- matplotlib -------------------------------------------------------------------------


@builtin("matplotlib.Figure")
def matplotlib_figure(figure: Any) -> Summary:
    width, height = figure.get_size_inches()
    lines = [f"matplotlib Figure: {width:g} × {height:g} in, {len(figure.axes)} axes"]
    for number, axes in enumerate(figure.axes[:SAMPLE_ITEMS], 1):
        title = axes.get_title() or figure.get_suptitle()
        parts = [f"axes {number}: title {title!r}"]
        parts.append(f"x {axes.get_xlabel()!r} {tuple(round(v, 6) for v in axes.get_xlim())}")
        parts.append(f"y {axes.get_ylabel()!r} {tuple(round(v, 6) for v in axes.get_ylim())}")
        labels = [
            line.get_label() for line in axes.get_lines() if not line.get_label().startswith("_")
        ]
        parts.append(f"{len(axes.get_lines())} lines{' ' + short_repr(labels) if labels else ''}")
        if axes.collections:
            parts.append(f"{len(axes.collections)} collections")
        if axes.patches:
            parts.append(f"{len(axes.patches)} patches")
        if axes.images:
            parts.append(f"{len(axes.images)} images")
        lines.append("; ".join(parts))
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=FIGURE_DPI)
    name = f"figure-{figure.number if getattr(figure, 'number', None) else id(figure)}.png"
    lines.append(f"(the figure is attached as the image {name})")
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return Summary("\n".join(lines), [Attachment(name=name, media_type="image/png", data=data)])


# -- plain Python -----------------------------------------------------------------------

_SITE_MARKERS = ("site-packages", "dist-packages", "/lib/python")


def user_frames(exc: BaseException) -> list[traceback.FrameSummary]:
    """The traceback's frames without IPython's and the standard library's own."""
    frames = traceback.extract_tb(exc.__traceback__)
    kept = [f for f in frames if not any(m in (f.filename or "") for m in _SITE_MARKERS)]
    return kept or frames[-3:]


def exception(exc: BaseException) -> str:
    lines = [f"{qualified_type(exc)}: {exc}"]
    frames = user_frames(exc)
    if frames:
        lines.append("Traceback (the user's frames, most recent call last):")
        lines += [line.rstrip("\n") for line in traceback.format_list(frames)]
    cause = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
    if cause is not None:
        lines.append(f"raised while handling {qualified_type(cause)}: {cause}")
    return "\n".join(lines)


def string(text: str | bytes) -> str:
    kind = "str" if isinstance(text, str) else "bytes"
    unit = "characters" if isinstance(text, str) else "bytes"
    return f"{kind}, {_count(len(text))} {unit}: {short_repr(text)}"


def mapping(obj: Mapping[Any, Any]) -> str:
    size = len(obj)
    lines = [f"{qualified_type(obj)}, {_count(size)} items"]
    shown = list(itertools.islice(obj.items(), SAMPLE_ITEMS))
    if shown:
        lines.append(f"first {len(shown)}:")
        lines += [f"  {short_repr(k)}: {short_repr(v)}" for k, v in shown]
    if size > len(shown):
        lines.append(f"  … and {_count(size - len(shown))} more")
    return "\n".join(lines)


def collection(obj: Any) -> str:
    size = len(obj)
    shown = list(itertools.islice(iter(obj), SAMPLE_ITEMS))
    types_seen = sorted({type(item).__name__ for item in shown})
    lines = [f"{qualified_type(obj)}, {_count(size)} items"]
    if shown:
        lines.append(f"item types among the first {len(shown)}: {', '.join(types_seen)}")
        lines.append(f"first {len(shown)}: {short_repr(shown)}")
    if size > len(shown):
        lines.append(f"… and {_count(size - len(shown))} more")
    return "\n".join(lines)


def _signature(obj: Any) -> str:
    try:
        return str(inspect.signature(obj))
    except (TypeError, ValueError):
        return "(…)"


def _where(obj: Any) -> str:
    try:
        source = inspect.getsourcefile(obj) or ""
        line = inspect.getsourcelines(obj)[1]
    except (OSError, TypeError):
        return ""
    return f" (defined in {source}:{line})" if source else ""


def function(obj: Any) -> str:
    name = getattr(obj, "__qualname__", getattr(obj, "__name__", repr(obj)))
    kind = "async function" if inspect.iscoroutinefunction(obj) else "function"
    lines = [f"{kind} {name}{_signature(obj)}{_where(obj)}"]
    doc = inspect.getdoc(obj)
    lines.append(f'"""{doc}"""' if doc else "(no docstring)")
    return "\n".join(lines)


def class_(cls: type) -> str:
    bases = ", ".join(b.__qualname__ for b in cls.__bases__ if b is not object)
    lines = [f"class {cls.__qualname__}({bases}){_where(cls)}"]
    doc = inspect.getdoc(cls)
    if doc:
        lines.append(f'"""{doc}"""')
    members = [
        (name, value)
        for name, value in vars(cls).items()
        if not name.startswith("_") or name == "__init__"
    ]
    for name, value in members[:50]:
        if callable(value):
            lines.append(f"  def {name}{_signature(value)}")
        elif isinstance(value, (property, classmethod, staticmethod)):
            lines.append(f"  {name}: {type(value).__name__}")
        else:
            lines.append(f"  {name} = {short_repr(value)}")
    return "\n".join(lines)


def module(obj: types.ModuleType) -> str:
    doc = (inspect.getdoc(obj) or "").split("\n\n")[0]
    return f"module {obj.__name__}" + (f': "{doc}"' if doc else "")


def plain(obj: Any) -> str:
    """Any other object: its type and a bounded repr."""
    return f"{qualified_type(obj)}: {short_repr(obj)}"


def fallback(obj: Any) -> str | Summary:
    """The summary of an object no registered summariser takes."""
    if isinstance(obj, BaseException):
        return exception(obj)
    if isinstance(obj, (str, bytes, bytearray)):
        return string(bytes(obj) if isinstance(obj, bytearray) else obj)
    if isinstance(obj, type):
        return class_(obj)
    if isinstance(obj, types.ModuleType):
        return module(obj)
    if inspect.isroutine(obj) or isinstance(obj, functools.partial):
        return function(obj)
    if isinstance(obj, Mapping):
        return mapping(obj)
    if isinstance(obj, (Sequence, Set, collections.deque)):
        return collection(obj)
    return plain(obj)
