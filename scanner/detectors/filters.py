"""Small named false-positive filters shared by detectors: placeholders, documented examples, samples."""

from __future__ import annotations

import re
from collections import Counter

# Values people write where a real secret would go: templates, variables, masks, well-known dummies.
# Weak real passwords ("password", "secret") are NOT here: `password password` in a netrc is a leak.
_PLACEHOLDER_WORDS = {
    "changeme",
    "change_me",
    "change-me",
    "example",
    "sample",
    "dummy",
    "placeholder",
    "redacted",
    "none",
    "null",
    "nil",
    "todo",
    "tbd",
    "xxx",
    "your_token",
    "your-token",
    "yourtoken",
    "your_password",
    "your_api_key",
    "undefined",
    "notset",
    "not_set",
    "insert_here",
    "<redacted>",
    "****",
}
_PLACEHOLDER_PATTERNS = [
    re.compile(r"^\$\{?[A-Za-z_][A-Za-z0-9_]*(:?[-=?][^}]*)?\}?$"),  # $VAR, ${VAR}, ${VAR:-x}
    re.compile(r"^\{\{.*\}\}$"),  # {{ template }}
    re.compile(r"^<[^<>]{1,64}>$"),  # <token>
    re.compile(r"^%\(?[A-Za-z_][A-Za-z0-9_]*\)?s?%?$"),  # %VAR% / %(name)s
    re.compile(r"^\[[A-Za-z _-]{1,40}\]$"),  # [your token]
    re.compile(r"^([xX*#._-])\1{2,}$"),  # XXXX, ****, ----, ....
    re.compile(r"^(.)\1+$"),  # one character repeated
    re.compile(r"(?i)^(your|insert|enter|put)[-_ ]?[a-z_ -]*(here|token|key|password|secret)$"),
    re.compile(r"(?i)^(x{3,}|\*{3,}).*$"),
]


def is_placeholder(value: str) -> bool:
    """True for values that stand in for a secret rather than being one."""
    v = value.strip().strip("'\"")
    if not v:
        return True
    if v.lower() in _PLACEHOLDER_WORDS:
        return True
    return any(p.match(v) for p in _PLACEHOLDER_PATTERNS) or is_filler_token(v)


_TOKEN_PARTS = re.compile(r"[_\-.:/]+")
_MIN_FILLER_BODY = 12  # shorter bodies are passwords, judged by other rules, not token bodies
_MAX_FILLER_TOKEN = 256  # longer values (key blocks, JWTs with claims) are not one filler body


def is_filler_token(value: str) -> bool:
    """A token whose body is filler: `sk_live_XXXXXXXXXXXXXXXXXXXXXXXX`, `AKIA0000000000000000`, `ghp_abab..`.

    The body is the longest part between separators; it is filler when it has at most two distinct
    characters, or at most four with one of them making up three quarters of it. Random bodies of this
    length have well over ten distinct characters.
    """
    if len(value) > _MAX_FILLER_TOKEN:
        return False
    body = max(_TOKEN_PARTS.split(value), key=len)
    if len(body) < _MIN_FILLER_BODY or len(set(body)) > 4:
        return False
    counts = Counter(body)
    return len(counts) <= 2 or (len(counts) <= 4 and max(counts.values()) * 4 >= len(body) * 3)


# Keys published in vendors' documentation; they appear in SDKs and docs inside many images.
_DOCUMENTED_EXAMPLES = {
    "AKIAIOSFODNN7EXAMPLE",
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "AKIAI44QH8DHBEXAMPLE",
    "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY",
    "sk_test_4eC39HqLyjWDarjtT1zdp7dc",
    "pk_test_TYooMQauvdEDq54NiTphI7jx",
    "AIzaSyDdI0hCZtE6vySjMm-WEfRq3CPzqKqqsHI",
    "xoxb-not-a-real-token-this-will-not-work",
}
# The signature of jwt.io's famous sample token (and its HS256 secret-less variants) is public.
_PUBLIC_JWT_SIGNATURES = {
    "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
    "XbPfbIHMI6arZ3Y922BhjWgQzWXcXNrz0ogtVhfEd2o",
}


