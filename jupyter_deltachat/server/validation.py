"""What a PUT body may hold. Messages name fields and rules, never the values sent."""

from __future__ import annotations

import json
import os
import unicodedata
from collections.abc import Mapping
from urllib.parse import urlsplit

from ..credentials import CredentialStore
from ..models.spec import PROVIDERS

MAX_BODY_BYTES = 16 * 1024
URL_FIELDS = frozenset({"base_url"})


class InvalidRequest(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def check_provider(provider: str) -> None:
    if provider not in PROVIDERS:
        raise InvalidRequest(400, f"unknown provider; known providers: {', '.join(PROVIDERS)}")


def parse_credentials(provider: str, body: bytes) -> dict[str, str]:
    """The fields of a PUT body, checked; raises ``InvalidRequest`` saying what is wrong."""
    if len(body) > MAX_BODY_BYTES:
        raise InvalidRequest(
            413, f"request body is {len(body)} bytes; the limit is {MAX_BODY_BYTES} bytes"
        )
    check_provider(provider)
    spec = PROVIDERS[provider]
    try:
        data = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise InvalidRequest(400, "request body is not valid UTF-8") from None
    except json.JSONDecodeError as error:
        raise InvalidRequest(
            400,
            f"request body is not valid JSON: {error.msg}: line {error.lineno} "
            f"column {error.colno}",
        ) from None
    if not isinstance(data, dict):
        raise InvalidRequest(
            400, f"request body must be a JSON object of {provider} fields, not {_kind(data)}"
        )
    allowed = ", ".join(spec.field_names)
    if set(data) - set(spec.field_names):
        raise InvalidRequest(
            400, f"unknown field in request body; {provider} takes only: {allowed}"
        )
    for name, value in data.items():
        _check_value(name, value)
    return data


def check_base_url_change(
    store: CredentialStore, provider: str, changes: Mapping[str, str]
) -> None:
    """Refuse (409) a ``base_url`` change that would send a key from the environment to a
    new host: the store unbinds a key it holds (``CredentialStore.update``), but it cannot
    remove one the server's environment supplies."""
    spec = PROVIDERS[provider]
    if "base_url" not in changes or changes["base_url"] == store.get(provider).get("base_url", ""):
        return
    sources = store.field_sources(provider)
    if sources.get("base_url") == "env":
        return
    variables = [
        variable
        for entry in spec.fields
        if entry.secret and sources.get(entry.name) == "env"
        for variable in entry.env
        if os.environ.get(variable)
    ]
    if variables:
        base_url = spec.field("base_url")
        url_variables = " or ".join(base_url.env if base_url else ()) or "the base URL variable"
        raise InvalidRequest(
            409,
            f"the {spec.label} key comes from the server's environment ({variables[0]}), so "
            f"a base URL set here would send it to another host; set {url_variables} in "
            "the server's environment instead",
        )


def _check_value(name: str, value: object) -> None:
    if not isinstance(value, str):
        raise InvalidRequest(400, f"field {name!r} must be a string, not {_kind(value)}")
    if any(unicodedata.category(char) == "Cc" for char in value):
        raise InvalidRequest(
            400, f"field {name!r} contains a control character (newline, tab, ...)"
        )
    if name in URL_FIELDS and value:
        try:
            parts = urlsplit(value)
            valid = parts.scheme in ("http", "https") and bool(parts.hostname)
            _ = parts.port
        except ValueError:
            valid = False
        if not valid or " " in value:
            raise InvalidRequest(
                400, f"field {name!r} must be an http:// or https:// URL with a host"
            )


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return "a string"
