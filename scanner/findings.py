"""Finding, Location, Severity: made in one place, redacted and fingerprinted, never a secret in clear."""

from __future__ import annotations

import enum
import hashlib
import hmac
import os
import secrets as _secrets
from dataclasses import dataclass
from pathlib import Path

import platformdirs


class Severity(enum.IntEnum):
    INFO = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Severity:
        try:
            return cls[text.strip().upper()]
        except KeyError:
            names = ", ".join(s.label for s in cls)
            raise ValueError(f"unknown severity {text!r}; one of {names}") from None


@dataclass(frozen=True)
class Location:
    """Where a finding sits: layer_index 0-based in manifest order; history_index 0-based over history."""

    kind: str  # "layer" | "history" | "config" | "attestation" | "manifest"
    image_index: int = 0
    layer_index: int | None = None
    path: str | None = None  # no leading "/"
    inner_path: str | None = None  # "app.jar!BOOT-INF/a.properties" style
    line: int | None = None
    history_index: int | None = None
    key: str | None = None  # e.g. "Env.API_TOKEN", "Labels.token", "build-arg:TOKEN"

    def describe(self) -> str:
        """Human text: 'layer 2: root/.netrc line 3' / 'history[4] build-arg TOKEN' / 'config Env.TOKEN'."""
        if self.kind == "layer":
            where = f"layer {self.layer_index}: /{self.path}"
            if self.inner_path:
                where += f"!{self.inner_path}"
            if self.line:
                where += f" line {self.line}"
            return where
        if self.kind == "history":
            return f"history[{self.history_index}]" + (f" {self.key}" if self.key else "")
        return self.kind + (f" {self.key}" if self.key else "")


@dataclass(frozen=True)
class Finding:
    rule: str
    category: str  # "known-secret" | "credential" | "sensitive-file" | "entropy" | "metadata"
    severity: Severity
    title: str
    location: Location
    excerpt: str  # redacted
    fingerprint: str
    remediation: str
    status: str = "visible"  # "visible" | "deleted" | "overwritten"
    status_layer: int | None = None  # the layer that deleted or overwrote it
    note: str | None = None  # why a severity was lowered, e.g. "unmodified file of package openssl"
    known_secret_id: str | None = None
    suppressed: str | None = None  # reason from baseline/allowlist; suppressed findings never fail the gate


# --- redaction ---------------------------------------------------------------

MASK = "*****"


def redact_value(value: str) -> str:
    """What may be shown of a secret: a short, non-secret prefix (a token type like `ghp_`), then a mask.

    Values under 16 characters show nothing: half of a short password is most of it.
    """
    if len(value) < 16:
        return MASK
    keep = min(4, len(value) // 8)
    return value[:keep] + MASK


def redact_text(text: str, values: list[str], limit: int = 160) -> str:
    """Replace every occurrence of every value in `text`, then clip it to `limit` characters."""
    out = text
    for value in sorted({v for v in values if v}, key=len, reverse=True):
        out = out.replace(value, redact_value(value))
    out = out.replace("\r", " ").replace("\n", " ").replace("\t", " ")
    if len(out) > limit:
        out = out[: limit - 1] + "…"
    return out


# --- fingerprints -------------------------------------------------------------

_KEY_ENV = "IMGSCAN_FINGERPRINT_KEY"
_key_cache: bytes | None = None


def fingerprint_key() -> bytes:
    """The HMAC key for fingerprints: $IMGSCAN_FINGERPRINT_KEY, else a random key kept in the user config dir.

    A keyed hash, so a fingerprint cannot be brute-forced back to a short password by whoever reads a report.
    Set the variable in CI so that baselines made elsewhere match.
    """
    global _key_cache
    if _key_cache is not None:
        return _key_cache
    env = os.environ.get(_KEY_ENV)
    if env:
        _key_cache = env.encode()
        return _key_cache
    path = Path(platformdirs.user_config_dir("imgscan")) / "fingerprint.key"
    try:
        _key_cache = path.read_bytes().strip()
    except OSError:
        _key_cache = b""
    if len(_key_cache) < 32:
        _key_cache = _secrets.token_hex(32).encode()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(_key_cache)
        except OSError:
            pass  # an unwritable home still scans; fingerprints are then stable for this process only
    return _key_cache


def reset_fingerprint_key() -> None:
    """Forget the cached key (tests that change the environment)."""
    global _key_cache
    _key_cache = None


def keyed_fingerprint(*parts: str) -> str:
    """HMAC-SHA256 over the parts, 32 hex characters."""
    mac = hmac.new(fingerprint_key(), digestmod=hashlib.sha256)
    for part in parts:
        mac.update(part.encode("utf-8", "surrogatepass"))
        mac.update(b"\x00")
    return mac.hexdigest()[:32]


def finding_fingerprint(rule: str, location: Location, secret: str) -> str:
    """Stable across rebuilds of the same image content: rule, in-image place (not layer number), secret."""
    place = location.path or location.key or location.kind
    return keyed_fingerprint("finding", rule, location.kind, place, location.inner_path or "", secret)
