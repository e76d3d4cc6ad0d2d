"""The records every stage passes on: problems, layer summaries, hits, layer outcomes, image metadata."""

from __future__ import annotations

import hashlib
from array import array
from dataclasses import dataclass, field

from scanner.findings import Finding, Severity


@dataclass(frozen=True)
class Problem:
    """Something not read in full or not as declared. `inconclusive` ones forbid a clean verdict."""

    where: str
    what: str
    inconclusive: bool = True


@dataclass
class LayerSummary:
    """What one layer walk saw and how far it got; `paths` feed whiteout lineage."""

    files: int = 0  # regular files of the layer itself
    nested_files: int = 0  # regular files inside nested archives
    bytes: int = 0  # uncompressed tar bytes read
    nested_archives: int = 0
    whiteouts: list[str] = field(default_factory=list)
    opaque_dirs: list[str] = field(default_factory=list)
    paths: array[int] = field(
        default_factory=lambda: array("Q")
    )  # sorted path_hash of every non-whiteout member
    nondir_paths: array[int] = field(default_factory=lambda: array("Q"))  # the same, without directories
    diff_id: str = ""  # sha256 of the uncompressed tar stream; "" unless read in full
    blob_digest: str = ""  # sha256 of the stored blob; "" unless read in full
    compression: str = ""
    problems: list[Problem] = field(default_factory=list)
    complete: bool = True


def path_hash(path: str) -> int:
    """A 64-bit hash of a normalised path: layers keep these instead of path strings."""
    return int.from_bytes(
        hashlib.blake2b(path.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "little"
    )


@dataclass(frozen=True)
class Owner:
    """Who installed a file, by a manifest inside the image (dpkg md5sums, conffiles, Python RECORD)."""

    algorithm: str  # "md5" | "sha256" | "" (listed without a digest, e.g. pip's compiled .pyc)
    digest: str
    package: str  # e.g. "Debian package libssl3", "Python package requests-2.32.3"
    third_party: bool = True  # False: a local or VCS install (direct_url.json), the application's own


@dataclass(frozen=True)
class Hit:
    """A detector match made safe to carry: located, redacted and fingerprinted, no secret inside."""

    rule: str
    path: str
    inner_path: str | None
    line: int | None
    excerpt: str
    fingerprint: str
    severity: Severity | None
    note: str | None
    known_secret_id: str | None
    file_md5: str | None = None
    file_sha256: str | None = None
    public_test_key: bool = False  # a private key or token in imgscan's shipped list of published test keys


@dataclass
class LayerOutcome:
    summary: LayerSummary
    hits: list[Hit]
    # in-image path -> who installed it, from dpkg md5sums and Python RECORD files in this layer
    packaged: dict[str, Owner] = field(default_factory=dict)
    cached: bool = False


@dataclass
class ImageMetadata:
    """What the metadata scan of one image gave: findings, areas examined, redacted history lines by layer."""

    findings: list[Finding]
    areas: list[str]
    created_by: dict[int, str]
