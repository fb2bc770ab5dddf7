"""A loopback HTTP proxy in front of a registry that injects faults on demand and logs every request.

    proxy = FaultProxy(registry)                 # listens on 127.0.0.1:<free port>
    proxy.cut_after(1000)                        # next blob GET: send 1000 body bytes, then drop the socket
    proxy.flip_byte(offset=10)                   # next blob GET: byte 10 of the body is inverted
    proxy.fail(times=3, status=500)              # first 3 matching requests get HTTP 500
    ...
    assert any(rec.range for rec in proxy.requests_to("/blobs/"))   # a resumed Range request arrived

The client talks to `proxy.url` as if it were the registry. Requests go upstream with their headers
(Authorization included) and responses come back with theirs (WWW-Authenticate included); a Location
that points at the upstream is rewritten to the proxy, so uploads and redirects stay on the proxy.

It also works as a forward proxy: a client with `http_proxy=<proxy.url>` sends absolute URLs, which are
forwarded to their (loopback only) origin and logged with `forward_proxy=True`, so a test can prove that
the client honours http_proxy / no_proxy. CONNECT (https) is refused.

Each fault fires a bounded number of times and then the proxy passes traffic through unchanged. Faults
match requests by method and a regular expression on the path; the default is a blob download
(`GET .../blobs/sha256:...`). Loopback only: the upstream must be a 127.0.0.0/8 address.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import urlsplit

from tests.support.httpserver import HTTPServer

BLOB_GET = r"/v2/.+/blobs/sha256:[0-9a-f]{64}$"
HOP_BY_HOP = {
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailers",
    "transfer-encoding", "upgrade",
}
UPSTREAM_TIMEOUT = 60.0
COPY_CHUNK = 64 * 1024


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass
class Fault:
    kind: str  # "cut" | "flip" | "fail" | "delay" | "ignore_range"
    path_re: re.Pattern[str]
    method: str | None
    times: int
    cut_after: int = 0
    flip_offset: int = 0
    status: int = 500
    delay: float = 0.0
    fired: int = 0

    def matches(self, method: str, path: str, body_length: int | None = None) -> bool:
        if self.fired >= self.times:
            return False
        # A body fault waits for a body long enough to hurt: cutting a 400-byte config after 1 MiB, or
        # flipping past its end, would use the fault up and change nothing.
        if self.kind == "cut" and (body_length is None or body_length <= self.cut_after):
            return False
        if self.kind == "flip" and (body_length is None or body_length <= self.flip_offset):
            return False
        if self.method and method != self.method:
            return False
        return bool(self.path_re.search(path.split("?", 1)[0]))


@dataclass
class RequestRecord:
    method: str
    path: str
    range: str | None
    status: int
    fault: str | None
    headers: dict[str, str] = field(default_factory=dict)
    time: float = 0.0
    forward_proxy: bool = False  # the client used us as its http_proxy (absolute URL in the request line)

    def line(self) -> str:
        return (f"{self.method} {self.path} range={self.range or '-'} status={self.status} "
                f"fault={self.fault or '-'}")


class FaultProxy:
    """Threaded proxy on 127.0.0.1 in front of `upstream` (a Registry or an http://127.x.y.z:port URL)."""

    def __init__(self, upstream: object, *, log_path: Path | None = None) -> None:
        up = upstream if isinstance(upstream, str) else upstream.url  # type: ignore[attr-defined]
        parts = urlsplit(up)
        if parts.scheme != "http" or not _is_loopback(parts.hostname or ""):
            raise ValueError(f"fault proxy upstream must be http on loopback, got {up!r}")
        self.upstream_url = up.rstrip("/")
        self.upstream_host = parts.hostname
        self.upstream_port = parts.port or 80
        # Credentials of the upstream pass through; exposing them lets fixtures treat a proxy like a Registry.
        self.auth = getattr(upstream, "auth", None)
        self._faults: list[Fault] = []
        self._records: list[RequestRecord] = []
        self._lock = threading.Lock()
        self.log_path = log_path
        self._http = HTTPServer(self._handler_class(), name="faultproxy")
        self.port = self._http.port
        self.host, self.url = self._http.host, self._http.url

    def stop(self) -> None:
        self._http.close()

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- faults --------------------------------------------------------------------------------------------
    def _add(self, kind: str, path: str, method: str | None, times: int, **kw: object) -> Fault:
        fault = Fault(kind, re.compile(path), method, times, **kw)  # type: ignore[arg-type]
        with self._lock:
            self._faults.append(fault)
        return fault

    def cut_after(self, nbytes: int, *, path: str = BLOB_GET, method: str | None = "GET",
                  times: int = 1) -> Fault:
        """Send the response headers and `nbytes` of the body, then close the connection.

        Only responses with a Content-Length above `nbytes` are cut; shorter ones pass and keep the fault.
        """
        return self._add("cut", path, method, times, cut_after=nbytes)

    def flip_byte(self, offset: int = 0, *, path: str = BLOB_GET, method: str | None = "GET",
                  times: int = 1) -> Fault:
        """Invert the body byte at `offset` (counted in this response's body, so also for 206 replies).

        Only responses with a Content-Length above `offset` are hit; shorter ones pass and keep the fault.
        """
        return self._add("flip", path, method, times, flip_offset=offset)

    def fail(self, times: int = 1, *, status: int = 500, path: str = BLOB_GET,
             method: str | None = "GET") -> Fault:
        """Answer `status` without asking upstream for the first `times` matching requests."""
        return self._add("fail", path, method, times, status=status)

    def delay(self, seconds: float, *, path: str = BLOB_GET, method: str | None = "GET",
              times: int = 1) -> Fault:
        """Hold a matching request `seconds` before forwarding it (for timeouts and parallelism tests)."""
        return self._add("delay", path, method, times, delay=min(seconds, UPSTREAM_TIMEOUT))

    def ignore_range(self, *, path: str = BLOB_GET, method: str | None = "GET", times: int = 1) -> Fault:
        """Forward a matching request that asks for a Range without it, so the whole body comes back (200), as
        from a server or cache in the path that does not do ranges."""
        return self._add("ignore_range", path, method, times)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def _take_fault(self, method: str, path: str, kinds: tuple[str, ...],
                    body_length: int | None = None) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.kind in kinds and fault.matches(method, path, body_length):
                    fault.fired += 1
                    return fault
        return None

    # -- the log -------------------------------------------------------------------------------------------
    @property
    def requests(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._records)

    def requests_to(self, path_fragment: str, method: str | None = None) -> list[RequestRecord]:
        return [r for r in self.requests if path_fragment in r.path and (method is None or r.method == method)]

    def range_requests(self) -> list[RequestRecord]:
        return [r for r in self.requests if r.range]

    def clear_log(self) -> None:
        with self._lock:
            self._records.clear()

    def _open_record(self, rec: RequestRecord) -> None:
        # Listed before the reply goes out (status and fault are filled in place before the headers are
        # sent), so a client that has its answer always finds its request in the log.
        with self._lock:
            self._records.append(rec)

    def _close_record(self, rec: RequestRecord) -> None:
        with self._lock:
            if self.log_path:
                with open(self.log_path, "a") as f:
                    f.write(rec.line() + "\n")

    # -- the handler ---------------------------------------------------------------------------------------
    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            timeout = UPSTREAM_TIMEOUT

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
                pass  # the structured log above replaces stderr noise

            def do_GET(self) -> None:
                self._proxy()

            def do_CONNECT(self) -> None:
                # https through the proxy would hide the bodies the faults work on; tests use plain http.
                self._send_simple(405, b'{"errors":[{"code":"UNSUPPORTED","message":"no CONNECT"}]}')

            do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

            def _read_body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    out = bytearray()
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            return bytes(out)
                        out += self.rfile.read(size)
                        self.rfile.readline()
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            def _proxy(self) -> None:
                method, path = self.command, self.path
                body = self._read_body()
                req_headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                target = (proxy.upstream_host, proxy.upstream_port)
                forward = path.startswith("http://")
                if forward:
                    # Used as an http_proxy: the request line names the origin. Only loopback origins.
                    url = urlsplit(path)
                    path = url.path + (f"?{url.query}" if url.query else "")
                    target = (url.hostname or "", url.port or 80)
                fault = proxy._take_fault(method, path, ("fail", "delay"))
                rec = RequestRecord(method, path, self.headers.get("Range"), 0, fault.kind if fault else None,
                                    dict(req_headers), time.time(), forward)
                proxy._open_record(rec)
                try:
                    if forward and not _is_loopback(target[0]):
                        rec.status = 403
                        self._send_simple(403, b'{"errors":[{"code":"DENIED",'
                                               b'"message":"fault proxy forwards to loopback only"}]}')
                        return
                    if fault and fault.kind == "fail":
                        rec.status = fault.status
                        self._send_simple(fault.status, b'{"errors":[{"code":"UNAVAILABLE",'
                                                        b'"message":"injected by fault proxy"}]}')
                        return
                    if fault and fault.kind == "delay":
                        time.sleep(fault.delay)
                    if "Range" in req_headers and proxy._take_fault(method, path, ("ignore_range",)):
                        rec.fault = "ignore_range"
                        del req_headers["Range"]
                    self._forward(target, method, path, body, req_headers, rec)
                finally:
                    proxy._close_record(rec)

            def _send_simple(self, status: int, payload: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _forward(self, target: tuple[str, int], method: str, path: str, body: bytes,
                         req_headers: dict[str, str], rec: RequestRecord) -> None:
                # Host stays as the client sent it: the registry builds upload Locations from it, so they
                # already point at the proxy.
                conn = http.client.HTTPConnection(*target, timeout=UPSTREAM_TIMEOUT)
                try:
                    if body or method in ("PUT", "POST", "PATCH"):
                        req_headers["Content-Length"] = str(len(body))
                    conn.request(method, path, body=body or None, headers=req_headers)
                    resp = conn.getresponse()
                    rec.status = resp.status
                    # Body faults only hit real content, never a 401 challenge or a 404.
                    fault = None
                    if resp.status in (200, 206) and method != "HEAD":
                        length = resp.getheader("Content-Length")
                        fault = proxy._take_fault(method, path, ("cut", "flip"),
                                                  int(length) if length and length.isdigit() else None)
                        if fault:
                            rec.fault = fault.kind
                    has_length = resp.getheader("Content-Length") is not None
                    # Bodies without a length are small JSON errors: buffer them to send a length.
                    payload = None if has_length or method == "HEAD" else resp.read()
                    self.send_response(resp.status, resp.reason)
                    for k, v in resp.getheaders():
                        lk = k.lower()
                        if lk in HOP_BY_HOP or (payload is not None and lk == "content-length"):
                            continue
                        if lk == "location" and not rec.forward_proxy and v.startswith(proxy.upstream_url):
                            v = proxy.url + v[len(proxy.upstream_url):]
                        self.send_header(k, v)
                    if payload is not None:
                        self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    if method == "HEAD":
                        return
                    if payload is not None:
                        self.wfile.write(payload)
                        return
                    self._stream(resp, fault)
                finally:
                    conn.close()

            def _stream(self, resp: http.client.HTTPResponse, fault: Fault | None) -> None:
                sent = 0
                limit = fault.cut_after if fault and fault.kind == "cut" else None
                flip = fault.flip_offset if fault and fault.kind == "flip" else None
                while True:
                    chunk = resp.read(COPY_CHUNK)
                    if not chunk:
                        return
                    if flip is not None and sent <= flip < sent + len(chunk):
                        i = flip - sent
                        chunk = chunk[:i] + bytes([chunk[i] ^ 0xFF]) + chunk[i + 1:]
                    if limit is not None and sent + len(chunk) >= limit:
                        self.wfile.write(chunk[: limit - sent])
                        self.wfile.flush()
                        self.close_connection = True
                        with contextlib.suppress(OSError):
                            self.connection.shutdown(socket.SHUT_RDWR)
                        return
                    self.wfile.write(chunk)
                    sent += len(chunk)

        return Handler
