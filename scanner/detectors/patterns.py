"""Token and keyword patterns: one prefilter pass per window, then detect-secrets plugins on the hit lines."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from scanner.detectors import filters
from scanner.detectors.base import Content, MetadataString, RawMatch, Rule
from scanner.detectors.prefilter import Pattern, Prefilter
from scanner.detectors.rules_extra import EXTRA_RULES, ExtraRule
from scanner.findings import Severity

_ROTATE = "Revoke the credential, issue a new one, and pass it at build time with RUN --mount=type=secret."

# Separator between a keyword and its value in detect-secrets' assignment regexes: quotes, ], spaces, = : >.
_SEP = r"['\"\]=:> ]+"
_PASS_WORDS = r"(key|pwd|pw|password|pass|token)"


@dataclass(frozen=True)
class _DsRule:
    """How one detect-secrets plugin becomes a rule, and the prefilter patterns that cover its regexes."""

    plugin: str  # class name in detect_secrets.plugins
    slug: str
    title: str
    severity: Severity
    prefilter: tuple[Pattern, ...]
    distinctive: bool = True  # the token has a vendor prefix; False: any hash-like text can match


def _p(regex: str, caseless: bool = False) -> Pattern:
    return Pattern(regex.encode(), caseless)


# Each prefilter pattern is a superset of the plugin's regexes (dropping lookarounds, shortening {n,} to {n}).
_DS_RULES: tuple[_DsRule, ...] = (
    _DsRule(
        "ArtifactoryDetector",
        "artifactory-token",
        "Artifactory API token or password",
        Severity.HIGH,
        (_p("AKC[a-zA-Z0-9]{10}"), _p("AP[0-9ABCDEF][a-zA-Z0-9]{8}")),
        distinctive=False,
    ),
    _DsRule(
        "AWSKeyDetector",
        "aws-access-key",
        "AWS access key",
        Severity.HIGH,
        (
            _p("(A3T[A-Z0-9]|ABIA|ACCA|AKIA|ASIA)[0-9A-Z]{16}"),
            _p("aws.{0,20}" + _PASS_WORDS + ".{0,20}['\"][0-9a-zA-Z/+]{40}['\"]", caseless=True),
        ),
    ),
    _DsRule(
        "AzureStorageKeyDetector",
        "azure-storage-key",
        "Azure storage account key",
        Severity.HIGH,
        (_p("AccountKey=[a-zA-Z0-9+/=]{88}"),),
    ),
    _DsRule(
        "BasicAuthDetector",
        "basic-auth-url",
        "Credentials in a URL",
        Severity.HIGH,
        (_p("://[^ \t\r\n:/?#\\[\\]@!$&'()*+,;=]+:[^ \t\r\n:/?#\\[\\]@!$&'()*+,;=]+@"),),
        distinctive=False,
    ),
    _DsRule(
        "CloudantDetector",
        "cloudant-credentials",
        "IBM Cloudant credentials",
        Severity.HIGH,
        (
            _p("cl(oudant|ou)?[-_]?(api)?" + _PASS_WORDS + _SEP + "[0-9a-z]{24}", caseless=True),
            _p("cloudant\\.com", caseless=True),
        ),
        distinctive=False,
    ),
    _DsRule(
        "DiscordBotTokenDetector",
        "discord-bot-token",
        "Discord bot token",
        Severity.HIGH,
        (_p("[MNO][a-zA-Z0-9_-]{23,25}\\.[a-zA-Z0-9_-]{6}\\.[a-zA-Z0-9_-]{27}"),),
        distinctive=False,
    ),
    _DsRule(
        "GitHubTokenDetector",
        "github-token",
        "GitHub token",
        Severity.HIGH,
        (_p("gh[pousr]_[A-Za-z0-9_]{36}"),),
    ),
    _DsRule(
        "GitLabTokenDetector",
        "gitlab-token",
        "GitLab token",
        Severity.HIGH,
        (
            _p("(glpat|gldt|glft|glsoat|glrt|glcbt|glimt|glptt|glagent|gloas)-"),
            _p("GR1348941[A-Za-z0-9_-]{20}"),
        ),
    ),
    _DsRule(
        "IbmCloudIamDetector",
        "ibm-cloud-iam-key",
        "IBM Cloud IAM key",
        Severity.HIGH,
        (_p("(key|pwd|pass|token)" + _SEP + "[a-zA-Z0-9_-]{44}", caseless=True),),
        distinctive=False,
    ),
    _DsRule(
        "IbmCosHmacDetector",
        "ibm-cos-hmac",
        "IBM Cloud Object Storage HMAC secret",
        Severity.HIGH,
        (_p("secret[-_]?(access)?[-_]?key" + _SEP + "[a-f0-9]{48}", caseless=True),),
        distinctive=False,
    ),
    _DsRule(
        "JwtTokenDetector",
        "jwt",
        "JSON Web Token",
        Severity.HIGH,
        (_p("eyJ"),),
    ),
    _DsRule(
        "KeywordDetector",
        "keyword",
        "Secret assigned to a secret-sounding name",
        Severity.MEDIUM,
        tuple(
            _p(k, caseless=True)
            for k in (
                "(api|auth|service|account|db|database|priv|private|client)_?key",
                "(db|database|key)_?pass",
                "password",
                "passwd",
                "pwd",
                "secret",
                "contrase",
            )
        ),
        distinctive=False,
    ),
    _DsRule(
        "MailchimpDetector",
        "mailchimp-key",
        "Mailchimp API key",
        Severity.HIGH,
        (_p("[0-9a-z]{32}-us[0-9]"),),
        distinctive=False,
    ),
    _DsRule(
        "NpmDetector",
        "npmrc-auth-token",
        "npm registry auth token",
        Severity.HIGH,
        (_p(":_authToken="),),
    ),
    _DsRule(
        "OpenAIDetector",
        "openai-key",
        "OpenAI API key",
        Severity.HIGH,
        (_p("T3BlbkFJ"),),
    ),
    _DsRule(
        "PrivateKeyDetector",
        "private-key",
        "Private key",
        Severity.HIGH,
        (_p("PRIVATE KEY"), _p("PuTTY-User-Key-File-2")),
    ),
    _DsRule(
        "PypiTokenDetector",
        "pypi-token",
        "PyPI upload token",
        Severity.HIGH,
        (_p("pypi-AgEIcHlwaS5vcmc"), _p("pypi-AgENdGVzdC5weXBpLm9yZw")),
    ),
    _DsRule(
        "SendGridDetector",
        "sendgrid-key",
        "SendGrid API key",
        Severity.HIGH,
        (_p("SG\\.[a-zA-Z0-9_-]{22}\\.[a-zA-Z0-9_-]{43}"),),
    ),
    _DsRule(
        "SlackDetector",
        "slack-token",
        "Slack token or webhook",
        Severity.HIGH,
        (_p("xox[abposr]-", caseless=True), _p("hooks\\.slack\\.com/services/T", caseless=True)),
    ),
    _DsRule(
        "SoftlayerDetector",
        "softlayer-credentials",
        "SoftLayer API key",
        Severity.HIGH,
        (
            _p(
                "(softlayer|sl)[-_]?(api)?[-_]?(key|pwd|password|pass|token)" + _SEP + "[a-z0-9]{64}",
                caseless=True,
            ),
            _p("api.softlayer.com/soap/", caseless=True),
        ),
        distinctive=False,
    ),
    _DsRule(
        "SquareOAuthDetector",
        "square-oauth-secret",
        "Square OAuth secret",
        Severity.HIGH,
        (_p("sq0csp-"),),
    ),
    _DsRule(
        "StripeDetector",
        "stripe-key",
        "Stripe live secret or restricted key",
        Severity.HIGH,
        (_p("[rs]k_live_[0-9a-zA-Z]{24}"),),
    ),
    _DsRule(
        "TelegramBotTokenDetector",
        "telegram-bot-token",
        "Telegram bot token",
        Severity.HIGH,
        (_p("[0-9]{8}:[0-9A-Za-z_-]{35}"),),
        distinctive=False,
    ),
    _DsRule(
        "TwilioKeyDetector",
        "twilio-key",
        "Twilio account SID or API key",
        Severity.HIGH,
        (_p("AC[a-z0-9]{32}"), _p("SK[a-z0-9]{32}")),
        distinctive=False,
    ),
)

DS_PLUGINS: tuple[str, ...] = tuple(r.plugin for r in _DS_RULES)

_EXTRA_DISTINCTIVE = {r.id for r in EXTRA_RULES} - {
    "pattern/twilio-auth-token",
    "pattern/aws-secret-access-key",
    "pattern/url-credentials",
}

# Lines longer than this (minified code, binaries) are confirmed only around each prefilter hit: the
# keyword regexes backtrack over the whole rest of a line for every keyword occurrence.
_LONG_LINE = 16384
_AROUND = 4096


def _ds_rule_to_rule(r: _DsRule) -> Rule:
    return Rule(
        id=f"pattern/{r.slug}",
        category="credential",
        severity=r.severity,
        title=r.title,
        help=f"{r.title}, found by detect-secrets' {r.plugin}.",
        remediation=_ROTATE
        if r.slug != "keyword"
        else "Remove the value from the file; read it at run time from a secret mount or the environment.",
    )


def _extra_rule_to_rule(r: ExtraRule) -> Rule:
    return Rule(
        id=r.id,
        category="credential",
        severity=r.severity,
        title=r.title,
        help=r.help,
        remediation=r.remediation,
    )


RULES: tuple[Rule, ...] = tuple(_ds_rule_to_rule(r) for r in _DS_RULES) + tuple(
    _extra_rule_to_rule(r) for r in EXTRA_RULES
)
_RULE_BY_ID = {r.id: r for r in RULES}
_DS_RULE_ID = {r.plugin: f"pattern/{r.slug}" for r in _DS_RULES}
_DS_DISTINCTIVE = {r.plugin for r in _DS_RULES if r.distinctive}


# --- detect-secrets, set up once per process -----------------------------------------------------------

_ds_plugins: dict[str, Any] | None = None


def _detect_secrets_plugins() -> dict[str, Any]:
    """Plugin instances by class name; detect-secrets' settings are process-global, so configure them once."""
    global _ds_plugins
    if _ds_plugins is None:
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
        _ds_plugins = {name: classes[name]() for name in DS_PLUGINS}
    return _ds_plugins


