"""The README's run command installed as a new user would: a clean copy of the tracked files,
a brand-new virtualenv, the install part of the command exactly as written.

tests/browser/conftest.py makes it once per session (the ``readme_install`` fixture):
test_readme_run_command.py checks it, and test_binder_check.py hands the labextension it
built to binder/check.sh, so one run of the suite builds the TypeScript from a clean copy
once instead of twice. Only pip's and yarn's download caches are shared with this machine.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
INSTALL_TIMEOUT = 1500  # seconds; the build and every provider SDK, on a busy 2-core machine
BUILT_LABEXTENSION = Path("jupyter_deltachat", "labextension")  # the build's output, untracked


@dataclass(frozen=True)
class FreshInstall:
    clone: Path
    """The clean copy the command ran in (the labextension is built into it)."""
    venv: Path
    env: dict[str, str]
    """The environment of a user's shell with ``venv`` activated."""
    run_part: str
    """The command's ``jupyter lab`` part."""


def readme_command(marker: str) -> str:
    """The one-line shell command in the fenced block right after ``<!-- marker -->``."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(rf"<!-- {marker} -->\s*```[a-z]*\n(.*?)\n```", text, re.DOTALL)
    assert found, f"README.md has no fenced block after <!-- {marker} -->"
    lines = [line for line in found.group(1).splitlines() if line.strip()]
    assert len(lines) == 1, f"the {marker} is not one line: {lines}"
    return lines[0].strip()


def split_run_command(command: str) -> tuple[str, str]:
    """``INSTALL && jupyter lab`` -> (INSTALL, "jupyter lab")."""
    install, separator, run = command.rpartition("&&")
    assert separator and install.strip(), f"no install part in {command!r}"
    run = run.strip()
    assert shlex.split(run)[:2] == ["jupyter", "lab"], f"the run part is not jupyter lab: {run!r}"
    return install.strip(), run


def copy_tracked_files(destination: Path) -> None:
    """The repository as a fresh clone has it, made the one way the project makes it."""
    subprocess.run(
        ["bash", str(ROOT / "binder" / "check.sh"), "--copy-only", str(destination)],
        check=True,
        timeout=300,
    )


def fresh_venv_env(venv: Path, home: Path) -> dict[str, str]:
    """This process's environment as a user's shell in the activated venv would have it:
    nothing of the test venv, Jupyter's user directories empty."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("PYTHON", "JUPYTER", "VIRTUAL_ENV", "CONDA"))
    }
    node = shutil.which("node")
    path = [str(venv / "bin"), *([str(Path(node).parent)] if node else [])]
    path += [entry for entry in env.get("PATH", "").split(os.pathsep) if entry]
    # The test venv's bin directory must not supply jupyter or pip.
    path = [entry for entry in path if Path(entry).resolve() != Path(sys.prefix, "bin").resolve()]
    env.update(
        PATH=os.pathsep.join(dict.fromkeys(path)),
        VIRTUAL_ENV=str(venv),
        JUPYTER_CONFIG_DIR=str(home / "config"),
        JUPYTER_DATA_DIR=str(home / "data"),
    )
    return env


def run(command: str, cwd: Path, env: dict[str, str], timeout: float) -> str:
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", command],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, f"{command!r} failed:\n{result.stdout[-8000:]}"
    return result.stdout


def install_as_the_readme_says(base: Path) -> FreshInstall:
    """Copy the tracked files to ``base/clone``, make ``base/venv``, run the README run
    command's install part there; the labextension must be built by that install."""
    install, lab = split_run_command(readme_command("run-command"))
    clone = base / "clone"
    copy_tracked_files(clone)
    assert not (clone / BUILT_LABEXTENSION).exists()
    assert not (clone / "labextension" / "node_modules").exists()

    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    env = fresh_venv_env(venv, base / "home")
    run(install, cwd=clone, env=env, timeout=INSTALL_TIMEOUT)
    assert (clone / BUILT_LABEXTENSION / "static" / "style.js").is_file()
    return FreshInstall(clone, venv, env, lab)
