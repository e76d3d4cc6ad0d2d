"""The confirm step's helpers: detect-secrets set up once, a hit's full value, false-positive checks."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import scanner.detectors.filters as filters
from scanner.detectors.pattern_rules import BY_ID, DS_PLUGINS
from scanner.findings import Severity

# --- detect-secrets, set up once per process -----------------------------------------------------------

_plugins: dict[str, Any] | None = None


def detect_secrets_plugins() -> dict[str, Any]:
    """Plugin instances by class name; detect-secrets' settings are process-global, so configure them once."""
    global _plugins
    if _plugins is None:
        from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
        from detect_secrets.settings import get_settings

        settings = get_settings()
        settings.disable_filters(
            "detect_secrets.filters.common.is_invalid_file",
            # Never call vendors' APIs from a scanner.
            "detect_secrets.filters.common.is_ignored_due_to_verification_policies",
        )
        mapping: dict[str, Any] = get_mapping_from_secret_type_to_class()
        classes = {c.__name__: c for c in mapping.values()}
        _plugins = {name: classes[name]() for name in DS_PLUGINS}
    return _plugins


@dataclass(frozen=True)
class Hit:
    """A confirmed candidate before the false-positive checks: byte offsets in the scanned buffer."""

    rule: str
    start: int
    end: int
    secret: str
    line: str  # the candidate text, for context filters
    plugin: str | None  # detect-secrets plugin name, None for our own rules
    severity: Severity | None = None  # the rule's unless a check judged otherwise (an encrypted key)
    note: str | None = None


# --- locating the full value a plugin reported ---------------------------------------------------------

_JWT_CHARS = re.compile(r"[A-Za-z0-9_=+/.-]*")
_ALNUM = re.compile(r"[0-9A-Za-z]*")
_PEM_END = re.compile(rb"-----END [A-Z0-9 ]{0,40}-----")


def _occurrences(line: str, value: str, first_only: bool) -> Iterator[tuple[int, int]]:
    i = line.find(value)
    while i >= 0 and value:
        yield i, i + len(value)
        if first_only:
            return
        i = line.find(value, i + len(value))


def locate(plugin_name: str, plugin: Any, line: str, value: str) -> Iterator[tuple[int, int]]:
    """Char spans in `line` of the full secret behind a value detect-secrets reported (it may be a prefix)."""
    if plugin_name in ("GitHubTokenDetector", "GitLabTokenDetector"):
        for rx in plugin.denylist:
            for m in rx.finditer(line):
                if value in (m.group(0), *m.groups()):
                    yield m.span(0)
        return
    if plugin_name == "NpmDetector":
        value = value.split()[0].strip("'\"") if value.split() else value
    if plugin_name == "AzureStorageKeyDetector" and value.startswith("AccountKey="):
        for s, e in _occurrences(line, value, False):
            yield s + len("AccountKey="), e
        return
    for s, e in _occurrences(line, value, plugin_name == "KeywordDetector"):
        if plugin_name == "JwtTokenDetector":
            m = _JWT_CHARS.match(line, e)
            e = m.end() if m else e
            while e > s and line[e - 1] == ".":
                e -= 1
        elif plugin_name == "StripeDetector":
            m = _ALNUM.match(line, e)
            e = m.end() if m else e
        yield s, e


def pem_block(data: bytes, at: int) -> tuple[int, int] | None:
    """The private-key block around `at`: from its BEGIN line to END (or the buffer end), if it has a body."""
    begin = data.rfind(b"-----BEGIN", max(0, at - 80), at + 1)
    start = begin if begin >= 0 else data.rfind(b"\n", 0, at) + 1
    m = _PEM_END.search(data, at, at + 65536)
    end = m.end() if m else min(len(data), at + 65536)
    # Code that names the header ("BEGIN RSA PRIVATE KEY" in a parser, format strings in a TLS library)
    # has no key material after it, or binary bytes between two such strings.
    header_end = data.find(b"-----", at, at + 80)
    body_start = header_end + 5 if header_end >= 0 else at
    body = data[body_start : m.start() if m else end]
    if not filters.is_pem_key_body(body, complete=m is not None):
        return None
    return start, end


def putty_block(data: bytes, at: int) -> tuple[int, int]:
    start = data.rfind(b"\n", 0, at) + 1
    end = at
    for _ in range(40):
        nl = data.find(b"\n", end + 1)
        if nl < 0:
            return start, len(data)
        end = nl
        if data.startswith(b"Private-MAC", data.rfind(b"\n", 0, nl) + 1):
            break
    return start, end


# --- extra checks and false-positive filters -------------------------------------------------------------


def _b64url_json(part: str) -> Any:
    raw = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    return json.loads(raw)


def _jwt_has_alg(token: str) -> bool:
    try:
        header = _b64url_json(token.split(".", 1)[0])
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return False
    return isinstance(header, dict) and "alg" in header


def _stands_alone(line: str, value: str) -> bool:
    """True if some occurrence of value in line has no letter or digit right before or after it."""
    for s, e in _occurrences(line, value, False):
        if (s == 0 or not line[s - 1].isalnum()) and (e == len(line) or not line[e].isalnum()):
            return True
    return False


_URL_USERPASS = re.compile(r"://([^\s:@/]*):([^\s@/]*)@")


def keep(hit: Hit, path: str) -> bool:
    """Apply the false-positive filters; a rule-specific check first, then the shared ones."""
    from detect_secrets.filters import heuristic

    value = hit.secret
    if not value or filters.is_placeholder(value) or filters.is_documented_example(value):
        return False
    if heuristic.is_sequential_string(value):
        return False
    if hit.rule == "pattern/jwt" and not _jwt_has_alg(value):
        return False
    if hit.rule == "pattern/aws-access-key" and not _stands_alone(hit.line, value):
        return False  # AKIA... inside a longer run of capitals is a word list in a binary, not a key id
    if hit.rule in ("pattern/url-credentials", "pattern/basic-auth-url"):
        for m in _URL_USERPASS.finditer(hit.line):
            if m.group(2) == value and filters.is_url_placeholder_credential(m.group(1), m.group(2)):
                return False
    if hit.plugin == "KeywordDetector":
        if filters.is_name_service_switch(path):
            return False
        plugins = detect_secrets_plugins()
        if (
            heuristic.is_potential_uuid(value)
            or heuristic.is_likely_id_string(value, hit.line, plugins["KeywordDetector"])
            or heuristic.is_templated_secret(value)
            or heuristic.is_prefixed_with_dollar_sign(value)
            or heuristic.is_indirect_reference(hit.line)
            or heuristic.is_not_alphanumeric_string(value)
        ):
            return False
    return BY_ID[hit.rule].distinctive or not (
        filters.is_checksum_file(path)
        or filters.is_integrity_hash_context(hit.line)
        or filters.is_public_key_line(hit.line)
    )
