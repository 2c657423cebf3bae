"""The credential store on a real filesystem: modes, resolution, locking, corruption."""

from __future__ import annotations

import json
import multiprocessing
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from jupyter_deltachat.credentials import (
    ENV_PATH,
    CredentialStore,
    CredentialStoreError,
    UnknownProviderError,
    default_store,
)
from jupyter_deltachat.models.spec import PROVIDERS, env_names
from jupyter_deltachat.redact import MASK, redact


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in [*env_names(), ENV_PATH]:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "data"))


@pytest.fixture
def store(tmp_path: Path) -> CredentialStore:
    return CredentialStore(tmp_path / "store" / "credentials.json")


@pytest.fixture
def loose_umask() -> Iterator[None]:
    """Modes must not depend on the umask: run with the loosest one."""
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_default_path_and_env_override_read_at_call_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert default_store().path == tmp_path / "data" / "jupyter_deltachat" / "credentials.json"
    monkeypatch.setenv(ENV_PATH, str(tmp_path / "elsewhere.json"))
    assert default_store().path == tmp_path / "elsewhere.json"


@pytest.mark.usefixtures("loose_umask")
def test_modes_are_exact_and_corrected_on_every_write(tmp_path: Path) -> None:
    store = default_store()
    store.update("openai", {"api_key": "sk-first-0123456789abcdef"})
    directory = tmp_path / "data" / "jupyter_deltachat"
    assert (mode(directory), mode(store.path), mode(store.lock_path)) == (0o700, 0o600, 0o600)

    os.chmod(directory, 0o777)
    os.chmod(store.path, 0o666)
    store.update("groq", {"api_key": "gsk_second0123456789abcdef"})
    assert (mode(directory), mode(store.path)) == (0o700, 0o600)

    os.chmod(directory, 0o755)
    os.chmod(store.path, 0o644)
    store.delete("groq")
    assert (mode(directory), mode(store.path)) == (0o700, 0o600)
    assert sorted(os.listdir(directory)) == ["credentials.json", "credentials.json.lock"]


@pytest.mark.usefixtures("loose_umask")
def test_shared_sticky_directory_is_left_alone(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)
    store = CredentialStore(shared / "credentials.json")
    store.update("openai", {"api_key": "sk-shared-0123456789abcdef"})
    assert (mode(shared), mode(store.path)) == (0o1777, 0o600)


def test_get_set_update_delete(store: CredentialStore) -> None:
    assert store.get("openai") == {}
    store.delete("openai")
    assert not store.path.exists()  # deleting nothing creates nothing

    store.set("openai", {"api_key": "k1-0123456789", "base_url": "http://a/v1"})
    store.update("openai", {"api_key": "k2-0123456789"})
    assert store.get("openai") == {"api_key": "k2-0123456789", "base_url": "http://a/v1"}
    assert store.update("openai", {"api_key": "k2-0123456789", "base_url": ""}) == []
    assert store.get("openai") == {"api_key": "k2-0123456789"}
    store.set("openai", {"base_url": "http://b/v1"})
    assert store.get("openai") == {"base_url": "http://b/v1"}
    store.set("groq", {"api_key": "g-0123456789"})
    store.delete("openai")
    store.delete("openai")
    assert json.loads(store.path.read_text()) == {
        "version": 1,
        "providers": {"groq": {"api_key": "g-0123456789"}},
    }
    with pytest.raises(TypeError, match="must be strings"):
        store.set("openai", {"api_key": 5})  # type: ignore[dict-item]


def test_a_stored_key_is_bound_to_its_base_url(store: CredentialStore) -> None:
    """Changing base_url without the key removes the key, so it never reaches a new host."""
    assert store.update("openai", {"api_key": "k1-0123456789", "base_url": "http://a/v1"}) == []
    assert store.update("openai", {"base_url": "http://a/v1"}) == []
    assert store.get("openai") == {"api_key": "k1-0123456789", "base_url": "http://a/v1"}
    assert store.update("openai", {"base_url": "http://evil/v1"}) == ["api_key"]
    assert store.get("openai") == {"base_url": "http://evil/v1"}
    assert store.update("openai", {"api_key": "k2-0123456789"}) == []
    assert store.update("openai", {"base_url": ""}) == ["api_key"]
    assert store.get("openai") == {}
    assert store.update("openai", {"base_url": "http://b/v1"}) == []
    assert store.update("ollama", {"base_url": "http://gpu:11434/v1"}) == []
    assert store.update("ollama", {"base_url": "http://other:11434/v1"}) == []
    assert store.get("ollama") == {"base_url": "http://other:11434/v1"}


