"""The policy layer: config file, allowlist, baseline, fail-on gate, verdict and exit code."""

from __future__ import annotations

import dataclasses
import fnmatch
import json
import os
import tempfile
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Protocol

from scanner.errors import UsageError
from scanner.findings import Finding, Severity, keyed_fingerprint
from scanner.model import Problem
from scanner.paths import runtime_path
from scanner.result import VERDICT_CLEAN, VERDICT_FINDINGS, VERDICT_INCONCLUSIVE, ScanReport

CONFIG_FILE = ".imgscan.toml"
BASELINE_SCHEMA = "imgscan/baseline/v1"

_CONFIG_KEYS = ("fail-on", "disabled-rules", "allowlist", "limits", "baseline")
_ALLOW_KEYS = ("path", "rule", "reason")


@dataclass(frozen=True)
class AllowEntry:
    """An accepted place: findings whose place matches `path_glob` (and `rule`, when given) are suppressed."""

    path_glob: str
    rule: str | None
    reason: str

    def matches(self, finding: Finding) -> bool:
        if self.rule is not None and not fnmatch.fnmatchcase(finding.rule, self.rule):
            return False
        glob = self.path_glob.lstrip("/")
        return any(fnmatch.fnmatchcase(place, glob) for place in finding_places(finding))


@dataclass(frozen=True)
class Config:
    """Settings from `.imgscan.toml` or `pyproject.toml [tool.imgscan]`; defaults when neither exists."""

    fail_on: Severity = Severity.HIGH
    disabled_rules: frozenset[str] = frozenset()
    allowlist: tuple[AllowEntry, ...] = ()
    limits: Mapping[str, int] = field(default_factory=dict)
    baseline: Path | None = None  # resolved against the config file's directory
    source: Path | None = None  # the file the settings came from


@dataclass(frozen=True)
class BaselineEntry:
    fingerprint: str
    rule: str
    where: str
    reason: str
    expires: date | None = None


@dataclass(frozen=True)
class Baseline:
    """Accepted findings, matched by fingerprint; `key_id` names the fingerprint key they were made with."""

    entries: tuple[BaselineEntry, ...] = ()
    key_id: str | None = None  # None: written before key ids were recorded
    source: str = ""  # the file it was read from, for warnings

    def get(self, fingerprint: str) -> BaselineEntry | None:
        for entry in self.entries:
            if entry.fingerprint == fingerprint:
                return entry
        return None


def finding_places(finding: Finding) -> list[str]:
    """The strings an allowlist glob is matched against: the in-image path (and path!inner_path) for a file,
    `<kind>:<key>` (e.g. `config:Env.TOKEN`, `history:build-arg:TOKEN`) for metadata."""
    loc = finding.location
    if loc.kind == "layer" and loc.path is not None:
        path = runtime_path(loc.path)  # as the runtime unpacks it: `..` can never reach an allowed tree
        places = [path]
        if loc.inner_path:
            places.append(f"{path}!{loc.inner_path}")
        return places
    return [f"{loc.kind}:{loc.key or ''}"]


# --- config ---------------------------------------------------------------------


def load_config(start_dir: Path, explicit: Path | None = None) -> Config:
    """`explicit`, else `.imgscan.toml` in start_dir, else `pyproject.toml [tool.imgscan]`; else defaults."""
    if explicit is not None:
        if not explicit.is_file():
            raise UsageError(f"config file {explicit} not found")
        data = _read_toml(explicit)
        if explicit.name == "pyproject.toml":
            data = data.get("tool", {}).get("imgscan", {})
        return _parse_config(data, explicit)
    own = start_dir / CONFIG_FILE
    if own.is_file():
        return _parse_config(_read_toml(own), own)
    pyproject = start_dir / "pyproject.toml"
    if pyproject.is_file():
        section = _read_toml(pyproject).get("tool", {}).get("imgscan")
        if section is not None:
            return _parse_config(section, pyproject)
    return Config()


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: invalid TOML: {exc}") from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot read: {exc.strerror}") from None


def _normalise_keys(table: Mapping[str, Any]) -> dict[str, Any]:
    # Accept both fail-on (TOML habit) and fail_on (Python habit).
    return {str(k).replace("_", "-"): v for k, v in table.items()}


