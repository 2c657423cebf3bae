"""The Python sources stay ruff-clean (lint and format), so CI enforces the style."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PATHS = [p for p in ("jupyter_deltachat", "tests", "benchmarks", "binder") if (ROOT / p).exists()]


def sources() -> list[str]:
    """The Python files git tracks under ``PATHS`` (a scratch file in the working tree is
    not the project's); every file under them outside a git checkout."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        return PATHS
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--", *(f"{p}/*.py" for p in PATHS)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [name for name in listed.split("\0") if name and (ROOT / name).exists()]


@pytest.mark.parametrize("command", [["check"], ["format", "--check"]], ids=["check", "format"])
def test_ruff_is_clean(command: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ruff", *command, *sources()],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
