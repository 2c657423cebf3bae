"""redact(): known secrets and key-shaped strings never survive; ordinary text does."""

from __future__ import annotations

import random
import threading

import pytest

from jupyter_deltachat.errors import AuthError, ProviderError
from jupyter_deltachat.redact import _KEY_SHAPES, _NAMED_SECRETS, MASK, redact, remember_secret

KEY_SHAPED = [
    "sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789",
    "sk-svcacct-AbCdEfGhIjKlMnOpQrStUv",
    "sk-0123456789abcdefABCDEF",
    "sk-ant-api03-AbCdEfGhIjKlMnOp_qrStUv-wxyz",
    "gsk_AbCdEfGhIjKlMnOpQrStUvWx",
    "AIzaSyA-0123456789abcdefghijklmnopqrstu",
    "AKIAIOSFODNN7EXAMPLE",
    "ASIAIOSFODNN7EXAMPLE",
    "sk-proj-abc*************************wxyz",
]


@pytest.mark.parametrize("key", KEY_SHAPED)
def test_key_shaped_strings_are_masked_wherever_they_appear(key: str) -> None:
    for template in ("{}", "key {} rejected", "('{}')", '{{"key": "{}"}}', "k={}&x=1"):
        text = template.format(key)
        assert redact(text) == template.format(MASK)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: Bearer abc.def-ghi_jkl", f"Authorization: Bearer {MASK}"),
        ("authorization: bearer abcdefghij", f"authorization: bearer {MASK}"),
        ("x-api-key: someopaquevalue", f"x-api-key: {MASK}"),
        ("x-goog-api-key=someopaquevalue", f"x-goog-api-key={MASK}"),
        ('{"api_key": "someopaquevalue"}', f'{{"api_key": "{MASK}"}}'),
        ("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG", f"aws_secret_access_key = {MASK}"),
        ("SESSION_TOKEN=FwoGZXIvYXdzEBc", f"SESSION_TOKEN={MASK}"),
        ("https://user:hunter2hunter2@proxy.example/v1", f"https://user:{MASK}@proxy.example/v1"),
    ],
)
def test_secrets_named_in_context_are_masked(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Connection refused: http://127.0.0.1:11434/v1/chat/completions",
        "the task-specific model disk-usage-0123456789abcdef is fine",
        "risk-assessment-of-the-0123456789 plan",
        "model gpt-4o-2024-08-06 in us-east-1",
        "commit 0123456789abcdef0123456789abcdef01234567",
        "Bearer",
        "api_key is missing",
        "é, 中文, 🙂 and a formula $e^{i\\pi}+1=0$",
    ],
)
def test_ordinary_text_is_unchanged(text: str) -> None:
    assert redact(text) == text


def test_remembered_secret_of_any_shape_is_masked_and_short_ones_are_ignored() -> None:
    secret = "opaque-corporate-proxy-token-31337"
    assert redact(f"bad token {secret}!") == f"bad token {secret}!"
    remember_secret(secret)
    assert redact(f"bad token {secret}!") == f"bad token {MASK}!"
    assert redact(f"{secret}{secret}") == MASK * 2
    remember_secret("short")
    remember_secret(None)
    remember_secret("")
    assert redact("a short note") == "a short note"


def test_remembered_secret_is_masked_url_encoded_too() -> None:
    secret = "pa ss/word+with=odd&chars"
    remember_secret(secret)
    encoded = "pa%20ss%2Fword%2Bwith%3Dodd%26chars"
    assert redact(f"GET /v1/models?key={encoded} failed") == f"GET /v1/models?key={MASK} failed"
    assert redact(f"raw {secret} end") == f"raw {MASK} end"


def test_longer_secret_wins_over_a_remembered_prefix() -> None:
    short, long = "prefix-secret-0001", "prefix-secret-0001-and-more"
    remember_secret(short)
    remember_secret(long)
    assert redact(f"<{long}>") == f"<{MASK}>"


def test_protocol_errors_carry_a_redacted_message() -> None:
    secret = "tenant-specific-key-value-424242"
    remember_secret(secret)
    error = AuthError(f"Incorrect API key provided: {secret}.", provider="openai", status=401)
    assert error.to_json() == {
        "code": "auth",
        "message": f"Incorrect API key provided: {MASK}.",
        "retryable": False,
        "provider": "openai",
        "status": 401,
    }
    provider_error = ProviderError("upstream said: Bearer sk-ant-api03-AbCdEfGhIjKl_mnop")
    assert provider_error.to_json()["message"] == f"upstream said: Bearer {MASK}"


def test_concurrent_remember_and_redact() -> None:
    secrets = [f"concurrent-secret-{index:04d}-xyz" for index in range(200)]
    start = threading.Barrier(4)
    failures: list[str] = []

    def remember(chunk: list[str]) -> None:
        start.wait(10)
        for secret in chunk:
            remember_secret(secret)
            if redact(secret) != MASK:
                failures.append(secret)

    threads = [threading.Thread(target=remember, args=(secrets[i::4],)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert failures == []
    assert redact(" ".join(secrets)) == " ".join([MASK] * len(secrets))


def test_the_substring_precheck_changes_no_result() -> None:
    """redact skips a pattern when none of the substrings it needs occurs; on random texts
    built from those substrings and near misses, the result is the patterns applied always."""
    pieces = [
        "sk-", "gsk_", "AIza", "AKIA", "ASIA", "Bearer ", "bearer ", "BEARER ", "BeArEr ",
        "api_key", "password", ":", "=", " ", "\n", "'", '"', "abcdefghij0123456789",
        "ABCDEFGHIJKLMNOP", "x" * 40, "-", "_", "*",
    ]  # fmt: skip
    chooser = random.Random(5)
    for _ in range(3000):
        text = "".join(chooser.choice(pieces) for _ in range(chooser.randint(1, 14)))
        always = _NAMED_SECRETS.sub(lambda m: m["name"] + MASK, _KEY_SHAPES.sub(MASK, text))
        assert redact(text) == always, text
