"""A small HTTP proxy in front of the plain test registry that misbehaves on purpose, on 127.0.0.1 only.

It can answer the first requests for blobs with given error statuses (429, 500, ...), flip one byte of a
chosen blob's body, and demand a bearer token that its own /token endpoint hands out for the right
basic credentials (the distribution token flow). Every request it sees is recorded.
"""

from __future__ import annotations

import base64
import http.client
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

TOKEN = "fault-proxy-token-not-a-secret"


@dataclass
class Faults:
    """What the proxy does; changed by tests between scans (the handler reads it on each request)."""

    blob_statuses: list[int] = field(default_factory=list)  # answered, in order, to the next blob GETs
    corrupt_digest: str | None = None  # flip one byte in this blob's body
    bearer_user: str | None = None  # require a bearer token; /token wants this user (None: no auth)
    bearer_password: str = ""
    anonymous_token: bool = False  # /token hands a token to anyone (anonymous pulls, Docker Hub style)
    seen: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class FaultProxy:
    """`with FaultProxy("127.0.0.1:5781") as proxy:` -> proxy.host is 127.0.0.1:PORT."""

    def __init__(self, upstream: str) -> None:
        self.faults = Faults()
        faults, upstream_host = self.faults, upstream

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                return

            def do_GET(self) -> None:
                self._handle("GET")

            def do_HEAD(self) -> None:
                self._handle("HEAD")

            def _handle(self, method: str) -> None:
                with faults.lock:
                    faults.seen.append(f"{method} {self.path}")
                    status = (
                        faults.blob_statuses.pop(0) if "/blobs/" in self.path and faults.blob_statuses else 0
                    )
                if self.path.startswith("/token"):
                    return self._token()
                needs_token = faults.bearer_user is not None or faults.anonymous_token
                if needs_token and self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    realm = f"http://{self.headers['Host']}/token"
                    challenge = f'Bearer realm="{realm}",service="fault-proxy"'
                    return self._reply(401, b"{}", {"WWW-Authenticate": challenge})
                if status:
                    return self._reply(status, b"busy", {"Retry-After": "0"} if status == 429 else {})
                self._forward(method)

            def _token(self) -> None:
                query = parse_qs(urlsplit(self.path).query)
                given = self.headers.get("Authorization", "")
                wanted = base64.b64encode(f"{faults.bearer_user}:{faults.bearer_password}".encode()).decode()
                ok = faults.anonymous_token or given == f"Basic {wanted}"
                if not ok or query.get("service") != ["fault-proxy"]:
                    return self._reply(401, b'{"errors":[{"code":"UNAUTHORIZED"}]}', {})
                return self._reply(
                    200, f'{{"token": "{TOKEN}"}}'.encode(), {"Content-Type": "application/json"}
                )

            def _forward(self, method: str) -> None:
                conn = http.client.HTTPConnection(upstream_host, timeout=60)
                headers = {
                    k: v for k, v in self.headers.items() if k.lower() not in ("host", "authorization")
                }
                conn.request(method, self.path, headers=headers)
                upstream = conn.getresponse()
                body = upstream.read()
                if faults.corrupt_digest and self.path.endswith(f"/blobs/{faults.corrupt_digest}") and body:
                    body = body[:-1] + bytes([body[-1] ^ 0xFF])
                keep = ("content-type", "docker-content-digest", "location", "www-authenticate")
                self._reply(
                    upstream.status, body, {k: v for k, v in upstream.getheaders() if k.lower() in keep}
                )
                conn.close()

            def _reply(self, status: int, body: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.host = f"127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def blob_requests(self, digest: str) -> int:
        with self.faults.lock:
            return sum(1 for line in self.faults.seen if line.endswith(f"/blobs/{digest}"))
