"""Key material by content: PEM/OpenSSH/PGP private key blocks (encrypted or not), PKCS#12, JKS, KeePass."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator
from dataclasses import dataclass

from scanner.detectors.filters import is_pem_key_body
from scanner.findings import Severity

# --- private key blocks ------------------------------------------------------------------------------

_KEY_BEGIN = re.compile(rb"-----BEGIN ((?:[A-Z0-9]+ ){0,3})PRIVATE KEY( BLOCK)?-----")
_B64_BYTES = re.compile(rb"[A-Za-z0-9+/=]")
_MAX_KEY_BLOCK = 256 * 1024
_TEST_DIRS = {"test", "tests", "testdata", "test-data", "testing", "fixtures", "__tests__", "spec", "specs"}
_LIBRARY_DIRS = {"site-packages", "dist-packages", "node_modules", "vendor", "gems", "go", "pkg", "share"}


@dataclass(frozen=True)
class KeyBlock:
    """A private key block's byte span, and what its header and body say about it."""

    start: int
    end: int
    encrypted: bool
    truncated: bool


def private_key_blocks(data: bytes) -> Iterator[KeyBlock]:
    """PEM/OpenSSH/PGP private key blocks with a real body, in byte offsets."""
    if b"PRIVATE KEY" not in data:
        return
    for m in _KEY_BEGIN.finditer(data):
        end_marker = b"-----END " + m.group(1) + b"PRIVATE KEY" + (m.group(2) or b"") + b"-----"
        stop = data.find(end_marker, m.end(), m.end() + _MAX_KEY_BLOCK)
        truncated = stop < 0
        body_end = min(len(data), m.end() + _MAX_KEY_BLOCK) if truncated else stop
        body = data[m.end() : body_end].replace(b"\\n", b"\n").replace(b"\\r", b"")
        if truncated:
            # Without an END marker, the body is the run of base64 lines right after the header.
            run = re.match(rb"(?:[ \t]*(?:[A-Za-z0-9+/=]+|[\w-]+: [^\n]*)?\r?\n)+", body.lstrip(b"\r\n"))
            body = run.group(0) if run else b""
            body_end = m.end() + len(body)
        if not is_pem_key_body(body, complete=not truncated):
            continue
        block_end = body_end if truncated else stop + len(end_marker)
        yield KeyBlock(m.start(), block_end, _is_encrypted(m.group(1), body), truncated)


def _is_encrypted(kind: bytes, body: bytes) -> bool:
    if b"ENCRYPTED" in kind or b"ENCRYPTED" in body[:200]:
        return True
    if kind == b"OPENSSH ":
        # openssh-key-v1\0, then the cipher name as a length-prefixed string: "none" when unencrypted.
        text = b"".join(_B64_BYTES.findall(body[:400]))
        try:
            raw = base64.b64decode(text[: len(text) // 4 * 4])
        except (binascii.Error, ValueError):
            return False
        magic = b"openssh-key-v1\x00"
        if raw.startswith(magic) and len(raw) >= len(magic) + 4:
            size = int.from_bytes(raw[len(magic) : len(magic) + 4], "big")
            return raw[len(magic) + 4 : len(magic) + 4 + size] != b"none"
    return False


def _is_library_test_file(path: str) -> bool:
    parts = set(path.lower().split("/"))
    in_library = bool(parts & _LIBRARY_DIRS) or any(p.startswith(("python2", "python3")) for p in parts)
    return in_library and bool(parts & _TEST_DIRS)


# --- binary keystores ------------------------------------------------------------------------------

_OID_PKCS7_DATA = bytes.fromhex("06092a864886f70d010701")
_OID_PKCS7_ENCRYPTED = bytes.fromhex("2a864886f70d010706")
_OID_KEY_BAGS = (bytes.fromhex("2a864886f70d010c0a0101"), bytes.fromhex("2a864886f70d010c0a0102"))
KDBX_MAGIC = (
    bytes.fromhex("03d9a29a67fb4bb5"),
    bytes.fromhex("03d9a29a66fb4bb5"),
    bytes.fromhex("03d9a29a65fb4bb5"),
)


def is_pkcs12(data: bytes) -> bool:
    # SEQUENCE { INTEGER 3, ContentInfo { pkcs7-data ... } ... }: the PFX header, in its first bytes.
    return (
        len(data) > 24 and data[0] == 0x30 and b"\x02\x01\x03" in data[2:7] and _OID_PKCS7_DATA in data[4:24]
    )


def pkcs12_contents(data: bytes) -> str:
    """'key' when a key bag is readable, 'encrypted' when bags are encrypted, else 'certificates'."""
    if any(oid in data for oid in _OID_KEY_BAGS):
        return "key"
    if _OID_PKCS7_ENCRYPTED in data:
        return "encrypted"
    return "certificates"


def jks_contents(data: bytes) -> str:
    """Walk JKS/JCEKS entries: 'key' (a private/secret key entry), 'certificates' (truststore), 'unknown'."""
    pos = 12
    try:
        version = int.from_bytes(data[4:8], "big")
        count = int.from_bytes(data[8:12], "big")
        for _ in range(count):
            tag = int.from_bytes(data[pos : pos + 4], "big")
            pos += 4
            pos += 2 + int.from_bytes(data[pos : pos + 2], "big") + 8  # alias, timestamp
            if tag in (1, 3):
                return "key"
            if tag != 2:
                return "unknown"
            if version == 2:
                pos += 2 + int.from_bytes(data[pos : pos + 2], "big")  # certificate type
            size = int.from_bytes(data[pos : pos + 4], "big")
            pos += 4 + size
            if pos > len(data):
                return "unknown"
    except (IndexError, ValueError):
        return "unknown"
    return "certificates"


def judge_key(path: str, encrypted: bool, truncated: bool = False) -> tuple[Severity | None, str | None]:
    """The severity a private key found at `path` deserves (None: its rule's) and why, for every rule that
    reports key blocks: an encrypted key is medium; a library's own test key is low."""
    notes = []
    severity: Severity | None = None
    if encrypted:
        severity = Severity.MEDIUM
        notes.append("the key is encrypted with a passphrase")
    if _is_library_test_file(path):
        severity = Severity.LOW
        notes.append("a test key shipped inside a library's test data; check that it is not yours")
    if truncated:
        notes.append("no END line in this window")
    return severity, "; ".join(notes) or None


def is_encrypted_block(block: bytes) -> bool:
    """Whether a PEM/OpenSSH private key block (BEGIN line first) is protected by a passphrase."""
    m = _KEY_BEGIN.match(block)
    return m is not None and _is_encrypted(m.group(1), block[m.end() : m.end() + 1024])
