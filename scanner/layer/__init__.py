"""One layer's walk: every tar member, content window, nested archive and byte around them, to a visitor."""

from __future__ import annotations

from scanner.errors import LayerError
from scanner.image import Layer
from scanner.layer.limits import Limits, Upstream
from scanner.layer.members import HEADER_FIELDS_PATH, TRAILING_PATH, Member, MemberKind, Visitor
from scanner.layer.walker import Walker
from scanner.model import LayerSummary, Problem
from scanner.sniff import archive_kind

# What a walk reads and how: the tar reader's semantics, the openers, the windows. Results cached under
# another version came from another reader, so this enters the cache key (bump it when a walk's output
# changes).
READER_VERSION = "2026-12-01"

__all__ = [
    "HEADER_FIELDS_PATH",
    "READER_VERSION",
    "TRAILING_PATH",
    "Limits",
    "Member",
    "MemberKind",
    "Visitor",
    "archive_kind",
    "verify",
    "walk_layer",
]


def walk_layer(layer: Layer, limits: Limits, visitor: Visitor) -> LayerSummary:
    """Walk one layer; content trouble becomes a Problem in the summary, never an exception."""
    summary = LayerSummary()
    walker = Walker(layer, limits, visitor, summary)
    if layer.blob is None:
        walker.problem(walker.where, "layer blob is missing from the image source; layer not scanned")
        return summary
    try:
        walker.run()
    except Upstream as up:
        walker.problem(walker.where, f"layer not read in full: {up.error}")
    except LayerError as e:
        walker.problem(walker.where, f"layer not read in full: {e}")
    walker.flush_notes()
    if summary.complete:
        verify(layer, summary)
    return summary


def verify(layer: Layer, summary: LayerSummary) -> None:
    """Compare the digests a full read computed with the ones the image declares for `layer`."""
    where = f"layer {layer.index}"
    checks: list[tuple[str, str | None, str]] = [("diff_id", layer.diff_id, summary.diff_id)]
    if layer.digest_is_compressed:
        checks.append(("blob digest", layer.digest, summary.blob_digest))
    else:
        checks.append(("blob digest", layer.digest, summary.diff_id))
    for what, expected, got in checks:
        if not expected:
            continue
        if not expected.startswith("sha256:"):
            summary.problems.append(
                Problem(where, f"{what} {expected} uses an algorithm imgscan does not verify", False)
            )
        elif expected != got:
            summary.problems.append(Problem(where, f"{what} mismatch: expected {expected}, got {got}"))
            summary.complete = False
