#!/usr/bin/env python3
"""STAND-IN for Apache Cassandra (bin/cassandra and bin/nodetool of a test tarball). Never shipped.

What it does, so the cassandra role's mechanics can be proven without the real database:
- refuses to start unless `java -version` runs (the JRE the role installs from the bundle) and the data
  directories from cassandra.yaml are writable by the service user;
- reads cassandra.yaml (cluster_name, seeds, listen/rpc address, ports) and cassandra-rackdc.properties;
- gossips over storage_port: a node learns the cluster from its seeds, only within the same cluster_name;
- answers a CQL native-protocol OPTIONS frame on native_transport_port with SUPPORTED (what a client's
  first request gets from real Cassandra);
- `nodetool status` asks the local node for the peers it knows and probes each: UN when it answers.
"""

import json
import os
import re
import socket
import socketserver
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path


def conf_dir():
    here = os.path.dirname(os.path.dirname(os.path.abspath(sys.argv[0])))
    return os.environ.get("CASSANDRA_CONF") or os.path.join(here, "conf")


def scalar(text, key, default=None):
    m = re.search(rf"^{key}:\s*['\"]?([^'\"\n#]*?)['\"]?\s*(#.*)?$", text, re.M)
    return m.group(1).strip() if m else default


def read_conf():
    text = Path(conf_dir(), "cassandra.yaml").read_text()
    seeds = re.search(r"-\s*seeds:\s*['\"]?([^'\"\n]*)", text)
    dirs = re.search(r"^data_file_directories:\s*\n((?:\s+-\s*.+\n)+)", text, re.M)
    rackdc = {}
    path = os.path.join(conf_dir(), "cassandra-rackdc.properties")
    if os.path.exists(path):
        for line in Path(path).read_text().splitlines():
            if "=" in line and not line.lstrip().startswith("#"):
                k, v = line.split("=", 1)
                rackdc[k.strip()] = v.strip()
    return {
        "cluster": scalar(text, "cluster_name", "Test Cluster"),
        "listen": scalar(text, "listen_address", "127.0.0.1"),
        "rpc": scalar(text, "rpc_address", "127.0.0.1"),
        "storage_port": int(scalar(text, "storage_port", "7000")),
        "cql_port": int(scalar(text, "native_transport_port", "9042")),
        "seeds": [s.strip().split(":")[0] for s in (seeds.group(1) if seeds else "").split(",") if s.strip()],
        "data_dirs": [d.strip().lstrip("-").strip() for d in dirs.group(1).splitlines()] if dirs else [],
        "commitlog": scalar(text, "commitlog_directory"),
        "dc": rackdc.get("dc", "datacenter1"),
        "rack": rackdc.get("rack", "rack1"),
    }


def ask(addr, port, msg, timeout=2.0):
    with socket.create_connection((addr, port), timeout=timeout) as s:
        s.sendall((json.dumps(msg) + "\n").encode())
        return json.loads(s.makefile().readline())


class Node:
    def __init__(self, conf):
        self.conf = conf
        self.peers = {conf["listen"]: {"dc": conf["dc"], "rack": conf["rack"]}}
        self.lock = threading.Lock()

    def me(self):
        return {"cluster": self.conf["cluster"], "addr": self.conf["listen"], "dc": self.conf["dc"],
                "rack": self.conf["rack"]}

    def handle(self, msg):
        if msg.get("cluster") != self.conf["cluster"]:
            return {"error": "ClusterName mismatch", "cluster": self.conf["cluster"]}
        with self.lock:
            for addr, info in msg.get("peers", {}).items():
                self.peers.setdefault(addr, info)
            return {**self.me(), "peers": dict(self.peers)}

    def gossip_forever(self):
        while True:
            with self.lock:
                targets = set(self.conf["seeds"]) | set(self.peers)
            for addr in targets - {self.conf["listen"]}:
                try:
                    reply = ask(addr, self.conf["storage_port"], {**self.me(), "peers": dict(self.peers)}, 1.0)
                    if "peers" in reply:
                        with self.lock:
                            for a, info in reply["peers"].items():
                                self.peers.setdefault(a, info)
                except (OSError, ValueError):
                    pass
            time.sleep(1.0)


