"""Python's threaded HTTP server in a background thread: the one every test HTTP server runs on.

    with HTTPServer(handler_class) as server:              # 127.0.0.1:<free port>
        fetch(server.url + "/x")
    with DirectoryServer(root, "0.0.0.0") as server: ...   # a directory, read-only, as the asset host serves it

Only standard library; stops with `close()` (or as a context manager).
"""

from __future__ import annotations

import functools
import threading
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self

from tests.support.netutil import Listening


class HTTPServer(Listening):
    """`handler` (a request handler class, or a factory of one) served on `address:port` (0: a free port)."""

    def __init__(self, handler: Any, address: str = "127.0.0.1", port: int = 0, *, name: str = "httpserver"):
        self._httpd = ThreadingHTTPServer((address, port), handler)
        self._httpd.daemon_threads = True
        self.address = address
        self.port: int = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, name=f"{name}:{self.port}", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=10)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class QuietHandler(BaseHTTPRequestHandler):
    """No access log on the test's stderr."""

    def log_message(self, *args: Any) -> None:
        pass


class _QuietFiles(SimpleHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


class DirectoryServer(HTTPServer):
    """`root` served read-only: on the lab bridge (`0.0.0.0`) it is the asset host's layout (/debs/, /files/)."""

    def __init__(self, root: Path, address: str = "127.0.0.1", port: int = 0,
                 handler: type[SimpleHTTPRequestHandler] = _QuietFiles):
        super().__init__(functools.partial(handler, directory=str(root)), address, port, name="files")
