"""A TCP forwarder on loopback that makes a local registry look like one across a WAN: a round-trip delay and a
shared link rate. The benchmark points every tool at it, so each meets the same link.

This kernel has no netem, so the delay is made here: every chunk read from one side is sent to the other side
`rtt / 2` after it arrived (a delay line per direction, so throughput is kept while latency is added), and the
bytes towards the clients share one token bucket of `rate` bytes per second, like one uplink.

    python bench/wan_proxy.py --upstream 127.0.0.1:5000 --rate 1gbit --rtt 40ms   # prints the listening address
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import re
import socket
import sys
import threading
import time

CHUNK = 256 << 10
UNITS = {"kbit": 1e3 / 8, "mbit": 1e6 / 8, "gbit": 1e9 / 8}


def parse_rate(text: str) -> float:
    """'1gbit', '100mbit' -> bytes per second."""
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(kbit|mbit|gbit)", text.strip().lower())
    if not m:
        raise ValueError(f"rate {text!r}: expected a number and kbit, mbit or gbit, e.g. 1gbit")
    return float(m.group(1)) * UNITS[m.group(2)]


def parse_delay(text: str) -> float:
    m = re.fullmatch(r"(\d+(?:\.\d+)?)ms", text.strip().lower())
    if not m:
        raise ValueError(f"delay {text!r}: expected milliseconds, e.g. 40ms")
    return float(m.group(1)) / 1000


class TokenBucket:
    """One link's rate, shared by every connection (a burst of 64 KiB, like a small switch buffer)."""

    def __init__(self, rate: float, burst: int = 64 << 10):
        self.rate = rate
        self.burst = burst
        self.tokens = float(burst)
        self.stamp = time.monotonic()
        self.lock = threading.Lock()

    def take(self, n: int) -> None:
        while n > 0:
            with self.lock:
                now = time.monotonic()
                self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
                self.stamp = now
                grant = min(n, int(self.tokens))
                self.tokens -= grant
                wait = 0.0 if grant else (min(n, self.burst) - self.tokens) / self.rate
            n -= grant
            if wait:
                time.sleep(wait)


class DelayLine:
    """Bytes from `src` reach `dst` `delay` seconds after they arrived; EOF is passed on the same way."""

    def __init__(self, src: socket.socket, dst: socket.socket, delay: float, bucket: TokenBucket | None):
        self.src, self.dst, self.delay, self.bucket = src, dst, delay, bucket
        self.queue: collections.deque[tuple[float, bytes]] = collections.deque()
        self.ready = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._write, daemon=True).start()

    def _read(self) -> None:
        while True:
            try:
                data = self.src.recv(CHUNK)
            except OSError:
                data = b""
            with self.ready:
                self.queue.append((time.monotonic() + self.delay, data))
                self.ready.notify()
            if not data:
                return

    def _write(self) -> None:
        while True:
            with self.ready:
                while not self.queue:
                    self.ready.wait()
                due, data = self.queue.popleft()
            pause = due - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            if not data:
                with contextlib.suppress(OSError):
                    self.dst.shutdown(socket.SHUT_WR)
                return
            if self.bucket:
                self.bucket.take(len(data))
            try:
                self.dst.sendall(data)
            except OSError:
                self.src.close()
                return


class WanProxy:
    def __init__(self, upstream: str, rate: float | None, rtt: float):
        host, port = upstream.rsplit(":", 1)
        self.upstream = (host, int(port))
        self.bucket = TokenBucket(rate) if rate else None
        self.one_way = rtt / 2
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.host = f"127.0.0.1:{self.listener.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._connect, args=(client,), daemon=True).start()

    def _connect(self, client: socket.socket) -> None:
        try:
            server = socket.create_connection(self.upstream)
        except OSError:
            client.close()
            return
        for s in (client, server):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # The connection's own handshake crosses the link too, before any byte does.
        time.sleep(2 * self.one_way)
        DelayLine(client, server, self.one_way, None)
        DelayLine(server, client, self.one_way, self.bucket)

    def close(self) -> None:
        self.listener.close()


# --- for the benches that reach their registry through a link (bench_images, bench_sbom) ------------------------


def add_link_options(ap: argparse.ArgumentParser) -> None:
    """--wan RATE and --rtt DELAY, checked as the arguments are parsed (before any registry is started)."""
    ap.add_argument("--wan", metavar="RATE", type=_checked(parse_rate),
                    help="reach the registry over a link of RATE (e.g. 1gbit), see --rtt")
    ap.add_argument("--rtt", default="0ms", type=_checked(parse_delay),
                    help="with --wan: the link's round-trip time (e.g. 40ms)")


def _checked(parse):
    def check(text: str) -> str:
        try:
            parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
        return text  # kept as given: the reports quote it
    return check


def open_link(args: argparse.Namespace, upstream: str) -> WanProxy | None:
    """The proxy in front of `upstream` that `--wan` asks for, or None: the bench talks to `upstream` directly."""
    return WanProxy(upstream, parse_rate(args.wan), parse_delay(args.rtt)) if args.wan else None


def link_flags(args: argparse.Namespace) -> str:
    return f" --wan {args.wan} --rtt {args.rtt}" if args.wan else ""


def describe_link(args: argparse.Namespace) -> str:
    """How the bench reached its registry, for a report's first paragraph."""
    if not args.wan:
        return "on loopback"
    return (f"behind bench/wan_proxy.py, a loopback forwarder that adds a {args.rtt} round trip and shares one "
            f"{args.wan} link among all connections (this kernel has no netem)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--upstream", required=True, help="HOST:PORT of the registry")
    ap.add_argument("--rate", help="link rate towards the clients, e.g. 1gbit (default: unlimited)")
    ap.add_argument("--rtt", default="0ms", help="round-trip time to add, e.g. 40ms")
    args = ap.parse_args(argv)
    proxy = WanProxy(args.upstream, parse_rate(args.rate) if args.rate else None, parse_delay(args.rtt))
    print(proxy.host, flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        threading.Event().wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