def _parse_config(raw: Any, path: Path) -> Config:
    if not isinstance(raw, dict):
        raise UsageError(f"{path}: imgscan settings must be a table")
    data = _normalise_keys(raw)
    unknown = sorted(set(data) - set(_CONFIG_KEYS))
    if unknown:
        raise UsageError(f"{path}: unknown key {unknown[0]!r}; known keys: {', '.join(_CONFIG_KEYS)}")

    fail_on = Severity.HIGH
    if "fail-on" in data:
        if not isinstance(data["fail-on"], str):
            raise UsageError(f'{path}: fail-on must be a string such as "high"')
        try:
            fail_on = Severity.parse(data["fail-on"])
        except ValueError as exc:
            raise UsageError(f"{path}: fail-on: {exc}") from None

    disabled = data.get("disabled-rules", [])
    if not isinstance(disabled, list) or not all(isinstance(r, str) and r for r in disabled):
        raise UsageError(f"{path}: disabled-rules must be a list of rule ids")

    allowlist = tuple(
        _parse_allow_entry(item, i, path) for i, item in enumerate(_as_list(data, "allowlist", path))
    )

    limits_raw = data.get("limits", {})
    if not isinstance(limits_raw, dict):
        raise UsageError(f"{path}: limits must be a table of name = integer")
    limits: dict[str, int] = {}
    for name, value in limits_raw.items():
        # bool is an int subclass; `max-bytes = true` is a mistake, not 1.
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise UsageError(f"{path}: limits.{name} must be a non-negative integer")
        limits[str(name).replace("-", "_")] = value

    baseline: Path | None = None
    if "baseline" in data:
        if not isinstance(data["baseline"], str) or not data["baseline"]:
            raise UsageError(f"{path}: baseline must be a file path")
        baseline = path.parent / data["baseline"]

    return Config(fail_on, frozenset(disabled), allowlist, limits, baseline, path)


def _as_list(data: dict[str, Any], key: str, path: Path) -> list[Any]:
    value = data.get(key, [])
    if not isinstance(value, list):
        raise UsageError(f"{path}: {key} must be an array of tables, e.g. [[allowlist]]")
    return value


def _parse_allow_entry(item: Any, i: int, path: Path) -> AllowEntry:
    where = f"{path}: allowlist[{i}]"
    if not isinstance(item, dict):
        raise UsageError(f"{where} must be a table with path, reason and optionally rule")
    unknown = sorted(set(item) - set(_ALLOW_KEYS))
    if unknown:
        raise UsageError(f"{where}: unknown key {unknown[0]!r}; known keys: {', '.join(_ALLOW_KEYS)}")
    glob, rule, reason = item.get("path"), item.get("rule"), item.get("reason")
    if not isinstance(glob, str) or not glob:
        raise UsageError(f"{where}: path (a glob) is required")
    if rule is not None and (not isinstance(rule, str) or not rule):
        raise UsageError(f"{where}: rule must be a rule id")
    if not isinstance(reason, str) or not reason.strip():
        raise UsageError(f"{where}: reason is required: say why {glob!r} is accepted")
    return AllowEntry(glob, rule, reason.strip())


# --- baseline -------------------------------------------------------------------


def baseline_key_id() -> str:
    """Names this run's fingerprint key in a baseline without revealing it (a keyed hash of a constant)."""
    return keyed_fingerprint("baseline-key-id")[:16]


def write_baseline(report: ScanReport, path: Path, reason: str = "accepted in baseline") -> int:
    """Write every finding of `report` as an accepted entry (one per fingerprint); returns the entry count.

    Onto an existing baseline made with the same key, entries that still match keep their hand-written
    reason and expiry date; entries that no longer match are dropped."""
    kept: dict[str, BaselineEntry] = {}
    if path.exists():
        old = load_baseline(path)
        if old.key_id in (None, baseline_key_id()):
            kept = {e.fingerprint: e for e in old.entries}
    entries: dict[str, dict[str, Any]] = {}
    for f in report.findings:
        previous = kept.get(f.fingerprint)
        entries.setdefault(
            f.fingerprint,
            {
                "fingerprint": f.fingerprint,
                "rule": f.rule,
                "where": f.location.describe(),
                "reason": previous.reason if previous else reason,
                "expires": previous.expires.isoformat() if previous and previous.expires else None,
            },
        )
    ordered = sorted(entries.values(), key=lambda e: (e["where"], e["rule"], e["fingerprint"]))
    doc = {"schema": BASELINE_SCHEMA, "key_id": baseline_key_id(), "entries": ordered}
    text = json.dumps(doc, indent=2) + "\n"
    # Write beside the target and rename, so an interrupted run never leaves half a baseline.
    directory = path.parent if str(path.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=".imgscan-baseline-", dir=directory)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except OSError as exc:
        raise UsageError(f"cannot write baseline {path}: {exc.strerror}") from None
    return len(ordered)


