"""What the security browser tests share: a beacon standing in for an attacker's host, and a
page with everything a reply could make it do recorded."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from lab_helpers import STREAM_TIMEOUT
from lab_server import LabServer

# Runs in the page before any of its scripts: records every <img> that enters the DOM (or
# gets a src) pointing anywhere but this origin or a data: URL, even if it leaves at once.
WATCH_IMAGES = """(() => {
  window.__remoteImages = [];
  const remote = img => {
    const src = img.getAttribute('src');
    if (src === null || /^data:/i.test(src.trim())) return;
    try {
      if (new URL(src, document.baseURI).origin === location.origin) return;
    } catch { /* unparseable: record it */ }
    window.__remoteImages.push(src);
  };
  new MutationObserver(records => {
    for (const record of records) {
      if (record.type === 'attributes' && record.target.tagName === 'IMG') remote(record.target);
      for (const node of record.addedNodes) {
        if (node.nodeType !== Node.ELEMENT_NODE) continue;
        if (node.tagName === 'IMG') remote(node);
        node.querySelectorAll('img').forEach(remote);
      }
    }
  }).observe(document, { subtree: true, childList: true, attributes: true,
                         attributeFilter: ['src', 'srcset'] });
})()"""


class Beacon:
    """A listener on 127.0.0.1 that records every request a payload makes it receive."""

    def __init__(self) -> None:
        self.hits: list[str] = []
        self._arrived = threading.Condition()
        beacon = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                with beacon._arrived:
                    beacon.hits.append(self.path)
                    beacon._arrived.notify_all()
                self.send_response(204)
                self.end_headers()

            do_POST = do_GET  # noqa: N815

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.host = self.origin.split("://", 1)[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait_for(self, path: str, timeout: float = STREAM_TIMEOUT / 1000) -> None:
        with self._arrived:
            if not self._arrived.wait_for(lambda: path in self.hits, timeout=timeout):
                raise AssertionError(f"the beacon never got {path}; it got {self.hits}")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


class Watched:
    """A page with everything a payload could make it do recorded: dialogs, requests and
    remote images put in the DOM, from now on and in every later load of the page (a page
    already open is watched from here on: no need to load JupyterLab again)."""

    def __init__(self, page: Any, server: LabServer) -> None:
        self.page, self.server = page, server
        self.dialogs: list[str] = []
        self.requests: list[str] = []
        page.on("dialog", self._dialog)
        page.on("request", lambda request: self.requests.append(request.url))
        page.add_init_script(WATCH_IMAGES)
        if page.url != "about:blank":
            page.evaluate(WATCH_IMAGES)

    def _dialog(self, dialog: Any) -> None:
        if dialog.type == "beforeunload":  # JupyterLab's own "leave the page?" on reload
            dialog.accept()
            return
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def assert_nothing_ran_or_loaded(self, beacon: Beacon) -> None:
        allowed = (self.server.url, "data:", "blob:", "about:")
        assert self.page.evaluate("() => window.top.__pwned") is None
        assert self.dialogs == []
        assert [url for url in self.requests if not url.startswith(allowed)] == []
        assert beacon.hits == []
        assert self.page.evaluate("() => window.__remoteImages ?? []") == []
