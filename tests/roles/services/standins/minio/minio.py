#!/usr/bin/env python3
"""STAND-IN for MinIO (`minio` server and `mc` client in one file; the name it is called by picks). Never shipped.

Server: `minio server [--address HOST:PORT] ENDPOINT...` with MINIO_ROOT_USER/MINIO_ROOT_PASSWORD from the
environment, like the real one. Endpoints are `http://host[:port]/path`; this node's are the ones whose host
is one of its addresses, and their directories must exist and be writable. /minio/health/live answers 200;
/minio/health/cluster answers 200 only while more than half of the endpoint hosts answer live (write quorum).
Buckets, objects, users and policies live in the local data directory and every change is replayed to the
peers. Requests are signed with a stand-in scheme (HMAC-SHA256 of method and path with the secret key; not
S3 SigV4); a non-root user may only touch buckets a policy attached to it allows (Resource arn:aws:s3:::B).

Client: `mc` with aliases from MC_HOST_<alias>=http://KEY:SECRET@host:port (as the real mc reads them):
mb [--ignore-existing], ls, cp FILE, cat, admin user add|info [--json], admin policy create|info|attach.
"""

import hashlib
import hmac
import json
import os
import re
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote, unquote, urlparse

ADMIN = "/minio/admin/standin/"


def sign(secret, method, path):
    return hmac.new(secret.encode(), f"{method}\n{path}".encode(), hashlib.sha256).hexdigest()


