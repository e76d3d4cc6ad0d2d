"""Distribution API v2 over HTTP(S): scheme and TLS as Docker picks them, auth challenges, bounded retries."""

from __future__ import annotations

import base64
import os
import re
import time
from pathlib import Path
from typing import Any

import certifi
import requests
import urllib3

from scanner import __version__
from scanner.errors import SourceError, UsageError
from scanner.sources.registry.auth import IDENTITY_TOKEN_USER, find_credentials
from scanner.sources.registry.options import RegistryOptions
from scanner.sources.registry.reference import Reference

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_MAX_CONNECTION_TRIES = 3
_BACKOFF_START = 0.5
_BACKOFF_CAP = 8.0
_TOKEN_CAP = 1 << 20
_CHALLENGE_PARAM = re.compile(r'(\w+)\s*=\s*(?:"([^"]*)"|([^\s,]+))')


class RegistryClient:
    """One repository of one registry: authenticated GETs that retry on 429/5xx within a time budget."""

    def __init__(self, ref: Reference, options: RegistryOptions, workdir: Path) -> None:
        self.ref = ref
        self.options = options
        self.creds = find_credentials(ref, options.creds)
        self.session = requests.Session()
        # Stored bytes are hashed against their digest: no transparent decoding of what is sent.
        self.session.headers.update({"User-Agent": f"imgscan/{__version__}", "Accept-Encoding": "identity"})
        # Passed with every request: a session-level `verify` loses to $REQUESTS_CA_BUNDLE.
        self.verify, self.session.cert = _tls_settings(ref, options, workdir)
        if not options.tls_verify:
            # The user asked for it by name (--tls-verify=false); one warning per request is noise.
            urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
        self.base = ""
        self._authorization: str | None = None

    # -- connecting --------------------------------------------------------------------------------

    def connect(self) -> None:
        """Find the scheme (HTTPS; plain HTTP only for loopback or --tls-verify=false) and authenticate."""
        schemes = ["https", "http"] if self.ref.is_loopback or not self.options.tls_verify else ["https"]
        first_error: Exception | None = None
        for scheme in schemes:
            base = f"{scheme}://{self.ref.api_host}"
            try:
                response = self._send(f"{base}/v2/", "the API check", stream=False)
            except (requests.exceptions.SSLError, requests.exceptions.ConnectionError) as exc:
                first_error = first_error or exc
                continue
            if response.status_code == 401:
                self.base = base
                self._authenticate(response)
                return
            if response.status_code == 200:
                self.base = base
                return
            if first_error is not None:
                break  # plain HTTP to a TLS port: the HTTPS failure is the one that explains
            raise SourceError(f"{self.ref.host} answers HTTP {response.status_code} at /v2/: not a registry")
        raise SourceError(f"cannot reach registry {self.ref.host}: {_describe(first_error)}")

    def _authenticate(self, response: requests.Response) -> None:
        scheme, params = parse_challenge(response.headers.get("WWW-Authenticate", ""))
        if scheme == "basic":
            if self.creds is None:
                raise SourceError(f"{self.ref.host} requires credentials: run docker login or give --creds")
            pair = f"{self.creds.username}:{self.creds.password}".encode()
            self._authorization = "Basic " + base64.b64encode(pair).decode()
        elif scheme == "bearer" and params.get("realm"):
            self._authorization = "Bearer " + self._token(params)
        else:
            raise SourceError(f"{self.ref.host} asks for an unsupported authentication scheme {scheme!r}")

    def _token(self, params: dict[str, str]) -> str:
        """The bearer-token flow: ask the realm for a pull token, with the credentials when there are some."""
        realm = params["realm"]
        if not realm.startswith(("https://", "http://")):
            raise SourceError(f"{self.ref.host} names a token service that is not an HTTP URL")
        query = {"scope": params.get("scope") or f"repository:{self.ref.repository}:pull"}
        if params.get("service"):
            query["service"] = params["service"]
        creds = self.creds
        if creds is not None and creds.username == IDENTITY_TOKEN_USER:
            form = {
                **query,
                "grant_type": "refresh_token",
                "refresh_token": creds.password,
                "client_id": "imgscan",
            }
            response = self._send(realm, "the token request", stream=False, method="POST", data=form)
        else:
            auth = (creds.username, creds.password) if creds is not None else None
            response = self._send(realm, "the token request", stream=False, params=query, auth=auth)
        if response.status_code in (401, 403):
            raise SourceError(
                f"{self.ref.host}'s token service refused the credentials (HTTP {response.status_code})"
            )
        if response.status_code != 200:
            raise SourceError(f"{self.ref.host}'s token service answered HTTP {response.status_code}")
        try:
            data = response.json() if len(response.content) <= _TOKEN_CAP else None
        except ValueError:
            data = None
        token = (data.get("token") or data.get("access_token")) if isinstance(data, dict) else None
        if not isinstance(token, str) or not token:
            raise SourceError(f"{self.ref.host}'s token service answered without a token")
        return token

    # -- requests ------------------------------------------------------------------------------------

    def get(self, path: str, what: str, accept: str | None = None) -> requests.Response:
        """A streamed GET of /v2/<repository>/<path> that answered 200; SourceError naming `what` if not."""
        if not self.base:
            self.connect()
        url = f"{self.base}/v2/{self.ref.repository}/{path}"
        headers = {"Accept": accept} if accept else {}
        response = self._send(url, what, stream=True, headers=headers)
        if response.status_code == 401:
            response.close()
            self._authenticate(response)
            response = self._send(url, what, stream=True, headers=headers)
        if response.status_code == 200:
            return response
        response.close()
        if response.status_code in (401, 403):
            raise SourceError(
                f"{self.ref.host} denied access to {self.ref.repository} (HTTP {response.status_code})"
            )
        if response.status_code == 404:
            raise SourceError(f"{self.ref.host}/{self.ref.repository}: no {what} (HTTP 404)")
        raise SourceError(f"{self.ref.host}: {what} answered HTTP {response.status_code}")

    def _send(
        self, url: str, what: str, *, stream: bool, method: str = "GET", **kwargs: Any
    ) -> requests.Response:
        """One request, retried on 429/5xx and dropped connections with backoff, within the time budget."""
        headers = dict(kwargs.pop("headers", None) or {})
        if self._authorization and "auth" not in kwargs and url.startswith(self.base or "\0"):
            headers["Authorization"] = self._authorization
        started = time.monotonic()
        attempt, connection_failures = 0, 0
        while True:
            attempt += 1
            try:
                response = self.session.request(
                    method,
                    url,
                    stream=stream,
                    headers=headers,
                    timeout=self.options.timeout_seconds,
                    verify=self.verify,
                    **kwargs,
                )
            except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
                if not self.base:
                    raise  # still choosing the scheme: connect() tries the next one
                connection_failures += 1
                last = _describe(exc)
                if connection_failures >= _MAX_CONNECTION_TRIES or isinstance(
                    exc, requests.exceptions.SSLError
                ):
                    raise SourceError(f"{self.ref.host}: {what} failed: {last}") from None
                wait = _backoff(attempt)
            else:
                if response.status_code not in RETRY_STATUSES:
                    return response
                last = f"HTTP {response.status_code}"
                wait = _retry_after(response) or _backoff(attempt)
                response.close()
            elapsed = time.monotonic() - started
            if elapsed + wait > self.options.retry_seconds:
                raise SourceError(
                    f"{self.ref.host}: {what} still failing after {attempt} attempts in {elapsed:.0f} s "
                    f"(last: {last})"
                )
            time.sleep(wait)


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """`Bearer realm="...",service="...",scope="..."` -> ("bearer", {realm, service, scope})."""
    scheme, _, rest = header.strip().partition(" ")
    params = {
        m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3)
        for m in _CHALLENGE_PARAM.finditer(rest)
    }
    return scheme.lower(), params


