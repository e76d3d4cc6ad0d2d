"""The metadata scan of one image: every config, history and attestation string, one finding per secret."""

from __future__ import annotations

from scanner.assemble import metadata_finding
from scanner.detectors import DetectorSet, rank
from scanner.detectors.base import MetadataString, RawMatch
from scanner.detectors.metadata import metadata_areas, metadata_strings
from scanner.findings import redact_text
from scanner.image import Image
from scanner.model import ImageMetadata


def _is_env_or_label(key: str) -> bool:
    return key.removeprefix("container_config.").startswith(("Env.", "Labels."))


def scan_metadata(detectors: DetectorSet, image_index: int, image: Image) -> ImageMetadata:
    """One finding per secret and kind of place, the strongest (highest severity, then the most specific
    rule; legacy saves mirror the config in <id>/json); an ENV or LABEL value is one finding, at the
    config, not a second one for the history row that set it. History lines come back with every secret
    found in them masked."""
    best: dict[tuple[str, str, bool], tuple[tuple[int, int, int], MetadataString, RawMatch]] = {}
    history_secrets: dict[int, list[str]] = {}
    found: set[str] = set()
    for order, item in enumerate(metadata_strings(image)):
        for m in detectors.scan_metadata(item):
            found.add(m.secret)
            if item.kind == "history" and item.history_index is not None:
                history_secrets.setdefault(item.history_index, []).append(m.secret)
            key = (item.kind, m.secret, m.known_secret_id is not None)
            severity = m.severity if m.severity is not None else detectors.rule(m.rule).severity
            strength = (-int(severity), rank(m.rule), order)
            if key not in best or strength < best[key][0]:
                best[key] = (strength, item, m)
    live = {
        (m.secret, known)
        for (kind, _, known), (_, item, m) in best.items()
        if kind == "config" and _is_env_or_label(item.key)
    }
    kept = sorted(
        (b for (kind, secret, known), b in best.items() if kind != "history" or (secret, known) not in live),
        key=lambda b: b[0][2],
    )
    # A whole document's excerpt may show other secrets found in it: each is masked in every excerpt.
    findings = [metadata_finding(detectors.rule(m.rule), image_index, item, m, found) for _, item, m in kept]
    created_by: dict[int, str] = {}
    for layer in image.layers:
        if layer.history is not None:
            # The history line is shown beside every layer: it must not repeat a secret found in it.
            secrets = history_secrets.get(layer.history.index, [])
            # `docker import` rows have no command, only a comment ("Imported from -").
            line = layer.history.created_by or layer.history.comment or ""
            created_by[layer.index] = redact_text(line, secrets, limit=10_000)
    return ImageMetadata(findings, list(metadata_areas(image)), created_by)
