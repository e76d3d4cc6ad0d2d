"""Known-secret proof: the build's own secret values, in every common encoding, searched in every byte."""

from __future__ import annotations

import base64
import json
import math
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, quote_plus

from scanner.detectors.base import Content, MetadataString, RawMatch, Rule
from scanner.detectors.prefilter import Pattern, Prefilter, literal_pattern
from scanner.errors import UsageError
from scanner.findings import Severity, keyed_fingerprint

RULE = Rule(
    id="known-secret",
    category="known-secret",
    severity=Severity.CRITICAL,
    title="A build secret's value is in the image",
    help="A value passed with --secret (or one taken out of that secret file) was found in the image bytes "
    "or metadata, raw or encoded: anyone who can pull the image can read it.",
    remediation="Rotate the secret; mount it with RUN --mount=type=secret and never write it to a layer.",
)

MIN_VALUE = 8  # shorter values are still searched, with a warning: they may match by coincidence
_MIN_ENCODED = 8  # encoded forms shorter than this would match by coincidence everywhere


@dataclass(frozen=True)
class KnownSecretSpec:
    """One `--secret` flag, as `docker build` takes it."""

    id: str
    type: str  # "file" | "env"
    source: str  # a path, or an environment variable name


@dataclass(frozen=True, repr=False)
class KnownSecret:
    """A secret's id, the values to search for (never shown), a keyed fingerprint, warnings for the user."""

    id: str
    values: tuple[str, ...]
    fingerprint: str
    warnings: tuple[str, ...] = ()

    def __repr__(self) -> str:
        return (
            f"KnownSecret(id={self.id!r}, values=<{len(self.values)} hidden>, "
            f"fingerprint={self.fingerprint!r}, warnings={self.warnings!r})"
        )

    __str__ = __repr__


def parse_secret_spec(text: str) -> KnownSecretSpec:
    """Parse `id=ID[,src=PATH|,source=PATH|,env=VAR][,type=file|env]`; a bare `id=ID` reads env var ID."""
    fields: dict[str, str] = {}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        key = key.strip().lower()
        if not sep or not key:
            raise UsageError(f"bad --secret {text!r}: expected key=value pairs such as id=ID,src=PATH")
        if key == "source":
            key = "src"
        if key not in ("id", "src", "env", "type"):
            raise UsageError(f"bad --secret {text!r}: unknown key {key!r} (use id, src, source, env, type)")
        if key in fields:
            raise UsageError(f"bad --secret {text!r}: {key} given twice")
        fields[key] = value.strip()
    sid = fields.get("id", "")
    if not sid:
        raise UsageError(f"bad --secret {text!r}: id=ID is required")
    kind = fields.get("type")
    if kind not in (None, "file", "env"):
        raise UsageError(f"bad --secret {text!r}: type must be file or env")
    if "src" in fields and "env" in fields:
        raise UsageError(f"bad --secret {text!r}: give src or env, not both")
    if "src" in fields:
        if kind == "env":
            raise UsageError(f"bad --secret {text!r}: type=env takes env=VAR, not src")
        if not fields["src"]:
            raise UsageError(f"bad --secret {text!r}: src is empty")
        return KnownSecretSpec(sid, "file", fields["src"])
    if "env" in fields:
        if kind == "file":
            raise UsageError(f"bad --secret {text!r}: type=file takes src=PATH, not env")
        if not fields["env"]:
            raise UsageError(f"bad --secret {text!r}: env is empty")
        return KnownSecretSpec(sid, "env", fields["env"])
    if kind == "file":
        return KnownSecretSpec(sid, "file", sid)
    return KnownSecretSpec(sid, "env", sid)


# --- taking credential values out of structured content -------------------------------------------------

_CRED_KEY = re.compile(r"(?i)(pass|pwd|secret|token|auth|key|cred|private)")
_ASSIGN = re.compile(r"^\s*(?:export\s+)?([A-Za-z0-9_.\-/:@\[\]]+)\s*[=:]\s*(.*?)\s*$")
_PADDED_TOKEN = re.compile(r"[A-Za-z0-9+/_-]{8,}={1,2}")
_MIN_PARSED = 1  # a parsed "value" of only "=" is syntax, not a credential
_PEM = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \1-----", re.S)


def _unquote(v: str) -> str:
    if len(v) >= 2 and v[0] == v[-1] and v[0] in "'\"":
        return v[1:-1]
    return v


def _netrc_values(text: str) -> Iterator[tuple[str, str]]:
    words = text.split()
    login = None
    for i, w in enumerate(words[:-1]):
        if w == "machine":
            login = None
        elif w == "login":
            login = words[i + 1]
        elif w == "password":
            yield "password", words[i + 1]
            if login:
                # The pair as a URL's userinfo or, base64-encoded, an HTTP basic Authorization header.
                yield "auth", f"{login}:{words[i + 1]}"


