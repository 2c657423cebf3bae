"""A kernel whose environment lacks jupyter-deltachat: a real, fresh venv with only
ipykernel, offered to JupyterLab as its own kernelspec."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from lab_helpers import KERNEL_TIMEOUT, LAB_LOAD_TIMEOUT, open_lab, panel, wait_status
from lab_server import LabServer, start_lab, stop_lab

KERNEL_NAME = "bare"
DISPLAY_NAME = "Bare Python (no deltachat)"


@pytest.fixture(scope="module")
def bare_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new venv (no system site-packages) with ipykernel from the package index. Without
    byte-compiling at install (``--no-compile``: most of the ~20 packages' modules are never
    imported by a kernel that only has to start), which was most of this fixture's time."""
    venv = tmp_path_factory.mktemp("bare") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--no-compile", "ipykernel"],
        check=True,
        timeout=900,
    )
    probe = subprocess.run(
        [str(python), "-c", "import jupyter_deltachat"], capture_output=True, cwd=venv
    )
    assert probe.returncode != 0, "the bare venv must not see jupyter_deltachat"
    return python


@pytest.fixture(scope="module")
def bare_lab(tmp_path_factory: pytest.TempPathFactory, bare_python: Path) -> Iterator[LabServer]:
    base = tmp_path_factory.mktemp("lab-bare")
    spec = base / "jupyter-path" / "kernels" / KERNEL_NAME
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [str(bare_python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": DISPLAY_NAME,
                "language": "python",
            }
        )
    )
    server = start_lab(base, extra_env={"JUPYTER_PATH": str(base / "jupyter-path")})
    try:
        yield server
    finally:
        stop_lab(server)


def test_a_kernel_without_the_package_gets_the_install_command(browser, bare_lab, bare_python):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    try:
        open_lab(page, bare_lab)  # attaches to its own chat kernel, which has the package
        page.locator(".jp-LauncherCard", has_text=DISPLAY_NAME).first.click(
            timeout=LAB_LOAD_TIMEOUT
        )
        page.locator(".jp-NotebookPanel .jp-Notebook .jp-Cell").first.wait_for(
            timeout=KERNEL_TIMEOUT
        )
        status = wait_status(page, "failed")
        text = status.inner_text()
        assert f'The kernel "{KERNEL_NAME}" does not have jupyter-deltachat.' in text
        assert "%pip install jupyter-deltachat" in text
        assert f"{bare_python} -m pip install jupyter-deltachat" in text
        assert "restart the kernel" in text
        assert not panel(page).get_by_role("button", name="Send", exact=True).is_enabled()
    finally:
        context.close()