# --- candidate lines -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Segment:
    """A candidate line (or a slice of a long one) and the rule targets whose prefilter fired in it."""

    start: int
    end: int
    line_number: int  # 1-based within the scanned buffer
    targets: frozenset[str]


@dataclass(frozen=True)
class _Hit:
    rule: str
    start: int  # byte offsets in the scanned buffer
    end: int
    secret: str
    line: str  # the candidate text, for context filters
    plugin: str | None  # detect-secrets plugin name, None for extra rules


def _segments(data: bytes, hits: Sequence[tuple[int, int]], targets: Sequence[str]) -> list[_Segment]:
    """Group hits (sorted by end offset) into candidate lines; long lines into slices around the hits."""
    out: list[_Segment] = []
    line_start = line_end = -1
    line_no = 1
    counted_to = 0
    slices: list[tuple[int, int, set[str]]] = []

    def flush() -> None:
        out.extend(_Segment(s, e, line_no, frozenset(t)) for s, e, t in slices)
        slices.clear()

    for pid, end in hits:
        last = max(end - 1, 0)
        if not line_start <= last < line_end:
            flush()
            line_start = data.rfind(b"\n", 0, last) + 1
            nl = data.find(b"\n", last)
            line_end = len(data) if nl < 0 else nl
            line_no += data.count(b"\n", counted_to, line_start)
            counted_to = line_start
        if line_end - line_start > _LONG_LINE:
            s, e = max(line_start, end - _AROUND), min(line_end, end + _AROUND)
        else:
            s, e = line_start, line_end
        if slices and s <= slices[-1][1]:
            ps, pe, t = slices[-1]
            t.add(targets[pid])
            slices[-1] = (min(ps, s), max(pe, e), t)
        else:
            slices.append((s, e, {targets[pid]}))
    flush()
    return out


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


