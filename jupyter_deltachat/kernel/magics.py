"""``%chat`` / ``%%chat`` (placeholder until the magics land)."""

from __future__ import annotations

from typing import Any


def register_magics(shell: Any, service: Any) -> None:
    """Register the ``%chat`` magics on ``shell``, backed by ``service``."""
