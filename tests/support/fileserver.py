"""A loopback HTTP file server for the files tests: Range support, a fault that cuts a transfer once, a log.

    server = FileServer({"/dl/a.tar.gz": data})   # serves on 127.0.0.1:<free port>
    server.cut_once("/dl/a.tar.gz", after=4096)   # the next GET sends 4096 body bytes, then drops the socket
    ...
    server.requests  # [Request(method, path, range, status), ...]

Only standard library; stops with `close()` (or as a context manager).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

from tests.support.httpserver import HTTPServer, QuietHandler


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    range: str | None
    status: int


class FileServer(HTTPServer):
    def __init__(self, files: dict[str, bytes], *, head_allowed: bool = True):
        self.files = dict(files)
        self.head_allowed = head_allowed
        self.requests: list[Request] = []
        self._cuts: dict[str, int] = {}
        self._lock = threading.Lock()
        super().__init__(self._handler(), name="fileserver")

    def cut_once(self, path: str, *, after: int) -> None:
        with self._lock:
            self._cuts[path] = after

    def gets(self, path: str) -> list[Request]:
        return [r for r in self.requests if r.method == "GET" and r.path == path]

    def _record(self, req: Request) -> None:
        with self._lock:
            self.requests.append(req)

    def _take_cut(self, path: str) -> int | None:
        with self._lock:
            return self._cuts.pop(path, None)

    def _handler(self):
        server = self

        class Handler(QuietHandler):
            protocol_version = "HTTP/1.1"

            def do_HEAD(self) -> None:
                self._serve(body=False)

            def do_GET(self) -> None:
                self._serve(body=True)

            def _serve(self, body: bool) -> None:
                rng = self.headers.get("Range")
                data = server.files.get(self.path.split("?", 1)[0])
                if data is None or (not body and not server.head_allowed):
                    status = 404 if data is None else 405
                    server._record(Request(self.command, self.path, rng, status))
                    self.send_response(status)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                start = 0
                m = re.fullmatch(r"bytes=(\d+)-", rng or "")
                if m and int(m.group(1)) < len(data):
                    start = int(m.group(1))
                status = 206 if start else 200
                server._record(Request(self.command, self.path, rng, status))
                self.send_response(status)
                self.send_header("Content-Length", str(len(data) - start))
                self.send_header("Accept-Ranges", "bytes")
                if start:
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                self.end_headers()
                if not body:
                    return
                cut = server._take_cut(self.path)
                if cut is not None:
                    self.wfile.write(data[start:start + cut])
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(2)  # the client sees a transfer cut short, not a clean end
                    return
                self.wfile.write(data[start:])

        return Handler