def _locate(plugin_name: str, plugin: Any, line: str, value: str) -> Iterator[tuple[int, int]]:
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


def _pem_block(data: bytes, at: int) -> tuple[int, int] | None:
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


def _putty_block(data: bytes, at: int) -> tuple[int, int]:
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


def _keep(hit: _Hit, path: str) -> bool:
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
        plugins = _detect_secrets_plugins()
        if (
            heuristic.is_potential_uuid(value)
            or heuristic.is_likely_id_string(value, hit.line, plugins["KeywordDetector"])
            or heuristic.is_templated_secret(value)
            or heuristic.is_prefixed_with_dollar_sign(value)
            or heuristic.is_indirect_reference(hit.line)
            or heuristic.is_not_alphanumeric_string(value)
        ):
            return False
    distinctive = hit.plugin in _DS_DISTINCTIVE if hit.plugin else hit.rule in _EXTRA_DISTINCTIVE
    return distinctive or not (
        filters.is_checksum_file(path)
        or filters.is_integrity_hash_context(hit.line)
        or filters.is_public_key_line(hit.line)
    )


# --- the detector -------------------------------------------------------------------------------------------


class PatternDetector:
    """detect-secrets' plugins (all but the two entropy ones) plus EXTRA_RULES, behind one prefilter pass."""

    rules: tuple[Rule, ...] = RULES

    def __init__(self, use_hyperscan: bool | None = None) -> None:
        patterns: list[Pattern] = []
        self._targets: list[str] = []
        for ds in _DS_RULES:
            for p in ds.prefilter:
                patterns.append(p)
                self._targets.append(ds.plugin)
        self._extra = {
            r.id: (r, re.compile(r.regex, re.IGNORECASE if r.caseless else 0)) for r in EXTRA_RULES
        }
        for extra in EXTRA_RULES:
            for pf in extra.prefilter:
                patterns.append(Pattern(pf.encode(), extra.caseless))
                self._targets.append(extra.id)
        self.prefilter = Prefilter(patterns, use_hyperscan=use_hyperscan)
        # Most binaries hold no UTF-16 text at all: the two half-views are built only where a run of
        # UTF-16LE printable characters, as long as the shortest token a rule reports, exists.
        self._utf16_text = Prefilter([Pattern(rb"(?:[\x20-\x7e]\x00){%d}" % _MIN_UTF16_RUN)], use_hyperscan)

    # -- public API --

    def scan(self, content: Content) -> Iterable[RawMatch]:
        data = content.data
        # detect-secrets picks keyword regexes by extension: the innermost name decides (a.jar!x.properties).
        path = content.inner_path.rsplit("!", 1)[-1] if content.inner_path else content.path
        # `password = "..."` heuristics are for text, as in detect-secrets (which skips binaries): in byte
        # code and libraries they fire on docstrings. Token-shaped rules still run on every byte.
        binary = b"\x00" in data[:8192]
        hits = [h for h in self._hits(path, data, keywords=not binary) if _keep(h, path)]
        if b"\x00" in data and self._utf16_text.scan(data):
            hits.extend(self._utf16_hits(path, data))
        return _dedupe(hits)

    def scan_metadata(self, item: MetadataString) -> Iterable[RawMatch]:
        data = item.value.encode("utf-8", "surrogatepass")
        # A config-style name picks detect-secrets' regexes for unquoted `password=value` assignments.
        path = f"{item.kind}.cfg"
        out: list[RawMatch] = []
        for m in _dedupe([h for h in self._hits(path, data) if _keep(h, path)]):
            s = len(data[: m.start].decode("utf-8", "surrogatepass"))
            e = s + len(data[m.start : m.end].decode("utf-8", "surrogatepass"))
            out.append(RawMatch(rule=m.rule, start=s, end=e, secret=m.secret))
        return out

    def detect_secrets_hits(self, path: str, data: bytes) -> set[tuple[int, str]]:
        """(line number, detect-secrets secret type) found through the prefilter, before any filtering.

        Compare with plain_detect_secrets_hits to prove the prefilter drops nothing.
        """
        plugins = _detect_secrets_plugins()
        found: set[tuple[int, str]] = set()
        for seg in _segments(data, self.prefilter.scan(data), self._targets):
            line = _line_text(data, seg)
            for name in seg.targets:
                if name in plugins:
                    for ps in plugins[name].analyze_line(
                        filename=path, line=line, line_number=seg.line_number
                    ):
                        found.add((seg.line_number, ps.type))
        return found

    # -- internals --

    def _hits(self, path: str, data: bytes, keywords: bool = True) -> list[_Hit]:
        plugins = _detect_secrets_plugins()
        out: list[_Hit] = []
        for seg in _segments(data, self.prefilter.scan(data), self._targets):
            chunk = data[seg.start : seg.end]
            line = chunk.decode("utf-8", "surrogateescape").rstrip()
            ascii_only = chunk.isascii()
            # detect-secrets hashes what it finds as UTF-8: give it U+FFFD for undecodable bytes (one char
            # for one char, so offsets in `text` are offsets in `line`), and take values from `line`.
            text = line if ascii_only else _safe_text(line)

            def to_bytes(
                i: int, line: str = line, ascii_only: bool = ascii_only, base: int = seg.start
            ) -> int:
                return base + (i if ascii_only else len(line[:i].encode("utf-8", "surrogateescape")))

            for name in sorted(seg.targets):
                if name == "KeywordDetector" and not keywords:
                    continue
                if name in plugins:
                    plugin = plugins[name]
                    rule = _DS_RULE_ID[name]
                    for ps in plugin.analyze_line(filename=path, line=text, line_number=seg.line_number):
                        value = ps.secret_value or ""
                        if name == "PrivateKeyDetector":
                            at = to_bytes(text.find(value)) if value in text else seg.start
                            span = (
                                _putty_block(data, at) if value.startswith("PuTTY") else _pem_block(data, at)
                            )
                            if span is not None:
                                secret = data[span[0] : span[1]].decode("utf-8", "surrogateescape")
                                out.append(_Hit(rule, span[0], span[1], secret, line, name))
                            continue
                        for s, e in _locate(name, plugin, text, value):
                            out.append(_Hit(rule, to_bytes(s), to_bytes(e), line[s:e], text, name))
                else:
                    extra, rx = self._extra[name]
                    for m in rx.finditer(text):
                        g = "secret" if "secret" in rx.groupindex else 0
                        s, e = m.span(g)
                        out.append(_Hit(extra.id, to_bytes(s), to_bytes(e), line[s:e], text, None))
        return out

    def _utf16_hits(self, path: str, data: bytes) -> list[_Hit]:
        """Text stored as UTF-16LE in binaries: scan the even and odd byte halves, keep true UTF-16 spans."""
        out: list[_Hit] = []
        for align in (0, 1):
            view = data[align::2]
            for h in self._hits(path, view, keywords=False):
                s, e = 2 * h.start + align, 2 * h.end + align
                if data[s:e] == h.secret.encode("utf-16-le", "surrogatepass") and _keep(h, path):
                    out.append(_Hit(h.rule, s, e, h.secret, h.line, h.plugin))
        return out