def _backoff(attempt: int) -> float:
    return float(min(_BACKOFF_START * 2 ** (attempt - 1), _BACKOFF_CAP))


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    return float(value) if value.isdigit() else None


def _describe(exc: Exception | None) -> str:
    """A connection error in one line: its root cause, never a URL (a token service's query)."""
    if exc is None:
        return "no answer"
    text = " ".join(str(exc).split())
    if "CERTIFICATE_VERIFY_FAILED" in text:
        return "its TLS certificate is not trusted (give --ca or --cert-dir, or --tls-verify=false)"
    if isinstance(exc, requests.exceptions.SSLError):
        return "TLS handshake failed"
    cause = re.search(r"\[Errno -?\d+\] [^'\")]*", text)
    if cause:
        return cause.group(0)
    if isinstance(exc, requests.exceptions.Timeout):
        return "timed out"
    return type(exc).__name__


def _tls_settings(
    ref: Reference, options: RegistryOptions, workdir: Path
) -> tuple[bool | str, tuple[str, str] | None]:
    """requests' `verify` and client `cert`: --ca and --cert-dir (or /etc/docker/certs.d/HOST) as Docker."""
    cert_dir = options.cert_dir
    if cert_dir is None:
        default = Path("/etc/docker/certs.d") / ref.host
        cert_dir = default if default.is_dir() else None
    elif not cert_dir.is_dir():
        raise UsageError(f"--cert-dir {cert_dir}: not a directory")
    cas: list[Path] = []
    client: tuple[str, str] | None = None
    if options.ca is not None:
        if not options.ca.is_file():
            raise UsageError(f"--ca {options.ca}: no such file")
        cas.append(options.ca)
    if cert_dir is not None:
        cas += sorted(cert_dir.glob("*.crt"))
        for cert in sorted(cert_dir.glob("*.cert")):
            key = cert.with_suffix(".key")
            if not key.is_file():
                raise UsageError(f"{cert}: client certificate without its {key.name}")
            client = (str(cert), str(key))
    if not options.tls_verify:
        return False, client
    if not cas:
        return True, client
    bundle = workdir / "registry-ca.pem"
    try:
        # Like Docker: the private CAs are added to the system's, not used instead of them.
        system = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("SSL_CERT_FILE") or certifi.where()
        parts = [Path(system).read_bytes(), *(ca.read_bytes() for ca in cas)]
    except OSError as exc:
        raise UsageError(f"cannot read a CA certificate: {exc.strerror}") from None
    bundle.write_bytes(b"\n".join(parts))
    return str(bundle), client
