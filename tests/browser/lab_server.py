"""Starting and stopping a real ``jupyter lab`` for browser tests and the render benchmark."""

from __future__ import annotations

import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

CHROMIUM = os.environ.get("DELTACHAT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]
PORTS = range(18800, 18900)
SERVER_START_TIMEOUT = 90.0
PORT_ATTEMPTS = 3


def free_port() -> int:
    """A free port from ``PORTS``, tried in random order: several test runs start servers at
    once, and the same first free port would go to all of them (one wins the bind)."""
    for port in random.sample(PORTS, len(PORTS)):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 18800-18899")


@dataclass
class LabServer:
    url: str
    token: str
    root: Path
    credentials: Path
    process: subprocess.Popen[bytes]
    log: Path

    def lab_url(self, query: str = "reset") -> str:
        return f"{self.url}lab?{query}&token={self.token}"

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


class PortTaken(RuntimeError):
    """Another process bound the port between ``free_port`` and the server's own bind."""


def _wait_until_up(server: LabServer) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            log = server.log_text()
            if "could not be started because port" in log:
                raise PortTaken(log[-400:])
            raise RuntimeError(f"jupyter lab exited:\n{log[-4000:]}")
        try:
            with urllib.request.urlopen(f"{server.url}api/status?token={server.token}", timeout=2):
                return
        except OSError:
            time.sleep(0.2)  # polling a server that is starting; not waiting for a result
    raise RuntimeError(f"jupyter lab did not answer in time:\n{server.log_text()[-4000:]}")


def start_lab(
    base: Path,
    extra_env: dict[str, str] | None = None,
    command: Sequence[str] = (sys.executable, "-m", "jupyterlab"),
) -> LabServer:
    """A real JupyterLab with the extension, its own root dir, settings, token and key file.

    ``command`` starts JupyterLab (the options for a headless test server are appended); by
    default the one installed beside the tests."""
    root = base / "root"
    root.mkdir(exist_ok=True)  # a server started again on the same base keeps its files
    credentials = base / "credentials.json"
    env = dict(os.environ)
    for name in list(env):
        if name.endswith("_API_KEY") or name.startswith("AWS_"):
            env.pop(name)
    env.update(
        JUPYTER_DELTACHAT_CREDENTIALS=str(credentials),
        JUPYTERLAB_SETTINGS_DIR=str(base / "settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(base / "workspaces"),
        JUPYTER_RUNTIME_DIR=str(base / "runtime"),
        PYTHONUNBUFFERED="1",
    )
    env.update(extra_env or {})
    news = base / "settings" / "@jupyterlab" / "apputils-extension"
    news.mkdir(parents=True, exist_ok=True)
    (news / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
    token = secrets.token_hex(16)
    for attempt in range(1, PORT_ATTEMPTS + 1):
        try:
            return _start_lab(command, root, env, token, credentials, base / "lab.log")
        except PortTaken:
            if attempt == PORT_ATTEMPTS:
                raise
    raise AssertionError("unreachable")


def _start_lab(
    command: Sequence[str],
    root: Path,
    env: dict[str, str],
    token: str,
    credentials: Path,
    log: Path,
) -> LabServer:
    port = free_port()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                *command,
                "--no-browser",
                "--allow-root",
                f"--port={port}",
                "--ServerApp.port_retries=0",
                "--ServerApp.ip=127.0.0.1",
                f"--IdentityProvider.token={token}",
                f"--ServerApp.root_dir={root}",
                "--LabApp.news_url=",
                "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            ],
            cwd=root,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = LabServer(f"http://127.0.0.1:{port}/", token, root, credentials, process, log)
    try:
        _wait_until_up(server)
    except BaseException:
        stop_lab(server)
        raise
    return server


def stop_lab(server: LabServer) -> None:
    """Stop the server we started, by its PID (its kernels go with it)."""
    process = server.process
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
