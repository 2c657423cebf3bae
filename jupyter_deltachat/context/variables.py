"""``list_variables``: the user's variables for ``@`` completion, one cheap line each.

Left out: names starting with ``_``, modules, and what IPython puts in the namespace
itself (``In``, ``Out``, ``exit``, ``get_ipython``: its ``user_ns_hidden``) unless the user
rebound the name.
"""

from __future__ import annotations

import itertools
import types
from collections.abc import Mapping
from typing import Any

from ..protocol import VariableInfo
from .brief import brief
from .builtins import qualified_type

MAX_VARIABLES = 5_000


def list_variables(
    namespace: Mapping[str, Any], hidden: Mapping[str, Any] | None = None
) -> tuple[list[VariableInfo], bool]:
    """The variables sorted by name, at most ``MAX_VARIABLES`` (then ``truncated``)."""
    hidden = hidden or {}
    names = sorted(
        name
        for name, value in list(namespace.items())
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType)
        and not (name in hidden and hidden[name] is value)
    )
    shown = [
        VariableInfo(
            name=name, type=qualified_type(namespace[name]), summary=brief(namespace[name])
        )
        for name in itertools.islice(names, MAX_VARIABLES)
        if name in namespace
    ]
    return shown, len(names) > MAX_VARIABLES