def is_documented_example(value: str) -> bool:
    """True for keys vendors publish as examples (exact values, not any string containing 'example')."""
    v = value.strip().strip("'\"")
    if v in _DOCUMENTED_EXAMPLES:
        return True
    return v.count(".") == 2 and v.rsplit(".", 1)[1] in _PUBLIC_JWT_SIGNATURES


_INTEGRITY = re.compile(r"\b(sha(1|256|384|512))-[A-Za-z0-9+/]{20,}={0,2}")


def is_integrity_hash_context(line: str) -> bool:
    """Subresource-integrity style hashes (package-lock.json, yarn.lock) are checksums, not secrets."""
    return bool(_INTEGRITY.search(line)) and ("integrity" in line or "resolved" in line or "checksum" in line)


_LOCKFILES = (
    "package-lock.json",
    "yarn.lock",
    "pnpm-lock.yaml",
    "poetry.lock",
    "Pipfile.lock",
    "composer.lock",
    "Cargo.lock",
    "go.sum",
    "Gemfile.lock",
    "RECORD",
    "md5sums",
    "sha256sums",
    "SHA256SUMS",
    "MD5SUMS",
)


def is_checksum_file(path: str) -> bool:
    """Lock files, checksum lists and package RECORDs hold hashes by design."""
    name = path.rsplit("/", 1)[-1]
    return name in _LOCKFILES or name.endswith((".md5sums", ".sha256", ".sha512", ".md5", ".sum"))


# --- credential-like names (appended for the filenames/metadata detectors) ---

# BuildKit's SecretsUsedInArgOrEnv words, plus plurals and "passphrase"/"pass".
_CREDENTIAL_WORDS = {
    "apikey",
    "apikeys",
    "auth",
    "credential",
    "credentials",
    "creds",
    "key",
    "keys",
    "pass",
    "passphrase",
    "password",
    "passwords",
    "passwd",
    "pword",
    "secret",
    "secrets",
    "token",
    "tokens",
}
# One-word compounds (npmauthtoken, githubtoken) count when they end in an unambiguous credential word;
# "key" and "auth" are left out here because of monkey, hotkey, oauth2 client names and the like.
_CREDENTIAL_SUFFIXES = ("token", "password", "passwd", "secret", "apikey", "credentials", "passphrase")
# A name whose LAST word is one of these describes a credential (where it is, what kind) rather than
# holding one: TOKEN_FILE, API_KEY_PATH, PASSWORD_LENGTH, AUTH_URL, KEY_ID, --password-stdin.
_DESCRIBING_WORDS = {
    "age", "alg", "algorithm", "cmd", "command", "count", "days", "dir", "disabled", "enabled", "endpoint",
    "env", "expiration", "expires", "expiry", "field", "file", "files", "format", "header", "helper", "hint",
    "host", "id", "ids", "len", "length", "lifetime", "location", "manager", "max", "method", "min", "mode",
    "name", "names", "path", "paths", "pattern", "policy", "port", "prefix", "provider", "ref", "regex",
    "region", "required", "rotation", "scope", "scopes", "server", "service", "size", "stdin", "store",
    "timeout", "ttl", "type", "uri", "url", "urls", "user", "username", "version",
}  # fmt: skip
# Any of these anywhere makes the value public by design: GPG_KEY (a key id), PUBLIC_KEY, KEY_FINGERPRINT.
_PUBLIC_WORDS = {"public", "pub", "gpg", "pgp", "fingerprint", "keyring", "keyserver"}
_NAME_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")


def name_words(name: str) -> list[str]:
    """Lower-case word parts of an identifier: npmAuthToken -> npm, auth, token; GH_TOKEN -> gh, token."""
    return [w.lower() for w in _NAME_WORDS.findall(name)]


