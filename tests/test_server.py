"""The server extension over real HTTP (pytest-jupyter), and the read path in a real kernel."""

from __future__ import annotations

import ast
import asyncio
import json
import logging
import os
import queue
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from kernel_client import KernelHarness

from jupyter_deltachat import __version__
from jupyter_deltachat.credentials import ENV_PATH, CredentialStore
from jupyter_deltachat.models.spec import env_names

pytest_plugins = ("pytest_jupyter.jupyter_server",)

SECRET = "sk-proj-TESTSECRETabcdefghijklmnop0123456789wxyz"


@pytest.fixture
def store_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in env_names():
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "deltachat" / "credentials.json"
    monkeypatch.setenv(ENV_PATH, str(path))  # restored after the test; the server sets it too
    return path


@pytest.fixture(autouse=True)
def no_secret_in_logs(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Every test: nothing logged, at any level, holds a secret used in this module."""
    caplog.set_level(logging.DEBUG)
    yield
    for secret in (SECRET, KERNEL_SECRET):
        assert secret not in caplog.text


@pytest.fixture
def config_section() -> str:
    return "DeltaChat"


@pytest.fixture
def edits_allowed() -> bool:
    return True


@pytest.fixture
def jp_server_config(store_path: Path, edits_allowed: bool, config_section: str) -> dict[str, Any]:
    return {
        "ServerApp": {"jpserver_extensions": {"jupyter_deltachat": True}},
        config_section: {
            "credentials_path": str(store_path),
            "allow_credential_edits": edits_allowed,
        },
    }


async def test_status(jp_fetch: Any) -> None:
    response = await jp_fetch("deltachat", "api", "status")
    assert response.code == 200
    assert json.loads(response.body) == {"version": __version__}


async def fetch(jp_fetch: Any, method: str, *parts: str, **kwargs: Any) -> Any:
    """The response whatever its status (tornado raises for non-2xx otherwise)."""
    body = kwargs.pop("body", None)
    if method == "PUT" and body is None:
        body = b""
    return await jp_fetch(
        "deltachat", "api", *parts, method=method, body=body, raise_error=False, **kwargs
    )


def message_of(response: Any) -> str:
    assert response.headers["Content-Type"] == "application/json"
    data = json.loads(response.body)
    assert list(data) == ["message"]
    return data["message"]


@pytest.mark.parametrize(
    ("method", "parts"),
    [
        ("GET", ("status",)),
        ("GET", ("providers",)),
        ("PUT", ("credentials", "openai")),
        ("DELETE", ("credentials", "openai")),
    ],
)
async def test_no_token_is_403(jp_fetch: Any, method: str, parts: tuple[str, ...]) -> None:
    body = json.dumps({"api_key": SECRET}) if method == "PUT" else None
    response = await fetch(jp_fetch, method, *parts, body=body, headers={"Authorization": ""})
    assert response.code == 403
    assert SECRET.encode() not in response.body


async def test_browser_requests_need_the_xsrf_token(
    jp_fetch: Any, jp_serverapp: Any, store_path: Path
) -> None:
    """A cookie-authenticated PUT (what a browser sends) without the XSRF token is refused."""
    token = jp_serverapp.identity_provider.token
    login = await jp_fetch(
        "tree",
        params={"token": token},
        headers={"Authorization": ""},
        follow_redirects=False,
        raise_error=False,
    )
    cookies = {
        cookie.split("=", 1)[0]: cookie.split(";", 1)[0]
        for cookie in login.headers.get_list("Set-Cookie")
    }
    xsrf_value = cookies["_xsrf"].split("=", 1)[1]
    login_cookies = "; ".join(value for name, value in cookies.items() if name != "_xsrf")
    body = json.dumps({"api_key": SECRET})
    without = await fetch(
        jp_fetch,
        "PUT",
        "credentials",
        "openai",
        body=body,
        headers={"Authorization": "", "Cookie": login_cookies},
    )
    assert without.code == 403
    assert not store_path.exists()
    with_token = await fetch(
        jp_fetch,
        "PUT",
        "credentials",
        "openai",
        body=body,
        headers={
            "Authorization": "",
            "Cookie": f"{login_cookies}; {cookies['_xsrf']}",
            "X-XSRFToken": xsrf_value,
        },
    )
    assert with_token.code == 200
    assert json.loads(store_path.read_text())["providers"]["openai"]["api_key"] == SECRET


async def test_providers_lists_every_provider_unconfigured(jp_fetch: Any) -> None:
    response = await fetch(jp_fetch, "GET", "providers")
    assert response.code == 200
    data = json.loads(response.body)
    assert data["editable"] is True
    assert [entry["id"] for entry in data["providers"]] == [
        "openai",
        "anthropic",
        "google",
        "groq",
        "bedrock",
        "ollama",
    ]
    openai = data["providers"][0]
    assert openai == {
        "id": "openai",
        "label": "OpenAI",
        "fields": [
            {
                "name": "api_key",
                "label": "API key",
                "secret": True,
                "required": False,
                "env": ["OPENAI_API_KEY"],
                "source": None,
            },
            {
                "name": "base_url",
                "label": "Base URL",
                "secret": False,
                "required": False,
                "env": ["OPENAI_BASE_URL"],
                "source": None,
            },
        ],
        "configured": False,
        "source": None,
        "hint": None,
    }
    bedrock = data["providers"][4]
    assert [field["name"] for field in bedrock["fields"]] == [
        "region",
        "access_key_id",
        "secret_access_key",
        "session_token",
        "profile",
    ]
    assert all(not entry["configured"] for entry in data["providers"])


async def test_put_stores_the_key_and_get_never_returns_it(jp_fetch: Any, store_path: Path) -> None:
    response = await fetch(
        jp_fetch,
        "PUT",
        "credentials",
        "openai",
        body=json.dumps({"api_key": SECRET, "base_url": "https://proxy.example/v1"}),
    )
    assert (response.code, json.loads(response.body)) == (200, {"key_removed": False})
    assert json.loads(store_path.read_text()) == {
        "version": 1,
        "providers": {"openai": {"api_key": SECRET, "base_url": "https://proxy.example/v1"}},
    }
    assert os.stat(store_path).st_mode & 0o777 == 0o600
    assert os.stat(store_path.parent).st_mode & 0o777 == 0o700

    response = await fetch(jp_fetch, "GET", "providers")
    assert response.code == 200
    for secret_part in (SECRET, SECRET[:12], SECRET[4:-4], SECRET[-12:]):
        assert secret_part.encode() not in response.body
    openai = json.loads(response.body)["providers"][0]
    assert (openai["configured"], openai["source"], openai["hint"]) == (True, "store", "…wxyz")
    assert [field["source"] for field in openai["fields"]] == ["store", "store"]


async def test_put_merges_fields_and_empty_string_removes_one(
    jp_fetch: Any, store_path: Path
) -> None:
    for body in (
        {"api_key": SECRET, "base_url": "http://127.0.0.1:8080/v1"},
        {"base_url": ""},
        {"api_key": SECRET + "2"},
    ):
        response = await fetch(jp_fetch, "PUT", "credentials", "openai", body=json.dumps(body))
        assert response.code == 200
    stored = json.loads(store_path.read_text())["providers"]
    assert stored == {"openai": {"api_key": SECRET + "2"}}


async def put_openai(jp_fetch: Any, body: dict[str, str]) -> tuple[int, Any]:
    response = await fetch(jp_fetch, "PUT", "credentials", "openai", body=json.dumps(body))
    return response.code, json.loads(response.body)


async def test_changing_base_url_without_the_key_removes_the_stored_key(
    jp_fetch: Any, store_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    first = {"api_key": SECRET, "base_url": "https://proxy.example/v1"}
    assert await put_openai(jp_fetch, first) == (200, {"key_removed": False})
    assert await put_openai(jp_fetch, {"base_url": "https://proxy.example/v1"}) == (
        200,
        {"key_removed": False},
    )
    assert await put_openai(jp_fetch, {"base_url": "https://attacker.example/v1"}) == (
        200,
        {"key_removed": True},
    )
    stored = json.loads(store_path.read_text())["providers"]
    assert stored == {"openai": {"base_url": "https://attacker.example/v1"}}
    response = await fetch(jp_fetch, "GET", "providers")
    openai = json.loads(response.body)["providers"][0]
    assert (openai["configured"], openai["hint"]) == (False, None)

    again = {"api_key": SECRET, "base_url": "https://attacker.example/v1"}
    assert await put_openai(jp_fetch, again) == (200, {"key_removed": False})
    assert await put_openai(jp_fetch, {"base_url": ""}) == (200, {"key_removed": True})
    assert not json.loads(store_path.read_text())["providers"]
    response = await fetch(jp_fetch, "DELETE", "credentials", "openai")
    assert response.code == 204

    changes = [
        record.getMessage()
        for record in caplog.records
        if record.getMessage().startswith("jupyter_deltachat: ")
    ]
    assert changes == [
        "jupyter_deltachat: openai credentials changed: set api_key, base_url",
        "jupyter_deltachat: openai credentials changed: set base_url",
        "jupyter_deltachat: openai credentials changed: set base_url; "
        "removed api_key (bound to the previous base_url)",
        "jupyter_deltachat: openai credentials changed: set api_key, base_url",
        "jupyter_deltachat: openai credentials changed: removed base_url, "
        "api_key (bound to the previous base_url)",
        "jupyter_deltachat: openai credentials changed: removed all",
    ]
    assert "attacker.example" not in caplog.text
    assert "proxy.example" not in caplog.text


async def test_base_url_change_is_refused_while_the_key_comes_from_the_environment(
    jp_fetch: Any, store_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    response = await fetch(
        jp_fetch,
        "PUT",
        "credentials",
        "openai",
        body=json.dumps({"base_url": "https://attacker.example/v1"}),
    )
    assert (response.code, message_of(response)) == (
        409,
        "the OpenAI key comes from the server's environment (OPENAI_API_KEY), so a base URL "
        "set here would send it to another host; set OPENAI_BASE_URL in the server's "
        "environment instead",
    )
    assert not store_path.exists()
    monkeypatch.setenv("OPENAI_BASE_URL", "https://proxy.example/v1")
    assert await put_openai(jp_fetch, {"base_url": "https://attacker.example/v1"}) == (
        200,
        {"key_removed": False},
    )


async def test_key_from_environment_shows_source_env_and_short_key_no_hint(
    jp_fetch: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-env-key-0123456789ABCD")
    monkeypatch.setenv("GROQ_API_KEY", "short-key-12")
    response = await fetch(jp_fetch, "GET", "providers")
    assert b"sk-ant-env-key" not in response.body
    assert b"short-key-12" not in response.body
    entries = {entry["id"]: entry for entry in json.loads(response.body)["providers"]}
    anthropic, groq = entries["anthropic"], entries["groq"]
    assert (anthropic["configured"], anthropic["source"], anthropic["hint"]) == (
        True,
        "env",
        "…ABCD",
    )
    assert (groq["configured"], groq["source"], groq["hint"]) == (True, "env", None)


async def test_bedrock_and_ollama_configuration(jp_fetch: Any) -> None:
    bedrock_body = {
        "region": "eu-west-1",
        "access_key_id": "AKIAIOSFODNN7EXAMPLE",
        "secret_access_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    }
    for provider, body in (
        ("bedrock", bedrock_body),
        ("ollama", {"base_url": "http://gpu:11434/v1"}),
    ):
        response = await fetch(jp_fetch, "PUT", "credentials", provider, body=json.dumps(body))
        assert response.code == 200
    response = await fetch(jp_fetch, "GET", "providers")
    assert b"wJalrXUtnFEMI" not in response.body
    assert b"AKIAIOSFODNN7EXAMPLE" not in response.body
    entries = {entry["id"]: entry for entry in json.loads(response.body)["providers"]}
    assert (entries["bedrock"]["configured"], entries["bedrock"]["hint"]) == (True, "…MPLE")
    assert (entries["ollama"]["configured"], entries["ollama"]["source"]) == (True, "store")
    assert entries["ollama"]["hint"] is None


BAD_BODIES = [
    (
        "invalid JSON",
        "openai",
        b'{"api_key": ',
        400,
        "request body is not valid JSON: Expecting value: line 1 column 13",
    ),
    ("not UTF-8", "openai", b'{"api_key": "\xff\xfe"}', 400, "request body is not valid UTF-8"),
    (
        "array",
        "openai",
        b"[]",
        400,
        "request body must be a JSON object of openai fields, not an array",
    ),
    (
        "unknown provider",
        "openia",
        json.dumps({"api_key": SECRET}).encode(),
        400,
        "unknown provider; known providers: openai, anthropic, google, groq, bedrock, ollama",
    ),
    (
        "unknown field",
        "openai",
        json.dumps({"api_key": SECRET, SECRET: "x"}).encode(),
        400,
        "unknown field in request body; openai takes only: api_key, base_url",
    ),
    (
        "field of another provider",
        "google",
        json.dumps({"base_url": "http://x"}).encode(),
        400,
        "unknown field in request body; google takes only: api_key",
    ),
    (
        "number",
        "openai",
        b'{"api_key": 12345678901234567890}',
        400,
        "field 'api_key' must be a string, not a number",
    ),
    ("null", "openai", b'{"api_key": null}', 400, "field 'api_key' must be a string, not null"),
    (
        "boolean",
        "openai",
        b'{"api_key": true}',
        400,
        "field 'api_key' must be a string, not a boolean",
    ),
    (
        "list",
        "openai",
        json.dumps({"api_key": [SECRET]}).encode(),
        400,
        "field 'api_key' must be a string, not an array",
    ),
    (
        "newline",
        "openai",
        json.dumps({"api_key": SECRET + "\n"}).encode(),
        400,
        "field 'api_key' contains a control character (newline, tab, ...)",
    ),
    (
        "tab",
        "openai",
        json.dumps({"api_key": "\t" + SECRET}).encode(),
        400,
        "field 'api_key' contains a control character (newline, tab, ...)",
    ),
    (
        "NUL",
        "openai",
        json.dumps({"api_key": SECRET + "\x00"}).encode(),
        400,
        "field 'api_key' contains a control character (newline, tab, ...)",
    ),
    (
        "DEL",
        "openai",
        json.dumps({"api_key": SECRET + "\x7f"}).encode(),
        400,
        "field 'api_key' contains a control character (newline, tab, ...)",
    ),
    (
        "ftp URL",
        "openai",
        json.dumps({"base_url": "ftp://example.com"}).encode(),
        400,
        "field 'base_url' must be an http:// or https:// URL with a host",
    ),
    (
        "URL without host",
        "openai",
        json.dumps({"base_url": "http://"}).encode(),
        400,
        "field 'base_url' must be an http:// or https:// URL with a host",
    ),
    (
        "not a URL",
        "ollama",
        json.dumps({"base_url": SECRET}).encode(),
        400,
        "field 'base_url' must be an http:// or https:// URL with a host",
    ),
    (
        "bad port",
        "groq",
        json.dumps({"base_url": "http://host:99999"}).encode(),
        400,
        "field 'base_url' must be an http:// or https:// URL with a host",
    ),
    (
        "17 KiB",
        "openai",
        b'{"api_key": "' + b"x" * (17 * 1024) + b'"}',
        413,
        "request body is 17423 bytes; the limit is 16384 bytes",
    ),
]


@pytest.mark.parametrize(
    ("provider", "body", "status", "message"),
    [case[1:] for case in BAD_BODIES],
    ids=[case[0] for case in BAD_BODIES],
)
async def test_bad_bodies(
    jp_fetch: Any, store_path: Path, provider: str, body: bytes, status: int, message: str
) -> None:
    response = await fetch(jp_fetch, "PUT", "credentials", provider, body=body)
    assert (response.code, message_of(response)) == (status, message)
    assert SECRET.encode() not in response.body
    assert not store_path.exists()


async def test_delete_is_idempotent(jp_fetch: Any, store_path: Path) -> None:
    response = await fetch(
        jp_fetch, "PUT", "credentials", "groq", body=json.dumps({"api_key": SECRET})
    )
    assert response.code == 200
    for _ in range(2):
        response = await fetch(jp_fetch, "DELETE", "credentials", "groq")
        assert (response.code, response.body) == (204, b"")
    assert json.loads(store_path.read_text())["providers"] == {}
    response = await fetch(jp_fetch, "DELETE", "credentials", "nope")
    assert response.code == 400
    assert message_of(response).startswith("unknown provider; known providers: openai")


@pytest.mark.parametrize("config_section", ["DeltaChat", "DeltaChatApp"])
@pytest.mark.parametrize("edits_allowed", [False])
async def test_edits_disabled_answers_403(jp_fetch: Any, store_path: Path) -> None:
    expected = (
        "credential edits are disabled on this server (c.DeltaChat.allow_credential_edits = "
        "False); keys come from the server's environment"
    )
    put = await fetch(
        jp_fetch, "PUT", "credentials", "openai", body=json.dumps({"api_key": SECRET})
    )
    delete = await fetch(jp_fetch, "DELETE", "credentials", "openai")
    assert (put.code, message_of(put)) == (403, expected)
    assert (delete.code, message_of(delete)) == (403, expected)
    assert not store_path.exists()
    listing = await fetch(jp_fetch, "GET", "providers")
    assert listing.code == 200
    assert json.loads(listing.body)["editable"] is False


async def test_corrupt_store_is_reported_and_left_untouched(
    jp_fetch: Any, store_path: Path
) -> None:
    store_path.parent.mkdir(mode=0o700)
    corrupt = b'{"version": 1, "providers": {"openai": {"api_key": "' + SECRET.encode()
    store_path.write_bytes(corrupt)
    listing = await fetch(jp_fetch, "GET", "providers")
    put = await fetch(
        jp_fetch, "PUT", "credentials", "groq", body=json.dumps({"api_key": "k" * 20})
    )
    delete = await fetch(jp_fetch, "DELETE", "credentials", "openai")
    for response in (listing, put, delete):
        assert response.code == 500
        assert message_of(response) == (
            f"the credential store {store_path} is corrupt (invalid JSON: Unterminated string "
            "starting at: line 1 column 52); fix or remove it"
        )
        assert SECRET.encode() not in response.body
    assert store_path.read_bytes() == corrupt


class FakeOpenAI(ThreadingHTTPServer):
    """A local OpenAI-compatible endpoint: records each Authorization header; model "fail"
    gets a 401 that echoes the key, as real providers' error texts sometimes do."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), FakeOpenAIHandler)
        self.authorizations: queue.Queue[str] = queue.Queue()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


class FakeOpenAIHandler(BaseHTTPRequestHandler):
    server: FakeOpenAI

    def do_POST(self) -> None:
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        authorization = self.headers.get("Authorization", "")
        self.server.authorizations.put(authorization)
        if request["model"] == "fail":
            key = authorization.removeprefix("Bearer ")
            error = {"error": {"message": f"Incorrect API key provided: {key}.", "type": "auth"}}
            return self.reply(401, "application/json", json.dumps(error).encode())
        if self.path.endswith("/responses"):
            return self.reply(200, "text/event-stream", responses_stream(request["model"]))
        chunks = [{"role": "assistant", "content": "Hello"}, {"content": " there"}, {}]
        events = [
            {
                "id": "chatcmpl-1",
                "object": "chat.completion.chunk",
                "created": 0,
                "model": request["model"],
                "choices": [
                    {"index": 0, "delta": delta, "finish_reason": None if delta else "stop"}
                ],
            }
            for delta in chunks
        ]
        body = "".join(f"data: {json.dumps(event)}\n\n" for event in events) + "data: [DONE]\n\n"
        self.reply(200, "text/event-stream", body.encode())

    def reply(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def responses_stream(model: str) -> bytes:
    """The Responses API's SSE events for the reply "Hello there"."""
    response = {
        "id": "resp_1",
        "object": "response",
        "created_at": 0,
        "status": "completed",
        "model": model,
        "output": [],
        "error": None,
        "incomplete_details": None,
        "usage": {
            "input_tokens": 1,
            "output_tokens": 2,
            "total_tokens": 3,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens_details": {"reasoning_tokens": 0},
        },
    }
    events = [{"type": "response.created", "response": response | {"status": "in_progress"}}]
    events += [
        {
            "type": "response.output_text.delta",
            "item_id": "msg_1",
            "output_index": 0,
            "content_index": 0,
            "delta": text,
            "logprobs": [],
        }
        for text in ("Hello", " there")
    ]
    events.append({"type": "response.completed", "response": response})
    return "".join(
        f"event: {event['type']}\ndata: {json.dumps(event | {'sequence_number': number})}\n\n"
        for number, event in enumerate(events)
    ).encode()


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture
def kernel(store_path: Path, fake_openai: FakeOpenAI) -> Iterator[KernelHarness]:
    """A kernel started before any key exists, reading the server's store file."""
    harness = KernelHarness({ENV_PATH: str(store_path)})
    try:
        harness.execute(KERNEL_SETUP.format(base_url=fake_openai.base_url), silent=True)
        yield harness
    finally:
        harness.shutdown()


KERNEL_SETUP = """
import openai as _openai
from jupyter_deltachat.credentials import default_store as _default_store
from jupyter_deltachat.errors import AuthError as _AuthError

def _dc_chat(model="gpt-4o"):
    key = _default_store().resolve("openai").get("api_key", "no-key")
    client = _openai.OpenAI(api_key=key, base_url={base_url!r}, max_retries=0)
    stream = client.chat.completions.create(
        model=model, messages=[{{"role": "user", "content": "hi"}}], stream=True
    )
    return "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)

def _dc_failure():
    try:
        _dc_chat("fail")
    except _openai.AuthenticationError as error:
        key = _default_store().resolve("openai")["api_key"]
        return key in str(error), _AuthError(str(error)).to_json()["message"]
"""
KERNEL_SECRET = "dc-test-not-key-shaped-0123456789-QWERTY"  # no pattern matches it


async def in_thread(function: Any, *args: Any) -> Any:
    """Blocking kernel calls run off the event loop that serves the REST requests (in a
    fresh context: jupyter_core's run_sync would otherwise find this running loop)."""
    return await asyncio.get_running_loop().run_in_executor(None, function, *args)


async def test_key_set_through_rest_reaches_a_running_kernel(
    jp_fetch: Any, kernel: KernelHarness, fake_openai: FakeOpenAI
) -> None:
    assert await in_thread(kernel.evaluate, "_default_store().status('openai')") == "(False, None)"

    response = await fetch(
        jp_fetch, "PUT", "credentials", "openai", body=json.dumps({"api_key": KERNEL_SECRET})
    )
    assert response.code == 200

    assert await in_thread(kernel.evaluate, "_default_store().status('openai')") == (
        "(True, 'store')"
    )
    assert await in_thread(kernel.evaluate, "_dc_chat()") == "'Hello there'"
    assert fake_openai.authorizations.get(timeout=10) == f"Bearer {KERNEL_SECRET}"

    leaked, message = ast.literal_eval(await in_thread(kernel.evaluate, "_dc_failure()"))
    assert fake_openai.authorizations.get(timeout=10) == f"Bearer {KERNEL_SECRET}"
    assert leaked is True  # the SDK's own error text carried the key...
    assert KERNEL_SECRET not in message  # ...and the protocol error does not
    assert "Incorrect API key provided: [redacted]." in message
    assert KERNEL_SECRET not in kernel.stderr_text()


class ExplodingStore(CredentialStore):
    """A store whose write fails with a text holding the key, like a careless library."""

    def update(self, provider: str, changes: Any) -> None:
        raise RuntimeError(f"could not save {changes['api_key']}")


async def test_unexpected_error_is_generic_and_logged_redacted(
    jp_fetch: Any, jp_serverapp: Any, store_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    jp_serverapp.web_app.settings["jupyter_deltachat_store"] = ExplodingStore(store_path)
    response = await fetch(
        jp_fetch, "PUT", "credentials", "openai", body=json.dumps({"api_key": KERNEL_SECRET})
    )
    assert (response.code, message_of(response)) == (
        500,
        "internal error in jupyter_deltachat; see the server log",
    )
    assert "RuntimeError: could not save [redacted]" in caplog.text


BUILT_IN_MODEL_CALL = """
import jupyter_deltachat as _jd
from jupyter_deltachat.errors import DeltaChatError as _DeltaChatError

def _dc_builtin(model_id):
    model = _jd.resolve(model_id)
    try:
        deltas = model([_jd.Message("user", "hi")], _jd.ChatConfig())
        return "".join(delta for delta in deltas if isinstance(delta, str))
    except _DeltaChatError as error:
        return error.to_json()
"""


async def test_built_in_openai_model_uses_key_and_url_set_through_rest(
    jp_fetch: Any, kernel: KernelHarness, fake_openai: FakeOpenAI
) -> None:
    """The same read path through ``jupyter_deltachat.resolve("openai:...")``."""
    await in_thread(kernel.execute, BUILT_IN_MODEL_CALL)
    body = {"api_key": KERNEL_SECRET, "base_url": fake_openai.base_url}
    response = await fetch(jp_fetch, "PUT", "credentials", "openai", body=json.dumps(body))
    assert response.code == 200

    assert await in_thread(kernel.evaluate, "_dc_builtin('openai:gpt-4o')") == "'Hello there'"
    assert fake_openai.authorizations.get(timeout=10) == f"Bearer {KERNEL_SECRET}"

    error = ast.literal_eval(await in_thread(kernel.evaluate, "_dc_builtin('openai:fail')"))
    assert fake_openai.authorizations.get(timeout=10) == f"Bearer {KERNEL_SECRET}"
    assert (error["code"], error["status"]) == ("auth", 401)
    assert KERNEL_SECRET not in repr(error)
    assert KERNEL_SECRET not in kernel.stderr_text()
