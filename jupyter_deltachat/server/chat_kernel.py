"""The panel's own chat kernel, private to this extension.

JupyterLab's kernel selector and its Running sidebar list every kernel of ``/api/kernels``
and cannot filter them, so a chat kernel started through the server's kernel manager shows
in every notebook's kernel picker. This extension therefore owns a second kernel manager,
configured like the server's (its kernel specs, root dir, connection dir), and serves the
few endpoints a ``KernelConnection`` needs under ``/deltachat/api/kernels``. The handlers
are jupyter_server's own, with ``kernel_manager`` pointing at the private manager, so auth,
XSRF, restart and the websocket behave exactly as for notebook kernels.
"""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

from jupyter_client.jsonutil import json_default
from jupyter_core.utils import ensure_async
from jupyter_server.auth.decorator import authorized
from jupyter_server.serverapp import ServerApp
from jupyter_server.services.kernels.connection.channels import ZMQChannelsWebsocketConnection
from jupyter_server.services.kernels.handlers import (
    KernelActionHandler,
    KernelHandler,
    MainKernelHandler,
)
from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from jupyter_server.services.kernels.websocket import KernelWebsocketHandler
from jupyter_server.utils import url_escape, url_path_join
from tornado import web

CHAT_SESSION_NAME = ".deltachat/chat"
"""The chat kernel's notebook path (its chat history scope), given in ``JPY_SESSION_NAME``
as jupyter_server's session manager gives a notebook kernel its own (not imported from
``kernel``: that module builds the kernel's chat service)."""
CHAT_KERNELS_SETTING = "jupyter_deltachat_chat_kernels"
API_PREFIX = "/deltachat/api/kernels"
_KERNEL_ID = r"(?P<kernel_id>\w+-\w+-\w+-\w+-\w+)"


class ChatKernels:
    """At most one chat kernel, shared by every page of the server, in a private manager."""

    def __init__(self, serverapp: ServerApp) -> None:
        self.manager = AsyncMappingKernelManager(
            parent=serverapp,
            log=serverapp.log,
            connection_dir=serverapp.runtime_dir,
            kernel_spec_manager=serverapp.kernel_spec_manager,
        )
        self._starting = asyncio.Lock()

    async def start_or_get(self, kernel_name: str | None) -> tuple[str, bool]:
        """The running chat kernel's id, else a new one's; and whether it was started now.
        Pages that ask at once get the same kernel."""
        async with self._starting:
            for kernel_id in self.manager.list_kernel_ids():
                return kernel_id, False
            kernel_id = await self.manager.start_kernel(
                kernel_name=kernel_name or self.manager.default_kernel_name,
                path=CHAT_SESSION_NAME,
                env={**os.environ, "JPY_SESSION_NAME": CHAT_SESSION_NAME},
            )
            return kernel_id, True

    async def shutdown(self) -> None:
        await ensure_async(self.manager.shutdown_all())


class ChatKernelManagerMixin:
    """Points jupyter_server's kernel handlers at the private manager."""

    settings: dict[str, Any]

    @property
    def chat_kernels(self) -> ChatKernels:
        return self.settings[CHAT_KERNELS_SETTING]

    @property
    def kernel_manager(self) -> AsyncMappingKernelManager:
        return self.chat_kernels.manager


class ChatKernelStartHandler(ChatKernelManagerMixin, MainKernelHandler):
    """GET lists the chat kernel (none or one); POST answers its model, starting it (201)
    when none runs (200 otherwise)."""

    @web.authenticated
    @authorized
    async def post(self) -> None:
        body = self.get_json_body() or {}
        name = body.get("name")
        if name is not None and not isinstance(name, str):
            raise web.HTTPError(400, "field 'name' must be a kernel spec name (a string)")
        try:
            kernel_id, started = await self.chat_kernels.start_or_get(name)
        except KeyError as error:  # jupyter_client's NoSuchKernel
            raise web.HTTPError(400, f"no kernel spec named {name!r}") from error
        model = await ensure_async(self.kernel_manager.kernel_model(kernel_id))
        self.set_header("Location", url_path_join(self.base_url, API_PREFIX, url_escape(kernel_id)))
        self.set_status(201 if started else 200)
        self.finish(json.dumps(model, default=json_default))


class ChatKernelHandler(ChatKernelManagerMixin, KernelHandler):
    """GET the model, DELETE to shut down."""


class ChatKernelActionHandler(ChatKernelManagerMixin, KernelActionHandler):
    """POST restart or interrupt."""


class ChatKernelWebsocketHandler(ChatKernelManagerMixin, KernelWebsocketHandler):
    """The kernel's channels, always over ZMQ: the private manager runs kernels locally."""

    @property
    def kernel_websocket_connection_class(self) -> type[ZMQChannelsWebsocketConnection]:
        return ZMQChannelsWebsocketConnection


HANDLERS: list[tuple[str, Any]] = [
    (API_PREFIX, ChatKernelStartHandler),
    (rf"{API_PREFIX}/{_KERNEL_ID}", ChatKernelHandler),
    (rf"{API_PREFIX}/{_KERNEL_ID}/(?P<action>restart|interrupt)", ChatKernelActionHandler),
    (rf"{API_PREFIX}/{_KERNEL_ID}/channels", ChatKernelWebsocketHandler),
]
