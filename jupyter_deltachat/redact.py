"""One helper that removes secrets from text before it can reach a frontend or a log.

It removes every secret this process has seen (``remember_secret`` is called by the
credential store for each value it reads or writes) and anything shaped like a provider
key, so a key echoed inside an SDK's exception text never leaves the process.
"""

from __future__ import annotations

import re
import threading
from urllib.parse import quote

MASK = "[redacted]"
_MIN_SECRET_LENGTH = 8

# Provider keys as their vendors print them; ``*`` because some error texts mask the
# middle of a key (``sk-proj-abc*****wxyz``) and the ends alone must not leak either.
_KEY_SHAPES = re.compile(
    r"""
    (?<![A-Za-z0-9_\-])
    (?:
        sk-ant-[A-Za-z0-9_\-*]{8,}                       # Anthropic
      | sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-*]{16,}  # OpenAI and compatible
      | gsk_[A-Za-z0-9*]{16,}                          # Groq
      | AIza[A-Za-z0-9_\-*]{30,}                       # Google
      | (?:AKIA|ASIA)[A-Z0-9]{16}                      # AWS access key id
    )
    | (?<=[Bb]earer\ )[A-Za-z0-9._\-~+/=*]{8,}         # any bearer token
    | (?<=BEARER\ )[A-Za-z0-9._\-~+/=*]{8,}
    """,
    re.VERBOSE,
)

# ``name: value`` / ``name=value`` for names that always hold a secret; the value goes.
_NAMED_SECRETS = re.compile(
    r"""
    (?P<name>
        (?:x-api-key|x-goog-api-key|api[_-]?key|secret[_-]?access[_-]?key
          |aws[_-]?secret[_-]?access[_-]?key|session[_-]?token|access[_-]?token
          |client[_-]?secret|password)
        ["']?\s*[:=]\s*["']?
    )
    (?P<value>[^\s"',;&}]{8,})
    """,
    re.VERBOSE | re.IGNORECASE,
)

# ``scheme://user:password@host``: the password goes. A scheme starts after a non-letter
# (a leftmost match always does), so long words are not re-scanned from every letter.
_URL_PASSWORD = re.compile(
    r"(?<![a-z])(?P<head>[a-z][a-z0-9+.\-]*://[^\s/:@]*:)(?P<value>[^\s/@]+)(?=@)"
)

# Text none of whose substrings below occur cannot match the pattern: each alternative of
# ``_KEY_SHAPES`` starts with one of them (``[Bb]earer`` and ``BEARER`` end in "earer " /
# "EARER "), and a named secret needs its ':' or '='. Checking them first (C substring
# search) keeps a long text without them from holding the GIL in a regex scan (1 MB of a
# single word: 250 ms before, about 15 ms now).
_KEY_MARKS = ("sk-", "gsk_", "AIza", "AKIA", "ASIA", "earer ", "EARER ")
_NAMED_MARKS = (":", "=")

_lock = threading.Lock()
_secrets: set[str] = set()
_learnt = 0  # how many secrets were remembered so far; see secrets_version


def secrets_version() -> int:
    """A number that changes whenever ``redact`` learns a secret: text redacted before that
    may still hold it, and a cache of redacted text must be redone."""
    return _learnt


def remember_secret(value: str | None) -> None:
    """Make ``redact`` remove ``value`` from now on (short values are ignored).

    Also its URL-encoded form, the way a key appears in a query string of an error text.
    """
    global _learnt
    if value and len(value) >= _MIN_SECRET_LENGTH:
        with _lock:
            if value not in _secrets:
                _learnt += 1
            _secrets.add(value)
            _secrets.add(quote(value, safe=""))


def redact(text: str) -> str:
    """``text`` with every known secret and every key-shaped string replaced by a mask."""
    with _lock:
        known = sorted(_secrets, key=len, reverse=True)
    for secret in known:
        if secret in text:
            text = text.replace(secret, MASK)
    if any(mark in text for mark in _KEY_MARKS):
        text = _KEY_SHAPES.sub(MASK, text)
    if any(mark in text for mark in _NAMED_MARKS):
        text = _NAMED_SECRETS.sub(lambda match: match["name"] + MASK, text)
    if "://" not in text:
        return text
    return _URL_PASSWORD.sub(lambda match: match["head"] + MASK, text)
