"""Shared fixtures: one real ipykernel per test module, driven through jupyter_client."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from kernel_client import CommClient, KernelHarness


@pytest.fixture(scope="session", autouse=True)
def private_history(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Kernels and servers started by tests keep chat history in a temp file, never in the
    user's Jupyter data dir (tests that study history set their own path)."""
    saved = os.environ.get("JUPYTER_DELTACHAT_HISTORY")
    path = tmp_path_factory.mktemp("history") / "chats.sqlite3"
    os.environ["JUPYTER_DELTACHAT_HISTORY"] = str(path)
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("JUPYTER_DELTACHAT_HISTORY", None)
        else:
            os.environ["JUPYTER_DELTACHAT_HISTORY"] = saved


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KernelHarness]:
    """A real kernel with the package loaded; its credential store is an empty temp file."""
    store = tmp_path_factory.mktemp("credentials") / "credentials.json"
    harness = KernelHarness({"JUPYTER_DELTACHAT_CREDENTIALS": str(store)})
    try:
        yield harness
    finally:
        harness.shutdown()


@pytest.fixture
def client(kernel: KernelHarness) -> Iterator[CommClient]:
    """An open comm that has said hello; closed after the test."""
    comm = CommClient(kernel)
    comm.open()
    try:
        yield comm
    finally:
        comm.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    """Record the setup and teardown time of each test in the JUnit XML (properties
    ``setup_seconds`` and ``teardown_seconds``): benchmarks/suite_times.py shows from them
    how much of the suite's time goes to fixtures rather than to the tests themselves."""
    report = yield
    if report.when in ("setup", "teardown"):
        prop = (f"{report.when}_seconds", f"{report.duration:.3f}")
        item.user_properties.append(prop)
        if report.when == "teardown":
            report.user_properties.append(prop)
    return report


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run the browser tests last: Playwright's sync API keeps an event loop on the main
    thread, which nbclient (used by the magics and widget tests) cannot run beside."""
    items.sort(key=lambda item: "browser" in item.path.parts)
