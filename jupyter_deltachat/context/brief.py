"""One line (at most ``BRIEF_LENGTH`` code points) per variable, for ``@`` completion:
``DataFrame 1,000 × 12``, ``ndarray float64 (3, 224, 224)``. Cheap by construction: only
attributes that cost nothing (shape, dtype, len), never a summary."""

from __future__ import annotations

import inspect
import types
from typing import Any

from .builtins import short_repr
from .registry import type_key

BRIEF_LENGTH = 80


def _shape(obj: Any) -> str:
    return " × ".join(f"{n:,}" for n in obj.shape)


_BY_TYPE = {
    "pandas.DataFrame": lambda o: f"DataFrame {_shape(o)}",
    "polars.DataFrame": lambda o: f"DataFrame {_shape(o)}",
    "pandas.Series": lambda o: f"Series {o.dtype} {len(o):,}",
    "polars.Series": lambda o: f"Series {o.dtype} {len(o):,}",
    "pandas.Index": lambda o: f"{type(o).__name__} {o.dtype} {len(o):,}",
    "numpy.ndarray": lambda o: f"ndarray {o.dtype} {o.shape}",
    "xarray.DataArray": lambda o: f"DataArray {o.dtype} {dict(o.sizes)}",
    "xarray.Dataset": lambda o: f"Dataset {dict(o.sizes)}",
    "matplotlib.Figure": lambda o: f"Figure, {len(o.axes)} axes",
}


def brief(obj: Any) -> str:
    try:
        text = _brief(obj)
    except Exception:  # noqa: BLE001 - a broken attribute still leaves the type name
        text = type(obj).__name__
    text = " ".join(text.split())
    return text if len(text) <= BRIEF_LENGTH else text[: BRIEF_LENGTH - 1] + "…"


def _brief(obj: Any) -> str:
    for cls in type(obj).__mro__:
        known = _BY_TYPE.get(type_key(cls))
        if known is not None:
            return known(obj)
    if isinstance(obj, type):
        return f"class {obj.__qualname__}"
    if inspect.isroutine(obj):
        try:
            signature = str(inspect.signature(obj))
        except (TypeError, ValueError):
            signature = "(…)"
        return f"function {getattr(obj, '__name__', '')}{signature}"
    if isinstance(obj, (str, bytes)):
        return f"{type(obj).__name__} {len(obj):,}: {short_repr(obj[:50])}"
    if isinstance(obj, (list, tuple, dict, set, frozenset)):
        return f"{type(obj).__name__} {len(obj):,} items"
    if isinstance(obj, (int, float, complex, bool)) or obj is None:
        return f"{type(obj).__name__} {short_repr(obj)}"
    if isinstance(obj, types.ModuleType):
        return f"module {obj.__name__}"
    return type(obj).__name__
