"""The server extension over real HTTP (pytest-jupyter), and the read path in a real kernel."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from tornado.httpclient import HTTPClientError

from jupyter_deltachat import __version__
from jupyter_deltachat.credentials import ENV_PATH, PROVIDER_SPECS

pytest_plugins = ("pytest_jupyter.jupyter_server",)

PROVIDER_ENV = sorted(
    {name for spec in PROVIDER_SPECS.values() for names in spec.env.values() for name in names}
)
SECRET = "sk-proj-TESTSECRETabcdefghijklmnop0123456789wxyz"


@pytest.fixture
def store_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in PROVIDER_ENV:
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "deltachat" / "credentials.json"
    monkeypatch.setenv(ENV_PATH, str(path))  # restored after the test; the server sets it too
    return path


@pytest.fixture
def edits_allowed() -> bool:
    return True


@pytest.fixture
def jp_server_config(store_path: Path, edits_allowed: bool) -> dict[str, Any]:
    return {
        "ServerApp": {"jpserver_extensions": {"jupyter_deltachat": True}},
        "DeltaChat": {"credentials_path": str(store_path), "allow_credential_edits": edits_allowed},
    }


async def test_status(jp_fetch: Any) -> None:
    response = await jp_fetch("deltachat", "api", "status")
    assert response.code == 200
    assert json.loads(response.body) == {"version": __version__}
