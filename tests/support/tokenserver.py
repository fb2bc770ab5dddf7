"""A loopback bearer-token server for the registry's `auth: token` mode (the WWW-Authenticate flow).

The registry answers 401 with `Bearer realm=<this server>/token,service=...,scope=...`; the client asks this
server for a token (with basic credentials, or anonymously when allowed) and retries with
`Authorization: Bearer <jwt>`. Tokens are RS256 JWTs whose header carries the signing certificate (`x5c`);
the registry trusts them because that certificate is its `rootcertbundle`.

Anonymous callers get `pull` only when `anonymous_pull` is set; authenticated callers get every action
they ask for. Each issued token is logged in `issued` so a test can see which scopes were requested.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from tests.support.httpserver import HTTPServer
from tests.support.registry import TokenAuthSettings

SERVICE = "wire-bundle-test-registry"
ISSUER = "wire-bundle-test-token-server"
TOKEN_LIFETIME = 300


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class IssuedToken:
    user: str | None
    scopes: list[str]
    granted: list[dict]


class TokenServer:
    def __init__(self, workdir: Path, *, user: str, password: str, anonymous_pull: bool = False) -> None:
        self.workdir = Path(workdir) / "token-server"
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.user, self.password = user, password
        self.anonymous_pull = anonymous_pull
        self.issued: list[IssuedToken] = []
        self.refused = 0
        self._lock = threading.Lock()
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._cert = self._self_signed(self._key)
        self.cert_path = self.workdir / "rootcert.pem"
        self.cert_path.write_bytes(self._cert.public_bytes(serialization.Encoding.PEM))
        self._x5c = [base64.b64encode(self._cert.public_bytes(serialization.Encoding.DER)).decode()]
        self._http = HTTPServer(self._handler_class(), name="tokenserver")
        self.port = self._http.port

    @staticmethod
    def _self_signed(key: rsa.RSAPrivateKey) -> x509.Certificate:
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "wire-bundle stand-in token signer")])
        now = dt.datetime.now(dt.UTC)
        return (
            x509.CertificateBuilder()
            .subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256())
        )

    @property
    def realm(self) -> str:
        return f"http://127.0.0.1:{self.port}/token"

    @property
    def settings(self) -> TokenAuthSettings:
        return TokenAuthSettings(self.realm, SERVICE, ISSUER, self.cert_path)

    def stop(self) -> None:
        self._http.close()

    def make_token(self, access: list[dict], subject: str = "", *, lifetime: int = TOKEN_LIFETIME) -> str:
        now = int(time.time())
        header = {"typ": "JWT", "alg": "RS256", "x5c": self._x5c}
        claims = {"iss": ISSUER, "sub": subject, "aud": SERVICE, "exp": now + lifetime, "nbf": now - 5,
                  "iat": now, "jti": f"{now}-{len(self.issued)}", "access": access}
        signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        sig = self._key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{_b64url(sig)}"

    def _grant(self, user: str | None, scopes: list[str]) -> list[dict]:
        access = []
        for scope in scopes:
            try:
                rtype, name, actions = scope.split(":", 2)  # names never contain ':' but a port might not
            except ValueError:
                continue
            wanted = [a for a in actions.split(",") if a]
            allowed = wanted if user else [a for a in wanted if a == "pull" and self.anonymous_pull]
            if allowed:
                access.append({"type": rtype, "name": name, "actions": allowed})
        return access

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
                pass

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                if url.path != "/token":
                    self._reply(404, {"error": "not found"})
                    return
                query = parse_qs(url.query)
                user = self._check_basic()
                if user is False:
                    with server._lock:
                        server.refused += 1
                    self._reply(401, {"error": "bad credentials"},
                                {"WWW-Authenticate": 'Basic realm="wire-bundle stand-in token server"'})
                    return
                scopes = [s for v in query.get("scope", []) for s in v.split(" ")]
                access = server._grant(user or None, scopes)
                token = server.make_token(access, user or "")
                with server._lock:
                    server.issued.append(IssuedToken(user or None, scopes, access))
                self._reply(200, {"token": token, "access_token": token, "expires_in": TOKEN_LIFETIME,
                                  "issued_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")})

            def _check_basic(self) -> str | bool:
                """'' for anonymous, the user name for good credentials, False for bad ones."""
                header = self.headers.get("Authorization", "")
                if not header.startswith("Basic "):
                    return ""
                try:
                    user, _, password = base64.b64decode(header[6:]).decode().partition(":")
                except (ValueError, UnicodeDecodeError):
                    return False
                return user if (user, password) == (server.user, server.password) else False

            def _reply(self, status: int, body: dict, headers: dict[str, str] | None = None) -> None:
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(payload)

        return Handler
