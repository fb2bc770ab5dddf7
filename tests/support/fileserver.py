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
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    range: str | None
    status: int


class FileServer:
    def __init__(self, files: dict[str, bytes], *, head_allowed: bool = True):
        self.files = dict(files)
        self.head_allowed = head_allowed
        self.requests: list[Request] = []
        self._cuts: dict[str, int] = {}
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def cut_once(self, path: str, *, after: int) -> None:
        with self._lock:
            self._cuts[path] = after

    def gets(self, path: str) -> list[Request]:
        return [r for r in self.requests if r.method == "GET" and r.path == path]

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> FileServer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _record(self, req: Request) -> None:
        with self._lock:
            self.requests.append(req)

    def _take_cut(self, path: str) -> int | None:
        with self._lock:
            return self._cuts.pop(path, None)

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

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