_MIN_UTF16_RUN = 8


def _line_text(data: bytes, seg: _Segment) -> str:
    return _safe_text(data[seg.start : seg.end].decode("utf-8", "surrogateescape").rstrip())


_SURROGATE = re.compile("[\ud800-\udfff]")


def _safe_text(line: str) -> str:
    """The line with each undecodable byte (a lone surrogate) as U+FFFD: same length, valid UTF-8."""
    return _SURROGATE.sub("\ufffd", line)


def _dedupe(hits: list[_Hit]) -> list[RawMatch]:
    """One match per span: the rule with the highest severity wins, then detect-secrets' rule over ours."""
    best: dict[tuple[int, int], _Hit] = {}
    for h in hits:
        cur = best.get((h.start, h.end))
        if cur is None or _RULE_BY_ID[h.rule].severity > _RULE_BY_ID[cur.rule].severity:
            best[(h.start, h.end)] = h
    return [
        RawMatch(rule=h.rule, start=h.start, end=h.end, secret=h.secret)
        for h in sorted(best.values(), key=_pos)
    ]


def _pos(h: _Hit) -> tuple[int, int, str]:
    return (h.start, h.end, h.rule)


def plain_detect_secrets_hits(path: str, data: bytes) -> set[tuple[int, str]]:
    """Reference: every line through every non-entropy plugin, no prefilter (about 0.1 MB/s)."""
    plugins = _detect_secrets_plugins()
    found: set[tuple[int, str]] = set()
    for n, raw in enumerate(data.split(b"\n"), start=1):
        line = _safe_text(raw.decode("utf-8", "surrogateescape").rstrip())
        for plugin in plugins.values():
            for ps in plugin.analyze_line(filename=path, line=line, line_number=n):
                found.add((n, ps.type))
    return found
