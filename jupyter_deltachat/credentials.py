"""The one credential store: read by the kernel at call time, written only by the server.

One JSON file (``{"version": 1, "providers": {"openai": {"api_key": ...}}}``) in a
directory of its own. The server writes it under an inter-process lock, through a temporary
file and ``os.replace``, so a reader (a kernel) never sees a torn file and no concurrent
writer loses an update. Every secret value read or written is handed to
``redact.remember_secret`` so it can never leave the process in an error text.
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from filelock import FileLock

from .models.spec import PROVIDERS, ProviderSpec, env_names
from .redact import remember_secret

Source = Literal["env", "store"]

ENV_PATH = "JUPYTER_DELTACHAT_CREDENTIALS"
FILE_VERSION = 1
DIR_MODE = 0o700
FILE_MODE = 0o600


class CredentialStoreError(ValueError):
    """The store's file is unreadable or corrupt. The message names the path, never content.

    A ``ValueError`` so that callers guarding "no usable credentials" with one ``except``
    (like the kernel's model list) treat a broken store as "not configured"."""


class UnknownProviderError(ValueError):
    """A provider id that is not in ``models.spec.PROVIDERS``."""


def provider_spec(provider: str) -> ProviderSpec:
    try:
        return PROVIDERS[provider]
    except KeyError:
        raise UnknownProviderError(
            f"unknown provider; known providers: {', '.join(PROVIDERS)}"
        ) from None


def default_path() -> Path:
    """``$JUPYTER_DELTACHAT_CREDENTIALS``, else ``<jupyter data dir>/jupyter_deltachat/...``."""
    override = os.environ.get(ENV_PATH)
    if override:
        return Path(override).expanduser()
    from jupyter_core.paths import jupyter_data_dir

    return Path(jupyter_data_dir()) / "jupyter_deltachat" / "credentials.json"


class CredentialStore:
    """One credentials file. Readers need no lock (writes are atomic replaces)."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path).expanduser() if path is not None else default_path()
        self.lock_path = self.path.with_name(self.path.name + ".lock")

    def __repr__(self) -> str:
        return f"CredentialStore({str(self.path)!r})"

    def get(self, provider: str) -> dict[str, str]:
        """The fields stored for ``provider`` (empty when none)."""
        return dict(self._read().get(provider, {}))

    def set(self, provider: str, fields: dict[str, str]) -> None:
        """Replace what is stored for ``provider``."""
        _check_fields(provider, fields)
        with self._locked() as providers:
            if fields:
                providers[provider] = dict(fields)
            else:
                providers.pop(provider, None)

    def update(self, provider: str, changes: Mapping[str, str]) -> list[str]:
        """Set the given fields of ``provider``, keeping the others; ``""`` removes a field.

        A stored key is bound to its URL: a ``base_url`` change that does not set the key
        again removes the stored key, so a silent URL change (a script in a page, a
        prompt-injected reply) cannot send the key to another host. Returns the names of
        the secret fields removed that way. The read and the write happen under one lock,
        so concurrent updates of different fields or providers all survive.
        """
        _check_fields(provider, changes)
        with self._locked() as providers:
            merged = dict(providers.get(provider, {}))
            unbound = _unbound_secrets(provider, merged, changes)
            for name in unbound:
                del merged[name]
            for name, value in changes.items():
                if value:
                    merged[name] = value
                else:
                    merged.pop(name, None)
            if merged:
                providers[provider] = merged
            else:
                providers.pop(provider, None)
        return unbound

    def delete(self, provider: str) -> None:
        """Forget ``provider``; deleting what is not stored is not an error."""
        if not self.path.exists():
            return
        with self._locked() as providers:
            providers.pop(provider, None)

    def resolve(self, provider: str, **explicit: str | None) -> dict[str, str]:
        """Per field: the explicit argument, else the environment, else the store."""
        return {name: value for name, (value, _) in self._sources(provider, explicit).items()}

    def status(self, provider: str) -> tuple[bool, Source | None]:
        """Whether ``provider`` is configured and from where; never the secret itself.

        The source is where the credential proper comes from (the key, the AWS key pair or
        profile, Ollama's URL); a base URL or region from elsewhere does not change it.
        """
        spec = provider_spec(provider)
        found = {
            name: value
            for name, value in self._sources(provider, {}).items()
            if value[1] != "default"
        }
        if any(spec_field.required and spec_field.name not in found for spec_field in spec.fields):
            return False, None
        for names in spec.credentials:
            if all(name in found for name in names):
                origins = {found[name][1] for name in names}
                return True, "env" if origins == {"env"} else "store"
        return False, None

    def field_sources(self, provider: str) -> dict[str, Source]:
        """Where each field that is set comes from (``env`` or ``store``); no values."""
        return {
            name: source
            for name, (_, source) in self._sources(provider, {}).items()
            if source in ("env", "store")
        }

    def hint(self, provider: str) -> str | None:
        """``…abcd`` (the key's last 4 characters) for a key longer than 12, else None."""
        spec = provider_spec(provider)
        if spec.hint_field is None:
            return None
        value = self.resolve(provider).get(spec.hint_field, "")
        return f"\u2026{value[-4:]}" if len(value) > 12 else None

    def fingerprint(self) -> tuple[Any, ...]:
        """Changes whenever a provider's ``status`` may have changed; cheap (one ``stat``).

        The file's identity, size and mtime, plus which relevant environment variables are
        set. Values are never part of it.
        """
        try:
            info = self.path.stat()
            file_part: tuple[Any, ...] = (info.st_ino, info.st_size, info.st_mtime_ns)
        except OSError:
            file_part = ()
        return (
            str(self.path),
            file_part,
            tuple(name for name in env_names() if os.environ.get(name)),
        )

    def _sources(
        self, provider: str, explicit: Mapping[str, str | None]
    ) -> dict[str, tuple[str, str]]:
        spec = provider_spec(provider)
        unknown = set(explicit) - set(spec.field_names)
        if unknown:
            raise TypeError(f"{provider} takes no field(s) {', '.join(sorted(unknown))}")
        stored: dict[str, str] | None = None
        found: dict[str, tuple[str, str]] = {}
        for entry in spec.fields:
            name = entry.name
            value = explicit.get(name)
            if value:
                found[name] = (value, "explicit")
                continue
            env_value = next((os.environ[var] for var in entry.env if os.environ.get(var)), None)
            if env_value:
                found[name] = (env_value, "env")
                continue
            if stored is None:
                stored = self.get(provider)
            if stored.get(name):
                found[name] = (stored[name], "store")
        _remember(provider, {name: value for name, (value, _) in found.items()})
        for name, value in spec.defaults.items():
            found.setdefault(name, (value, "default"))
        return found

    def _read(self) -> dict[str, dict[str, str]]:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        except OSError as error:
            raise CredentialStoreError(
                f"cannot read the credential store {self.path}: {error.strerror}"
            ) from None
        providers = _parse(raw, self.path)
        for provider, fields in providers.items():
            _remember(provider, fields)
        return providers

    def _locked(self) -> _LockedProviders:
        return _LockedProviders(self)

    def _prepare_directory(self) -> None:
        directory = self.path.parent
        directory.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        if _owns_directory(directory):
            os.chmod(directory, DIR_MODE)

    def _write(self, providers: dict[str, dict[str, str]]) -> None:
        for provider, fields in providers.items():
            _remember(provider, fields)
        payload = json.dumps(
            {"version": FILE_VERSION, "providers": providers}, indent=2, sort_keys=True
        )
        handle, temp_name = tempfile.mkstemp(
            dir=self.path.parent, prefix=".credentials-", suffix=".tmp"
        )
        try:
            os.fchmod(handle, FILE_MODE)
            with os.fdopen(handle, "w", encoding="utf-8") as temp_file:
                temp_file.write(payload + "\n")
                temp_file.flush()
                os.fsync(temp_file.fileno())
            os.replace(temp_name, self.path)
        except BaseException:
            Path(temp_name).unlink(missing_ok=True)
            raise
        os.chmod(self.path, FILE_MODE)


class _LockedProviders:
    """``with store._locked() as providers:`` read under the lock, write back on success."""

    def __init__(self, store: CredentialStore) -> None:
        self.store = store
        self.lock: FileLock | None = None
        self.providers: dict[str, dict[str, str]] = {}

    def __enter__(self) -> dict[str, dict[str, str]]:
        self.store._prepare_directory()
        self.lock = FileLock(str(self.store.lock_path), mode=FILE_MODE, timeout=60)
        self.lock.acquire()
        try:
            self.providers = self.store._read()
        except BaseException:
            self.lock.release()
            raise
        return self.providers

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        assert self.lock is not None
        try:
            if kind is None:
                self.store._write(self.providers)
        finally:
            self.lock.release()


def _remember(provider: str, fields: Mapping[str, str]) -> None:
    """Hand the secret values to ``redact`` (every value, for a provider without a spec)."""
    spec = PROVIDERS.get(provider)
    for name, value in fields.items():
        if spec is None or name in spec.secret_fields:
            remember_secret(value)


def _unbound_secrets(
    provider: str, stored: Mapping[str, str], changes: Mapping[str, str]
) -> list[str]:
    """The stored secrets a change of ``base_url`` unbinds (none when the change sets one)."""
    spec = PROVIDERS.get(provider)
    if spec is None or "base_url" not in changes:
        return []
    if changes["base_url"] == stored.get("base_url", "") or spec.secret_fields & set(changes):
        return []
    return [name for name in spec.field_names if name in spec.secret_fields and name in stored]


def _owns_directory(directory: Path) -> bool:
    """Whether the store may tighten ``directory`` to 0700: ours, not shared like /tmp or ~."""
    info = directory.stat()
    shared = info.st_mode & stat.S_ISVTX or directory.resolve() == Path.home().resolve()
    return info.st_uid == os.getuid() and not shared


def _parse(raw: bytes, path: Path) -> dict[str, dict[str, str]]:
    """The providers in the file's bytes; any surprise is a ``CredentialStoreError``."""
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise CredentialStoreError(
            f"the credential store {path} is corrupt (not UTF-8); fix or remove it"
        ) from None
    except json.JSONDecodeError as error:
        raise CredentialStoreError(
            f"the credential store {path} is corrupt (invalid JSON: {error.msg}: line "
            f"{error.lineno} column {error.colno}); fix or remove it"
        ) from None
    providers = data.get("providers") if isinstance(data, dict) else None
    valid = isinstance(providers, dict) and all(
        isinstance(fields, dict) and all(isinstance(value, str) for value in fields.values())
        for fields in providers.values()
    )
    if not valid or data.get("version") != FILE_VERSION:
        raise CredentialStoreError(
            f"the credential store {path} is corrupt (expected "
            f'{{"version": {FILE_VERSION}, "providers": {{...}}}} with string values); '
            "fix or remove it"
        )
    return providers


def _check_fields(provider: str, fields: Mapping[str, str]) -> None:
    if not isinstance(provider, str) or not provider:
        raise ValueError("provider must be a non-empty string")
    for name, value in fields.items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise TypeError("credential field names and values must be strings")


def default_store() -> CredentialStore:
    """The store at ``$JUPYTER_DELTACHAT_CREDENTIALS`` or the default path, read at call time."""
    return CredentialStore()