def load_baseline(path: Path) -> Baseline:
    """Read a baseline file; anything malformed is a one-line UsageError."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot read baseline {path}: {exc.strerror}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"baseline {path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict) or data.get("schema") != BASELINE_SCHEMA:
        raise UsageError(f'baseline {path}: expected "schema": "{BASELINE_SCHEMA}"')
    raw_entries = data.get("entries")
    if not isinstance(raw_entries, list):
        raise UsageError(f'baseline {path}: "entries" must be a list')
    key_id = data.get("key_id")
    if key_id is not None and not isinstance(key_id, str):
        raise UsageError(f'baseline {path}: "key_id" must be a string')
    entries = tuple(_parse_baseline_entry(e, i, path) for i, e in enumerate(raw_entries))
    return Baseline(entries, key_id, str(path))


def baseline_warnings(baseline: Baseline | None, findings: Iterable[Finding]) -> list[str]:
    """Say why a baseline suppressed nothing: another fingerprint key, or no entry matched a finding."""
    if baseline is None or not baseline.entries:
        return []
    name = f"baseline {baseline.source}" if baseline.source else "the baseline"
    if baseline.key_id is not None and baseline.key_id != baseline_key_id():
        return [
            f"{name} was written with another fingerprint key: none of its entries can match; set "
            "IMGSCAN_FINGERPRINT_KEY to the key it was written with"
        ]
    wanted = {e.fingerprint for e in baseline.entries}
    if not any(f.fingerprint in wanted for f in findings):
        return [f"none of the {len(wanted)} entries of {name} matched a finding of this scan"]
    return []


def _parse_baseline_entry(raw: Any, i: int, path: Path) -> BaselineEntry:
    where = f"baseline {path}: entries[{i}]"
    if not isinstance(raw, dict):
        raise UsageError(f"{where} must be an object")
    fields = {}
    for key in ("fingerprint", "rule", "where", "reason"):
        value = raw.get(key)
        if not isinstance(value, str) or not value.strip():
            raise UsageError(f'{where}: "{key}" is required (a non-empty string)')
        fields[key] = value
    expires_raw = raw.get("expires")
    expires: date | None = None
    if expires_raw is not None:
        try:
            expires = date.fromisoformat(str(expires_raw))
        except ValueError:
            raise UsageError(f'{where}: "expires" must be YYYY-MM-DD or null, not {expires_raw!r}') from None
    return BaselineEntry(fields["fingerprint"], fields["rule"], fields["where"], fields["reason"], expires)


# --- applying it ----------------------------------------------------------------


class PolicyRules(Protocol):
    """What suppresses a finding by rule or place: a Config, or the Settings built from one."""

    @property
    def disabled_rules(self) -> frozenset[str]: ...

    @property
    def allowlist(self) -> tuple[AllowEntry, ...]: ...


def apply_policy(
    findings: Iterable[Finding], config: PolicyRules, baseline: Baseline | None, today: date
) -> tuple[list[Finding], list[str]]:
    """Mark suppressed findings (disabled rule, allowlist, unexpired baseline entry); say why, line by line.

    An expired baseline entry suppresses nothing: the finding counts again, and the log says so.
    """
    out: list[Finding] = []
    log: list[str] = []
    for f in findings:
        where = f.location.describe()
        reason = f.suppressed
        if reason is None and f.rule in config.disabled_rules:
            reason = f"rule {f.rule} disabled in config"
        if reason is None:
            entry = next((a for a in config.allowlist if a.matches(f)), None)
            if entry is not None:
                reason = f"{entry.reason} (allowlist: {entry.path_glob})"
        if reason is None and baseline is not None:
            hit = baseline.get(f.fingerprint)
            if hit is not None and hit.expires is not None and hit.expires < today:
                log.append(
                    f"baseline entry {hit.fingerprint[:12]} ({f.rule} at {where}) expired on "
                    f"{hit.expires.isoformat()}; counted again"
                )
            elif hit is not None:
                until = f"expires {hit.expires.isoformat()}" if hit.expires else "no expiry"
                reason = f"{hit.reason} (baseline, {until})"
        if reason is not None:
            log.append(f"suppressed {f.rule} at {where}: {reason}")
            if f.suppressed != reason:
                f = dataclasses.replace(f, suppressed=reason)
        out.append(f)
    return out, log


def gating(findings: Iterable[Finding], fail_on: Severity) -> list[Finding]:
    """The findings that fail the gate: not suppressed, severity at or above fail_on."""
    return [f for f in findings if f.suppressed is None and f.severity >= fail_on]


def verdict(findings: Iterable[Finding], problems: Iterable[Problem], fail_on: Severity) -> str:
    """`inconclusive` whenever anything was not read in full, even with findings: what was not read may
    hold more, and a partial scan must never pass for a complete one. Else `findings` past the gate, else
    `clean`."""
    if any(p.inconclusive for p in problems):
        return VERDICT_INCONCLUSIVE
    if gating(findings, fail_on):
        return VERDICT_FINDINGS
    return VERDICT_CLEAN


_EXIT_CODES = {VERDICT_CLEAN: 0, VERDICT_FINDINGS: 1, VERDICT_INCONCLUSIVE: 2}


def exit_code(verdict_name: str) -> int:
    """clean 0, findings 1, inconclusive (or anything unknown: fail closed) 2."""
    return _EXIT_CODES.get(verdict_name, 2)
