#!/usr/bin/env python3
"""STAND-IN for Elasticsearch (installed by a test .deb as /usr/share/elasticsearch/bin/elasticsearch).

Never shipped. It reads $ES_PATH_CONF/elasticsearch.yml like the real server (cluster.name, node.name,
network.host, http.port, transport.tcp.port, discovery.zen.ping.unicast.hosts and
discovery.zen.minimum_master_nodes, or discovery.seed_hosts and cluster.initial_master_nodes) and the heap
from jvm.options, refuses to start without a working `java`, and finds its peers over the transport port
from the seed hosts, within the same cluster name only. GET /_cluster/health answers like the real API:
green with the number of nodes it sees once enough master-eligible nodes are reachable, 503
master_not_discovered_exception before.
"""

import json
import os
import re
import socket
import socketserver
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

CONF = os.environ.get("ES_PATH_CONF", "/etc/elasticsearch")


def value(text, key):
    m = re.search(rf"^{re.escape(key)}:\s*(.+?)\s*$", text, re.M)
    if not m:
        return None
    raw = m.group(1)
    if raw.startswith("["):
        return [x.strip().strip("'\"") for x in raw.strip("[]").split(",") if x.strip()]
    return raw.strip("'\"")


def read_conf():
    text = Path(os.path.join(CONF, "elasticsearch.yml")).read_text()
    seeds = value(text, "discovery.seed_hosts") or value(text, "discovery.zen.ping.unicast.hosts") or []
    masters = value(text, "cluster.initial_master_nodes")
    minimum = value(text, "discovery.zen.minimum_master_nodes")
    needed = int(minimum) if minimum else (len(masters) // 2 + 1 if masters else 1)
    jvm = Path(os.path.join(CONF, "jvm.options")).read_text()
    return {"cluster": value(text, "cluster.name") or "elasticsearch",
            "node": value(text, "node.name") or socket.gethostname(),
            "host": value(text, "network.host") or "127.0.0.1",
            "http_port": int(value(text, "http.port") or 9200),
            "transport_port": int(value(text, "transport.tcp.port") or value(text, "transport.port") or 9300),
            "seeds": [s.split(":")[0] for s in seeds], "masters_needed": needed,
            "heap": re.findall(r"^-Xmx(\S+)", jvm, re.M)}


def ask(addr, port, msg):
    with socket.create_connection((addr, port), timeout=1.0) as s:
        s.sendall((json.dumps(msg) + "\n").encode())
        return json.loads(s.makefile().readline())


def main():
    r = subprocess.run([os.path.join(os.environ["JAVA_HOME"], "bin", "java") if os.environ.get("JAVA_HOME")
                        else "java", "-version"], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit("stand-in elasticsearch: no working Java: " + r.stderr.strip())
    conf = read_conf()
    seen = {}  # addr -> (node name, last seen)
    lock = threading.Lock()

    class Transport(socketserver.StreamRequestHandler):
        def handle(self):
            try:
                msg = json.loads(self.rfile.readline())
            except ValueError:
                return
            ok = msg.get("cluster") == conf["cluster"]
            reply = {"cluster": conf["cluster"], "node": conf["node"], "ok": ok}
            self.wfile.write((json.dumps(reply) + "\n").encode())

    socketserver.ThreadingTCPServer.allow_reuse_address = True
    tsrv = socketserver.ThreadingTCPServer((conf["host"], conf["transport_port"]), Transport)
    threading.Thread(target=tsrv.serve_forever, daemon=True).start()

    def probe():
        while True:
            for addr in set(conf["seeds"]) | {conf["host"]}:
                try:
                    reply = ask(addr, conf["transport_port"], {"cluster": conf["cluster"]})
                    if reply.get("ok"):
                        with lock:
                            seen[addr] = (reply["node"], time.monotonic())
                except (OSError, ValueError):
                    pass
            time.sleep(1.0)

    threading.Thread(target=probe, daemon=True).start()

    class Http(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def reply(self, code, body):
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            url = urlparse(self.path)
            with lock:
                nodes = sum(1 for _, t in seen.values() if time.monotonic() - t < 5)
            if url.path == "/":
                return self.reply(200, {"name": conf["node"], "cluster_name": conf["cluster"],
                                        "version": {"number": "6.8.23-standin"}, "heap": conf["heap"]})
            if url.path == "/_cluster/health":
                if nodes < conf["masters_needed"]:
                    return self.reply(503, {"error": {"type": "master_not_discovered_exception"}, "status": 503})
                want = parse_qs(url.query).get("wait_for_nodes", [None])[0]
                body = {"cluster_name": conf["cluster"], "status": "green", "timed_out": False,
                        "number_of_nodes": nodes, "number_of_data_nodes": nodes}
                if want and str(nodes) != want.lstrip(">="):
                    body["timed_out"] = True
                    return self.reply(408, body)
                return self.reply(200, body)
            return self.reply(404, {"error": "stand-in: not implemented", "status": 404})

    ThreadingHTTPServer((conf["host"], conf["http_port"]), Http).serve_forever()


if __name__ == "__main__":
    main()