def _assignment_values(text: str) -> Iterator[tuple[str, str]]:
    """KEY=VALUE (env files, .npmrc, ini, .pypirc) and `key: value` (YAML) lines."""
    for line in text.splitlines():
        if line.lstrip().startswith(("#", ";")) or _PADDED_TOKEN.fullmatch(line.strip()):
            continue  # a padded base64 token ("AbcKey...==") is one value, not KEY=VALUE
        m = _ASSIGN.match(line)
        if m and len(_unquote(m.group(2)).strip("=")) >= _MIN_PARSED:
            yield m.group(1), _unquote(m.group(2))


def _json_values(text: str) -> Iterator[tuple[str, str]]:
    try:
        doc = json.loads(text)
    except ValueError:
        return

    def walk(node: Any, key: str) -> Iterator[tuple[str, str]]:
        if isinstance(node, dict):
            for k, v in node.items():
                yield from walk(v, str(k))
        elif isinstance(node, list):
            for v in node:
                yield from walk(v, key)
        elif isinstance(node, str):
            if len(node) >= MIN_VALUE:
                yield key, node
            if key == "auth":  # docker config: base64("user:password")
                try:
                    decoded = base64.b64decode(node, validate=True).decode("utf-8")
                except ValueError:  # not base64 (a non-ASCII str raises plain ValueError), not UTF-8
                    return
                yield "auth", decoded
                _user, sep, password = decoded.partition(":")
                if sep and password:
                    yield "password", password

    yield from walk(doc, "")


def _pem_values(text: str) -> Iterator[tuple[str, str]]:
    for m in _PEM.finditer(text):
        body_lines = [ln.strip() for ln in m.group(2).splitlines() if ln.strip() and ":" not in ln]
        if body_lines:
            yield "pem", "".join(body_lines)
        # Each long body line on its own, so a partial copy of the key is found too.
        for ln in body_lines:
            if len(ln) >= 40:
                yield "pem", ln


def extract_values(content: str) -> list[tuple[str, str]]:
    """(origin key, value) pairs: the whole content (as is and trimmed), then parsed credential values."""
    out: list[tuple[str, str]] = [("content", content), ("content", content.strip())]
    for parser in (_netrc_values, _json_values, _pem_values, _assignment_values):
        out.extend(parser(content))
    return out


def _read(spec: KnownSecretSpec) -> str:
    if spec.type == "env":
        value = os.environ.get(spec.source)
        if value is None:
            raise UsageError(f"secret {spec.id}: environment variable {spec.source} is not set")
        return value
    try:
        with open(spec.source, "rb") as fh:
            raw = fh.read()
    except OSError as exc:
        raise UsageError(f"secret {spec.id}: cannot read {spec.source}: {exc.strerror or exc}") from None
    return raw.decode("utf-8", "surrogateescape")


def load_known_secrets(specs: Iterable[KnownSecretSpec | str]) -> list[KnownSecret]:
    """Read each secret and take every value to search for out of it; warn about short or empty ones."""
    out: list[KnownSecret] = []
    seen_ids: set[str] = set()
    for item in specs:
        spec = parse_secret_spec(item) if isinstance(item, str) else item
        if spec.id in seen_ids:
            raise UsageError(f"secret id {spec.id} given twice")
        seen_ids.add(spec.id)
        content = _read(spec)
        fingerprint = keyed_fingerprint("known-secret", spec.id, content)
        if not content.strip():
            out.append(
                KnownSecret(spec.id, (), fingerprint, (f"secret {spec.id} is empty: nothing to search for",))
            )
            continue
        values: list[str] = []
        warnings: list[str] = []
        for key, value in extract_values(content):
            if not value.strip() or value in values:
                continue
            whole = key == "content"
            # Short parsed values count only under a credential-like key: `DEBUG=true` is not a secret.
            if not whole and len(value) < MIN_VALUE and not _CRED_KEY.search(key):
                continue
            # A value we took out of a file is searched where it would be a credential if it is guessable;
            # a whole secret the user handed in is searched as given (with a warning if short).
            if not whole and guessable(value):
                contexts = [c for c in credential_contexts(value) if c not in values]
                values.extend(contexts)
                warnings.append(
                    f"a value of secret {spec.id} is a guessable {len(value)}-character word: it is searched "
                    "where it would be a credential (after a password keyword, in a URL, beside its login), "
                    "not alone, where it would match ordinary text"
                )
                continue
            values.append(value)
            if len(value) < MIN_VALUE:
                warnings.append(
                    f"value {len(values)} of secret {spec.id} is only {len(value)} characters: "
                    "matches may be coincidental"
                )
        out.append(KnownSecret(spec.id, tuple(values), fingerprint, tuple(warnings)))
    return out


# --- guessable values -----------------------------------------------------------------------------------

_GUESSABLE_BITS = 48  # below this a value is a word or a PIN: it occurs in ordinary text and binaries


def guessable(value: str) -> bool:
    """A password like `password` or `admin123`: too little entropy to be found alone without noise.

    The estimate is length x log2(size of the character classes used), as password meters do.
    """
    pool = 0
    pool += 26 if any(c.islower() for c in value) else 0
    pool += 26 if any(c.isupper() for c in value) else 0
    pool += 10 if any(c.isdigit() for c in value) else 0
    pool += 33 if any(not c.isalnum() for c in value) else 0
    return "\n" not in value.strip() and len(value) * math.log2(max(pool, 2)) < _GUESSABLE_BITS


