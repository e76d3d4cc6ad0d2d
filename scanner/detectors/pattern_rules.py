"""The pattern rules, read from patterns.toml: detect-secrets plugins and our own token formats."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from scanner.detectors.base import Rule, data_table
from scanner.detectors.engine import Pattern
from scanner.findings import Severity

_ROTATE = "Revoke the token, issue a new one, and pass it at build time with RUN --mount=type=secret."
_KEYWORD_REMEDIATION = (
    "Remove the value from the file; read it at run time from a secret mount or the environment."
)


@dataclass(frozen=True)
class PatternRule:
    """One pattern rule. `plugin` names the detect-secrets plugin that confirms it; without one, `regex`
    confirms on a candidate line and its group "secret" (else the whole match) is the value."""

    rule: Rule
    prefilter: tuple[Pattern, ...]
    distinctive: bool  # the token has a vendor prefix; False: any hash-like text can match
    plugin: str | None = None
    regex: re.Pattern[str] | None = None


def _detect_secrets_rule(entry: dict[str, Any]) -> PatternRule:
    title = entry["title"]
    rule = Rule(
        id=f"pattern/{entry['slug']}",
        category="credential",
        severity=Severity.parse(entry["severity"]),
        title=title,
        help=f"{title}, found by detect-secrets' {entry['plugin']}.",
        remediation=_KEYWORD_REMEDIATION if entry["slug"] == "keyword" else _ROTATE,
    )
    prefilter = tuple(Pattern(p.encode()) for p in entry.get("prefilter", ())) + tuple(
        Pattern(p.encode(), caseless=True) for p in entry.get("prefilter_caseless", ())
    )
    return PatternRule(rule, prefilter, entry.get("distinctive", True), plugin=entry["plugin"])


def _own_rule(entry: dict[str, Any]) -> PatternRule:
    caseless = bool(entry.get("caseless", False))
    rule = Rule(
        id=entry["id"],
        category="credential",
        severity=Severity.parse(entry["severity"]),
        title=entry["title"],
        help=entry["help"],
        remediation=entry.get("remediation", _ROTATE),
    )
    return PatternRule(
        rule,
        tuple(Pattern(p.encode(), caseless) for p in entry["prefilter"]),
        entry.get("distinctive", True),
        regex=re.compile(entry["regex"], re.IGNORECASE if caseless else 0),
    )


def _load() -> tuple[PatternRule, ...]:
    table = data_table("patterns.toml")
    return tuple(_detect_secrets_rule(e) for e in table["detect_secrets"]) + tuple(
        _own_rule(e) for e in table["extra"]
    )


PATTERN_RULES: tuple[PatternRule, ...] = _load()
RULES: tuple[Rule, ...] = tuple(p.rule for p in PATTERN_RULES)
BY_ID: dict[str, PatternRule] = {p.rule.id: p for p in PATTERN_RULES}
DS_PLUGINS: tuple[str, ...] = tuple(p.plugin for p in PATTERN_RULES if p.plugin)
RULE_OF_PLUGIN: dict[str, str] = {p.plugin: p.rule.id for p in PATTERN_RULES if p.plugin}
