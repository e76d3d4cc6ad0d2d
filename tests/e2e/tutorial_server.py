"""The build-secrets tutorial's web server: "Hello, Admin" behind HTTP basic auth, on 127.0.0.1 only."""

from __future__ import annotations

import argparse
import base64
import contextlib
import hmac
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

USER = "admin"
PASSWORD = "password"  # the tutorial's own obviously fake credential
MESSAGE = b"Hello, Admin\n"
NETRC_TEMPLATE = "machine 127.0.0.1\nlogin {user}\npassword {password}\n"


def netrc_text() -> str:
    """The netrc a client needs to reach the server: what the build hands to `curl -n`."""
    return NETRC_TEMPLATE.format(user=USER, password=PASSWORD)


class _Handler(BaseHTTPRequestHandler):
    _expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()

    def do_GET(self) -> None:
        given = self.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), self._expected.encode()):
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="tutorial"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(MESSAGE)))
        self.end_headers()
        self.wfile.write(MESSAGE)

    def log_message(self, format: str, *args: object) -> None:
        # Quiet under pytest; request lines would only clutter failure output.
        pass


class TutorialServer:
    """The server on a free loopback port, served from a daemon thread; use as a context manager."""

    def __init__(self, port: int = 0) -> None:
        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/"

    def __enter__(self) -> TutorialServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8000)
    port = parser.parse_args().port
    with TutorialServer(port) as server:
        print(f"serving {server.url} (user {USER}, password {PASSWORD}); Ctrl-C stops", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