def request(base, access, secret, method, path, body=None, extra=None):
    req = urllib.request.Request(base + quote(path), data=body, method=method)
    req.add_header("Authorization", f"STANDIN {access}:{sign(secret, method, path)}")
    for k, v in (extra or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


# ---------------------------------------------------------------------------------------------- server

def my_addresses():
    out = subprocess.run(["hostname", "-I"], capture_output=True, text=True).stdout.split()
    return set(out) | {socket.gethostname(), socket.getfqdn(), "127.0.0.1", "localhost"}


def server(args):
    address = "0.0.0.0:9000"
    endpoints = []
    it = iter(args)
    for a in it:
        if a == "--address":
            address = next(it)
        elif a.startswith("--"):
            next(it, None)
        else:
            endpoints.extend(a.split())
    endpoints += os.environ.get("MINIO_VOLUMES", "").split()
    root = (os.environ.get("MINIO_ROOT_USER"), os.environ.get("MINIO_ROOT_PASSWORD"))
    if not all(root) or len(root[1]) < 8:
        sys.exit("stand-in minio: MINIO_ROOT_USER and MINIO_ROOT_PASSWORD (8+ characters) must be set")
    host, port = address.rsplit(":", 1)
    mine = my_addresses()
    parsed = [urlparse(e) for e in endpoints]
    local = [p.path for p in parsed if p.hostname in mine]
    if not local:
        sys.exit(f"stand-in minio: none of the endpoints {endpoints} is this host ({sorted(mine)})")
    for d in local:
        probe = os.path.join(d, ".standin-write-test")
        open(probe, "w").close()
        os.remove(probe)
    data = local[0]
    peers = sorted({f"http://{p.hostname}:{p.port or port}" for p in parsed if p.hostname not in mine})
    state_file = os.path.join(data, ".standin-iam.json")
    lock = threading.Lock()

    def load():
        return json.loads(Path(state_file).read_text()) if os.path.exists(state_file) else {"users": {}, "policies": {}}

    def save(state):
        Path(state_file).write_text(json.dumps(state))

    def allowed(user, bucket, state):
        for pname in state["users"][user]["policies"]:
            for st in state["policies"].get(pname, {}).get("Statement", []):
                res = st.get("Resource", [])
                res = [res] if isinstance(res, str) else res
                if st.get("Effect") == "Allow" and any(r in (f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*",
                                                                 "arn:aws:s3:::*") for r in res):
                    return True
        return False

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def send(self, code, body=b"", ctype="application/json"):
            if isinstance(body, dict | list):
                body = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def auth(self, path):
            m = re.match(r"STANDIN ([^:]+):([0-9a-f]+)$", self.headers.get("Authorization", ""))
            if not m:
                return None
            access, sig = m.groups()
            with lock:
                state = load()
            secret = root[1] if access == root[0] else state["users"].get(access, {}).get("secret")
            if secret and hmac.compare_digest(sig, sign(secret, self.command, path)):
                return access
            return None

        def replay(self, path, body):
            if self.headers.get("X-Standin-Replica"):
                return
            for peer in peers:
                try:
                    request(peer, root[0], root[1], self.command, path, body, {"X-Standin-Replica": "1"})
                except OSError as exc:
                    print(f"stand-in minio: replica {peer} {path}: {exc}", file=sys.stderr, flush=True)

        def do_GET(self):
            path = unquote(urlparse(self.path).path)
            if path == "/minio/health/live":
                return self.send(200)
            if path == "/minio/health/cluster":
                up = 1
                for peer in peers:
                    try:
                        with urllib.request.urlopen(peer + "/minio/health/live", timeout=1) as r:
                            up += r.status == 200
                    except OSError:
                        pass
                return self.send(200 if up * 2 > len(peers) + 1 else 503, {"online": up, "total": len(peers) + 1})
            self.dispatch(path, None)

        def do_PUT(self):
            path = unquote(urlparse(self.path).path)
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.dispatch(path, body)

        def dispatch(self, path, body):
            user = self.auth(path)
            if user is None:
                return self.send(403, {"Code": "SignatureDoesNotMatch"})
            # The peers are told after the lock is released: two nodes replaying to each other while each held
            # its own lock would deadlock until the replica requests timed out.
            with lock:
                reply = self.apply(user, path, body)
            if reply[0] == 200 and body is not None:
                self.replay(path, body)
            return self.send(*reply)

        def apply(self, user, path, body):
            state = load()
            if path.startswith(ADMIN):
                if user != root[0]:
                    return (403, {"Code": "AccessDenied"})
                kind, _, rest = path[len(ADMIN):].partition("/")
                if body is None:
                    table = {"user": state["users"], "policy": state["policies"]}.get(kind, {})
                    if rest not in table:
                        return (404, {"Code": "XMinioAdminNoSuch" + kind.title()})
                    item = dict(table[rest])
                    item.pop("secret", None)
                    return (200, item)
                if kind == "user":
                    old = state["users"].get(rest, {}).get("policies", [])
                    state["users"][rest] = {"secret": json.loads(body)["secret"], "policies": old}
                elif kind == "policy":
                    state["policies"][rest] = json.loads(body)
                elif kind == "attach":
                    pname, _, uname = rest.partition("/")
                    if pname not in state["policies"] or uname not in state["users"]:
                        return (404, {"Code": "XMinioAdminNoSuchPolicyOrUser"})
                    if pname not in state["users"][uname]["policies"]:
                        state["users"][uname]["policies"].append(pname)
                save(state)
                return (200,)
            bucket, _, key = path.lstrip("/").partition("/")
            if not re.match(r"^[a-z0-9][a-z0-9.-]{2,62}$", bucket):
                return (400, {"Code": "InvalidBucketName"})
            if user != root[0] and not allowed(user, bucket, state):
                return (403, {"Code": "AccessDenied"})
            bdir = os.path.join(data, bucket)
            if not key:
                if body is None:
                    if not os.path.isdir(bdir):
                        return (404, {"Code": "NoSuchBucket"})
                    return (200, sorted(os.listdir(bdir)))
                if os.path.isdir(bdir):
                    return (409, {"Code": "BucketAlreadyOwnedByYou"})
                os.makedirs(bdir)
                return (200,)
            if not os.path.isdir(bdir):
                return (404, {"Code": "NoSuchBucket"})
            obj = os.path.join(bdir, key.replace("/", "%2F"))
            if body is None:
                if not os.path.exists(obj):
                    return (404, {"Code": "NoSuchKey"})
                return (200, Path(obj).read_bytes(), "application/octet-stream")
            Path(obj).write_bytes(body)
            return (200,)

    ThreadingHTTPServer.allow_reuse_address = True
    print(f"stand-in minio: {address} data {data} peers {peers}", flush=True)
    ThreadingHTTPServer((host or "0.0.0.0", int(port)), Handler).serve_forever()


# ---------------------------------------------------------------------------------------------- client

def alias(name):
    raw = os.environ.get(f"MC_HOST_{name}")
    if not raw:
        sys.exit(f"mc: <ERROR> Unable to find alias {name} (set MC_HOST_{name})")
    u = urlparse(raw)
    return f"{u.scheme}://{u.hostname}:{u.port}", unquote(u.username), unquote(u.password)


def target(spec):
    name, _, path = spec.partition("/")
    base, access, secret = alias(name)
    return base, access, secret, "/" + path


def mc(args):
    def call(spec_base, method, path, body=None):
        base, access, secret = spec_base
        code, out = request(base, access, secret, method, path, body)
        if code >= 300:
            sys.exit(f"mc: <ERROR> {method} {path}: {code} {out.decode(errors='replace')}")
        return out

    cmd = args[:2] if args[:1] == ["admin"] else args[:1]
    rest = args[len(cmd):]
    if cmd == ["admin"] + rest[:0] and rest:
        pass
    if cmd == ["mb"]:
        ignore = "--ignore-existing" in rest
        base, a, s, path = target([x for x in rest if not x.startswith("--")][0])
        code, out = request(base, a, s, "PUT", path, b"")
        if code == 409 and ignore:
            print(f"Bucket `{path.strip('/')}` already exists")
        elif code >= 300:
            sys.exit(f"mc: <ERROR> Unable to make bucket: {code} {out.decode()}")
        else:
            print(f"Bucket created successfully `{path.strip('/')}`.")
    elif cmd == ["ls"]:
        base, a, s, path = target(rest[0])
        for name in json.loads(call((base, a, s), "GET", path)):
            print(name)
    elif cmd == ["cp"]:
        base, a, s, path = target(rest[1])
        call((base, a, s), "PUT", path, Path(rest[0]).read_bytes())
    elif cmd == ["cat"]:
        base, a, s, path = target(rest[0])
        sys.stdout.buffer.write(call((base, a, s), "GET", path))
    elif cmd == ["admin", "user"]:
        sub, name, user = rest[0], rest[1], rest[2]
        if sub == "add":
            call(alias(name), "PUT", ADMIN + "user/" + user, json.dumps({"secret": rest[3]}).encode())
            print(f"Added user `{user}` successfully.")
        elif sub == "info":
            info = json.loads(call(alias(name), "GET", ADMIN + "user/" + user))
            print(json.dumps({"status": "success", "accessKey": user, "policyName": ",".join(info["policies"]),
                              "userStatus": "enabled"}))
    elif cmd == ["admin", "policy"]:
        sub, name, pname = rest[0], rest[1], rest[2]
        if sub == "create":
            call(alias(name), "PUT", ADMIN + "policy/" + pname, Path(rest[3]).read_bytes())
            print(f"Created policy `{pname}` successfully.")
        elif sub == "info":
            print(call(alias(name), "GET", ADMIN + "policy/" + pname).decode())
        elif sub == "attach":
            user = rest[rest.index("--user") + 1]
            call(alias(name), "PUT", ADMIN + f"attach/{pname}/{user}", b"")
            print(f"Attached Policies: [{pname}] To User: {user}")
    else:
        sys.exit(f"mc (stand-in): unsupported command {args}")


if __name__ == "__main__":
    prog = os.path.basename(sys.argv[0])
    if prog.startswith("mc"):
        mc(sys.argv[1:])
    elif sys.argv[1:2] == ["server"]:
        server(sys.argv[2:])
    else:
        sys.exit("stand-in minio: usage: minio server ENDPOINT...")