def serve(addr, port, handler_cls):
    socketserver.ThreadingTCPServer.allow_reuse_address = True
    srv = socketserver.ThreadingTCPServer((addr, port), handler_cls)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def cassandra():
    java = os.path.join(os.environ["JAVA_HOME"], "bin", "java") if os.environ.get("JAVA_HOME") else "java"
    r = subprocess.run([java, "-version"], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"stand-in cassandra: no working Java ({java}): {r.stderr.strip()}")
    print("stand-in cassandra: " + r.stderr.splitlines()[0], flush=True)
    conf = read_conf()
    for d in conf["data_dirs"] + [conf["commitlog"]]:
        if d:
            with open(os.path.join(d, "standin-node.json"), "w") as f:
                json.dump({"cluster": conf["cluster"], "addr": conf["listen"]}, f)
    node = Node(conf)

    class Gossip(socketserver.StreamRequestHandler):
        def handle(self):
            try:
                msg = json.loads(self.rfile.readline())
            except ValueError:
                return
            self.wfile.write((json.dumps(node.handle(msg)) + "\n").encode())

    class Cql(socketserver.BaseRequestHandler):
        def handle(self):
            while True:
                head = self.request.recv(9)
                if len(head) < 9:
                    return
                version, _flags, stream, opcode, length = struct.unpack(">BBhBI", head)
                if length:
                    self.request.recv(length)
                if opcode == 0x05:  # OPTIONS -> SUPPORTED, a string multimap
                    body = struct.pack(">H", 2)
                    for k, vals in (("CQL_VERSION", ["3.4.7"]), ("COMPRESSION", [])):
                        body += struct.pack(">H", len(k)) + k.encode() + struct.pack(">H", len(vals))
                        for v in vals:
                            body += struct.pack(">H", len(v)) + v.encode()
                    self.request.sendall(struct.pack(">BBhBI", 0x80 | version, 0, stream, 0x06, len(body)) + body)
                else:
                    msg = b"stand-in: only OPTIONS"
                    body = struct.pack(">iH", 0x000A, len(msg)) + msg
                    self.request.sendall(struct.pack(">BBhBI", 0x80 | version, 0, stream, 0x00, len(body)) + body)

    serve(conf["listen"], conf["storage_port"], Gossip)
    serve(conf["rpc"], conf["cql_port"], Cql)
    print(f"stand-in cassandra: {conf['cluster']} node {conf['listen']} seeds {conf['seeds']}", flush=True)
    node.gossip_forever()


def nodetool():
    if sys.argv[1:2] != ["status"]:
        sys.exit("stand-in nodetool: only `status`")
    conf = read_conf()
    try:
        known = ask(conf["listen"], conf["storage_port"], {"cluster": conf["cluster"], "peers": {}})
    except OSError as exc:
        sys.exit(f"nodetool: Failed to connect to '{conf['listen']}:7199' - {exc}")
    rows = {}
    for addr, info in sorted(known["peers"].items()):
        try:
            up = "cluster" in ask(addr, conf["storage_port"], {"cluster": conf["cluster"], "peers": {}}, 1.0)
        except (OSError, ValueError):
            up = False
        rows.setdefault(info["dc"], []).append(("UN" if up else "DN", addr, info["rack"]))
    for dc, lines in rows.items():
        print(f"Datacenter: {dc}\n{'=' * (12 + len(dc))}\nStatus=Up/Down\n|/ State=Normal/Leaving/Joining/Moving")
        print("--  Address  Load  Tokens  Owns  Host ID  Rack")
        for state, addr, rack in lines:
            print(f"{state}  {addr}  1 KiB  16  ?  standin-{addr}  {rack}")


if __name__ == "__main__":
    nodetool() if os.path.basename(sys.argv[0]) == "nodetool" else cassandra()
