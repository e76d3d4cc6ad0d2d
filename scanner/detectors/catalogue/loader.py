"""The provider rule catalogue: TOML data files validated at load into frozen ProviderRule records."""

from __future__ import annotations

import hashlib
import importlib
import re
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from scanner.errors import ScanError
from scanner.findings import Severity

# The token formats are bounded: the confirming search reads at most this many bytes after a prefilter hit.
MAX_TOKEN = 1024
_FIELDS = {
    "provider",
    "kind",
    "title",
    "severity",
    "token",
    "prefix",
    "prefilter",
    "keywords",
    "window",
    "entropy",
    "caseless",
    "boundary",
    "check",
    "description",
    "revoke",
    "positives",
    "negatives",
}
_REQUIRED = ("provider", "kind", "title", "severity", "token", "revoke")
_CHECKS = frozenset({"assignment"})
_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
# Hyperscan has no lookarounds and reports every end offset of an unbounded tail.
_NOT_FOR_HYPERSCAN = re.compile(r"\(\?<?[=!]|\{\d+,\}|[*+]\)?$")


@dataclass(frozen=True)
class ProviderRule:
    """One provider token format. `regex` confirms a candidate; its group "secret" is the reported value.

    A rule is found through `prefilter` patterns: literals of the token itself (its prefix) or, where the
    format alone is too weak, `keywords` that must stand at most `window` bytes before the token on its line.
    """

    id: str  # pattern/<provider>-<kind>
    provider: str
    kind: str
    title: str
    description: str
    severity: Severity
    token: str  # the token format, Python `re` syntax, no groups named
    confirm_pattern: bytes  # token with its boundaries, group "secret"
    confirm_flags: int
    prefilter: tuple[bytes, ...]  # Hyperscan-compatible regexes (literals escaped)
    prefilter_caseless: bool
    keywords: tuple[str, ...]
    window: int
    entropy: float
    max_len: int
    check: str | None
    remediation: str
    positives: tuple[str, ...]
    negatives: tuple[str, ...]
    source: str  # the data file it came from

    @property
    def needs_context(self) -> bool:
        return bool(self.keywords)

    @property
    def regex(self) -> re.Pattern[bytes]:
        """Compiled on first use: most rules never fire in an image, and start-up counts."""
        return _compile(self.confirm_pattern, self.confirm_flags)


@cache
def _compile(pattern: bytes, flags: int) -> re.Pattern[bytes]:
    return re.compile(pattern, flags)


def _escape_literal(value: str) -> bytes:
    from scanner.detectors.engine import literal_pattern

    return literal_pattern(value.encode())


