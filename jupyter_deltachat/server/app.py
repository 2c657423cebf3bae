"""The extension app. Its settings live in the config section ``DeltaChat``.

``c.DeltaChat.credentials_path`` and ``c.DeltaChat.allow_credential_edits`` are what the
design names; ``c.DeltaChatApp.*`` (the class's own name) works too, since traitlets reads
the section of every class in the app's MRO.
"""

from __future__ import annotations

import os
from typing import Any

from jupyter_server.extension.application import ExtensionApp
from traitlets import Bool, Unicode
from traitlets.config import Configurable

from ..credentials import ENV_PATH, CredentialStore
from .chat_kernel import CHAT_KERNELS_SETTING, ChatKernels
from .chat_kernel import HANDLERS as CHAT_KERNEL_HANDLERS
from .handlers import (
    EDITS_SETTING,
    STORE_SETTING,
    CredentialsHandler,
    ProvidersHandler,
    StatusHandler,
)


class DeltaChat(Configurable):
    """The admin settings, under the section name the design promises."""

    credentials_path = Unicode(
        "",
        config=True,
        help="""Path of the credentials file. Empty: $JUPYTER_DELTACHAT_CREDENTIALS, else
        <jupyter data dir>/jupyter_deltachat/credentials.json. When set, the server also
        exports it as $JUPYTER_DELTACHAT_CREDENTIALS so kernels it starts read the same file.""",
    )
    allow_credential_edits = Bool(
        True,
        config=True,
        help="""Whether users may set and delete keys through the REST API. False for hubs and
        classrooms where keys come only from the environment: PUT and DELETE answer 403.""",
    )


class DeltaChatApp(ExtensionApp, DeltaChat):
    """Serves ``/deltachat/api/...``; keeps one ``CredentialStore`` and the private
    ``ChatKernels`` in the web app settings."""

    name = "jupyter_deltachat"

    def initialize_settings(self) -> None:
        store = CredentialStore(self.credentials_path or None)
        if self.credentials_path:
            os.environ[ENV_PATH] = str(store.path)
        assert self.serverapp is not None
        self.chat_kernels = ChatKernels(self.serverapp)
        self.settings.update(
            {
                STORE_SETTING: store,
                EDITS_SETTING: bool(self.allow_credential_edits),
                CHAT_KERNELS_SETTING: self.chat_kernels,
            }
        )
        self.log.info(
            "jupyter_deltachat: credentials at %s (edits %s)",
            store.path,
            "allowed" if self.allow_credential_edits else "disabled",
        )

    def initialize_handlers(self) -> None:
        routes: list[tuple[str, Any]] = [
            (r"/deltachat/api/status", StatusHandler),
            (r"/deltachat/api/providers", ProvidersHandler),
            (r"/deltachat/api/credentials/([^/]+)", CredentialsHandler),
            *CHAT_KERNEL_HANDLERS,
        ]
        self.handlers.extend(routes)

    async def stop_extension(self) -> None:
        """The chat kernel ends with the server, as the server's own kernels do."""
        await self.chat_kernels.shutdown()
