"""The README's run command, exactly as written, in a brand-new virtualenv.

A new user clones the repository, makes a virtualenv and pastes the README's command. This
test does the same: it reads the command under README.md's ``<!-- run-command -->`` marker,
runs its install part in a fresh venv from a clean copy of the tracked files (so nothing
untracked, built or cached in this checkout helps it), then starts its ``jupyter lab`` part
headless and checks that the server answers and both halves of the extension are enabled
and loaded. Only pip's and yarn's download caches are shared with this machine.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from lab_server import LabServer, start_lab, stop_lab

ROOT = Path(__file__).resolve().parents[2]
INSTALL_TIMEOUT = 1500  # seconds; the build and every provider SDK, on a busy 2-core machine


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


def listed_under(listing: str, directory: Path, entry: str) -> bool:
    """Whether ``jupyter ... extension list`` shows ``entry`` in the section of ``directory``
    (a line naming a directory starts each section; colours are stripped)."""
    section = None
    for line in re.sub(r"\x1b\[[0-9;]*m", "", listing).splitlines():
        header = line.removeprefix("Config dir: ")
        if header.startswith("/"):
            section = Path(header.rstrip(": "))
        elif section == directory and re.search(entry, line):
            return True
    return False


def page_config(server: LabServer) -> dict[str, object]:
    with urllib.request.urlopen(server.lab_url(), timeout=30) as response:
        html = response.read().decode()
    found = re.search(
        r'<script id="jupyter-config-data" type="application/json">(.*?)</script>', html, re.DOTALL
    )
    assert found, "JupyterLab's page has no jupyter-config-data"
    return json.loads(found.group(1))


@pytest.mark.timeout(INSTALL_TIMEOUT + 300)
def test_readme_run_command_works_in_a_fresh_venv(tmp_path: Path) -> None:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs a git checkout to know which files are tracked")
    install, lab = split_run_command(readme_command("run-command"))

    clone = tmp_path / "clone"
    copy_tracked_files(clone)
    assert not (clone / "jupyter_deltachat" / "labextension").exists()
    assert not (clone / "labextension" / "node_modules").exists()

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    env = fresh_venv_env(venv, tmp_path / "home")
    run(install, cwd=clone, env=env, timeout=INSTALL_TIMEOUT)

    package = json.loads((clone / "labextension" / "package.json").read_text())
    labextensions = run("jupyter labextension list 2>&1", cwd=tmp_path, env=env, timeout=120)
    assert listed_under(
        labextensions,
        venv / "share" / "jupyter" / "labextensions",
        rf"jupyter-deltachat v{re.escape(package['version'])} enabled .*OK",
    ), labextensions
    server_extensions = run(
        "jupyter server extension list 2>&1", cwd=tmp_path, env=env, timeout=120
    )
    assert listed_under(
        server_extensions, venv / "etc" / "jupyter", r"jupyter_deltachat enabled"
    ), server_extensions
    assert listed_under(server_extensions, venv / "etc" / "jupyter", r"jupyter_deltachat \S+ OK"), (
        server_extensions
    )

    # The README's `jupyter lab`, resolved on the venv's PATH as the user's shell would.
    (tmp_path / "lab").mkdir()
    server = start_lab(
        tmp_path / "lab", extra_env=env, command=["bash", "-c", f'exec {lab} "$@"', "jupyter-lab"]
    )
    try:
        assert Path(os.readlink(f"/proc/{server.process.pid}/exe")).name.startswith("python")
        with urllib.request.urlopen(f"{server.url}api/status?token={server.token}") as response:
            assert response.status == 200
        with urllib.request.urlopen(
            f"{server.url}deltachat/api/status?token={server.token}"
        ) as response:
            assert json.loads(response.read())["version"] == version_in(venv)
        config = page_config(server)
        federated = {item["name"]: item for item in config["federated_extensions"]}
        assert "jupyter-deltachat" in federated, sorted(federated)
        entry = federated["jupyter-deltachat"]["load"]
        with urllib.request.urlopen(
            f"{server.url}lab/extensions/jupyter-deltachat/{entry}?token={server.token}"
        ) as response:
            assert response.status == 200 and response.read()
    finally:
        stop_lab(server)
    assert server.process.returncode is not None


def version_in(venv: Path) -> str:
    return subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import jupyter_deltachat; print(jupyter_deltachat.__version__)",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def test_install_docs_give_the_readme_run_command() -> None:
    command = readme_command("run-command")
    for doc in ("docs/install.md", "docs/README.md"):
        assert command in (ROOT / doc).read_text(encoding="utf-8"), f"{doc} lacks {command!r}"
