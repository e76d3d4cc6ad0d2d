"""What the command line tells the registry source: credentials, TLS, retry budget."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from scanner.errors import UsageError

PASSWORD_ENV = "IMGSCAN_REGISTRY_PASSWORD"


@dataclass(frozen=True)
class Credentials:
    """A user name and a password or token; the secret never appears in repr() or in any message."""

    username: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class RegistryOptions:
    """--creds, --tls-verify, --cert-dir, --ca, and how long to keep retrying a busy registry."""

    creds: Credentials | None = None
    tls_verify: bool = True
    cert_dir: Path | None = None
    ca: Path | None = None
    retry_seconds: float = 60.0
    timeout_seconds: float = 60.0


def parse_creds(value: str) -> Credentials:
    """`USER:PASS`, or `USER` with the password from $IMGSCAN_REGISTRY_PASSWORD or one line of stdin."""
    user, sep, password = value.partition(":")
    if not user:
        raise UsageError("--creds needs USER[:PASS]")
    if not sep:
        password = os.environ.get(PASSWORD_ENV) or _password_from_stdin(user)
    if not password:
        raise UsageError(f"--creds {user}: empty password")
    return Credentials(user, password)


def _password_from_stdin(user: str) -> str:
    if sys.stdin is None:
        raise UsageError(f"--creds {user}: no password (set {PASSWORD_ENV} or pipe it on stdin)")
    if sys.stdin.isatty():
        import getpass

        return getpass.getpass(f"Password for {user}: ")
    return sys.stdin.readline().rstrip("\r\n")
