"""The detector interface: located content or a metadata string in, raw matches out; no image knowledge."""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass
from importlib import resources
from typing import Any, ClassVar, Protocol

from scanner.findings import Severity


def data_table(name: str) -> dict[str, Any]:
    """A rule table shipped beside the detectors (`patterns.toml`, `filenames.toml`)."""
    return tomllib.loads(_table_text(name))


def table_digest(name: str) -> str:
    """A short digest of a rule table's bytes, for the version of the detector that reads it."""
    return hashlib.sha256(_table_text(name).encode()).hexdigest()[:16]


def _table_text(name: str) -> str:
    return resources.files("scanner.detectors").joinpath(name).read_text("utf-8")


@dataclass(frozen=True)
class Rule:
    """One rule a detector can report; the catalogue of rules is what reports list as "checked"."""

    id: str  # e.g. "credential-file/netrc", "pattern/github-token", "known-secret", "metadata/build-arg"
    category: str  # "known-secret" | "credential" | "sensitive-file" | "entropy" | "metadata"
    severity: Severity
    title: str
    help: str  # what it means, for SARIF help text and the audit report
    remediation: str  # one line: how to fix it


@dataclass(frozen=True)
class Content:
    """A window of one file's bytes. Files larger than a window arrive as several, overlapping ones."""

    path: str  # in-image path, no leading "/"
    inner_path: str | None  # inside nested archives, "a.jar!b/c.properties"
    data: bytes
    offset: int  # offset of data[0] in the file
    size: int  # whole file size
    is_first: bool
    is_last: bool


@dataclass(frozen=True)
class MetadataString:
    """One string of image metadata, with the place it came from."""

    kind: str  # "history" | "config" | "attestation" | "manifest"
    key: str  # "Env.API_TOKEN", "Labels.org.token", "build-arg:TOKEN", "created_by"
    value: str
    history_index: int | None = None
    layer_index: int | None = None
    where: str | None = None  # e.g. the attestation document
    raw: bool = False  # the whole document's text, scanned as well as its parsed values


@dataclass(frozen=True)
class RawMatch:
    """What a detector saw: start/end are byte offsets in Content.data (char offsets in a metadata value)."""

    rule: str
    start: int
    end: int
    secret: str  # the value; used only for redaction, fingerprint and de-duplication
    severity: Severity | None = None  # overrides the rule's, e.g. info for a package-owned file
    note: str | None = None
    known_secret_id: str | None = None


class TarEntry(Protocol):
    """What detectors see of a tar member besides its bytes (the walker's Member satisfies it)."""

    @property
    def path(self) -> str: ...
    @property
    def kind(self) -> str: ...  # "file", "symlink", "hardlink", "dir", "whiteout", ...
    @property
    def linkname(self) -> str | None: ...


class Detector(Protocol):
    """One detector family. `family` is the rule-id prefix it reports under; `rank` orders families
    whose matches cover the same bytes at the same severity (lower wins: the more specific evidence);
    `version` goes into the ruleset hash, so a detector whose logic changes invalidates cached results.

    A detector implements any of `scan_content(content)`, `scan_member(entry)`, `scan_metadata(item)`,
    each returning raw matches; the DetectorSet calls what is there. A detector with `prefilters()` (its
    engine.Prefilter objects) has them joined into the set's one database (engine.SharedScan).
    """

    family: ClassVar[str]
    rank: ClassVar[int]
    rules: tuple[Rule, ...]

    @property
    def version(self) -> str: ...  # the code's version, plus a digest of any rule table it reads