def is_credential_name(name: str) -> bool:
    """True when a variable/key/option name says it holds a credential (API_KEY, db_password, npmAuthToken).

    Not for names that describe one (TOKEN_FILE, AUTH_URL, KEY_ID, PUBLIC_KEY, GPG_KEY, KEYBOARD).
    """
    words = name_words(name)
    if not words or words[-1] in _DESCRIBING_WORDS or any(w in _PUBLIC_WORDS for w in words):
        return False
    return any(w in _CREDENTIAL_WORDS or w.endswith(_CREDENTIAL_SUFFIXES) for w in words)


_SECRET_REFERENCE = re.compile(r"^(~|\.{1,2})?/[\w.@+-]+(/[\w.@+-]+)*/?$")
_SHELL_EXPANSION = re.compile(r"^(\$\(|`|\$\{)")


def is_secret_reference(value: str) -> bool:
    """True for values saying where a secret lives (/run/secrets/x, $(cat f), $VAR) instead of holding it."""
    v = value.strip().strip("'\"")
    return bool(_SHELL_EXPANSION.match(v) or _SECRET_REFERENCE.match(v))


_PUBLIC_KEY_LINE = re.compile(
    r"(ssh-(rsa|dss|ed25519)|ecdsa-sha2-nistp\d{3}|sk-ssh-ed25519@openssh\.com) AAAA"
    r"|-----BEGIN (PUBLIC KEY|RSA PUBLIC KEY|CERTIFICATE|X509 CRL|CERTIFICATE REQUEST"
    r"|PGP PUBLIC KEY BLOCK)-----"
)


def is_public_key_line(line: str) -> bool:
    """Public keys and certificates (authorized_keys, known_hosts, CA bundles) are meant to be shared."""
    return bool(_PUBLIC_KEY_LINE.search(line))


_URL_PLACEHOLDER_USERS = {"user", "username", "usr", "login", "name", "myuser", "youruser", "me", "foo"}
_URL_PLACEHOLDER_PASSWORDS = {
    "password",
    "pass",
    "passwd",
    "pwd",
    "pw",
    "secret",
    "mypassword",
    "yourpassword",
    "bar",
}


def is_url_placeholder_credential(user: str, password: str) -> bool:
    """`scheme://user:password@host` is documentation's template: a generic user AND a generic password.

    A generic password alone (`postgres:password@db`) is kept: that is a weak real credential.
    """
    if is_placeholder(password):
        return True
    return user.lower() in _URL_PLACEHOLDER_USERS and password.lower() in _URL_PLACEHOLDER_PASSWORDS


_B64_LINE = re.compile(rb"[A-Za-z0-9+/=]+")
_B64_RUN = re.compile(rb"[A-Za-z0-9+/]{40}")


def is_pem_key_body(body: bytes, complete: bool = True, min_chars: int = 64) -> bool:
    """True when the bytes between a PEM BEGIN and END line are key material: base64 lines and little else.

    A TLS library holds "-----BEGIN RSA PRIVATE KEY-----" and the END line as format strings with binary
    bytes between them; documentation holds a header with "..." after it. Neither is a key. A block cut at
    a window's end (`complete=False`) is judged on the lines it has.
    """
    text = body.replace(b"\\r\\n", b"\n").replace(b"\\n", b"\n").replace(b"\r", b"")
    lines = [ln.strip() for ln in text.split(b"\n")]
    # RFC 1421 headers of encrypted PEM (Proc-Type:, DEK-Info:) are part of the block.
    lines = [ln for ln in lines if ln and b": " not in ln]
    if not complete:
        run: list[bytes] = []
        for ln in lines:
            if not _B64_LINE.fullmatch(ln):
                break
            run.append(ln)
        lines = run
    total = sum(len(ln) for ln in lines)
    b64 = sum(len(ln) for ln in lines if _B64_LINE.fullmatch(ln))
    return b64 >= min_chars and b64 >= 0.95 * total and bool(_B64_RUN.search(text))


def is_name_service_switch(path: str) -> bool:
    """/etc/nsswitch.conf's `passwd: files` names the password database, not a password."""
    return path.rsplit("/", 1)[-1] == "nsswitch.conf"