def test_resolution_order_explicit_then_env_then_store(
    store: CredentialStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.set("openai", {"api_key": "store-key-0123", "base_url": "http://store/v1"})
    assert store.resolve("openai") == {"api_key": "store-key-0123", "base_url": "http://store/v1"}
    monkeypatch.setenv("OPENAI_API_KEY", "env-key-0123")
    assert store.resolve("openai") == {"api_key": "env-key-0123", "base_url": "http://store/v1"}
    assert store.resolve("openai", api_key="explicit-0123", base_url=None) == {
        "api_key": "explicit-0123",
        "base_url": "http://store/v1",
    }
    monkeypatch.setenv("OPENAI_API_KEY", "")  # empty counts as unset
    assert store.resolve("openai")["api_key"] == "store-key-0123"
    with pytest.raises(TypeError, match="openai takes no field"):
        store.resolve("openai", region="x")
    with pytest.raises(UnknownProviderError, match="known providers: openai, anthropic"):
        store.resolve("openia")


def test_env_variable_precedence(store: CredentialStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOOGLE_API_KEY", "google-key-0123")
    assert store.resolve("google") == {"api_key": "google-key-0123"}
    monkeypatch.setenv("GEMINI_API_KEY", "gemini-key-0123")
    assert store.resolve("google") == {"api_key": "gemini-key-0123"}
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    assert store.resolve("bedrock") == {"region": "eu-west-1"}
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-2")
    assert store.resolve("bedrock") == {"region": "us-east-2"}


def test_status_and_hint(store: CredentialStore, monkeypatch: pytest.MonkeyPatch) -> None:
    assert {provider: store.status(provider) for provider in PROVIDERS} == {
        provider: (False, None) for provider in PROVIDERS
    }
    store.set("openai", {"api_key": "sk-store-0123456789-WXYZ"})
    assert (store.status("openai"), store.hint("openai")) == ((True, "store"), "…WXYZ")
    monkeypatch.setenv("OPENAI_API_KEY", "123456789012")  # 12 characters: no hint
    assert (store.status("openai"), store.hint("openai")) == ((True, "env"), None)
    store.set("groq", {"base_url": "http://groq.local"})
    assert store.status("groq") == (False, None)  # a base URL is not a credential


def test_bedrock_needs_region_and_key_pair_or_profile(
    store: CredentialStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.set("bedrock", {"access_key_id": "AKIAIOSFODNN7EXAMPLE"})
    assert store.status("bedrock") == (False, None)
    store.update("bedrock", {"secret_access_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"})
    assert store.status("bedrock") == (False, None)  # no region
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    assert store.status("bedrock") == (True, "store")
    assert store.hint("bedrock") == "…MPLE"
    store.delete("bedrock")
    monkeypatch.setenv("AWS_PROFILE", "work")
    assert store.status("bedrock") == (True, "env")
    monkeypatch.delenv("AWS_PROFILE")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
    store.set("bedrock", {"secret_access_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"})
    assert store.status("bedrock") == (True, "store")  # the pair is not all from env


def test_ollama_is_configured_only_when_a_url_is_given(
    store: CredentialStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert store.resolve("ollama") == {"base_url": "http://localhost:11434/v1"}
    assert store.status("ollama") == (False, None)
    store.set("ollama", {"base_url": "http://gpu-box:11434/v1"})
    assert store.status("ollama") == (True, "store")
    monkeypatch.setenv("OLLAMA_BASE_URL", "http://other:11434/v1")
    assert store.status("ollama") == (True, "env")
    assert store.resolve("ollama") == {"base_url": "http://other:11434/v1"}
    assert store.hint("ollama") is None


def test_fingerprint_changes_with_the_file_and_the_environment(
    store: CredentialStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = store.fingerprint()
    assert store.fingerprint() == empty
    store.set("openai", {"api_key": "fingerprint-secret-0123"})
    written = store.fingerprint()
    assert written != empty
    monkeypatch.setenv("ANTHROPIC_API_KEY", "fingerprint-env-secret-0123")
    with_env = store.fingerprint()
    assert with_env != written
    assert "fingerprint" not in repr(with_env).replace(str(store.path), "")


def test_every_secret_read_or_written_is_remembered_for_redaction(
    store: CredentialStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    written, on_disk, from_env = (
        "written-secret-a1b2c3d4e5",
        "disk-secret-f6g7h8i9j0",
        "env-secret-k1l2m3n4o5",
    )
    store.set("openai", {"api_key": written})
    assert redact(f"x {written} y") == f"x {MASK} y"

    store.path.write_text(
        json.dumps(
            {
                "version": 1,
                "providers": {
                    "anthropic": {"api_key": on_disk},
                    "bedrock": {"region": "region-not-secret"},
                },
            }
        )
    )
    assert redact(on_disk) == on_disk  # never seen yet
    store.get("anthropic")
    assert redact(on_disk) == MASK
    assert redact("region-not-secret") == "region-not-secret"  # only secret fields

    monkeypatch.setenv("GROQ_API_KEY", from_env)
    store.resolve("groq")
    assert redact(from_env) == MASK


CORRUPT_FILES = [
    (
        b'{"version": 1, "providers": {"openai": {"api_key": "sk-partial-SECRET',
        "invalid JSON: Unterminated string starting at: line 1 column 52",
    ),
    (b"", "invalid JSON: Expecting value: line 1 column 1"),
    (b"\xff\xfe{}", "not UTF-8"),
    (b"[]", 'expected {"version": 1, "providers": {...}} with string values'),
    (
        b'{"version": 2, "providers": {}}',
        'expected {"version": 1, "providers": {...}} with string values',
    ),
    (
        b'{"version": 1, "providers": {"openai": {"api_key": 5}}}',
        'expected {"version": 1, "providers": {...}} with string values',
    ),
    (
        b'{"version": 1, "providers": {"openai": "sk-partial-SECRET"}}',
        'expected {"version": 1, "providers": {...}} with string values',
    ),
]


@pytest.mark.parametrize(("content", "reason"), CORRUPT_FILES)
def test_corrupt_file_is_a_clear_error_and_never_overwritten(
    store: CredentialStore, content: bytes, reason: str
) -> None:
    store.path.parent.mkdir(mode=0o700)
    store.path.write_bytes(content)
    expected = f"the credential store {store.path} is corrupt ({reason}); fix or remove it"
    operations = [
        lambda: store.get("openai"),
        lambda: store.resolve("openai"),
        lambda: store.status("openai"),
        lambda: store.set("openai", {"api_key": "new-key-0123456789"}),
        lambda: store.update("groq", {"api_key": "new-key-0123456789"}),
        lambda: store.delete("openai"),
    ]
    for operation in operations:
        with pytest.raises(CredentialStoreError) as caught:
            operation()
        assert str(caught.value) == expected
        assert "SECRET" not in str(caught.value)
    assert store.path.read_bytes() == content
    assert issubclass(CredentialStoreError, ValueError)  # the kernel's model list relies on it


def test_unreadable_file_names_the_path(store: CredentialStore) -> None:
    store.path.mkdir(parents=True)  # a directory where the file should be
    with pytest.raises(CredentialStoreError) as caught:
        store.get("openai")
    assert str(caught.value) == f"cannot read the credential store {store.path}: Is a directory"


def write_one(path: str, provider: str, field: str, value: str, go: multiprocessing.Event) -> None:
    go.wait(30)
    CredentialStore(path).update(provider, {field: value})


def read_until(path: str, stop: multiprocessing.Event, failures: multiprocessing.Value) -> None:
    store = CredentialStore(path)
    while not stop.is_set():
        try:
            store.get("p0")
        except CredentialStoreError:
            with failures.get_lock():
                failures.value += 1


def test_100_concurrent_writer_processes_lose_nothing(store: CredentialStore) -> None:
    context = multiprocessing.get_context("fork")
    go, stop = context.Event(), context.Event()
    failures = context.Value("i", 0)
    expected = {f"p{i % 10}": {} for i in range(10)}
    writers = []
    for i in range(100):
        provider, field, value = f"p{i % 10}", f"field{i:03d}", f"value-{i:03d}-0123456789"
        expected[provider][field] = value
        args = (str(store.path), provider, field, value, go)
        writers.append(context.Process(target=write_one, args=args))
    readers = [
        context.Process(target=read_until, args=(str(store.path), stop, failures)) for _ in range(2)
    ]
    for process in writers + readers:
        process.start()
    go.set()
    for process in writers:
        process.join(120)
    stop.set()
    for process in readers:
        process.join(30)
    assert [process.exitcode for process in writers + readers] == [0] * 102
    assert failures.value == 0
    assert json.loads(store.path.read_text()) == {"version": 1, "providers": expected}
    assert mode(store.path) == 0o600
    assert sorted(os.listdir(store.path.parent)) == ["credentials.json", "credentials.json.lock"]
