"""binder/check.sh: Binder's build and launch reproduced without Docker, end to end.

It renders the Dockerfile with ``repo2docker --no-build``, builds a fresh venv the way that
Dockerfile says, starts JupyterLab as Binder would, drives headless Chromium on the README
badge's page and runs the examples with nbclient (see the script's header). The browser
work happens in the script's own processes, so this module starts no playwright here.

The TypeScript build from a clean copy is the README install's (``readme_install``, which
test_readme_run_command checks): the check takes the labextension it built rather than
building it a second time in the same run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fresh_install import BUILT_LABEXTENSION, INSTALL_TIMEOUT, FreshInstall

ROOT = Path(__file__).resolve().parents[2]
CHECK_TIMEOUT = 900  # seconds; about 2-3 minutes on a 2-core machine


@pytest.mark.timeout(INSTALL_TIMEOUT + CHECK_TIMEOUT + 60)  # readme_install may run first
def test_binder_check_passes(readme_install: FreshInstall, tmp_path: Path) -> None:
    missing = [tool for tool in ("git", "node", "curl") if shutil.which(tool) is None]
    if missing:
        message = f"binder/check.sh needs {', '.join(missing)}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    env = dict(
        os.environ,
        BINDER_CHECK_PYTHON=sys.executable,
        BINDER_CHECK_LABEXTENSION=str(readme_install.clone / BUILT_LABEXTENSION),
        TMPDIR=str(tmp_path),
    )
    started = time.monotonic()
    result = subprocess.run(
        ["bash", str(ROOT / "binder" / "check.sh")],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=CHECK_TIMEOUT,
    )
    elapsed = time.monotonic() - started
    output = result.stdout
    assert result.returncode == 0, (
        f"binder/check.sh failed after {elapsed:.0f} s:\n{output[-12000:]}"
    )
    for milestone in (
        "using the labextension built from this tree at",
        "Building conda environment for python=",
        'RUN ${KERNEL_PYTHON_PREFIX}/bin/pip install --no-cache-dir -r "binder/requirements.txt"',
        "RUN ./binder/postBuild",
        "the demo reply finished and rendered",
        "the notebook's 'reverse' model answered in the sidebar",
        "every cell of the notebook ran without errors",
        "magics.ipynb: ",
        "providers.ipynb: ",
        "widget.ipynb: ",
        "Binder check passed",
    ):
        assert milestone in output, f"{milestone!r} missing from:\n{output[-6000:]}"
    assert "welcome.ipynb: " not in output  # run once, in JupyterLab, not again by nbclient
    # Everything it made is gone: only what pytest's tmp_path holds remains, and it is empty.
    assert list(tmp_path.iterdir()) == []
    print(f"binder/check.sh passed in {elapsed:.0f} s; its steps:")
    print("\n".join(line for line in output.splitlines() if line.startswith("==> [binder check")))
