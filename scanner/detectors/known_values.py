"""Known secrets as handed in (`--secret`, as `docker build` takes it) and the values taken out of them."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from scanner.detectors.credfiles import netrc_entries, parse_docker_config
from scanner.detectors.credtext import KV_EQ, KV_EQ_COLON, KV_YAML, cred, json_strings, kv_pairs
from scanner.errors import UsageError
from scanner.findings import keyed_fingerprint

MIN_VALUE = 8  # shorter values are still searched, with a warning: they may match by coincidence


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
    for key, own_type, other_type, other_takes in (
        ("src", "file", "env", "env=VAR"),
        ("env", "env", "file", "src=PATH"),
    ):
        if key in fields:
            if kind == other_type:
                raise UsageError(f"bad --secret {text!r}: type={other_type} takes {other_takes}, not {key}")
            if not fields[key]:
                raise UsageError(f"bad --secret {text!r}: {key} is empty")
            return KnownSecretSpec(sid, own_type, fields[key])
    if kind == "file":
        return KnownSecretSpec(sid, "file", sid)
    return KnownSecretSpec(sid, "env", sid)


# --- taking credential values out of structured content -------------------------------------------------

_CRED_KEY = re.compile(r"(?i)(pass|pwd|secret|token|auth|key|cred|private)")
_PEM = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \1-----", re.S)


def _netrc_values(text: str) -> Iterator[tuple[str, str]]:
    for entry in netrc_entries(text)[0]:
        yield "password", entry.password.value
        if entry.login:
            # The pair as a URL's userinfo or, base64-encoded, an HTTP basic Authorization header.
            yield "auth", f"{entry.login}:{entry.password.value}"


def _json_values(text: str) -> Iterator[tuple[str, str]]:
    """Every string leaf of a JSON document under its key; a docker `auth` also as user:password and
    password (the docker-config parser decodes it)."""
    strings, complete = json_strings(text)
    if not complete:
        return
    for s in strings:
        key = s.path[-1] if s.path else ""
        if len(s.value) >= MIN_VALUE or _CRED_KEY.search(key):
            yield key, s.value
    for c in parse_docker_config(text).credentials:
        if c.field.lower().endswith(".auth") and c.value:
            yield "password", c.value


def _assignment_values(text: str) -> Iterator[tuple[str, str]]:
    """KEY=VALUE (env files, .npmrc, ini, .pypirc) and `key: value` (YAML) lines, as the parsers read them."""
    for regex in (KV_EQ, KV_EQ_COLON, KV_YAML):
        for key, start, end in kv_pairs(text, regex, strip_comments=False):
            value = cred(text, start, end, key).value
            if value.strip("="):  # a padded base64 token ("AbcKey...==") is one value, not KEY=VALUE
                yield key, value


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
    out.extend(_netrc_values(content))
    json_values = list(_json_values(content))
    out.extend(json_values)
    out.extend(_pem_values(content))
    if not json_values:
        out.extend(_assignment_values(content))
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