def credential_contexts(value: str) -> list[str]:
    """Where a guessable value would sit as a credential: after a password keyword, in a URL's userinfo."""
    return [
        f"password {value}",  # netrc
        f"password={value}",
        f"password: {value}",
        f"password = {value}",
        f'password": "{value}',
        f"PASSWORD={value}",
        f"Password: {value}",
        f":{value}@",
    ]


# --- encodings ------------------------------------------------------------------------------------------


def _b64_inner(raw: bytes, shift: int, urlsafe: bool) -> bytes:
    """The base64 characters that depend only on `raw` when it starts `shift` bytes into a larger text."""
    enc = base64.urlsafe_b64encode if urlsafe else base64.b64encode
    text = enc(b"\x00" * shift + raw).rstrip(b"=")
    first = -(-8 * shift // 6)  # ceil: the first character made of value bits only
    last = 8 * (shift + len(raw)) // 6  # floor: characters after this mix in following bytes
    return text[first:last]


def encodings(value: str) -> list[tuple[str, bytes]]:
    """(encoding name, bytes) for every form a value may take in an image; each form once."""
    raw = value.encode("utf-8", "surrogateescape")
    forms: list[tuple[str, bytes]] = [("raw", raw)]
    forms.append(("utf-16le", value.encode("utf-16-le", "surrogatepass")))
    forms.append(("hex", raw.hex().encode()))
    forms.append(("hex", raw.hex().upper().encode()))
    for shift in range(3):
        forms.append(("base64", _b64_inner(raw, shift, urlsafe=False)))
        forms.append(("base64url", _b64_inner(raw, shift, urlsafe=True)))
    forms.append(("url-encoded", quote(raw, safe="").encode()))
    forms.append(("url-encoded", quote_plus(raw, safe="").encode()))
    forms.append(("json-escaped", json.dumps(value)[1:-1].encode()))
    forms.append(
        ("json-escaped", json.dumps(value, ensure_ascii=False)[1:-1].encode("utf-8", "surrogatepass"))
    )
    out: list[tuple[str, bytes]] = []
    seen: set[bytes] = set()
    for name, form in forms:
        if form in seen or (name != "raw" and len(form) < _MIN_ENCODED):
            continue
        seen.add(form)
        out.append((name, form))
    return out


class KnownSecretDetector:
    """One multi-literal database over every encoding of every known value; searches all bytes."""

    rules: tuple[Rule, ...] = (RULE,)

    def __init__(self, secrets: Sequence[KnownSecret], use_hyperscan: bool | None = None) -> None:
        self.secrets = tuple(secrets)
        literals: dict[bytes, list[tuple[str, str]]] = {}
        for secret in self.secrets:
            for value in secret.values:
                for name, form in encodings(value):
                    owners = literals.setdefault(form, [])
                    if (secret.id, name) not in owners:
                        owners.append((secret.id, name))
        self._literals = list(literals)
        self._owners = [literals[lit] for lit in self._literals]
        self._prefilter = Prefilter([Pattern(literal_pattern(lit)) for lit in self._literals], use_hyperscan)

    def _matches(self, data: bytes) -> Iterator[tuple[int, int, str, str, bytes]]:
        seen: set[tuple[int, int, str]] = set()
        for pid, end in self._prefilter.scan(data):
            lit = self._literals[pid]
            start = end - len(lit)
            for secret_id, encoding in self._owners[pid]:
                if (start, end, secret_id) in seen:
                    continue
                seen.add((start, end, secret_id))
                yield start, end, secret_id, encoding, lit

    def scan(self, content: Content) -> Iterable[RawMatch]:
        out: list[RawMatch] = []
        for start, end, secret_id, encoding, lit in self._matches(content.data):
            codec = "utf-16-le" if encoding == "utf-16le" else "utf-8"
            text = lit.decode(codec, "surrogateescape" if codec == "utf-8" else "surrogatepass")
            out.append(
                RawMatch(
                    rule=RULE.id, start=start, end=end, secret=text, note=encoding, known_secret_id=secret_id
                )
            )
        return out

    def scan_metadata(self, item: MetadataString) -> Iterable[RawMatch]:
        data = item.value.encode("utf-8", "surrogatepass")
        out: list[RawMatch] = []
        for start, end, secret_id, encoding, _lit in self._matches(data):
            try:
                s = len(data[:start].decode("utf-8"))
                text = data[start:end].decode("utf-8")
            except UnicodeDecodeError:
                continue  # a UTF-16 form cannot sit inside a UTF-8 string at a character boundary
            out.append(
                RawMatch(
                    rule=RULE.id,
                    start=s,
                    end=s + len(text),
                    secret=text,
                    note=encoding,
                    known_secret_id=secret_id,
                )
            )
        return out
