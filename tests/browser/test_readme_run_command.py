"""The README's run command, exactly as written, in a brand-new virtualenv.

A new user clones the repository, makes a virtualenv and pastes the README's command. This
test does the same: it reads the command under README.md's ``<!-- run-command -->`` marker,
runs its install part in a fresh venv from a clean copy of the tracked files (so nothing
untracked, built or cached in this checkout helps it: tests/browser/fresh_install.py, once
per session, shared with the Binder check), then starts its ``jupyter lab`` part
headless and checks that the server answers and both halves of the extension are enabled
and loaded. Only pip's and yarn's download caches are shared with this machine.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import urllib.request
from pathlib import Path

import pytest
from fresh_install import INSTALL_TIMEOUT, ROOT, FreshInstall, readme_command, run
from lab_server import LabServer, start_lab, stop_lab


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
def test_readme_run_command_works_in_a_fresh_venv(
    readme_install: FreshInstall, tmp_path: Path
) -> None:
    """The install part ran in ``readme_install`` (tests/browser/fresh_install.py)."""
    venv, env, lab = readme_install.venv, readme_install.env, readme_install.run_part
    package = json.loads((readme_install.clone / "labextension" / "package.json").read_text())
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
