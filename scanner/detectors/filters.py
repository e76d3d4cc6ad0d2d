"""Small named false-positive filters shared by detectors: placeholders, documented examples, samples."""

from __future__ import annotations

import re

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
    return any(p.match(v) for p in _PLACEHOLDER_PATTERNS)


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


_PUBLIC_KEY_LINE = re.compile(
    r"(ssh-(rsa|dss|ed25519)|ecdsa-sha2-nistp\d{3}|sk-ssh-ed25519@openssh\.com) AAAA"
    r"|-----BEGIN (PUBLIC KEY|RSA PUBLIC KEY|CERTIFICATE|X509 CRL|CERTIFICATE REQUEST|PGP PUBLIC KEY BLOCK)-----"
)


def is_public_key_line(line: str) -> bool:
    """Public keys and certificates (authorized_keys, known_hosts, CA bundles) are meant to be shared."""
    return bool(_PUBLIC_KEY_LINE.search(line))


_URL_PLACEHOLDER_USERS = {"user", "username", "usr", "login", "name", "myuser", "youruser", "me", "foo"}
_URL_PLACEHOLDER_PASSWORDS = {"password", "pass", "passwd", "pwd", "pw", "secret", "mypassword", "yourpassword", "bar"}


def is_url_placeholder_credential(user: str, password: str) -> bool:
    """`scheme://user:password@host` is documentation's template: a generic user AND a generic password.

    A generic password alone (`postgres:password@db`) is kept: that is a weak real credential.
    """
    if is_placeholder(password):
        return True
    return user.lower() in _URL_PLACEHOLDER_USERS and password.lower() in _URL_PLACEHOLDER_PASSWORDS
