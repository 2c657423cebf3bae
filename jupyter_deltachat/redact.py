"""One helper that removes secrets from text before it can reach a frontend or a log.

It removes every secret this process has seen (``remember_secret`` is called by the
credential store for each value it reads or writes) and anything shaped like a provider
key, so a key echoed inside an SDK's exception text never leaves the process.
"""

from __future__ import annotations

import re
import threading

MASK = "[redacted]"
_MIN_SECRET_LENGTH = 8

_KEY_SHAPES = re.compile(
    r"""
    sk-ant-[A-Za-z0-9_\-]{8,}          # Anthropic
    | sk-(?:proj-|svcacct-)?[A-Za-z0-9_\-]{16,}  # OpenAI and compatible
    | gsk_[A-Za-z0-9]{16,}             # Groq
    | AIza[A-Za-z0-9_\-]{30,}          # Google
    | (?:AKIA|ASIA)[A-Z0-9]{16}        # AWS access key id
    | (?<=[Bb]earer\ )[A-Za-z0-9._\-~+/=]{12,}  # any bearer token
    | (?<=x-api-key:\ )[^\s'",]{8,}
    """,
    re.VERBOSE,
)

_lock = threading.Lock()
_secrets: set[str] = set()


def remember_secret(value: str | None) -> None:
    """Make ``redact`` remove ``value`` from now on (short values are ignored)."""
    if value and len(value) >= _MIN_SECRET_LENGTH:
        with _lock:
            _secrets.add(value)


def redact(text: str) -> str:
    """``text`` with every known secret and every key-shaped string replaced by a mask."""
    with _lock:
        known = sorted(_secrets, key=len, reverse=True)
    for secret in known:
        if secret in text:
            text = text.replace(secret, MASK)
    return _KEY_SHAPES.sub(MASK, text)