def _strings(entry: dict[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = entry.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ScanError(f"{where}: {key} must be a list of non-empty strings")
    return tuple(value)


def _text(entry: dict[str, Any], key: str, where: str, default: str | None = None) -> str:
    value = entry.get(key, default)
    if not isinstance(value, str) or not value.strip():
        raise ScanError(f"{where}: {key} must be a non-empty string")
    return value


def token_width(token: str) -> tuple[int, int, int]:
    """Shortest and longest token the format matches (the longest capped at MAX_TOKEN + 1), and its number
    of groups; parsing validates the syntax at a fraction of the cost of compiling."""
    # re's parser has no type stubs: reached through importlib, as Any.
    sre_parse: Any = importlib.import_module("re._parser")
    parsed = sre_parse.parse(token)
    lo, hi = parsed.getwidth()
    return int(lo), min(int(hi), MAX_TOKEN + 1), parsed.state.groups - 1


def build_rule(entry: dict[str, Any], source: str) -> ProviderRule:
    """One validated rule from its TOML table; every problem is a one-line ScanError naming the rule."""
    where = f"{source}: rule {entry.get('provider', '?')}-{entry.get('kind', '?')}"
    unknown = set(entry) - _FIELDS
    if unknown:
        raise ScanError(f"{where}: unknown fields {sorted(unknown)}")
    for key in _REQUIRED:
        _text(entry, key, where)
    provider, kind = entry["provider"], entry["kind"]
    if not _SLUG.match(provider) or not _SLUG.match(kind):
        raise ScanError(f"{where}: provider and kind must be lower-case slugs")
    try:
        severity = Severity.parse(entry["severity"])
    except ValueError as exc:
        raise ScanError(f"{where}: {exc}") from None
    token = entry["token"]
    boundary = _text(entry, "boundary", where, "A-Za-z0-9")
    caseless = entry.get("caseless", False)
    check = entry.get("check")
    if check is not None and check not in _CHECKS:
        raise ScanError(f"{where}: unknown check {check!r}")
    try:
        lo, hi, groups = token_width(token)
    except re.error as exc:
        raise ScanError(f"{where}: token does not compile: {exc}") from None
    if groups or "(?<" in token or "(?=" in token or "(?!" in token:
        raise ScanError(f"{where}: token must have no capturing groups and no lookarounds")
    if hi > MAX_TOKEN or lo < 8:
        raise ScanError(f"{where}: token must be 8 to {MAX_TOKEN} characters long")
    prefix = _strings(entry, "prefix", where)
    keywords = tuple(k.lower() for k in _strings(entry, "keywords", where))
    prefilter = _strings(entry, "prefilter", where)
    if keywords and (prefix or prefilter):
        raise ScanError(f"{where}: a rule is found either by keywords or by prefix/prefilter, not both")
    if check == "assignment":
        from scanner.detectors.catalogue.generic import PREFILTER

        prefilter = tuple(p.decode() for p in PREFILTER)
    if not keywords and not (prefix or prefilter):
        raise ScanError(f"{where}: needs a prefix, a prefilter or keywords")
    if any(len(p) < 3 for p in prefix + keywords):
        raise ScanError(f"{where}: prefixes and keywords must be at least 3 characters")
    for p in prefilter:
        if _NOT_FOR_HYPERSCAN.search(p):
            raise ScanError(f"{where}: prefilter {p!r} has a lookaround or an unbounded tail")
        try:
            token_width(p)
        except re.error as exc:
            raise ScanError(f"{where}: prefilter does not compile: {exc}") from None
    patterns = tuple(p.encode() for p in prefilter) + tuple(_escape_literal(p) for p in prefix + keywords)
    flags = re.IGNORECASE if caseless else 0
    # `=` ends base64 tokens but also starts values (KEY=token): it bounds a token on the right only.
    left = boundary.replace("=", "")
    confirm = f"(?<![{left}])(?P<secret>{token})(?![{boundary}])".encode()
    window = entry.get("window", 48)
    entropy = entry.get("entropy", 3.0)
    if not isinstance(window, int) or not 0 < window <= 256:
        raise ScanError(f"{where}: window must be 1..256")
    if not isinstance(entropy, int | float) or not 0 <= entropy <= 6:
        raise ScanError(f"{where}: entropy must be 0..6 bits per character")
    positives = _strings(entry, "positives", where)
    negatives = _strings(entry, "negatives", where)
    title = _text(entry, "title", where)
    return ProviderRule(
        id=f"pattern/{provider}-{kind}",
        provider=provider,
        kind=kind,
        title=title,
        description=_text(entry, "description", where, f"{title} ({provider})."),
        severity=severity,
        token=token,
        confirm_pattern=confirm,
        confirm_flags=flags,
        prefilter=patterns,
        prefilter_caseless=bool(keywords) or caseless,
        keywords=keywords,
        window=window,
        entropy=float(entropy),
        max_len=hi,
        check=check,
        remediation=_text(entry, "revoke", where),
        positives=positives,
        negatives=negatives,
        source=source,
    )


def parse_file(name: str, text: str) -> list[ProviderRule]:
    """The rules of one data file (a list of [[rule]] tables)."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScanError(f"{name}: not valid TOML: {exc}") from None
    if set(doc) - {"rule"} or not isinstance(doc.get("rule"), list):
        raise ScanError(f"{name}: expected only [[rule]] tables")
    return [build_rule(entry, name) for entry in doc["rule"]]


def data_files() -> list[tuple[str, str]]:
    """(name, text) of every providers/*.toml file shipped in the package, sorted by name."""
    folder = resources.files("scanner.detectors.catalogue") / "providers"
    out = [
        (f"providers/{f.name}", f.read_text(encoding="utf-8"))
        for f in folder.iterdir()
        if f.name.endswith(".toml")
    ]
    if not out:
        raise ScanError("the rule catalogue's data files (providers/*.toml) are not installed")
    return sorted(out)


@cache
def catalogue_digest() -> str:
    """Changes with any byte of any data file: a changed token format must not reuse cached layer results."""
    h = hashlib.sha256()
    for name, text in data_files():
        h.update(f"{name}\0{len(text)}\0".encode() + text.encode())
    return h.hexdigest()


@cache
def load_catalogue() -> tuple[ProviderRule, ...]:
    """Every rule of every data file, ids unique, sorted by id."""
    rules: dict[str, ProviderRule] = {}
    for name, text in data_files():
        for rule in parse_file(name, text):
            if rule.id in rules:
                raise ScanError(f"{name}: rule id {rule.id} is also in {rules[rule.id].source}")
            rules[rule.id] = rule
    return tuple(sorted(rules.values(), key=lambda r: r.id))
