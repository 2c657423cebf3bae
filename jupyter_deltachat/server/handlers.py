"""Thin REST handlers. Every answer is JSON ``{"message": ...}`` on error and never holds a
secret: errors name fields and rules, never values, and pass through ``redact``."""

from __future__ import annotations

import json
from collections.abc import Callable
from traceback import format_exception
from typing import Any

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from tornado import web

from .._version import __version__
from ..credentials import CredentialStore, CredentialStoreError
from ..models.spec import PROVIDERS
from ..redact import redact
from .validation import InvalidRequest, check_base_url_change, check_provider, parse_credentials

AUTH_RESOURCE = "deltachat"
STORE_SETTING = "jupyter_deltachat_store"
EDITS_SETTING = "jupyter_deltachat_allow_credential_edits"
EDITS_DISABLED = (
    "credential edits are disabled on this server (c.DeltaChat.allow_credential_edits = "
    "False); keys come from the server's environment"
)


class DeltaChatHandler(APIHandler):
    """Base: JSON errors without secrets, logs without secrets."""

    auth_resource = AUTH_RESOURCE

    @property
    def store(self) -> CredentialStore:
        return self.settings[STORE_SETTING]

    def fail(self, status: int, message: str) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"message": redact(message)}))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc_info = kwargs.get("exc_info")
        error = exc_info[1] if exc_info else None
        if isinstance(error, web.HTTPError) and error.log_message:
            message = error.log_message
        else:
            message = "internal error in jupyter_deltachat; see the server log"
        self.fail(status_code, message)

    def log_exception(self, kind: Any, value: Any, traceback: Any) -> None:
        if isinstance(value, web.HTTPError):
            return super().log_exception(kind, value, traceback)
        self.log.error(
            "jupyter_deltachat: %s %s failed\n%s",
            self.request.method,
            self.request.path,
            redact("".join(format_exception(kind, value, traceback))),
        )


def describe_change(changes: dict[str, str], unbound: list[str]) -> str:
    """``set api_key, base_url; removed region``: field names only, never values."""
    set_names = [name for name, value in changes.items() if value]
    removed = [name for name, value in changes.items() if not value]
    removed += [f"{name} (bound to the previous base_url)" for name in unbound]
    parts = [
        f"{verb} {', '.join(names)}"
        for verb, names in (("set", set_names), ("removed", removed))
        if names
    ]
    return "; ".join(parts) or "nothing"


class StatusHandler(DeltaChatHandler):
    @web.authenticated
    @authorized
    def get(self) -> None:
        self.finish(json.dumps({"version": __version__}))


class ProvidersHandler(DeltaChatHandler):
    @web.authenticated
    @authorized
    def get(self) -> None:
        try:
            providers = [self.describe(provider) for provider in PROVIDERS]
        except CredentialStoreError as error:
            return self.fail(500, str(error))
        editable = self.settings[EDITS_SETTING]
        self.finish(json.dumps({"providers": providers, "editable": editable}))

    def describe(self, provider: str) -> dict[str, Any]:
        spec = PROVIDERS[provider]
        configured, source = self.store.status(provider)
        field_sources = self.store.field_sources(provider)
        return {
            "id": spec.id,
            "label": spec.label,
            "fields": [
                {
                    "name": field.name,
                    "label": field.label,
                    "secret": field.secret,
                    "required": field.required,
                    "env": list(field.env),
                    "source": field_sources.get(field.name),
                }
                for field in spec.fields
            ],
            "configured": configured,
            "source": source,
            "hint": self.store.hint(provider),
        }


class CredentialsHandler(DeltaChatHandler):
    """Writes to the store. Every change is logged by provider and field names, never values."""

    @web.authenticated
    @authorized
    def put(self, provider: str) -> None:
        def change() -> dict[str, Any]:
            changes = parse_credentials(provider, self.request.body)
            check_base_url_change(self.store, provider, changes)
            unbound = self.store.update(provider, changes)
            self.log.info(
                "jupyter_deltachat: %s credentials changed: %s",
                provider,
                describe_change(changes, unbound),
            )
            return {"key_removed": bool(unbound)}

        self._edit(change, 200)

    @web.authenticated
    @authorized
    def delete(self, provider: str) -> None:
        def remove() -> None:
            check_provider(provider)
            self.store.delete(provider)
            self.log.info("jupyter_deltachat: %s credentials changed: removed all", provider)

        self._edit(remove, 204)

    def _edit(self, change: Callable[[], dict[str, Any] | None], status: int) -> None:
        """Apply a change to the store: ``status`` (with the change's JSON answer, if any),
        or the one error that says why not."""
        if not self.settings[EDITS_SETTING]:
            return self.fail(403, EDITS_DISABLED)
        try:
            answer = change()
        except InvalidRequest as error:
            if error.status == 409:
                self.log.warning("jupyter_deltachat: refused a change: %s", error.message)
            return self.fail(error.status, error.message)
        except CredentialStoreError as error:
            return self.fail(500, str(error))
        self.set_status(status)
        if answer is None:
            return self.finish()
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(answer))
