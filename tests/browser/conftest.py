"""Browser fixtures: a real ``jupyter lab`` on a free port with a fresh root dir and token,
and headless Debian Chromium driven by Python playwright (never ``playwright install``)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fresh_install import FreshInstall, install_as_the_readme_says
from lab_server import CHROMIUM, CHROMIUM_ARGS, LabServer, start_lab, stop_lab
from security_helpers import Beacon


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without chromium the browser tests skip, except in CI where that is a failure."""
    if Path(CHROMIUM).exists() or os.environ.get("CI"):
        return
    skip = pytest.mark.skip(reason=f"no chromium at {CHROMIUM} (apt-get install chromium)")
    for item in items:
        if "tests/browser" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def lab_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    server = start_lab(tmp_path_factory.mktemp("lab"))
    try:
        yield server
    finally:
        stop_lab(server)


@pytest.fixture(scope="session")
def readme_install(tmp_path_factory: pytest.TempPathFactory) -> FreshInstall:
    """The README run command's install, done once per session in a fresh venv from a clean
    copy: test_readme_run_command checks it, test_binder_check reuses its labextension."""
    if shutil.which("git") is None or not (Path(__file__).parents[2] / ".git").exists():
        pytest.skip("needs a git checkout to know which files are tracked")
    return install_as_the_readme_says(tmp_path_factory.mktemp("readme-install"))


@pytest.fixture(scope="module")
def beacon() -> Iterator[Beacon]:
    """A listener standing in for an attacker's host (tests/browser/security_helpers.py)."""
    listener = Beacon()
    try:
        yield listener
    finally:
        listener.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """One Chromium for the session. Sync playwright keeps an event loop running while it
    is open, which would break the asyncio fixtures (pytest-jupyter) of test modules run
    after it: tests/conftest.py orders the browser tests last, so none is."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"CI is set but there is no chromium at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture
def page(browser, lab_server: LabServer, request: pytest.FixtureRequest):
    """A fresh browser context on a reset JupyterLab, with the chat panel open."""
    from lab_helpers import open_lab, shut_down_kernels

    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=lab_server.url)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        open_lab(page, lab_server)
        yield page
    finally:
        if request.node.rep_call.failed if hasattr(request.node, "rep_call") else False:
            shot = Path(lab_server.root).parent / f"{request.node.name}.png"
            page.screenshot(path=str(shot))
        context.close()
        shut_down_kernels(lab_server)
        shutil.rmtree(lab_server.root / ".ipynb_checkpoints", ignore_errors=True)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report
