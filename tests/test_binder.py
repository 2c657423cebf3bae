"""The examples Binder opens (run offline by nbclient on a real kernel) and the Binder files.

binder/check.sh itself (a fresh venv built the way repo2docker builds, a real JupyterLab,
headless Chromium) runs from tests/browser/test_binder_check.py, with the browser tests.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
import urllib.parse
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

from jupyter_deltachat.models.spec import PROVIDERS

ROOT = Path(__file__).resolve().parent.parent
PROVIDER_ENV_PREFIXES = ("OPENAI", "ANTHROPIC", "GEMINI", "GOOGLE", "GROQ", "AWS", "OLLAMA")


def run_example(name: str, tmp_path: Path) -> dict[str, Any]:
    """Run examples/<name>.ipynb offline (no provider variables, an empty key store); return
    its code cells by source."""
    nb = nbformat.read(ROOT / "examples" / f"{name}.ipynb", as_version=4)
    env = {k: v for k, v in os.environ.items() if not k.startswith(PROVIDER_ENV_PREFIXES)}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["JUPYTER_DELTACHAT_CREDENTIALS"] = str(tmp_path / "credentials.json")
    client = NotebookClient(
        nb,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(ROOT / "examples")}},
    )
    client.execute(env=env)
    for cell in nb.cells:
        if cell.cell_type == "code":
            for output in cell.outputs:
                assert output.get("name") != "stderr", (cell.source, output)
    return {cell.source: cell for cell in nb.cells if cell.cell_type == "code"}


def text_of(cell: Any) -> str:
    parts = []
    for output in cell.outputs:
        if output["output_type"] == "stream":
            parts.append(output["text"])
        elif "data" in output:
            parts.append(output["data"].get("text/markdown") or output["data"]["text/plain"])
    return "".join(parts)


def test_welcome_notebook_runs_offline(tmp_path: Path) -> None:
    cells = run_example("welcome", tmp_path)
    reverse = cells["%chat -m reverse hello from a notebook cell"]
    assert reverse.outputs[-1]["data"]["text/markdown"] == "cell notebook a from hello"
    counted = cells["%chat -m count count to twenty"]
    assert counted.outputs[-1]["data"]["text/markdown"] == "".join(f"{i} " for i in range(1, 21))
    models = text_of(cells["%chat models"])
    assert "| reverse | kernel | yes |" in models and "| count | kernel | yes |" in models
    status = next(cell for source, cell in cells.items() if "store.status" in source)
    assert text_of(status).split("\n")[:6] == [
        f"{provider:10} no key"
        for provider in ["openai", "anthropic", "google", "groq", "bedrock", "ollama"]
    ]


def test_welcome_model_is_five_lines() -> None:
    nb = nbformat.read(ROOT / "examples" / "welcome.ipynb", as_version=4)
    model = next(c.source for c in nb.cells if 'dc.register("reverse")' in c.source)
    assert len([line for line in model.splitlines() if line.strip()]) == 5


def test_providers_notebook_skips_each_unconfigured_provider(tmp_path: Path) -> None:
    cells = run_example("providers", tmp_path)
    asked = {source: cell for source, cell in cells.items() if source.startswith("ask(")}
    providers = {re.match(r'ask\("(\w+):', source).group(1) for source in asked}
    assert providers == set(PROVIDERS)
    for source, cell in asked.items():
        model_id = re.match(r'ask\("([^"]+)"', source).group(1)
        text = text_of(cell)
        assert text.startswith(f"skipped {model_id}: "), text
        assert "is not configured" in text and "API keys" in text, text


def test_widget_notebook_is_offline() -> None:
    nb = nbformat.read(ROOT / "examples" / "widget.ipynb", as_version=4)
    sources = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert not re.search(r"openai:|anthropic:|google:|groq:|bedrock:|ollama:", sources)


# -- the Binder files -----------------------------------------------------------------------


def binder_links() -> list[str]:
    return re.findall(r"https://mybinder\.org/v2/gh/[^)\s\"'>]+", (ROOT / "README.md").read_text())


def test_readme_binder_badge_opens_the_welcome_notebook() -> None:
    links = binder_links()
    assert links, "README.md has no Binder link"
    for link in links:
        parts = urllib.parse.urlsplit(link)
        urlpath = urllib.parse.parse_qs(parts.query)["urlpath"][0]
        assert urlpath == "lab/tree/examples/welcome.ipynb"
        assert (ROOT / urlpath.removeprefix("lab/tree/")).is_file()
        assert re.fullmatch(r"/v2/gh/[^/]+/[^/]+/[^/]+", parts.path)


def test_binder_configuration() -> None:
    binder = ROOT / "binder"
    runtime = (binder / "runtime.txt").read_text().strip()
    assert re.fullmatch(r"python-3\.\d+", runtime)
    requirements = [
        line.split("#")[0].strip()
        for line in (binder / "requirements.txt").read_text().splitlines()
    ]
    assert ".[all]" in requirements  # this repository with every provider extra
    post_build = binder / "postBuild"
    assert post_build.read_text().startswith("#!/usr/bin/env bash")
    assert post_build.stat().st_mode & stat.S_IXUSR
    assert (binder / "check.sh").stat().st_mode & stat.S_IXUSR
    # The check's venv is made with the Python running the tests: Binder's should match it.
    if runtime != f"python-{sys.version_info[0]}.{sys.version_info[1]}":
        pytest.skip(f"Binder uses {runtime}; these tests run on {sys.version.split()[0]}")


def test_the_pyproject_extras_binder_installs_exist() -> None:
    import tomllib

    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "all" in pyproject["project"]["optional-dependencies"]


def test_binder_check_copies_only_what_git_tracks(tmp_path: Path) -> None:
    """What Binder builds, and what the suite builds from, is the tracked tree: a notebook
    JupyterLab saved into examples/ or any other untracked file never leaks in, while an
    uncommitted edit to a tracked file does count."""
    if shutil.which("git") is None:
        pytest.skip("needs git")
    repo = tmp_path / "repo"
    (repo / "binder").mkdir(parents=True)
    (repo / "examples").mkdir()
    shutil.copy2(ROOT / "binder" / "check.sh", repo / "binder" / "check.sh")
    (repo / "examples" / "welcome.ipynb").write_text("committed")
    (repo / ".gitignore").write_text("*.log\n")
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "tracked"], check=True)
    (repo / "examples" / "welcome.ipynb").write_text("edited, not committed")
    (repo / "examples" / "Untitled.ipynb").write_text("saved by JupyterLab during a session")
    (repo / "notes.txt").write_text("untracked")
    (repo / "lab.log").write_text("ignored")

    copy = tmp_path / "copy"
    subprocess.run(
        ["bash", str(repo / "binder" / "check.sh"), "--copy-only", str(copy)], check=True
    )
    copied = sorted(str(path.relative_to(copy)) for path in copy.rglob("*") if path.is_file())
    assert copied == [".gitignore", "binder/check.sh", "examples/welcome.ipynb"]
    assert (copy / "examples" / "welcome.ipynb").read_text() == "edited, not committed"
